"""Convert a SMPLer-X checkpoint (`.pth.tar`) to weights-only `.safetensors`.

The output holds the network weights only (no optimizer state), with the `module.` prefix stripped, legacy
names mapped (`backbone` -> `encoder`, ...) and `smplx_layer` buffers dropped: the same key normalisation
`common.checkpoint.load_checkpoint` applies. Floating-point tensors are cast to `--dtype`; integer buffers
(BatchNorm's `num_batches_tracked`) keep theirs. Loading casts back to the model's dtype.

Examples:
    python tools/convert_checkpoint.py pretrained_models/smpler_x_h32.pth.tar pretrained_models/smpler_x_h32.safetensors
    python tools/convert_checkpoint.py output/exp/model_dump/snapshot_9.pth.tar s9_fp16.safetensors --dtype fp16
"""
import argparse
import logging
import sys
from pathlib import Path

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from common.checkpoint import (CheckpointError, normalize_state_dict, read_checkpoint_file,  # noqa: E402
                               split_checkpoint)
from common.utils.files import FileWriteError, atomic_write  # noqa: E402
from common.utils.logs import setup_logging  # noqa: E402

logger = logging.getLogger('convert_checkpoint')

DTYPES = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def convert_checkpoint(src, dst, dtype: str = 'fp32', allow_unsafe: bool = False) -> int:
    """Write `src`'s normalised weights to `dst` (.safetensors); returns the number of tensors written."""
    from safetensors.torch import save_file
    dst = Path(dst)
    if dst.suffix != '.safetensors':
        raise ValueError(f"Output must end in .safetensors, got {dst}")
    raw, meta = split_checkpoint(read_checkpoint_file(src, allow_unsafe=allow_unsafe), src)
    tensors = {}
    for key, value in normalize_state_dict(raw).items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{src}: entry {key!r} is a {type(value).__name__}, not a tensor")
        if value.is_floating_point():
            value = value.to(DTYPES[dtype])
        tensors[key] = value.contiguous()
    metadata = {'format': 'pt', 'source': Path(src).name, 'dtype': dtype}
    if isinstance(meta.get('epoch'), int):
        metadata['epoch'] = str(meta['epoch'])
    with atomic_write(dst) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return len(tensors)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Examples:\n' + __doc__.split('Examples:\n')[1])
    parser.add_argument('src', help='input checkpoint (.pth.tar / .pth / .safetensors)')
    parser.add_argument('dst', help='output file, must end in .safetensors')
    parser.add_argument('--dtype', choices=sorted(DTYPES), default='fp32',
                        help='storage dtype of floating-point tensors (default fp32; fp16/bf16 halve the size)')
    parser.add_argument('--unsafe_load', action='store_true',
                        help='allow full unpickling of the input if safe loading refuses it '
                             '(can run arbitrary code: trusted files only)')
    args = parser.parse_args(argv)
    if not args.dst.endswith('.safetensors'):
        parser.error(f"dst must end in .safetensors, got {args.dst!r}")
    if Path(args.src).resolve() == Path(args.dst).resolve():
        parser.error('src and dst are the same file')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        n = convert_checkpoint(args.src, args.dst, args.dtype, allow_unsafe=args.unsafe_load)
    except (CheckpointError, ValueError) as e:  # an unusable input file: exit status 2, as a bad flag
        logger.error('%s', e)
        return 2
    except FileWriteError as e:  # e.g. the disk is full
        logger.error('%s', e)
        return 1
    logger.info('Wrote %d tensors (%s) to %s', n, args.dtype, args.dst)
    return 0


if __name__ == '__main__':
    sys.exit(main())
