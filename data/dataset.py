"""`MultipleDatasets` (SPEC §4.3): one index space over several datasets, by concatenation or by the
'balance' strategy, plus `WorkerRNG`, the per-worker seeded numpy generator every dataset draws from.
"""
from __future__ import annotations

import bisect
import logging
import os
from typing import Sequence

import numpy as np
import torch.utils.data

__all__ = ["MultipleDatasets", "WorkerRNG", "STRATEGIES"]

logger = logging.getLogger(__name__)

STRATEGIES = ("balance", "concat", None)


class WorkerRNG:
    """A numpy Generator per process, seeded from ``seed``, an optional ``stream`` id (so datasets sharing
    a seed draw independently) and the DataLoader worker's torch seed.

    In a DataLoader worker the torch worker seed (``base_seed + worker_id``; ``base_seed`` comes from the
    torch RNG of the main process) is mixed in, so draws are reproducible given ``torch.manual_seed`` and
    ``seed`` and differ between workers and between epochs. ``epoch`` (set through the datasets'
    ``set_epoch``) is mixed in too, so loading in the main process (no workers) also draws a fresh, reproducible
    stream each epoch and a resumed run repeats the augmentations of an uninterrupted one.
    """

    def __init__(self, seed: int, stream: int = 0):
        self.seed = int(seed)
        self.stream = int(stream)
        self.epoch = 0
        self._key = None
        self._gen = None

    def get(self) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        key = (os.getpid(), None if info is None else info.seed, self.epoch)
        if key != self._key:
            entropy = [self.seed, self.stream, self.epoch] + ([] if info is None else [info.seed % (1 << 63)])
            self._gen, self._key = np.random.default_rng(entropy), key
        return self._gen

    def __getstate__(self):  # spawn-started workers get a fresh generator
        return {"seed": self.seed, "stream": self.stream, "epoch": self.epoch, "_key": None, "_gen": None}


class MultipleDatasets(torch.utils.data.Dataset):
    """One dataset over ``datasets``.

    Strategies:
        ``'concat'``: plain concatenation, ``len = sum(len(d))``.
        ``'balance'``: ``len = total_len``, ``per_db_len = total_len // n``; index i goes to dataset
            ``i // per_db_len`` (a random dataset for the remainder indices past ``n * per_db_len``) at
            local position ``j = i % per_db_len``. A dataset at least ``per_db_len`` long serves item j
            (its first per_db_len items only); a shorter one serves ``j % len`` while j is below the last
            whole multiple of its length, and a random item beyond it. ``total_len='auto'`` or None = sum
            of the lengths.
        ``None`` (legacy make_same_len): like 'balance' with ``per_db_len = max(len(d))``.
    Random draws use `WorkerRNG(seed)`.
    """

    def __init__(self, datasets: Sequence[torch.utils.data.Dataset], strategy: str | None = "balance",
                 total_len: int | str | None = "auto", seed: int = 2023, names: Sequence[str] | None = None):
        if strategy not in STRATEGIES:
            raise ValueError(f"data_strategy must be one of {STRATEGIES}, got {strategy!r}")
        if not datasets:
            raise ValueError("MultipleDatasets needs at least one dataset")
        self.datasets = list(datasets)
        self.names = list(names) if names is not None else [type(d).__name__ for d in self.datasets]
        self.lengths = [len(d) for d in self.datasets]
        empty = [n for n, length in zip(self.names, self.lengths) if length == 0]
        if empty and strategy != "concat":
            raise ValueError(f"datasets with no samples: {empty}; the '{strategy}' strategy cannot draw "
                             "from them (see the warnings above for why they are empty)")
        self.strategy = strategy
        self.cum = np.cumsum(self.lengths).tolist()
        n = len(self.datasets)
        if strategy == "concat":
            self.per_db_len, self.total_len = 0, self.cum[-1]
        elif strategy == "balance":
            self.total_len = sum(self.lengths) if total_len in (None, "auto") else int(total_len)
            self.per_db_len = self.total_len // n
            if self.per_db_len == 0:
                raise ValueError(f"total_data_len={self.total_len} is smaller than the number of datasets ({n})")
        else:
            self.per_db_len = max(self.lengths)
            self.total_len = self.per_db_len * n
        self._rng = WorkerRNG(seed)
        logger.info("MultipleDatasets(%s): %d items over %d datasets (%s)", strategy, self.total_len, n,
                    ", ".join(f"{nm}={ln}" for nm, ln in zip(self.names, self.lengths)))

    def __len__(self) -> int:
        return self.total_len

    def set_epoch(self, epoch: int) -> None:
        """Give every random stream (this one and the datasets') the epoch index (see `WorkerRNG`)."""
        self._rng.epoch = epoch
        for d in self.datasets:
            if hasattr(d, "set_epoch"):
                d.set_epoch(epoch)

    def locate(self, index: int) -> tuple[int, int]:
        """(dataset index, index inside that dataset) of item ``index``."""
        if not 0 <= index < self.total_len:
            raise IndexError(f"index {index} out of range for MultipleDatasets of length {self.total_len}")
        if self.strategy == "concat":
            db = bisect.bisect_right(self.cum, index)
            return db, index - (self.cum[db - 1] if db else 0)
        rng = self._rng.get()
        db, j = divmod(index, self.per_db_len)
        if db >= len(self.datasets):  # remainder indices past n * per_db_len
            db = int(rng.integers(len(self.datasets)))
        length = self.lengths[db]
        if length >= self.per_db_len:
            return db, j
        if j >= (self.per_db_len // length) * length:
            return db, int(rng.integers(length))
        return db, j % length

    def __getitem__(self, index: int):
        db, j = self.locate(index)
        return self.datasets[db][j]
