"""Training snapshots: write, find, prune and resume (``model_dump/snapshot_{epoch}.pth.tar``).

A snapshot is the original checkpoint format written by :func:`common.checkpoint.save_checkpoint`
(``epoch``, ``network`` with ``module.`` keys, ``optimizer``) plus the training state needed to continue
bit-for-bit: ``iteration`` (optimiser steps done), ``scheduler``, ``scaler``, ``rng`` (the RNG states of
every rank) and ``config`` (the resolved config text). The write is atomic (temporary file + rename), so a
run killed at any moment leaves the previous snapshot intact; :func:`resume_from` also falls back to the
previous snapshot if the newest one cannot be read.
"""
from __future__ import annotations

import logging
import os
import random
import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from common.checkpoint import load_checkpoint, save_checkpoint
from common.utils import distributed as dist_utils

__all__ = ['TrainState', 'snapshot_path', 'list_snapshots', 'save_snapshot', 'prune_snapshots',
           'resume_from', 'capture_rng', 'restore_rng', 'seed_everything']

logger = logging.getLogger(__name__)

_SNAPSHOT_RE = re.compile(r'^snapshot_(\d+)\.pth\.tar$')


@dataclass
class TrainState:
    """Progress counters: ``epoch`` = next epoch to run, ``iteration`` = optimiser steps done so far."""
    epoch: int = 0
    iteration: int = 0


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def capture_rng() -> dict:
    """This process's RNG states, stored as tensors/tuples so ``torch.load(weights_only=True)`` reads them."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {'python': random.getstate(), 'torch': torch.get_rng_state(),
             'numpy': {'kind': kind, 'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos),
                       'has_gauss': int(has_gauss), 'gauss': float(gauss)}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    """Inverse of :func:`capture_rng`."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    torch.set_rng_state(state['torch'])
    npst = state['numpy']
    np.random.set_state((npst['kind'], npst['keys'].numpy().astype(np.uint32), npst['pos'],
                         npst['has_gauss'], npst['gauss']))
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def snapshot_path(model_dir: str, epoch: int) -> str:
    return os.path.join(model_dir, f'snapshot_{epoch}.pth.tar')


def list_snapshots(model_dir: str) -> list[tuple[int, str]]:
    """``[(epoch, path), ...]`` of the complete snapshots in ``model_dir``, newest first.

    Temporary files of an interrupted write never match the ``snapshot_{N}.pth.tar`` pattern.
    """
    if not os.path.isdir(model_dir):
        return []
    found = [(int(m.group(1)), os.path.join(model_dir, name))
             for name in os.listdir(model_dir) if (m := _SNAPSHOT_RE.match(name))]
    return sorted(found, reverse=True)


def prune_snapshots(model_dir: str, keep_last: int) -> list[str]:
    """Delete all but the ``keep_last`` newest snapshots (``keep_last <= 0`` keeps all); returns deleted paths."""
    if keep_last <= 0:
        return []
    doomed = [path for _, path in list_snapshots(model_dir)[keep_last:]]
    for path in doomed:
        os.remove(path)
        logger.info('removed old snapshot %s (keep_last_ckpts=%d)', path, keep_last)
    return doomed


def save_snapshot(model_dir: str, model: nn.Module, optimizer, scheduler, scaler, state: TrainState,
                  config_text: str = '', keep_last: int = 0) -> str | None:
    """Collective: gathers every rank's RNG state, then rank 0 writes ``snapshot_{epoch}`` atomically.

    ``state.epoch`` must already point at the next epoch to run; the file is named after the epoch just
    finished (``state.epoch - 1``), matching the original's numbering. Returns the path on rank 0.
    """
    rng_all = dist_utils.all_gather(capture_rng())
    path = None
    if dist_utils.is_main_process():
        os.makedirs(model_dir, exist_ok=True)
        path = snapshot_path(model_dir, state.epoch - 1)
        save_checkpoint(path, dist_utils.unwrap(model), optimizer, epoch=state.epoch - 1,
                        iteration=state.iteration, next_epoch=state.epoch,
                        scheduler=scheduler.state_dict(), scaler=scaler.state_dict(),
                        rng=rng_all, config=config_text)
        logger.info('saved snapshot %s (iteration %d)', path, state.iteration)
        prune_snapshots(model_dir, keep_last)
    dist_utils.barrier()
    return path


def _resolve(target: str) -> list[str]:
    """Candidate snapshot files for ``--resume target`` (a file, a run dir or a model_dump dir)."""
    if os.path.isfile(target):
        return [target]
    for model_dir in (os.path.join(target, 'model_dump'), target):
        snaps = list_snapshots(model_dir)
        if snaps:
            return [path for _, path in snaps]
    raise FileNotFoundError(f'--resume {target}: no snapshot_*.pth.tar found in {target} or '
                            f'{os.path.join(target, "model_dump")}')


def _unreadable(path: str) -> str | None:
    """Why ``path`` is not a complete torch file (None if it is); cheap: memory-maps, reads no tensors."""
    try:
        torch.load(path, map_location='cpu', mmap=True, weights_only=False)
    except Exception as err:  # noqa: BLE001 - any failure means torn/corrupt; reported to the user
        return f'{type(err).__name__}: {err}'
    return None


def resume_from(target: str, model: nn.Module, optimizer, scheduler, scaler) -> tuple[TrainState, str]:
    """Load the newest readable snapshot under ``target`` into model/optimizer/scheduler/scaler and RNG.

    The learning rate comes from the snapshot (optimizer + scheduler state), not from the config, so the
    resumed run follows the interrupted run's schedule. Returns (state, path).
    """
    errors = []
    for path in _resolve(target):
        problem = _unreadable(path)
        if problem:
            logger.warning('cannot read snapshot %s (%s); trying the previous one', path, problem)
            errors.append(f'{path}: {problem}')
            continue
        meta = load_checkpoint(dist_utils.unwrap(model), path, strict=True)
        needed = ('optimizer', 'scheduler', 'scaler', 'iteration', 'next_epoch')
        absent = [k for k in needed if k not in meta]
        if absent:
            raise ValueError(f'{path} has no training state {absent} (not written by train.py); to start a '
                             f'new run from its weights use --cfg-options continue_train=True '
                             f'pretrained_model_path={path}')
        optimizer.load_state_dict(meta['optimizer'])
        scheduler.load_state_dict(meta['scheduler'])
        if meta['scaler'] and scaler.is_enabled():  # {} when the run was not fp16
            scaler.load_state_dict(meta['scaler'])
        rng = meta.get('rng') or []
        rank = dist_utils.get_rank()
        if len(rng) == dist_utils.get_world_size():
            restore_rng(rng[rank])
        else:
            logger.warning('snapshot has RNG states of %d ranks, this run has %d: RNG not restored',
                           len(rng), dist_utils.get_world_size())
        state = TrainState(epoch=int(meta['next_epoch']), iteration=int(meta['iteration']))
        logger.info('resumed from %s: next epoch %d, iteration %d, lr %.3g', path, state.epoch,
                    state.iteration, optimizer.param_groups[0]['lr'])
        return state, path
    raise RuntimeError('no readable snapshot to resume from:\n  ' + '\n  '.join(errors))
