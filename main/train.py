"""Train SMPLer-X on one process (CPU or one GPU), on N GPUs with torchrun, or under SLURM.

Examples (from the repository root; `cd main && python train.py ...` works too):

    # one GPU (or the CPU when no GPU is present)
    python main/train.py --config config_smpler_x_s32.py --exp_name s32
    # 8 GPUs on one node (DDP, NCCL)
    torchrun --nproc_per_node 8 main/train.py --config config_smpler_x_h32.py --exp_name h32
    # SLURM: 16 GPUs; ranks come from the SLURM environment
    sh main/slurm_train.sh h32 16 config_smpler_x_h32.py
    # continue the newest run of an experiment, or a given run directory / snapshot file
    python main/train.py --config config_smpler_x_s32.py --exp_name s32 --resume
    python main/train.py --config config_smpler_x_s32.py --exp_name s32 --resume output/s32_20240101_120000
    # tiny CPU smoke run on other data
    python main/train.py --config config_smpler_x_s32.py --exp_name smoke --device cpu --cfg-options \
        feat_dim=64 encoder.depth=2 encoder.num_heads=2 random_init=True train_batch_size=2 end_epoch=1
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
PROG = os.path.basename(__file__)  # name in messages, also when run in-process (tests)

import argparse  # noqa: E402
import logging  # noqa: E402

# Argument parsing needs none of the heavy modules (torch, timm, mmengine): they are imported in main().
from common.config import add_cfg_options_argument  # noqa: E402
from common.utils.cli import RUN_ERROR, ArgumentParser, exit_with_error  # noqa: E402
from common.utils.device import add_device_argument  # noqa: E402
from common.utils.precision import add_precision_argument  # noqa: E402
from common.weights import add_unsafe_load_argument  # noqa: E402

EPILOG = """examples:
  python main/train.py --config config_smpler_x_s32.py --exp_name s32
  torchrun --nproc_per_node 8 main/train.py --config config_smpler_x_h32.py --exp_name h32 --precision bf16
  sh main/slurm_train.sh h32 16 config_smpler_x_h32.py
  python main/train.py --config config_smpler_x_s32.py --exp_name s32 --resume            # newest s32 run
  python main/train.py --config config_ft_3dpw.py --exp_name ft3dpw \\
      --cfg-options pretrained_model_path=/path/smpler_x_h32.pth.tar
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description='Train SMPLer-X (single process, torchrun or SLURM).',
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', required=True,
                        help='config file or name under main/config/, e.g. config_smpler_x_h32.py')
    parser.add_argument('--exp_name', default=None,
                        help='run name; the run goes to {output_root}/{exp_name}_{timestamp}/ '
                             '(default: the config name without "config_")')
    add_cfg_options_argument(parser)
    parser.add_argument('--resume', nargs='?', const='', default=None, metavar='DIR|CKPT',
                        help='continue training from the newest complete snapshot: of a run directory, a '
                             'model_dump/ folder or a snapshot file; with no value, the newest run of '
                             '--exp_name. The lr schedule, optimizer, epoch and RNG come from the snapshot.')
    add_precision_argument(parser, default=None)
    add_device_argument(parser, extra_help='; under torchrun each rank uses cuda:LOCAL_RANK')
    parser.add_argument('--num_workers', type=int, default=None,
                        help='DataLoader workers per process (default: cfg.num_thread)')
    parser.add_argument('--no_bar', action='store_true', help='no tqdm progress bar (e.g. batch jobs)')
    add_unsafe_load_argument(parser)
    args = parser.parse_args(argv)
    if args.num_workers is not None and args.num_workers < 0:
        parser.error('--num_workers must be >= 0')
    if args.exp_name is None:
        stem = os.path.basename(args.config)
        args.exp_name = stem[:-3] if stem.endswith('.py') else stem
        args.exp_name = args.exp_name.removeprefix('config_')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    import torch

    from common.checkpoint import CheckpointError
    from common.config import ConfigError, load_config, parse_cfg_options
    from common.engine.snapshots import read_snapshot
    from common.engine.train_setup import TrainInputError, finished_message, run_training, validate_train_inputs
    from common.run_dir import RunDirError, plan_resume, setup_run
    from common.utils import distributed as dist_utils
    from common.utils.device import DeviceError
    from common.utils.files import FileWriteError
    from common.utils.human_models import BodyModelError
    from common.utils.logs import setup_logging

    setup_logging(rank=int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0))))
    try:  # everything checked before any process group exists or GPU memory is taken
        overrides = parse_cfg_options(args.cfg_options)
        overrides.update({k: v for k, v in (('precision', args.precision), ('num_thread', args.num_workers))
                          if v is not None})
        cfg = load_config(args.config, overrides)
        validate_train_inputs(cfg, resume=args.resume is not None)
        plan = plan_resume(args.resume, cfg.output_root, args.exp_name)
        info = dist_utils.init_from_env(args.device)
    except (ConfigError, TrainInputError, RunDirError, DeviceError) as err:
        exit_with_error(err, prog=PROG)
    log = logging.getLogger('train')
    try:
        snapshot = read_snapshot(plan.snapshots, args.unsafe_load) if plan is not None else None
        if snapshot is not None and finished_message(cfg, snapshot):
            log.info('%s', finished_message(cfg, snapshot))
            return
        run = setup_run(cfg, args.exp_name, plan)
        setup_logging(info.rank, run.log_dir / 'train.log')
        log.info('rank %d/%d on %s; run %s', info.rank, info.world_size, info.device, run.output_dir)
        if info.device.type == 'cuda':
            torch.backends.cudnn.benchmark = True
        run_training(cfg, run, info.device, snapshot, show_bar=not args.no_bar and info.rank == 0,
                     allow_unsafe=args.unsafe_load)
    except (CheckpointError, TrainInputError, RunDirError, BodyModelError) as err:  # an unusable input file
        exit_with_error(err, prog=PROG)
    except FileWriteError as err:  # e.g. the disk filled up while saving a snapshot
        exit_with_error(err, RUN_ERROR, PROG)
    finally:
        dist_utils.destroy()


if __name__ == '__main__':
    main()
