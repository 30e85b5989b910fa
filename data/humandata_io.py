"""Load the records of a HumanData dataset split: parse every file (or read the cache), apply the
bad-data policy per file, shuffle for the 'balance' strategy, and log a per-dataset summary.

The shuffle is the original's (SPEC §4.1): each file's sample list on its own with a fresh
``random.seed(2023)``, the shuffled lists concatenated in file order.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from data.humandata_parse import DataError, MalformedHumanData, ParseOptions, parse_humandata_file
from data.humandata_records import Records, cache_key

__all__ = ["load_records", "summary_line", "shuffled_order"]

logger = logging.getLogger(__name__)


def summary_line(dataset: str, split: str, records: Records) -> str:
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(records.skipped.items())) or "none"
    line = f"{dataset}/{split}: {len(records)} samples from {len(records.files)} file(s); skipped: {skipped}"
    if records.flagged:
        flagged = ", ".join(f"{k}={v}" for k, v in sorted(records.flagged.items()))
        line += f"; kept but substituted when loaded: {flagged}"
    return line


def _has_bad_samples(records: Records) -> bool:
    return any(records.skipped.values()) or any(records.flagged.values())


def shuffled_order(n: int, seed: int) -> np.ndarray:
    """(n,) int64 permutation of ``random.seed(seed); random.shuffle(list(range(n)))``."""
    order = list(range(n))
    random.Random(seed).shuffle(order)  # same permutation as random.seed(seed); random.shuffle(order)
    return np.asarray(order, dtype=np.int64)


def _parse_all(paths: list[Path], opts: ParseOptions, fix_params, shuffle_seed: int | None) -> Records:
    parts, skipped, flagged = [], Counter(), Counter()
    for i, path in enumerate(paths):
        if not path.is_file():
            msg = (f"{opts.dataset}/{opts.split}: annotation file {path} not found. Download/convert the "
                   f"dataset into {path.parent}, or set `humandata_files` in the config to the file names "
                   "you have")
            if opts.strict:
                raise DataError(msg + " (strict_data=True).")
            logger.error("%s; the file is skipped.", msg)
            skipped["missing_file"] += 1
            continue
        try:
            records, counts, flags = parse_humandata_file(path, i, opts, fix_params)
        except MalformedHumanData as exc:
            if opts.strict:
                raise
            logger.error("%s/%s: skipping file: %s", opts.dataset, opts.split, exc)
            skipped["malformed_file"] += 1
            continue
        if shuffle_seed is not None:
            records = records.take(shuffled_order(len(records), shuffle_seed))
        parts.append(records)
        skipped.update(counts)
        flagged.update(flags)
    return Records.concat(parts, [str(p) for p in paths], dict(skipped), dict(flagged))


def load_records(paths: list[Path], opts: ParseOptions, *, fix_params: Callable | None = None,
                 fix_token: str = "", shuffle_seed: int | None = None,
                 cache_dir: Path | None = None) -> Records:
    """Records of every kept sample of ``paths`` (in file order, or each file shuffled with
    ``shuffle_seed`` before concatenation).

    The result is cached in ``cache_dir`` (None = no cache) under a key of the files' path, size and
    modification time plus every parsing setting, so a changed file or setting re-parses. A strict run
    refuses a cache that records skipped or flagged samples.
    """
    settings = dict(dataset=opts.dataset, split=opts.split, img_dir=str(opts.img_dir),
                    bbox_ratio=opts.bbox_ratio, interval=opts.sample_interval, img_shape=opts.img_shape,
                    check_images=opts.check_images, shuffle_seed=shuffle_seed, fix=fix_token,
                    fix_eyeball_swap=opts.fix_eyeball_swap,
                    neutral_model_for_betas_neutral=opts.neutral_model_for_betas_neutral)
    cache_file = None
    records = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{opts.dataset}_{opts.split}_{cache_key(paths, settings)}.npz"
        if cache_file.is_file():
            try:
                records = Records.load(cache_file)
                logger.info("%s/%s: loaded %d cached samples from %s", opts.dataset, opts.split,
                            len(records), cache_file)
            except Exception as exc:  # noqa: BLE001 - a broken cache is rebuilt, never fatal
                logger.warning("%s: unreadable cache %s (%s); re-parsing", opts.dataset, cache_file, exc)
                records = None
        if records is not None and opts.strict and _has_bad_samples(records):
            raise DataError(f"{summary_line(opts.dataset, opts.split, records)} (from cache {cache_file}); "
                            "strict_data=True refuses skipped data: fix the files or set strict_data=False")
    if records is None:
        records = _parse_all(paths, opts, fix_params, shuffle_seed)
        if cache_file is not None:
            try:
                records.save(cache_file)
            except OSError as exc:
                logger.warning("%s: cannot write cache %s (%s); continuing without", opts.dataset,
                               cache_file, exc)
    level = logging.WARNING if _has_bad_samples(records) else logging.INFO
    logger.log(level, "%s", summary_line(opts.dataset, opts.split, records))
    return records
