"""Export the SMPLer-X network to ONNX (the SMPL-X layer stays outside the graph: README "ONNX / deployment").

    python tools/export_onnx.py --pretrained_model smpler_x_h32 --out smpler_x_h32.onnx --dynamic_batch
    python tools/export_onnx.py --config config_smpler_x_s32 --ckpt run/snapshot_9.pth.tar --out s32.onnx
    python tools/export_onnx.py --config config_smpler_x_s32 --random_weights --out s32_random.onnx

Then: python main/inference.py --backend onnxruntime --onnx s32.onnx --video_input in.mp4 ...
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402

from common.config import add_cfg_options_argument  # noqa: E402
from common.utils.cli import ArgumentParser, exit_with_error  # noqa: E402
from common.weights import add_unsafe_load_argument  # noqa: E402

DEFAULT_OPSET = 18  # = common.deploy.export.DEFAULT_OPSET (not imported: --help must not import torch)


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(description='Export the SMPLer-X network (crop -> SMPL-X parameters, joints, boxes) to an '
                                   'ONNX file with its metadata.', epilog=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pretrained_model', help='model zoo name (config + released weights), e.g. smpler_x_h32')
    p.add_argument('--config', help='config file or name (with --ckpt or --random_weights)')
    p.add_argument('--ckpt', help='checkpoint file to export')
    p.add_argument('--random_weights', action='store_true', help='random weights (pipeline checks, benchmarks)')
    p.add_argument('--out', required=True, help='ONNX file to write (atomically)')
    p.add_argument('--precision', choices=('fp32', 'fp16'), default='fp32',
                   help='precision inside the graph: fp32, or fp16 (torch autocast mixed precision, fp16 weights; '
                        'for GPU execution providers: on the CPU use fp32); input and outputs stay float32')
    p.add_argument('--opset', type=int, default=DEFAULT_OPSET, help=f'ONNX opset (>= 16); default {DEFAULT_OPSET}')
    p.add_argument('--dynamic_batch', action='store_true', help='symbolic batch dimension (default: fixed '
                                                                '--batch)')
    p.add_argument('--batch', type=int, default=1, help='batch size of a fixed-batch export; default 1')
    p.add_argument('--offline', action='store_true', help='never download weights')
    add_unsafe_load_argument(p)
    add_cfg_options_argument(p)
    args = p.parse_args(argv)
    if args.pretrained_model and (args.config or args.ckpt):
        p.error('--pretrained_model selects config and weights: give it alone, or --config with --ckpt')
    if not args.pretrained_model and not args.config:
        p.error('give --pretrained_model NAME, or --config FILE with --ckpt PATH or --random_weights')
    if args.config and not args.ckpt and not args.random_weights:
        p.error('--config needs --ckpt PATH (or --random_weights)')
    if args.ckpt and args.random_weights:
        p.error('--ckpt and --random_weights exclude each other')
    if args.opset < 16:
        p.error(f'--opset must be >= 16 (RoiAlign with aligned=False semantics), got {args.opset}')
    if args.batch < 1:
        p.error(f'--batch must be >= 1, got {args.batch}')
    if not args.out.endswith('.onnx'):
        p.error(f'--out must end with .onnx, got {args.out}')
    if os.path.isdir(args.out):
        p.error(f'--out {args.out} is a folder; give a file name ending with .onnx')
    return args


def main(argv=None):
    args = parse_args(argv)
    from common.utils.logs import setup_logging
    setup_logging()
    from common.checkpoint import CheckpointError
    from common.config import ConfigError
    from common.deploy.export import export_onnx, load_network
    from common.utils.files import FileWriteError
    from common.weights import WeightsNotFoundError
    try:
        model, cfg, weights = load_network(args.config, pretrained_model=args.pretrained_model, ckpt=args.ckpt,
                                           random_weights=args.random_weights, cfg_options=args.cfg_options,
                                           offline=args.offline, unsafe_load=args.unsafe_load)
        return export_onnx(model, cfg, args.out, precision=args.precision, opset=args.opset,
                           dynamic_batch=args.dynamic_batch, batch=args.batch, weights=weights)
    except (ConfigError, WeightsNotFoundError, CheckpointError) as e:
        exit_with_error(e)
    except FileWriteError as e:
        exit_with_error(e, code=1)


if __name__ == '__main__':
    main()
