"""The one precision rule of training, evaluation and inference: ``--precision fp32|bf16|fp16``.

``PRECISION_NAMES`` and :func:`add_precision_argument` need no torch import (so ``--help`` stays fast);
``PRECISIONS`` maps each name to its autocast dtype (``None`` for plain fp32) and is built, importing torch,
on first access.
"""
from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISION_NAMES", "PRECISIONS", "add_precision_argument", "check_precision", "autocast", "to_device",
           "cpu_has_fast_bf16", "cpu_inference_precision", "SLOW_BF16_WARNING"]

PRECISION_NAMES = ("fp32", "bf16", "fp16")
PRECISION_HELP = "autocast precision: fp32 (plain), bf16 or fp16 (fp16 training uses a GradScaler)"


def _precisions() -> dict:
    """{name: autocast dtype or None}, created once (imports torch) and then a module global."""
    table = globals().get("PRECISIONS")
    if table is None:
        import torch
        table = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
        assert tuple(table) == PRECISION_NAMES
        globals()["PRECISIONS"] = table
    return table


def __getattr__(name: str):
    """Module attribute ``PRECISIONS`` (PEP 562): built on first access so importing this module is cheap."""
    if name == "PRECISIONS":
        return _precisions()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_precision(precision: str) -> str:
    """``precision`` itself when it is one of PRECISION_NAMES, else ValueError naming the choices."""
    if precision not in PRECISION_NAMES:
        raise ValueError(f"precision must be one of {list(PRECISION_NAMES)}, got {precision!r}")
    return precision


def add_precision_argument(parser: argparse.ArgumentParser, default: str | None = "fp32",
                           extra_help: str = "") -> None:
    """Add ``--precision`` with the shared choices (``default=None``: the config's ``precision`` key)."""
    shown = "the config's precision key" if default is None else default
    parser.add_argument("--precision", choices=PRECISION_NAMES, default=default,
                        help=f"{PRECISION_HELP}; default {shown}{extra_help}")


def autocast(precision: str, device: torch.device | str):
    """Autocast context for 'bf16' / 'fp16' on ``device``'s type; a no-op for 'fp32'."""
    import torch
    dtype = _precisions()[check_precision(precision)]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN has bf16 kernels for this CPU (AVX-512 or AMX). Without them (e.g. AVX2-only CPUs) torch
    emulates bf16 and runs transposed convolutions through its reference kernel: a bf16 forward of this network is
    then about 10x slower than fp32 (BENCHMARKS.md "bf16 without AVX-512"). True when torch cannot tell."""
    import torch
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


SLOW_BF16_WARNING = ("bf16 on this CPU is emulated (no AVX-512/AMX bf16 kernels) and much slower than fp32 "
                     "(BENCHMARKS.md \"bf16 without AVX-512\"); use fp32 here")


def cpu_inference_precision(precision: str, fast_bf16: bool | None = None) -> tuple[str, str | None]:
    """The precision CPU inference runs ``precision`` in, and a warning for the user (or None).

    fp16 runs as bf16 (torch's CPU fp16 kernels are about 100x slower), or as fp32 on a CPU without fast bf16
    (``cpu_has_fast_bf16``, the default of ``fast_bf16``). bf16 asked for stays bf16 (on a CPU without fast bf16
    ``optimize_for_inference`` warns with ``SLOW_BF16_WARNING``, for every entry point).
    """
    check_precision(precision)
    if precision != "fp16":
        return precision, None
    if cpu_has_fast_bf16() if fast_bf16 is None else fast_bf16:
        return "bf16", ("precision fp16 on the CPU runs as bf16 (CPU fp16 kernels are about 100x slower); pass "
                        "bf16 to silence this")
    return "fp32", ("precision fp16 on the CPU runs as fp32: CPU fp16 kernels are about 100x slower, and this CPU "
                    "has no fast bf16 (no AVX-512/AMX); pass fp32 to silence this")


def to_device(obj, device: torch.device | str):
    """Move every tensor in nested dicts/lists/tuples to ``device`` (non-blocking); other values are kept."""
    import torch
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj
