"""Columnar sample records of a HumanData dataset and their on-disk cache.

One `Records` holds every kept sample of a dataset split as a few numpy arrays (one row per sample)
rather than a list of per-sample dicts: it loads and saves as one ``.npz``, and DataLoader workers share
it copy-on-write without touching per-sample Python objects.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from common.utils import joint_sets as js

__all__ = ["Records", "SMPLX_LAYOUT", "SMPLX_DIM", "FLAG_SMPLX", "FLAG_LHAND", "FLAG_RHAND", "FLAG_FACE",
           "GENDERS", "DEFECTS", "defect_bit", "describe_defects", "cache_key", "CACHE_VERSION"]

logger = logging.getLogger(__name__)

CACHE_VERSION = 2  # bump when the record layout or the parsing rules change
# Packed SMPL-X parameter row: (name, width). Axis-angle radians; hands relative to the mean hand pose.
SMPLX_LAYOUT = (("root_pose", 3), ("body_pose", 63), ("lhand_pose", 45), ("rhand_pose", 45),
                ("jaw_pose", 3), ("shape", 10), ("expr", 10), ("trans", 3))
SMPLX_DIM = sum(w for _, w in SMPLX_LAYOUT)  # 182
FLAG_SMPLX, FLAG_LHAND, FLAG_RHAND, FLAG_FACE = 1, 2, 4, 8  # bits of Records.flags
GENDERS = ("neutral", "male", "female")  # Records.gender codes 0, 1, 2
# Problems our extra checks find in a training sample that the original would keep (bit i of
# Records.defect = DEFECTS[i]). Such samples stay in the index list, so the epoch's order is the
# original's; loading one substitutes another sample (or raises with strict_data=True).
DEFECTS = ("nonfinite_keypoints2d", "nonfinite_keypoints3d", "nonfinite_params", "bbox_outside_image",
           "missing_image")


def defect_bit(reason: str) -> int:
    """The Records.defect bit of ``reason`` (one of DEFECTS)."""
    return 1 << DEFECTS.index(reason)


def describe_defects(bits: int) -> str:
    """'missing_image, nonfinite_params' for a Records.defect value."""
    return ", ".join(r for i, r in enumerate(DEFECTS) if bits & (1 << i))


@dataclass
class Records:
    """Kept samples of one dataset split (N rows).

    Fields: image_path (N,) bytes (utf-8, relative to the dataset image folder); source (N, 2) int64
    (file index, row in that file); bbox (N, 4) float32 processed body box xywh, image pixels;
    img_hw (N, 2) float32 image (H, W) from the annotation (0 = unknown); kp2d (N, 137, 2) float32 image
    pixels; kp3d (N, 137, 3) float32 metres camera frame (zeros when has_kp3d is False); kp_valid
    (N, 137) uint8; has_kp3d (N,) bool; part_box (N, 3, 4) float32 processed lhand/rhand/face boxes xyxy;
    part_valid (N, 3) bool; smplx (N, 182) float32 packed per `SMPLX_LAYOUT`; flags (N,) uint8 bits
    FLAG_*; gender (N,) uint8 index into GENDERS; defect (N,) uint8 bits of DEFECTS (0 = clean).
    ``skipped``: reason -> number of samples dropped at parse time; ``flagged``: reason -> number of kept
    samples with that defect; ``files``: the source files, indexed by source[:, 0].
    """

    image_path: np.ndarray
    source: np.ndarray
    bbox: np.ndarray
    img_hw: np.ndarray
    kp2d: np.ndarray
    kp3d: np.ndarray
    kp_valid: np.ndarray
    has_kp3d: np.ndarray
    part_box: np.ndarray
    part_valid: np.ndarray
    smplx: np.ndarray
    flags: np.ndarray
    gender: np.ndarray
    defect: np.ndarray
    skipped: dict = field(default_factory=dict)
    flagged: dict = field(default_factory=dict)
    files: list = field(default_factory=list)

    _META = ("skipped", "flagged", "files")

    @classmethod
    def empty(cls) -> "Records":
        j = js.NUM_JOINTS
        return cls(np.zeros(0, "S1"), np.zeros((0, 2), np.int64), np.zeros((0, 4), np.float32),
                   np.zeros((0, 2), np.float32), np.zeros((0, j, 2), np.float32),
                   np.zeros((0, j, 3), np.float32), np.zeros((0, j), np.uint8), np.zeros(0, bool),
                   np.zeros((0, 3, 4), np.float32), np.zeros((0, 3), bool),
                   np.zeros((0, SMPLX_DIM), np.float32), np.zeros(0, np.uint8), np.zeros(0, np.uint8),
                   np.zeros(0, np.uint8))

    @staticmethod
    def _array_fields() -> list[str]:
        return [f.name for f in fields(Records) if f.name not in Records._META]

    def __len__(self) -> int:
        return int(self.bbox.shape[0])

    def take(self, index: np.ndarray) -> "Records":
        """Rows ``index`` (same skipped/flagged/files)."""
        arrays = {k: getattr(self, k)[index] for k in self._array_fields()}
        return Records(**arrays, skipped=dict(self.skipped), flagged=dict(self.flagged), files=list(self.files))

    @classmethod
    def concat(cls, parts: list["Records"], files: list[str], skipped: dict, flagged: dict) -> "Records":
        """Stack the rows of ``parts`` (one per file, in file order)."""
        parts = [p for p in parts if len(p)] or [cls.empty()]
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in cls._array_fields()}
        return Records(**arrays, skipped=dict(skipped), flagged=dict(flagged), files=list(files))

    def smplx_dict(self, i: int) -> dict[str, np.ndarray]:
        """Unpack row ``i`` of ``smplx`` into named (width,) arrays."""
        out, start = {}, 0
        for name, width in SMPLX_LAYOUT:
            out[name] = self.smplx[i, start:start + width]
            start += width
        return out

    def save(self, path: Path) -> None:
        """Write atomically (temporary file + rename) as an uncompressed ``.npz``."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"skipped": self.skipped, "flagged": self.flagged, "files": self.files,
                           "version": CACHE_VERSION})
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, __meta__=np.array(meta), **{k: getattr(self, k) for k in self._array_fields()})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> "Records":
        """Read a file written by `save`; raises ValueError when it is incomplete or of another version."""
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["__meta__"]))
            if meta.get("version") != CACHE_VERSION:
                raise ValueError(f"cache version {meta.get('version')} != {CACHE_VERSION}")
            arrays = {k: z[k] for k in cls._array_fields()}
        return Records(**arrays, skipped=meta["skipped"], flagged=meta["flagged"], files=meta["files"])


def cache_key(files: list[Path], settings: dict) -> str:
    """Hex key of the source files (path, size, mtime) and the parsing settings: any change misses."""
    stamp = []
    for f in files:
        try:
            st = os.stat(f)
            stamp.append([str(Path(f).resolve()), st.st_size, st.st_mtime_ns])
        except OSError:
            stamp.append([str(f), None, None])
    blob = json.dumps({"files": stamp, "settings": settings, "version": CACHE_VERSION}, sort_keys=True,
                      default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]
