"""Load the records of a HumanData dataset split: parse every file (or read the cache), apply the
bad-data policy per file, shuffle for the 'balance' strategy, and log a per-dataset summary.
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

__all__ = ["load_records", "summary_line"]

logger = logging.getLogger(__name__)


def summary_line(dataset: str, split: str, records: Records) -> str:
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(records.skipped.items())) or "none"
    return (f"{dataset}/{split}: {len(records)} samples from {len(records.files)} file(s); "
            f"skipped: {skipped}")


def _parse_all(paths: list[Path], opts: ParseOptions, fix_params) -> Records:
    parts, skipped = [], Counter()
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
            records, counts = parse_humandata_file(path, i, opts, fix_params)
        except MalformedHumanData as exc:
            if opts.strict:
                raise
            logger.error("%s/%s: skipping file: %s", opts.dataset, opts.split, exc)
            skipped["malformed_file"] += 1
            continue
        parts.append(records)
        skipped.update(counts)
    return Records.concat(parts, [str(p) for p in paths], dict(skipped))


def load_records(paths: list[Path], opts: ParseOptions, *, fix_params: Callable | None = None,
                 fix_token: str = "", shuffle_seed: int | None = None,
                 cache_dir: Path | None = None) -> Records:
    """Records of every kept sample of ``paths`` (in file order, or shuffled with ``shuffle_seed``).

    The result is cached in ``cache_dir`` (None = no cache) under a key of the files' path, size and
    modification time plus every parsing setting, so a changed file or setting re-parses. A strict run
    refuses a cache that records skipped samples.
    """
    settings = dict(dataset=opts.dataset, split=opts.split, img_dir=str(opts.img_dir),
                    bbox_ratio=opts.bbox_ratio, interval=opts.sample_interval, img_shape=opts.img_shape,
                    check_images=opts.check_images, shuffle_seed=shuffle_seed, fix=fix_token)
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
        if records is not None and opts.strict and any(records.skipped.values()):
            raise DataError(f"{summary_line(opts.dataset, opts.split, records)} (from cache {cache_file}); "
                            "strict_data=True refuses skipped data: fix the files or set strict_data=False")
    if records is None:
        records = _parse_all(paths, opts, fix_params)
        if shuffle_seed is not None and len(records):
            order = list(range(len(records)))
            random.Random(shuffle_seed).shuffle(order)  # same permutation as random.seed(s); shuffle(list)
            records = records.take(np.asarray(order, dtype=np.int64))
        if cache_file is not None:
            try:
                records.save(cache_file)
            except OSError as exc:
                logger.warning("%s: cannot write cache %s (%s); continuing without", opts.dataset,
                               cache_file, exc)
    level = logging.WARNING if any(records.skipped.values()) else logging.INFO
    logger.log(level, "%s", summary_line(opts.dataset, opts.split, records))
    return records
