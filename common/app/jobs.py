"""Per-job output folders of the web app under one root, removed after a maximum age.

Each job gets ``ROOT/job-YYYYmmdd-HHMMSS-XXXXXXXX/`` (a random suffix keeps simultaneous jobs apart). Only
folders with that name pattern are ever deleted, so pointing the root at a folder that holds other files
loses nothing of theirs.
"""
from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ['JobFolders']

_JOB_RE = re.compile(r'^job-\d{8}-\d{6}-[0-9a-f]{8}$')


class JobFolders:
    """Create job folders under ``root`` and delete those older than ``max_age_s`` seconds.

    Args:
        root: folder holding the job folders (created).
        max_age_s: age (seconds since the folder's last modification) after which ``cleanup`` removes a job.
    """

    def __init__(self, root: Path, max_age_s: float):
        if not max_age_s > 0:
            raise ValueError(f'job folder maximum age must be positive seconds, got {max_age_s}')
        self.root, self.max_age_s = Path(root), float(max_age_s)
        self.root.mkdir(parents=True, exist_ok=True)

    def new(self) -> Path:
        """Remove expired jobs, then create and return a new empty job folder."""
        self.cleanup()
        path = self.root / f'job-{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:8]}'
        path.mkdir()
        return path

    def cleanup(self, now: float | None = None) -> list[Path]:
        """Delete job folders last modified more than ``max_age_s`` before ``now`` (default: the clock).
        Returns the deleted paths."""
        now = time.time() if now is None else now
        removed = []
        for path in sorted(self.root.iterdir()):
            if not (path.is_dir() and _JOB_RE.match(path.name)):
                continue
            if now - path.stat().st_mtime > self.max_age_s:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        if removed:
            logger.info('removed %d job folder(s) older than %.0f s from %s', len(removed), self.max_age_s,
                        self.root)
        return removed
