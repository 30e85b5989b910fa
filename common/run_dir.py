"""Run folders: creating them, and finding what `train.py --resume` and `test.py --result_path` point at.

A run lives in ``{output_root}/{exp_name}_{YYYYmmdd_HHMMSS}/`` (the original's layout) with the sub-folders
``model_dump/`` (``snapshot_{epoch}.pth.tar``), ``log/``, ``result/``, ``vis/`` and ``code/`` (the resolved
config as ``config.py``; the original wrote ``config_base.py``). :func:`setup_run` creates or re-opens one
and returns a frozen :class:`Run` holding the folder and the other values derived at start-up (world size,
test set): the config itself is never modified.

Nothing here unpickles anything: snapshot files are only listed; reading them is
``common.checkpoint.read_checkpoint_file``'s job (safe loading).
"""
from __future__ import annotations

import datetime
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mmengine import Config

__all__ = ['RUN_SUBDIRS', 'RUN_CONFIG_NAMES', 'RunDirError', 'Run', 'ResumePlan', 'snapshot_path',
           'list_snapshots', 'find_latest_run', 'plan_resume', 'create_run_dir', 'setup_run', 'find_run_files',
           'config_for_checkpoint']

logger = logging.getLogger(__name__)

RUN_SUBDIRS = ('model_dump', 'log', 'result', 'vis', 'code')
# Config snapshot of a training run: ours, then the original's name.
RUN_CONFIG_NAMES = ('config.py', 'config_base.py')
_SNAPSHOT_RE = re.compile(r'^snapshot_(\d+)\.pth\.tar$')
_STAMP = '%Y%m%d_%H%M%S'


class RunDirError(ValueError):
    """A run folder, snapshot or ``--resume`` / ``--result_path`` target is wrong; the message says the fix."""


@dataclass(frozen=True)
class Run:
    """One training or test run: its folder and the values derived when it started.

    Attributes:
        output_dir: absolute run folder ``{output_root}/{exp_name}_{timestamp}``.
        exp_name: the run's name.
        world_size: number of processes (the original's ``num_gpus``).
        testset: test set name of a test run (None for training).
    """
    output_dir: Path
    exp_name: str
    world_size: int = 1
    testset: str | None = None

    @property
    def model_dir(self) -> Path:
        return self.output_dir / 'model_dump'

    @property
    def log_dir(self) -> Path:
        return self.output_dir / 'log'

    @property
    def result_dir(self) -> Path:
        return self.output_dir / 'result'

    @property
    def vis_dir(self) -> Path:
        return self.output_dir / 'vis'

    @property
    def code_dir(self) -> Path:
        return self.output_dir / 'code'

    @property
    def config_dump(self) -> Path:
        """``code/config.py``: the resolved config (loadable with ``common.config.load_config``)."""
        return self.code_dir / 'config.py'


@dataclass(frozen=True)
class ResumePlan:
    """Where a ``--resume`` leads: the run folder to continue in and the snapshots to try, newest first.

    ``run_dir`` is None when the snapshot file lies outside any run's ``model_dump/`` (a new run folder is
    made for the continued training).
    """
    run_dir: Path | None
    snapshots: tuple[Path, ...]


def snapshot_path(model_dir: str | Path, epoch: int) -> Path:
    """``model_dir/snapshot_{epoch}.pth.tar``."""
    return Path(model_dir) / f'snapshot_{epoch}.pth.tar'


def list_snapshots(model_dir: str | Path) -> list[tuple[int, Path]]:
    """``[(epoch, path), ...]`` of the snapshot files in ``model_dir``, newest first (none: ``[]``).

    Temporary files of an interrupted write (``*.tmp``) never match the ``snapshot_{N}.pth.tar`` pattern.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        return []
    found = [(int(m.group(1)), model_dir / p.name) for p in model_dir.iterdir() if (m := _SNAPSHOT_RE.match(p.name))]
    return sorted(found, reverse=True)


def _timestamp() -> str:
    return datetime.datetime.now().strftime(_STAMP)


def find_latest_run(output_root: str | Path, exp_name: str) -> Path | None:
    """Newest ``{output_root}/{exp_name}_{YYYYmmdd_HHMMSS}`` folder that holds a snapshot, or None."""
    parent = Path(output_root) / os.path.dirname(exp_name)
    pattern = re.compile(re.escape(os.path.basename(exp_name)) + r'_\d{8}_\d{6}')
    if not parent.is_dir():
        return None
    for name in sorted((p.name for p in parent.iterdir() if pattern.fullmatch(p.name)), reverse=True):
        if list_snapshots(parent / name / 'model_dump'):
            return parent / name
    return None


def plan_resume(resume: str | None, output_root: str | Path, exp_name: str) -> ResumePlan | None:
    """Resolve ``train.py --resume`` (None: not given; ``''``: the newest run of ``exp_name``).

    A target may be a run folder, its ``model_dump/`` or one snapshot file. Without ``--resume`` the plain
    folder ``{output_root}/{exp_name}`` must not hold a run already (the original's layout).
    Raises RunDirError naming the target and what to do.
    """
    if resume is None:
        plain = Path(output_root) / exp_name
        if (plain / 'model_dump').is_dir():
            raise RunDirError(f'output directory {plain} already exists; continue it with --resume {plain} '
                              f'or choose another --exp_name')
        return None
    if resume == '':
        run_dir = find_latest_run(output_root, exp_name)
        if run_dir is None:
            raise RunDirError(f'--resume: no run of --exp_name {exp_name!r} with a snapshot under {output_root} '
                              f'(looked for {exp_name}_YYYYmmdd_HHMMSS/model_dump/snapshot_N.pth.tar)')
        return ResumePlan(run_dir, tuple(p for _, p in list_snapshots(run_dir / 'model_dump')))
    target = Path(resume).expanduser().absolute()
    if target.is_file():
        in_run = target.parent.name == 'model_dump'
        return ResumePlan(target.parent.parent if in_run else None, (target,))
    if not target.exists():
        raise RunDirError(f'--resume {resume}: no such file or directory')
    for model_dir, run_dir in ((target / 'model_dump', target), (target, target.parent)):
        snaps = list_snapshots(model_dir)
        if snaps:
            return ResumePlan(run_dir, tuple(p for _, p in snaps))
    raise RunDirError(f'--resume {resume}: no snapshot_*.pth.tar in it or in its model_dump/')


def create_run_dir(cfg: Config, exp_name: str, timestamp: str | None = None) -> Path:
    """Make ``{cfg.output_root}/{exp_name}_{timestamp}/{model_dump,log,result,vis,code}`` and write the resolved
    config to ``code/config.py``. Returns the absolute run folder.

    Args:
        cfg: a config from ``load_config`` (read, not modified).
        exp_name: run name, e.g. 'smpler_x_h32'; may contain '/' for nested folders.
        timestamp: 'YYYYmmdd_HHMMSS'; default now.
    Raises:
        RunDirError: empty exp_name, or the folder exists already.
    """
    if not exp_name or not str(exp_name).strip():
        raise RunDirError('a run needs a non-empty name (e.g. --exp_name smpler_x_h32)')
    output_dir = (Path(str(cfg.output_root)) / f'{exp_name}_{timestamp or _timestamp()}').absolute()
    if output_dir.exists():
        raise RunDirError(f'output directory {output_dir} already exists; use --resume {output_dir} or another '
                          f'--exp_name')
    for folder in RUN_SUBDIRS:
        (output_dir / folder).mkdir(parents=True, exist_ok=True)
    header = (f'# Resolved config of run {output_dir}\n# loaded from {cfg.filename}; '
              f'reload with common.config.load_config(this_file)\n\n')
    (output_dir / 'code' / 'config.py').write_text(header + cfg.pretty_text, encoding='utf-8')
    logger.info('run directory %s (config in code/config.py)', output_dir)
    return output_dir


def setup_run(cfg: Config, exp_name: str, resume: ResumePlan | None = None, testset: str | None = None) -> Run:
    """Collective (every rank calls it): the run folder of this process group.

    A resumed run re-opens its folder (missing sub-folders are made, ``code/config.py`` is kept); otherwise
    rank 0 creates a new folder with a timestamp it shares with the other ranks, which wait for it.
    """
    from common.utils import distributed as dist_utils

    world = dist_utils.get_world_size()
    if resume is not None and resume.run_dir is not None:
        output_dir = resume.run_dir.absolute()
        if dist_utils.is_main_process():
            for folder in RUN_SUBDIRS:
                (output_dir / folder).mkdir(parents=True, exist_ok=True)
    else:
        stamp = dist_utils.broadcast_object(_timestamp())
        error = None
        output_dir = None
        if dist_utils.is_main_process():
            try:
                output_dir = create_run_dir(cfg, exp_name, stamp)
            except (RunDirError, OSError) as err:
                error = f'{type(err).__name__}: {err}'
        error, output_dir = dist_utils.broadcast_object((error, output_dir))  # every rank raises together
        if error is not None:
            raise RunDirError(error)
    dist_utils.barrier()
    return Run(output_dir=Path(output_dir), exp_name=str(exp_name), world_size=world, testset=testset)


def _run_config(run_dir: Path) -> Path | None:
    for name in RUN_CONFIG_NAMES:
        if (run_dir / 'code' / name).is_file():
            return run_dir / 'code' / name
    return None


def find_run_files(result_path: str | Path, ckpt_idx: int | None, output_root: str | Path) -> tuple[Path, Path]:
    """Config snapshot and checkpoint of a training run (``test.py --result_path/--ckpt_idx``).

    Args:
        result_path: run folder: an existing path (absolute or relative to the working directory), else a
            name under ``output_root``.
        ckpt_idx: snapshot number (``model_dump/snapshot_{ckpt_idx}.pth.tar``); None = the highest one.
        output_root: where runs live (the config's ``output_root``).
    Returns:
        (``{run}/code/config.py`` or ``config_base.py``, the snapshot path).
    Raises:
        RunDirError: no such folder, no config snapshot, no such snapshot (listing the available numbers).
    """
    candidates = [Path(result_path).expanduser(), Path(output_root) / result_path]
    run_dir = next((c for c in candidates if c.is_dir()), None)
    if run_dir is None:
        raise RunDirError(f'--result_path {result_path}: no such run folder (looked at '
                          f'{", ".join(str(c.absolute()) for c in candidates)})')
    config = _run_config(run_dir)
    if config is None:
        raise RunDirError(f'{run_dir}: no config snapshot {" or ".join(RUN_CONFIG_NAMES)} under code/; '
                          'pass the checkpoint with --ckpt and the config with --config instead')
    snapshots = dict(list_snapshots(run_dir / 'model_dump'))
    if ckpt_idx is None:
        if not snapshots:
            raise RunDirError(f'{run_dir / "model_dump"}: no snapshot_N.pth.tar found')
        ckpt_idx = max(snapshots)
    if ckpt_idx not in snapshots:
        raise RunDirError(f'{snapshot_path(run_dir / "model_dump", ckpt_idx)} does not exist; available '
                          f'--ckpt_idx values: {sorted(snapshots) or "none"}')
    return config, snapshots[ckpt_idx]


def config_for_checkpoint(ckpt: str | Path) -> Path | None:
    """The config a checkpoint file implies, or None: ``{run}/code/config.py`` for a run's
    ``model_dump/snapshot_N.pth.tar``, else ``main/config/config_NAME.py`` for a zoo name (``smpler_x_s32``)."""
    ckpt = Path(ckpt)
    if ckpt.parent.name == 'model_dump':
        found = _run_config(ckpt.parent.parent)
        if found is not None:
            return found
    from common.config import ConfigError, config_path_for_model
    try:
        return config_path_for_model(ckpt.name)
    except ConfigError:
        return None
