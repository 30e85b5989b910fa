"""Process-group plumbing: the only module that imports ``torch.distributed``.

One code path for three launch modes, detected from the environment:

* **single process** (no variables set): no process group; every helper below degrades to the
  identity (rank 0 of a world of 1).
* **torchrun** (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).
* **SLURM / srun** with more than one task (``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``,
  ``SLURM_NODELIST``). ``MASTER_ADDR`` is taken from the environment when set, otherwise it is the first
  host of ``SLURM_NODELIST`` (parsed here; ``scontrol`` is not needed). ``MASTER_PORT`` defaults to
  ``29500 + SLURM_JOB_ID % 1000`` so two jobs sharing a node do not collide.

The backend is NCCL when the device is CUDA and gloo otherwise (CPU runs and tests).
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from common.utils.device import select_device

__all__ = [
    'DistInfo', 'init_from_env', 'destroy', 'get_rank', 'get_world_size', 'get_local_rank',
    'is_main_process', 'barrier', 'all_gather', 'broadcast_object', 'reduce_dict', 'unwrap',
    'wrap_model', 'first_slurm_host',
]

logger = logging.getLogger(__name__)

_DEFAULT_PORT = 29500
_LOCAL_RANK = 0


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: ``rank`` of ``world_size``, ``local_rank`` on its node, its ``device``."""
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None   # None when no process group was created


def first_slurm_host(nodelist: str) -> str:
    """First host name of a SLURM node list, e.g. ``'gpu[03-04,09],cpu1' -> 'gpu03'``.

    Handles the compressed bracket syntax (zero padding kept) and a suffix after the bracket
    (``'n[1-2]-ib' -> 'n1-ib'``).
    """
    nodelist = nodelist.strip()
    if not nodelist:
        raise ValueError('SLURM_NODELIST is empty; set MASTER_ADDR to the address of rank 0.')
    depth, first = 0, nodelist
    for i, ch in enumerate(nodelist):   # cut at the first comma outside brackets
        depth += (ch == '[') - (ch == ']')
        if ch == ',' and depth == 0:
            first = nodelist[:i]
            break
    match = re.fullmatch(r'([^\[]*)\[([^\]]+)\](.*)', first)
    if match is None:
        return first
    prefix, ranges, suffix = match.groups()
    return prefix + ranges.split(',')[0].split('-')[0] + suffix


def _env_int(name: str, default: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None:
        if default is None:
            raise KeyError(f'environment variable {name} is required for distributed launch')
        return default
    return int(value)


def _launch_from_env() -> tuple[int, int, int] | None:
    """(rank, world_size, local_rank) from torchrun or SLURM variables; None for a single process."""
    if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ:            # torchrun / torch.distributed.run
        return _env_int('RANK'), _env_int('WORLD_SIZE'), _env_int('LOCAL_RANK', 0)
    if 'SLURM_PROCID' in os.environ and _env_int('SLURM_NTASKS', 1) > 1:  # srun with several tasks
        rank, world = _env_int('SLURM_PROCID'), _env_int('SLURM_NTASKS')
        local = _env_int('SLURM_LOCALID', 0)
        if 'MASTER_ADDR' not in os.environ:
            os.environ['MASTER_ADDR'] = first_slurm_host(os.environ.get('SLURM_NODELIST', ''))
        if 'MASTER_PORT' not in os.environ:
            os.environ['MASTER_PORT'] = str(_DEFAULT_PORT + _env_int('SLURM_JOB_ID', 0) % 1000)
        os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(local))
        return rank, world, local
    return None


def init_from_env(device: str | None = 'auto', timeout_min: float = 30.0) -> DistInfo:
    """Create the process group described by the environment (or none) and pick this rank's device.

    Args:
        device: 'auto' (or None), 'cpu', 'cuda' or 'cuda:N' (``common.utils.device``); with 'cuda' (or 'auto'
            on a GPU machine) each rank uses ``cuda:LOCAL_RANK``.
        timeout_min: collective timeout in minutes.
    Raises:
        DeviceError: CUDA asked for on a machine without it.
    """
    global _LOCAL_RANK
    launch = _launch_from_env()
    rank, world, local = launch if launch is not None else (0, 1, 0)
    _LOCAL_RANK = local
    torch_device = select_device(device or 'auto', local)
    device = str(torch_device)
    if torch_device.type == 'cuda':
        torch.cuda.set_device(torch_device)
    backend = None
    if world > 1 and not dist.is_initialized():
        backend = 'nccl' if device.startswith('cuda') else 'gloo'
        dist.init_process_group(backend=backend, init_method='env://', rank=rank, world_size=world,
                                timeout=timedelta(minutes=timeout_min))
        logger.info('process group ready: rank %d/%d (local %d), backend %s', rank, world, local, backend)
    return DistInfo(rank, world, local, torch.device(device), backend)


def destroy() -> None:
    """Tear down the process group if one exists (call at the end of an entry script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    return dist.get_rank() if _active() else 0


def get_world_size() -> int:
    return dist.get_world_size() if _active() else 1


def get_local_rank() -> int:
    return _LOCAL_RANK if _active() else 0


def is_main_process() -> bool:
    return get_rank() == 0


def barrier() -> None:
    """Wait for every rank (no-op for a single process)."""
    if get_world_size() > 1:
        dist.barrier()


def all_gather(obj: object) -> list:
    """Gather any picklable object from every rank; returns a list indexed by rank on every rank."""
    if get_world_size() == 1:
        return [obj]
    out: list = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: object, src: int = 0) -> object:
    """Return ``obj`` as held by rank ``src`` on every rank (e.g. a run directory chosen by rank 0)."""
    if get_world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def reduce_dict(values: dict[str, torch.Tensor], average: bool = True) -> dict[str, torch.Tensor]:
    """All-reduce a dict of scalar tensors (same keys on every rank); mean over ranks if ``average``.

    Keys are sorted so every rank reduces in the same order. Tensors are detached.
    """
    if not values:
        return {}
    names = sorted(values)
    stacked = torch.stack([values[k].detach().float().reshape(()) for k in names])
    if get_world_size() > 1:
        dist.all_reduce(stacked)
        if average:
            stacked /= get_world_size()
    return dict(zip(names, stacked))


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DDP and/or ``torch.compile`` wrappers (use it to save or read weights)."""
    while True:
        if isinstance(model, DistributedDataParallel):
            model = model.module
        elif hasattr(model, '_orig_mod'):
            model = model._orig_mod
        else:
            return model


def wrap_model(model: nn.Module, device: torch.device, syncbn: bool = False,
               find_unused_parameters: bool = True) -> nn.Module:
    """Wrap in DDP when the world has more than one rank, else return ``model`` unchanged.

    ``syncbn`` converts BatchNorm to SyncBatchNorm over all ranks (the original used one group per node;
    SyncBatchNorm needs an accelerator, so it is skipped with a warning on CPU).
    ``find_unused_parameters=True`` as the original: not every head gets a gradient on every batch.
    """
    if get_world_size() == 1:
        return model
    if syncbn:
        if device.type == 'cpu':
            logger.warning('syncbn=True ignored on CPU (SyncBatchNorm needs a GPU); using BatchNorm.')
        else:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == 'cuda' else None
    return DistributedDataParallel(model, device_ids=device_ids,
                                   find_unused_parameters=find_unused_parameters)
