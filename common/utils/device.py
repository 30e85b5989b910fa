"""The one device-selection rule of every entry script: ``auto | cpu | cuda | cuda:N``.

``auto`` is CUDA when a GPU is present, else the CPU; ``cuda`` is the process's own GPU (``cuda:LOCAL_RANK``
under torchrun, else ``cuda:0``); ``cuda:N`` names a GPU. Parsing the flag needs no torch import, so
``--help`` stays fast; ``select_device`` imports torch.
"""
from __future__ import annotations

import argparse
import re

__all__ = ['DEVICE_HELP', 'DeviceError', 'parse_device', 'add_device_argument', 'select_device']

DEVICE_HELP = "'auto' (CUDA when a GPU is present, else the CPU), 'cpu', 'cuda' (this process's GPU) or 'cuda:N'"
_PATTERN = re.compile(r'^(auto|cpu|cuda(:\d+)?)$')


class DeviceError(ValueError):
    """A device that does not exist on this machine (e.g. ``cuda`` without a GPU)."""


def parse_device(text: str) -> str:
    """argparse ``type=``: the normalised device name, or an error naming the accepted values."""
    name = str(text).strip().lower()
    if not _PATTERN.match(name):
        raise argparse.ArgumentTypeError(f'unknown device {text!r}; use {DEVICE_HELP}')
    return name


def add_device_argument(parser: argparse.ArgumentParser, default: str = 'auto', extra_help: str = '') -> None:
    """Add ``--device`` with the shared choices (validated by ``parse_device``)."""
    parser.add_argument('--device', type=parse_device, default=default,
                        help=f'{DEVICE_HELP}; default {default}{extra_help}')


def select_device(name: str = 'auto', local_rank: int = 0):
    """``torch.device`` for a device name (see module docstring).

    Raises:
        DeviceError: CUDA asked for but not available, or a GPU index beyond the devices present.
    """
    import torch
    name = parse_device(name) if name is not None else 'auto'
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cpu':
        return torch.device('cpu')
    if not torch.cuda.is_available():
        raise DeviceError(f'--device {name}: CUDA is not available on this machine (no GPU or a CPU-only torch '
                          f'build); use --device cpu (or auto)')
    count = torch.cuda.device_count()
    index = int(name.split(':')[1]) if ':' in name else local_rank % count
    if index >= count:
        raise DeviceError(f'--device {name}: this machine has {count} GPU(s) (cuda:0..cuda:{count - 1})')
    return torch.device('cuda', index)
