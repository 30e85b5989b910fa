"""Cached low-precision weight copies for autocast inference (opt-in, never in a state_dict).

Under `torch.autocast`, every convolution / linear casts its fp32 weight to the autocast dtype
on every call (tens of milliseconds per forward for the ViT on a CPU). A module that supports
this cache holds an `inference_dtype` attribute (None = off); `Model.prepare_for_inference(dtype)`
sets it. While it is set, the module keeps the cast (or BN-folded and cast) weights in a plain
Python dict (not a parameter or buffer, so `state_dict()` and `.to()` ignore it) and reuses them
when ALL of these hold, otherwise it computes exactly as without the cache:

- the module is in eval mode and gradients are disabled (`torch.no_grad` / `inference_mode`);
- autocast is enabled on the input's device with dtype == `inference_dtype`;
- not inside `torch.compile` tracing;
- every source tensor still has the same storage, device and in-place version counter
  (so `load_state_dict`, optimizer steps and `.to()` invalidate the copy automatically).

The cached values are exactly what autocast would have produced (same fp32 math, one cast), so
the outputs are bit-identical to the uncached autocast forward.
"""
import logging
from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import nn

logger = logging.getLogger(__name__)

__all__ = ['active_inference_dtype', 'cached_weights', 'set_inference_dtype']


def active_inference_dtype(module: nn.Module, x: torch.Tensor) -> Optional[torch.dtype]:
    """The dtype to use cached weights in for this call of `module` on input `x`, or None."""
    dtype = getattr(module, 'inference_dtype', None)
    if dtype is None or module.training or torch.is_grad_enabled():
        return None
    dev = x.device.type
    if not torch.is_autocast_enabled(dev) or torch.get_autocast_dtype(dev) != dtype:
        return None
    if torch.compiler.is_compiling():
        return None
    return dtype


def _signature(sources: Sequence[Optional[torch.Tensor]], dtype: torch.dtype) -> tuple:
    return (dtype,) + tuple(None if t is None else (t.data_ptr(), t.device, t._version, t.shape)
                            for t in sources)


def cached_weights(module: nn.Module, key: str, sources: Sequence[Optional[torch.Tensor]],
                   dtype: torch.dtype, make: Callable[[], Tuple[Optional[torch.Tensor], ...]]
                   ) -> Tuple[Optional[torch.Tensor], ...]:
    """Return `make()` cast to `dtype`, recomputed only when `sources` changed.

    `make` runs in fp32 (no autocast, no autograd) and returns a tuple of tensors (or None);
    the tuple is cast to `dtype` and stored in `module._inference_cache[key]`.
    """
    cache = module.__dict__.setdefault('_inference_cache', {})
    sig = _signature(sources, dtype)
    hit = cache.get(key)
    if hit is not None and hit[0] == sig:
        return hit[1]
    dev = next(t for t in sources if t is not None).device.type
    with torch.inference_mode(False), torch.no_grad(), torch.autocast(dev, enabled=False):
        values = tuple(None if t is None else t.detach().to(dtype) for t in make())
    cache[key] = (sig, values)
    return values


def set_inference_dtype(root: nn.Module, dtype: Optional[torch.dtype]) -> int:
    """Set `inference_dtype` on every supporting submodule of `root` (and drop old caches).

    Returns the number of modules switched.
    """
    n = 0
    for m in root.modules():
        if hasattr(m, 'inference_dtype'):
            m.inference_dtype = dtype
            m.__dict__.pop('_inference_cache', None)
            n += 1
    return n
