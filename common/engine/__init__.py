"""Training and evaluation engines: plain re-exports (the loops live in their modules)."""
from common.engine.optim import apply_fine_tune, build_optimizer, build_scheduler
from common.engine.snapshots import TrainState, resume_from, save_snapshot
from common.engine.tester import (append_result_rows, build_test_loader, format_results,
                                  inference_on_dataset, write_error_csv, write_results)
from common.engine.train_log import TrainLogger
from common.engine.train_setup import TrainInputError, run_training, validate_train_inputs
from common.engine.trainer import LoopSettings, reduce_losses, train_loop

__all__ = [
    # training
    'LoopSettings', 'TrainInputError', 'TrainLogger', 'TrainState', 'apply_fine_tune', 'build_optimizer',
    'build_scheduler', 'reduce_losses', 'resume_from', 'run_training', 'save_snapshot', 'train_loop',
    'validate_train_inputs',
    # evaluation
    'append_result_rows', 'build_test_loader', 'format_results', 'inference_on_dataset', 'write_error_csv',
    'write_results',
]
