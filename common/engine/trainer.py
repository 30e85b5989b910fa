"""The training loop (STYLE 9): batch -> forward -> dict of losses -> sum -> backward -> step -> periodic work.

:func:`train_loop` takes explicit objects (model, optimizer, scheduler, loader, ...) and does not care
what the model is, as long as ``model(inputs, targets, meta_info, 'train')`` returns a dict of loss
tensors (already weighted). Each term is averaged over all its elements (masked zeros included) and the
terms are summed (SPEC §3.1). :func:`run_training` builds those objects from a config.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from common.engine.snapshots import TrainState
from common.engine.train_log import TrainLogger
from common.utils import distributed as dist_utils
from common.utils.precision import PRECISIONS, to_device

__all__ = ['LoopSettings', 'reduce_losses', 'check_finite', 'train_loop']

logger = logging.getLogger(__name__)

@dataclass
class LoopSettings:
    """Plain loop parameters (read from the config by the caller).

    ``end_epoch`` epochs of ``iters_per_epoch`` optimiser steps each; ``precision`` one of PRECISIONS;
    ``grad_clip_norm`` max global L2 norm (None = off); ``print_iters`` logging period in iterations;
    ``save_epoch`` snapshot period in epochs (the last epoch is always saved).
    """
    end_epoch: int
    iters_per_epoch: int
    precision: str = 'fp32'
    grad_clip_norm: float | None = None
    print_iters: int = 100
    save_epoch: int = 1


def reduce_losses(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """Scalar total: every term averaged over all its elements, then summed (fp32)."""
    if not losses:
        raise ValueError('the model returned an empty loss dict in train mode')
    return sum(value.float().mean() for value in losses.values())


def check_finite(total: torch.Tensor, losses: dict[str, torch.Tensor], state: TrainState) -> None:
    """Stop at the first non-finite total loss, naming every term (one host sync per step)."""
    if not bool(torch.isfinite(total)):
        terms = {k: float(v.detach().float().mean()) for k, v in losses.items()}
        raise FloatingPointError(f'non-finite loss at epoch {state.epoch} iteration {state.iteration}: '
                                 f'total={float(total.detach())} terms={terms}. Lower the lr, enable '
                                 f'grad_clip_norm, or use precision=fp32/bf16 instead of fp16.')


class _LossWindow:
    """Running sums of the detached loss terms between two log steps (no host sync while summing)."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, losses: dict[str, torch.Tensor]) -> None:
        for k, v in losses.items():
            v = v.detach().float().mean()
            self.sums[k] = self.sums[k] + v if k in self.sums else v
            self.counts[k] = self.counts.get(k, 0) + 1

    def global_means(self, device: torch.device) -> dict[str, float]:
        """Per-term window means averaged over ranks (collective; ranks may have different terms)."""
        names = sorted(set().union(*dist_utils.all_gather(sorted(self.sums))))
        zero = torch.zeros((), device=device)
        local = {k: self.sums[k] / self.counts[k] if k in self.sums else zero for k in names}
        self.sums, self.counts = {}, {}
        return {k: float(v) for k, v in dist_utils.reduce_dict(local).items()}


def _batch_size(inputs) -> int:
    first = next(iter(inputs.values())) if isinstance(inputs, dict) else inputs
    return int(first.shape[0])


def train_loop(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler, loader: Iterable, *,
               settings: LoopSettings, state: TrainState, device: torch.device,
               scaler: torch.amp.GradScaler, reporter: TrainLogger | None = None,
               set_epoch: Callable[[int], None] | None = None,
               save: Callable[[TrainState], None] | None = None) -> TrainState:
    """Run epochs ``state.epoch .. settings.end_epoch - 1``; returns the final state.

    Args:
        loader: yields ``(inputs, targets, meta_info)``; ``iter(loader)`` is taken once per epoch and
            ``settings.iters_per_epoch`` batches are drawn from it (an endless generator works too).
        state: progress so far (fresh or resumed); updated in place.
        scaler: GradScaler (enabled only for fp16; a disabled one is a pass-through).
        reporter: progress/TensorBoard sink (rank 0); None = silent.
        set_epoch: called with the epoch index before it starts (``DistributedSampler.set_epoch``).
        save: called after an epoch that must be saved, with ``state.epoch`` = next epoch.
    """
    amp_dtype = PRECISIONS[settings.precision]
    params = [p for group in optimizer.param_groups for p in group['params']]
    window = _LossWindow()
    world = dist_utils.get_world_size()
    model.train()
    for epoch in range(state.epoch, settings.end_epoch):
        state.epoch = epoch
        if set_epoch is not None:
            set_epoch(epoch)
        batches = iter(loader)
        for _ in range(settings.iters_per_epoch):
            inputs, targets, meta_info = to_device(next(batches), device)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                losses = model(inputs, targets, meta_info, 'train')
            total = reduce_losses(losses)
            check_finite(total, losses, state)

            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            if settings.grad_clip_norm:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            state.iteration += 1

            window.add(losses)
            if reporter is not None:
                reporter.tick(_batch_size(inputs) * world)
            if state.iteration % settings.print_iters == 0:
                _log_step(window, reporter, state, optimizer, device)
        state.epoch = epoch + 1
        if save is not None and (epoch % settings.save_epoch == 0 or epoch == settings.end_epoch - 1):
            save(state)
    return state


def _log_step(window: _LossWindow, reporter: TrainLogger | None, state: TrainState, optimizer,
              device: torch.device) -> None:
    """Average the window's losses over ranks (collective), then rank 0 writes them."""
    means = window.global_means(device)
    if reporter is not None:
        reporter.write(state.iteration, state.epoch, means, sum(means.values()),
                       optimizer.param_groups[0]['lr'])

