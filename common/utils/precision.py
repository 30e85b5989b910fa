"""Precision and device helpers shared by training, evaluation and inference."""
from __future__ import annotations

import contextlib

import torch

__all__ = ["PRECISIONS", "autocast", "to_device"]

# --precision choices -> autocast dtype (None: plain fp32, no autocast).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(precision: str, device: torch.device | str):
    """Autocast context for 'bf16' / 'fp16' on ``device``'s type; a no-op for 'fp32'."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if PRECISIONS[precision] is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=PRECISIONS[precision])


def to_device(obj, device: torch.device | str):
    """Move every tensor in nested dicts/lists/tuples to ``device`` (non-blocking); other values are kept."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj
