"""The one logging set-up of every entry script (train, test, inference, render, tools).

Library modules only create loggers (``logging.getLogger(__name__)``); the entry script calls
:func:`setup_logging` once after parsing its arguments (again with ``log_file`` once its run folder exists).
Rank 0 logs at INFO to stderr (and the log file); other ranks log only warnings, so a multi-GPU run prints
each message once. Chatty third-party loggers are kept at WARNING.
"""
from __future__ import annotations

import logging
import os
import sys

__all__ = ['NOISY_LOGGERS', 'setup_logging']

# Libraries whose INFO messages drown ours (per-image detector lines, mesh loading, PIL plugin scans, ...).
NOISY_LOGGERS = ('ultralytics', 'trimesh', 'PIL', 'matplotlib', 'urllib3', 'filelock', 'h5py')
_FORMAT = '%(asctime)s %(levelname)s [rank{rank}] %(name)s: %(message)s'
_TAG = '_smplerx_setup_logging'  # marks the handlers installed here


def setup_logging(rank: int = 0, log_file: str | os.PathLike | None = None, level: int = logging.INFO) -> None:
    """Configure the root logger of this process (replacing the handlers of an earlier call; handlers that
    others installed, e.g. pytest's log capture, are kept).

    Args:
        rank: process rank; ranks > 0 log at WARNING and write no file.
        log_file: also append every record to this file (rank 0 only; its folder is created).
        level: level of rank 0.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _TAG, False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level if rank == 0 else logging.WARNING)
    fmt = logging.Formatter(_FORMAT.format(rank=rank), datefmt='%H:%M:%S')
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_file is not None and rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        setattr(handler, _TAG, True)
        root.addHandler(handler)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
