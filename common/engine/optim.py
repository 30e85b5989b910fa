"""Optimiser, learning-rate schedule and fine-tune freezing (SPEC §3.3).

* Adam (default betas/eps, no weight decay) with two parameter groups: every trainable parameter at
  ``lr`` and the parameters of the top-level modules named in ``lr_mult_modules`` at ``lr * lr_mult``
  (none by default, so the second group is empty, as in the original).
* Cosine annealing from ``lr`` to ``min_lr`` over ``end_epoch * iters_per_epoch`` iterations, stepped
  every iteration, no warm-up; ``scheduler='step'`` uses StepLR with ``step_size`` (iterations, since the
  schedule is stepped per iteration) and ``gamma``.
* ``fine_tune``: None trains everything; ``'backbone'`` freezes heads and neck (only the encoder trains);
  ``'neck_and_head'`` freezes the encoder; ``'head'`` freezes the encoder and the neck.
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from common.config import ConfigError

__all__ = ['ENCODER', 'NECK', 'HEADS', 'FINE_TUNE_FROZEN', 'apply_fine_tune', 'build_optimizer',
           'build_optimizer_from_args', 'build_scheduler', 'build_scheduler_from_args']

logger = logging.getLogger(__name__)

ENCODER = ('encoder',)
NECK = ('box_net', 'hand_roi_net')
HEADS = ('body_position_net', 'body_regressor', 'hand_position_net', 'hand_regressor', 'face_regressor')

# fine_tune mode -> top-level module names whose parameters are frozen
FINE_TUNE_FROZEN: dict[str | None, tuple[str, ...]] = {
    None: (),
    'backbone': NECK + HEADS,
    'neck_and_head': ENCODER,
    'head': ENCODER + NECK,
}


def apply_fine_tune(model: nn.Module, mode: str | None) -> list[str]:
    """Set ``requires_grad=False`` on the modules that ``mode`` freezes; returns their names.

    Raises:
        ValueError: unknown mode, or the model lacks a module that the mode names.
    """
    if mode not in FINE_TUNE_FROZEN:
        raise ValueError(f'cfg.fine_tune={mode!r} is not one of {list(FINE_TUNE_FROZEN)}')
    frozen = FINE_TUNE_FROZEN[mode]
    children = dict(model.named_children())
    missing = [name for name in frozen if name not in children]
    if missing:
        raise ValueError(f'fine_tune={mode!r} freezes {missing}, which the model does not have '
                         f'(it has {sorted(children)})')
    for name in frozen:
        children[name].requires_grad_(False)
    if frozen:
        logger.info('fine_tune=%r: frozen modules %s', mode, list(frozen))
    return list(frozen)


def build_optimizer_from_args(model: nn.Module, lr: float, lr_mult: float = 1.0,
                              special_modules: tuple[str, ...] = ()) -> torch.optim.Adam:
    """Adam over the trainable parameters: group 0 at ``lr``, group 1 (``special_modules``, top-level
    module names) at lr*lr_mult; group 1 is empty without special modules (the original's layout).

    Raises:
        ValueError: a name in ``special_modules`` is not a top-level module of ``model``.
    """
    children = dict(model.named_children())
    unknown = [name for name in special_modules if name not in children]
    if unknown:
        raise ValueError(f'lr_mult_modules names {unknown}, which the model does not have (its top-level '
                         f'modules: {sorted(children)})')
    special_ids = set()
    for name in special_modules:
        special_ids |= {id(p) for p in children[name].parameters()}
    normal = [p for p in model.parameters() if p.requires_grad and id(p) not in special_ids]
    special = [p for p in model.parameters() if p.requires_grad and id(p) in special_ids]
    if not normal and not special:
        raise ValueError('no trainable parameters: check cfg.fine_tune')
    return torch.optim.Adam([{'params': normal, 'lr': lr},
                             {'params': special, 'lr': lr * lr_mult}], lr=lr)


def build_optimizer(cfg, model: nn.Module) -> torch.optim.Adam:
    """Freeze per ``cfg.fine_tune`` and build Adam from ``cfg.lr``, ``cfg.lr_mult`` and
    ``cfg.lr_mult_modules`` (the "special" group ``lr_mult`` applies to; empty in every released config).

    Raises:
        ConfigError: ``lr_mult`` is not 1 while ``lr_mult_modules`` is empty (it would change nothing).
    """
    special = tuple(cfg.lr_mult_modules)
    if float(cfg.lr_mult) != 1.0 and not special:
        raise ConfigError(f'lr_mult={cfg.lr_mult} applies to the modules in lr_mult_modules, which is empty, '
                         "so it would change nothing: set lr_mult_modules (e.g. \"lr_mult_modules=['encoder']\") "
                         'or leave lr_mult at 1')
    apply_fine_tune(model, cfg.fine_tune)
    return build_optimizer_from_args(model, float(cfg.lr), float(cfg.lr_mult), special)


def build_scheduler_from_args(optimizer: torch.optim.Optimizer, total_iters: int, kind: str = 'cos',
                              min_lr: float = 1e-6, step_size: int | None = None, gamma: float = 0.1):
    """Per-iteration schedule: 'cos' (CosineAnnealingLR to ``min_lr`` over ``total_iters``) or 'step'."""
    if kind in ('cos', 'cosine'):
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, total_iters),
                                                          eta_min=min_lr)
    if kind == 'step':
        if not step_size:
            raise ValueError("cfg.scheduler='step' needs cfg.step_size (iterations) and cfg.gamma")
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=int(step_size), gamma=gamma)
    raise ValueError(f"cfg.scheduler={kind!r} is not 'cos' or 'step'")


def build_scheduler(cfg, optimizer: torch.optim.Optimizer, iters_per_epoch: int):
    """Schedule from ``cfg.scheduler`` ('cos' default), ``cfg.end_epoch``, ``cfg.min_lr`` (1e-6)."""
    return build_scheduler_from_args(
        optimizer, total_iters=int(cfg.end_epoch) * iters_per_epoch,
        kind=cfg.scheduler or 'cos', min_lr=float(cfg.min_lr),
        step_size=cfg.step_size, gamma=float(cfg.gamma))
