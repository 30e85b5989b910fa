"""Training snapshots: write, find, prune and resume (``model_dump/snapshot_{epoch}.pth.tar``).

A snapshot is the original checkpoint format written by :func:`common.checkpoint.save_checkpoint`
(``epoch``, ``network`` with ``module.`` keys, ``optimizer``) plus the training state needed to continue
bit-for-bit: ``iteration`` (optimiser steps done), ``scheduler``, ``scaler``, ``rng`` (the RNG states of
every rank) and ``config`` (the resolved config text). The write is atomic (temporary file + rename), so a
run killed at any moment leaves the previous snapshot intact; :func:`read_snapshot` also falls back to the
previous snapshot if the newest one cannot be read. Snapshots are read only through the safe loader
(``common.checkpoint.read_checkpoint_file``): a file that needs full unpickling stops the resume unless
``allow_unsafe`` (``--unsafe_load``). Which files to try comes from ``common.run_dir.plan_resume``.
"""
from __future__ import annotations

import logging
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.checkpoint import (CheckpointError, UnsafeCheckpointError, load_state_from, read_checkpoint_file,
                               save_checkpoint)
from common.run_dir import list_snapshots, snapshot_path
from common.utils import distributed as dist_utils

__all__ = ['TrainState', 'TRAINING_STATE_KEYS', 'save_snapshot', 'prune_snapshots', 'read_snapshot',
           'restore_snapshot', 'resume_from', 'capture_rng', 'restore_rng', 'seed_everything']

logger = logging.getLogger(__name__)

# Entries a snapshot written by save_snapshot has beyond the original checkpoint format.
TRAINING_STATE_KEYS = ('optimizer', 'scheduler', 'scaler', 'iteration', 'next_epoch')


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


def prune_snapshots(model_dir: str, keep_last: int) -> list[str]:
    """Delete all but the ``keep_last`` newest snapshots (``keep_last <= 0`` keeps all); returns deleted paths."""
    if keep_last <= 0:
        return []
    doomed = [str(path) for _, path in list_snapshots(model_dir)[keep_last:]]
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
        path = str(snapshot_path(model_dir, state.epoch - 1))
        save_checkpoint(path, dist_utils.unwrap(model), optimizer, epoch=state.epoch - 1,
                        iteration=state.iteration, next_epoch=state.epoch,
                        scheduler=scheduler.state_dict(), scaler=scaler.state_dict(),
                        rng=rng_all, config=config_text)
        logger.info('saved snapshot %s (iteration %d)', path, state.iteration)
        prune_snapshots(model_dir, keep_last)
    dist_utils.barrier()
    return path


def read_snapshot(candidates: Sequence[str | Path], allow_unsafe: bool = False) -> tuple[Path, dict]:
    """The newest readable snapshot among ``candidates`` (newest first): ``(path, checkpoint dict)``.

    A torn or corrupt file (a run killed while writing without our atomic save, a damaged disk) is skipped
    with a warning. Raises UnsafeCheckpointError for a file that needs full unpickling (unless
    ``allow_unsafe``), CheckpointError when none is readable or the file holds no training state.
    """
    errors = []
    for path in map(Path, candidates):
        try:
            ckpt = read_checkpoint_file(path, allow_unsafe=allow_unsafe)
        except UnsafeCheckpointError:
            raise
        except CheckpointError as err:
            logger.warning('cannot read snapshot %s (%s); trying the previous one', path, err)
            errors.append(f'{path}: {err}')
            continue
        absent = [k for k in TRAINING_STATE_KEYS if k not in ckpt]
        if absent:
            raise CheckpointError(f'{path} has no training state {absent} (not written by train.py); to start a '
                                  f'new run from its weights use --cfg-options continue_train=True '
                                  f'pretrained_model_path={path}')
        return path, ckpt
    raise CheckpointError('no readable snapshot to resume from:\n  ' + '\n  '.join(errors))


def restore_snapshot(ckpt: dict, path: str | Path, model: nn.Module, optimizer, scheduler, scaler) -> TrainState:
    """Load a snapshot read by :func:`read_snapshot` into model/optimizer/scheduler/scaler and this rank's RNG.

    The learning rate comes from the snapshot (optimizer + scheduler state), not from the config, so the
    resumed run follows the interrupted run's schedule.
    """
    meta = load_state_from(dist_utils.unwrap(model), ckpt, path, strict=True)
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
    return state


def resume_from(candidates: Sequence[str | Path], model: nn.Module, optimizer, scheduler, scaler,
                allow_unsafe: bool = False) -> tuple[TrainState, Path]:
    """:func:`read_snapshot` then :func:`restore_snapshot`; returns (state, path of the snapshot used)."""
    path, ckpt = read_snapshot(candidates, allow_unsafe)
    return restore_snapshot(ckpt, path, model, optimizer, scheduler, scaler), path
