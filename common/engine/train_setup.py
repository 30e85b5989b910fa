"""Turn a config into a training run: input checks, loader, model, optimiser, resume.

``main/train.py`` calls, in order: :func:`validate_train_inputs` (cheap file checks, before any process
group or GPU memory) and ``common.run_dir.plan_resume``, ``distributed.init_from_env``,
``snapshots.read_snapshot`` and :func:`finished_message` when resuming (before any folder is made),
``common.run_dir.setup_run`` (the run folder, as a frozen ``Run``), then :func:`run_training`.
"""
from __future__ import annotations

import contextlib
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler
from tqdm.contrib.logging import logging_redirect_tqdm

from common.engine.optim import build_optimizer, build_scheduler
from common.engine.snapshots import TrainState, restore_snapshot, save_snapshot, seed_everything
from common.engine.train_log import TrainLogger
from common.engine.trainer import LoopSettings, train_loop
from common.run_dir import Run
from common.utils import distributed as dist_utils
from data.registry import train_dataset_names

__all__ = ['TrainInputError', 'validate_train_inputs', 'finished_message', 'build_train_loader', 'run_training']

logger = logging.getLogger(__name__)


class TrainInputError(ValueError):
    """A training input (dataset, directory, weights file, output dir) is wrong; the message says the fix."""


def validate_train_inputs(cfg, resume: bool) -> None:
    """Raise TrainInputError for an unknown dataset, missing data or missing weights (``resume``: weights come
    from the snapshot). The run folder and ``--resume`` target are checked by ``common.run_dir.plan_resume``."""
    from data.registry import get_dataset_class  # the data package is heavy; import only when training
    names = train_dataset_names(cfg)
    if not names:
        raise TrainInputError('no training datasets: set trainset_3d / trainset_2d / trainset_humandata')
    folders = {}
    for name in names:
        try:
            folders[name] = getattr(get_dataset_class(name), 'img_dir_name', None) or name
        except KeyError as err:
            raise TrainInputError(f'training dataset {name!r} (trainset_* in the config): {err.args[0]}') from None
    if not os.path.isdir(cfg.data_dir):
        raise TrainInputError(f'data_dir {cfg.data_dir} does not exist; put the datasets there (see README '
                              f'"Data") or pass --cfg-options data_dir=/path/to/dataset')
    missing = [n for n in names if not os.path.isdir(os.path.join(cfg.data_dir, folders[n]))]
    if missing and (len(missing) == len(names) or cfg.strict_data):
        raise TrainInputError(f'dataset folder(s) missing under {cfg.data_dir}: '
                              f'{[folders[n] for n in missing]}; download them, or remove them from '
                              f'trainset_3d/trainset_2d/trainset_humandata with --cfg-options')
    if missing:
        logger.warning('dataset folder(s) missing under %s: %s; these sets will be skipped (strict_data=False)',
                       cfg.data_dir, [folders[n] for n in missing])
    if not resume and cfg.continue_train:
        path = cfg.pretrained_model_path
        if not path or not os.path.isfile(path):
            raise TrainInputError(f'continue_train=True but pretrained_model_path {path!r} does not exist; '
                                  f'download it into {cfg.pretrained_model_dir} or set the path')
    elif not resume and not cfg.random_init:
        path = cfg.encoder_pretrained_model_path
        if not path or not os.path.isfile(path):
            raise TrainInputError(f'ViTPose encoder weights {path!r} not found (encoder_pretrained_model_path); '
                                  f'download vitpose_*.pth from the ViTPose project into '
                                  f'{cfg.pretrained_model_dir}, or train from scratch with '
                                  f'--cfg-options random_init=True')


def _seed_worker(worker_id: int) -> None:
    """DataLoader worker init: derive numpy/python seeds from torch's per-worker seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def build_train_loader(cfg, dataset, device: torch.device) -> tuple[DataLoader, DistributedSampler]:
    """DataLoader over a DistributedSampler (shuffle, seed cfg.seed), batch cfg.train_batch_size per rank."""
    sampler = DistributedSampler(dataset, num_replicas=dist_utils.get_world_size(), rank=dist_utils.get_rank(),
                                 shuffle=True, seed=int(cfg.seed))
    workers = int(cfg.num_thread)
    loader = DataLoader(dataset, batch_size=int(cfg.train_batch_size), sampler=sampler, num_workers=workers,
                        drop_last=True, pin_memory=device.type == 'cuda', worker_init_fn=_seed_worker,
                        persistent_workers=False)  # fresh workers per epoch: exact resume of augmentations
    return loader, sampler


def finished_message(cfg, snapshot: tuple[Path, dict]) -> str | None:
    """Why there is nothing to train when resuming from ``snapshot`` (``read_snapshot``'s result), or None."""
    path, ckpt = snapshot
    done = int(ckpt['next_epoch'])
    if done < int(cfg.end_epoch):
        return None
    return (f'the run is finished: {done} of {cfg.end_epoch} epochs done ({path}); nothing to train. To train '
            f'longer, resume with --cfg-options end_epoch=N (N > {done}).')


def run_training(cfg, run: Run, device: torch.device, snapshot: tuple[Path, dict] | None = None,
                 show_bar: bool = True, allow_unsafe: bool = False) -> TrainState:
    """Build everything from ``cfg`` and train into ``run``; returns the final state. Collective on every rank.

    Args:
        snapshot: ``(path, checkpoint)`` from ``snapshots.read_snapshot`` to resume from, or None.
        allow_unsafe: full unpickling of the ViTPose / fine-tuning weights files (``--unsafe_load``).
    """
    from common.checkpoint import load_checkpoint, load_vitpose_encoder
    from common.model import build_model
    from data.registry import build_train_dataset

    rank, world = dist_utils.get_rank(), run.world_size
    seed_everything(int(cfg.seed) + rank)
    dataset = build_train_dataset(cfg)
    loader, sampler = build_train_loader(cfg, dataset, device)
    iters = len(loader)
    if iters == 0:
        raise TrainInputError(f'{len(dataset)} training samples over {world} ranks give no full batch of '
                              f'{cfg.train_batch_size}; lower train_batch_size')

    model = build_model(cfg, 'train')  # SPEC §1.14 init of the heads and encoder
    finetune_meta = {}
    if snapshot is None and cfg.continue_train:  # non-strict as the original; mismatches logged
        finetune_meta = load_checkpoint(model, cfg.pretrained_model_path, strict=False, allow_unsafe=allow_unsafe)
    elif snapshot is None and not cfg.random_init:
        load_vitpose_encoder(model.encoder, cfg.encoder_pretrained_model_path, allow_unsafe=allow_unsafe)
    model.to(device)
    optimizer = build_optimizer(cfg, model)
    state = TrainState()
    if finetune_meta and not cfg.start_over:  # continue the old run's epochs and Adam moments
        state.epoch = int(finetune_meta.get('epoch', -1)) + 1
        state.iteration = state.epoch * iters
        if 'optimizer' in finetune_meta:
            optimizer.load_state_dict(finetune_meta['optimizer'])
    scheduler = build_scheduler(cfg, optimizer, iters)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == 'fp16')
    if snapshot is not None:
        state = restore_snapshot(snapshot[1], snapshot[0], model, optimizer, scheduler, scaler)
    model = dist_utils.wrap_model(model, device, syncbn=bool(cfg.syncbn))

    settings = LoopSettings(end_epoch=int(cfg.end_epoch), iters_per_epoch=iters, precision=cfg.precision,
                            grad_clip_norm=cfg.grad_clip_norm, print_iters=int(cfg.print_iters),
                            save_epoch=int(cfg.save_epoch))
    logger.info('training: %d samples, %d ranks x batch %d, %d iterations/epoch, epochs %d..%d, %s',
                len(dataset), world, cfg.train_batch_size, iters, state.epoch, settings.end_epoch - 1,
                cfg.precision)
    reporter = TrainLogger(str(run.log_dir), settings.end_epoch * iters, state.iteration,
                           enabled=rank == 0, show_bar=show_bar)
    config_text = cfg.pretty_text

    def save(st: TrainState) -> None:
        save_snapshot(str(run.model_dir), model, optimizer, scheduler, scaler, st, config_text,
                      keep_last=int(cfg.keep_last_ckpts))

    def set_epoch(epoch: int) -> None:
        sampler.set_epoch(epoch)
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(epoch)

    redirect = logging_redirect_tqdm() if reporter.bar is not None else contextlib.nullcontext()
    try:
        with redirect:  # log lines go through tqdm.write so the bar stays on the last line
            return train_loop(model, optimizer, scheduler, loader, settings=settings, state=state,
                              device=device, scaler=scaler, reporter=reporter, set_epoch=set_epoch,
                              save=save)
    finally:
        reporter.close()
