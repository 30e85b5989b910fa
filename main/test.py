"""Evaluate an SMPLer-X checkpoint with the paper's protocol (EHF, AGORA, UBody, 3DPW, HumanData sets).

Examples (from the repository root; `cd main && python test.py ...` works too):

    # a released model (pretrained_models/smpler_x_h32.pth.tar, config main/config/config_smpler_x_h32.py)
    python main/test.py --testset EHF --pretrained_model smpler_x_h32 --precision bf16
    # any checkpoint file with its config
    python main/test.py --testset EHF --ckpt /path/smpler_x_s32.pth.tar --config config_smpler_x_s32.py
    # a training run: its config snapshot and model_dump/snapshot_9.pth.tar
    python main/test.py --testset EHF --result_path output/s32_20240101_120000 --ckpt_idx 9
    # 4 GPUs; results gathered on rank 0
    torchrun --nproc_per_node 4 main/test.py --testset UBody --pretrained_model smpler_x_h32 --vis

Prints the original's table and writes {run}/result/result.json (every number, checkpoint, config, test
set, sample counts) and result.txt; --vis adds {run}/vis/smplx/NNNNNN.npz and {run}/vis/errors.csv.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
PROG = os.path.basename(__file__)  # name in messages, also when run in-process (tests)

import argparse  # noqa: E402
import time  # noqa: E402

# Argument parsing needs none of the heavy modules (torch, timm, mmengine): they are imported in run().
from common.config import add_cfg_options_argument  # noqa: E402
from common.run_dir import config_for_checkpoint  # noqa: E402
from common.utils.cli import RUN_ERROR, ArgumentParser, exit_with_error  # noqa: E402
from common.utils.device import add_device_argument  # noqa: E402
from common.utils.precision import add_precision_argument  # noqa: E402
from common.weights import add_unsafe_load_argument  # noqa: E402

EPILOG = """examples:
  python main/test.py --testset EHF --pretrained_model smpler_x_h32
  python main/test.py --testset EHF --ckpt pretrained_models/smpler_x_s32.pth.tar
  python main/test.py --testset EHF --ckpt my.pth.tar --config config_smpler_x_b32.py --batch_size 64
  python main/test.py --testset EHF --result_path output/s32_20240101_120000 --ckpt_idx 9 --vis
  python main/test.py --testset EHF --ckpt x.pth.tar --config config_smpler_x_s32 \\
      --cfg-options data_dir=/data human_model_path=/models/human_model_files
  torchrun --nproc_per_node 4 main/test.py --testset EHF --pretrained_model smpler_x_h32
"""


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description='Evaluate SMPLer-X with the paper protocol (SPEC 4.4).',
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--testset', default='EHF',
                        help='test set name from data/registry.py (EHF, AGORA, UBody, PW3D, EgoBody_Egocentric, '
                             'ARCTIC, RenBody, ...); default EHF')
    src = parser.add_argument_group('what to evaluate (exactly one)')
    src.add_argument('--ckpt', help='checkpoint file (.pth.tar/.pth/.safetensors); its config is --config, else '
                                    "the run's code/config.py or the config of a zoo file name")
    src.add_argument('--pretrained_model', metavar='NAME',
                     help='released model: smpler_x_{s32,b32,l32,h32,h32_correct}; file from '
                          'pretrained_model_dir (downloaded when missing and allowed), config from main/config/')
    src.add_argument('--result_path', metavar='RUN_DIR',
                     help='training run folder (a path, or its name under the output_root of the config '
                          'defaults and --cfg-options): uses {run}/code/config.py and '
                          '{run}/model_dump/snapshot_{ckpt_idx}.pth.tar')
    parser.add_argument('--ckpt_idx', type=int, default=None,
                        help='snapshot number with --result_path (default: the highest one)')
    parser.add_argument('--config', help='config file or name under main/config/ (not with --result_path)')
    add_cfg_options_argument(parser)
    parser.add_argument('--exp_name', default=None,
                        help='output folder name: {output_root}/{exp_name}_{timestamp} (default test_{testset})')
    parser.add_argument('--batch_size', type=int, default=None,
                        help='samples per forward pass and process (default: cfg.test_batch_size)')
    add_precision_argument(parser, default=None)
    add_device_argument(parser, extra_help='; under torchrun each rank uses cuda:LOCAL_RANK')
    parser.add_argument('--num_workers', type=int, default=None,
                        help='DataLoader workers per process (default: cfg.num_thread)')
    add_unsafe_load_argument(parser)
    parser.add_argument('--vis', action='store_true',
                        help='also write per-sample SMPL-X parameters (vis/smplx/*.npz) and errors (vis/errors.csv)')
    args = parser.parse_args(argv)
    given = [f for f in ('ckpt', 'pretrained_model', 'result_path') if getattr(args, f)]
    if len(given) != 1:
        parser.error('give exactly one of --ckpt, --pretrained_model, --result_path'
                     + (f' (got {", ".join("--" + g for g in given)})' if given else ''))
    if args.ckpt_idx is not None and not args.result_path:
        parser.error('--ckpt_idx only applies to --result_path (use --ckpt FILE for a single snapshot)')
    if args.config and args.result_path:
        parser.error('--config conflicts with --result_path (the run\'s own config is used; change keys with '
                     '--cfg-options)')
    for name in ('batch_size', 'num_workers'):
        value = getattr(args, name)
        if value is not None and value < (1 if name == 'batch_size' else 0):
            parser.error(f'--{name} must be {">= 1" if name == "batch_size" else ">= 0"}, got {value}')
    if args.ckpt and not args.config:
        args.config = config_for_checkpoint(args.ckpt)
        if args.config is None:
            parser.error(f'--ckpt {args.ckpt}: cannot tell its config from the file name; add --config')
    args.exp_name = args.exp_name or f'test_{args.testset}'
    return args


def run(args) -> dict:
    """Evaluate as described by ``args``. Returns ``{dataset: {metric: mm}}`` on rank 0 (``{}`` elsewhere)."""
    from common.checkpoint import load_checkpoint
    from common.config import config_path_for_model, load_config, parse_cfg_options, runtime_paths
    from common.engine import tester
    from common.evaluation.evaluators import EmptyTestSetError, build_evaluator
    from common.model import build_model, optimize_for_inference
    from common.run_dir import find_run_files, setup_run
    from common.utils import distributed as comm
    from common.utils.logs import setup_logging
    from common.utils.precision import PRECISIONS
    from common.weights import resolve_checkpoint
    from data.registry import build_dataset

    overrides = parse_cfg_options(args.cfg_options)
    if args.result_path:
        output_root = runtime_paths(overrides)['output_root']
        config_path, ckpt = find_run_files(args.result_path, args.ckpt_idx, output_root)
    else:
        config_path, ckpt = args.config or config_path_for_model(args.pretrained_model), args.ckpt
    cfg = load_config(config_path, overrides)
    precision = args.precision or cfg.precision
    info = comm.init_from_env(args.device)
    try:
        setup_logging(info.rank)
        ckpt = resolve_checkpoint(ckpt or args.pretrained_model, cfg.pretrained_model_dir)
        dataset = build_dataset(cfg, args.testset, 'test')
        if len(dataset) == 0:
            raise EmptyTestSetError(f'test set {args.testset} has no samples (data_dir={cfg.data_dir}); check the '
                                    'annotation file and the sample filters')
        model = build_model(cfg)
        load_checkpoint(model, ckpt, strict=True, allow_unsafe=args.unsafe_load)
        model.to(info.device).eval()
        # the inference copy (BN-folded deconvolutions, gather sampling, pre-cast weights): same numbers
        model = optimize_for_inference(model, info.device, PRECISIONS[precision])

        run_ = setup_run(cfg, args.exp_name, testset=args.testset)  # only once the inputs are known to be good
        setup_logging(info.rank, run_.log_dir / 'test.log')
        evaluator = build_evaluator(cfg, args.testset, len(dataset), str(run_.result_dir))
        loader = tester.build_test_loader(dataset, args.batch_size or cfg.test_batch_size,
                                          cfg.num_thread if args.num_workers is None else args.num_workers)
        callbacks = []
        if args.vis:
            callbacks.append(tester.SmplxNpzWriter(run_.vis_dir / 'smplx', cfg.focal, cfg.princpt,
                                                   cfg.input_img_shape[0] / cfg.input_body_shape[0]))
        start = time.perf_counter()
        results = tester.inference_on_dataset(model, loader, evaluator, precision, info.device, callbacks)
        if comm.is_main_process():
            print(''.join(tester.format_results(name, m, str(run_.vis_dir)) for name, m in results.items()), end='')
            tester.write_run_outputs(cfg, run_, results, evaluator, ckpt, write_vis_csv=args.vis, extra={
                'precision': precision, 'device': str(info.device), 'world_size': run_.world_size,
                'batch_size': loader.batch_size, 'seconds': round(time.perf_counter() - start, 3)})
    finally:
        comm.destroy()
    return results


def main(argv=None) -> int:
    """Entry point: 0 on success; input errors end with one line and exit status 2, a failed write with 1."""
    args = parse_args(argv)
    from common.checkpoint import CheckpointError
    from common.config import ConfigError
    from common.evaluation.evaluators import EmptyTestSetError
    from common.run_dir import RunDirError
    from common.utils.device import DeviceError
    from common.utils.files import FileWriteError
    from common.utils.human_models import BodyModelError
    try:
        run(args)
    except FileWriteError as err:
        exit_with_error(err, RUN_ERROR, PROG)
    except (FileNotFoundError, ConfigError, CheckpointError, RunDirError, EmptyTestSetError, DeviceError,
            BodyModelError, KeyError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        exit_with_error(f'{type(err).__name__}: {message}', prog=PROG)
    return 0


if __name__ == '__main__':
    sys.exit(main())
