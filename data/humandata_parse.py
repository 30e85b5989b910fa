"""Parse one mmhuman3d HumanData ``.npz`` (SPEC §4.1) into `Records`, validating it.

Samples are dropped only as the original drops them (NaN in keypoints3d, a body box that sanitises to
nothing), so the index list and, after the 'balance' shuffle, the order are the original's. Our extra
checks (non-finite 2D keypoints or parameters, a body box entirely left of / above the image, a missing
image file) only *flag* a training sample (`Records.defect`); loading a flagged sample substitutes
another one (`HumanData.__getitem__`). In a test split they drop the sample.

Every dropped or flagged sample is reported (the first few per reason individually, then a count); with
``strict=True`` the first bad sample or a malformed file raises `DataError` instead.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from common.utils import joint_sets as js
from data.humandata_records import (FLAG_FACE, FLAG_LHAND, FLAG_RHAND, FLAG_SMPLX, GENDERS,
                                    SMPLX_DIM, Records, defect_bit)
from common.utils.crop import process_bbox_batch, xywh_to_xyxy

__all__ = ["DataError", "MalformedHumanData", "ParseOptions", "parse_humandata_file", "REQUIRED_KEYS",
           "KP2D_KEYS", "KP3D_KEYS", "MAX_LOGGED_PER_REASON", "HUMANDATA_TO_JOINT_SET"]

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("__keypoints_compressed__", "image_path", "bbox_xywh")
KP2D_KEYS = ("keypoints2d", "keypoints2d_smplx", "keypoints2d_smpl", "keypoints2d_original")
KP3D_KEYS = ("keypoints3d_cam", "keypoints3d", "keypoints3d_smplx", "keypoints3d_smpl",
             "keypoints3d_original")
PART_BOX_KEYS = ("lhand_bbox_xywh", "rhand_bbox_xywh", "face_bbox_xywh")
BODY_BOX_RATIO_FACTOR = 0.833  # HumanData body boxes already carry ~1.2 padding (SPEC §4.1)
MAX_LOGGED_PER_REASON = 5  # per file; the rest are only counted
_EYEBALLS = (67, 68)  # Face_3, Face_4 of the 137 set


def _humandata_table() -> tuple[int, ...]:
    """The original HumanData loader's 144 -> 137 table: the model's, except Face_3 / Face_4 read SMPL-X
    joints 56 / 57 where the model's outputs use 57 / 56 (SPEC §6.4)."""
    table = list(js.SMPLX_TO_JOINT_SET)
    a, b = _EYEBALLS
    table[a], table[b] = table[b], table[a]
    return tuple(table)


HUMANDATA_TO_JOINT_SET = _humandata_table()


class DataError(RuntimeError):
    """Bad data that cannot be skipped (strict mode, or nothing left to substitute)."""


class MalformedHumanData(DataError):
    """A HumanData file that does not have the documented keys/shapes."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: malformed HumanData file: {problem}. Re-export it with mmhuman3d's "
                         "HumanData (SPEC §4.1 lists the keys), or remove it from the dataset's file list.")


@dataclass
class ParseOptions:
    """How a dataset parses its files (set by `HumanData` from the config)."""

    dataset: str
    split: str
    img_dir: Path
    bbox_ratio: float = 1.2
    sample_interval: int = 1
    img_shape: tuple | None = None  # (H, W) when the file has no per-sample meta height/width
    check_images: bool = True
    strict: bool = False
    fix_eyeball_swap: bool = False  # True: the model's 144 -> 137 table for Face_3/Face_4 (config key)
    neutral_model_for_betas_neutral: bool = False  # True: betas_neutral samples use the neutral model


@dataclass
class _Keypoints:
    """One keypoint key of a file: (n, 137, dims) float32 values and the (137,) uint8 mask when the file
    has a mask key for it (None when it has none)."""

    values: np.ndarray
    mask: np.ndarray | None


def _keypoints(z, keys, n, path, dims, table) -> _Keypoints | None:
    """First present key of ``keys``, re-indexed to the 137 set with ``table``, or None."""
    key = next((k for k in keys if k in z.files), None)
    if key is None:
        return None
    data = np.asarray(z[key])
    if data.ndim != 3 or data.shape[0] != n or data.shape[2] < dims:
        raise MalformedHumanData(path, f"'{key}' has shape {data.shape}, expected ({n}, K, {dims + 1})")
    mask_key = next((k for k in (f"{key}_mask", key.split("_")[0] + "_mask") if k in z.files), None)
    compressed = bool(np.asarray(z["__keypoints_compressed__"]))
    if mask_key is None:
        if compressed:
            raise MalformedHumanData(path, f"'{key}' is compressed but '{key}_mask' is missing")
        mask = np.ones(data.shape[1], dtype=np.uint8)
    else:
        mask = (np.asarray(z[mask_key]).reshape(-1) > 0).astype(np.uint8)
    num_kp = mask.shape[0]
    if num_kp <= table.max():
        raise MalformedHumanData(path, f"'{key}' has {num_kp} keypoints; the SMPL-X (144) or human_data "
                                       "(190) convention is expected")
    stored = int(mask.sum()) if compressed else num_kp
    if data.shape[1] != stored:
        raise MalformedHumanData(path, f"'{key}' stores {data.shape[1]} keypoints but its mask implies "
                                       f"{stored}")
    col = np.cumsum(mask) - 1 if compressed else np.arange(num_kp)  # column of each keypoint in `data`
    present = mask[table] > 0
    out = np.zeros((n, js.NUM_JOINTS, dims), dtype=np.float32)
    out[:, present] = data[:, col[table[present]], :dims]
    return _Keypoints(out, None if mask_key is None else mask[table])


def _gender_codes(value, n, path, key) -> np.ndarray:
    """(n,) GENDERS codes of a ``{key}['gender']`` entry (one string, or one per sample)."""
    g = np.asarray(value).reshape(-1)
    if g.shape[0] == 1:
        g = np.repeat(g, n)
    if g.shape[0] != n:
        raise MalformedHumanData(path, f"'{key}.gender' has {g.shape[0]} entries, expected 1 or {n}")
    first = np.char.lower(np.char.strip(g.astype(str))).astype("U1")
    codes = np.select([first == "m", first == "f", first == "n"], [1, 2, 0], default=255).astype(np.uint8)
    if (codes == 255).any():
        raise MalformedHumanData(path, f"'{key}.gender' holds {sorted(set(g[codes == 255].astype(str)))}; "
                                       "expected 'male', 'female' or 'neutral'")
    return codes


def _param_dict(z, n, path):
    """The SMPL-X-like parameter dict -> (source key or None, {name: (n, w) float32}, (n,) gender codes
    from its own ``gender`` entry (neutral without one; ``meta['gender']`` is never read, SPEC §4.1))."""
    gender = np.zeros(n, np.uint8)
    key = next((k for k in ("smplx", "smpl", "smplh") if k in z.files), None)
    if key is None:
        return None, {}, gender
    raw = z[key]
    raw = raw.item() if raw.dtype == object and raw.shape == () else raw
    if not isinstance(raw, dict):
        raise MalformedHumanData(path, f"'{key}' should be a dict of arrays, got {type(raw).__name__}")
    params = {}
    for name, value in raw.items():
        if name == "gender":
            gender = _gender_codes(value, n, path, key)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiub" or arr.ndim == 0:
            continue
        if arr.shape[0] != n:
            raise MalformedHumanData(path, f"'{key}.{name}' has {arr.shape[0]} rows, expected {n}")
        params[name] = arr.reshape(n, -1).astype(np.float32)
    for need in ("global_orient", "body_pose"):
        if need not in params:
            raise MalformedHumanData(path, f"'{key}' lacks '{need}'")
    return key, params, gender


def _fit(arr, width):
    """(n, w) -> (n, width): truncate or zero-pad the columns."""
    out = np.zeros((arr.shape[0], width), dtype=np.float32)
    out[:, :min(width, arr.shape[1])] = arr[:, :width]
    return out


def _pack_smplx(source, p, n):
    """Pack parameters into (n, 182) rows + (n,) flags + whether betas_neutral was used."""
    packed = np.zeros((n, SMPLX_DIM), dtype=np.float32)
    if source is None:
        return packed, np.zeros(n, np.uint8), False
    flags = FLAG_SMPLX
    shape = p.get("betas_neutral", p.get("betas"))
    cols = [_fit(p["global_orient"], 3), _fit(p["body_pose"], 63)]  # smpl: 23 joints -> first 21
    for side, flag in (("left_hand_pose", FLAG_LHAND), ("right_hand_pose", FLAG_RHAND)):
        cols.append(_fit(p[side], 45) if side in p else np.zeros((n, 45), np.float32))
        flags |= flag if side in p else 0
    face = "jaw_pose" in p and "expression" in p
    flags |= FLAG_FACE if face else 0
    cols.append(_fit(p["jaw_pose"], 3) if face else np.zeros((n, 3), np.float32))
    # SMPL / SMPL-H betas do not fit SMPL-X: shape is left unsupervised (zeros) for those sources.
    use_shape = source == "smplx" and shape is not None
    cols.append(_fit(shape, 10) if use_shape else np.zeros((n, 10), np.float32))
    cols.append(_fit(p["expression"], 10) if face else np.zeros((n, 10), np.float32))
    cols.append(_fit(p["transl"], 3) if "transl" in p else np.zeros((n, 3), np.float32))
    packed[:] = np.concatenate(cols, axis=1)
    return packed, np.full(n, flags, np.uint8), "betas_neutral" in p


def _image_hw(z, n, img_shape):
    """Per-sample (H, W) from ``meta`` height/width (else the class image shape; 0 = unknown)."""
    meta = z["meta"].item() if "meta" in z.files and z["meta"].dtype == object else {}
    meta = meta if isinstance(meta, dict) else {}
    hw = np.zeros((n, 2), np.float32)
    if "height" in meta and "width" in meta:
        hw[:, 0] = np.asarray(meta["height"], np.float32).reshape(-1)[:n]
        hw[:, 1] = np.asarray(meta["width"], np.float32).reshape(-1)[:n]
    elif img_shape is not None:
        hw[:] = img_shape
    return hw


class _Skipper:
    """Collects dropped and flagged samples, logs the first few per reason, raises in strict mode."""

    def __init__(self, opts: ParseOptions, path: Path):
        self.opts, self.path = opts, path
        self.counts, self.flag_counts = Counter(), Counter()

    def _message(self, i: int, reason: str, detail: Callable[[int], str]) -> str:
        msg = f"{self.opts.dataset}/{self.opts.split}: {self.path} sample {i}: {reason} ({detail(i)})"
        if self.opts.strict:
            raise DataError(msg + ". Fix or remove the sample, or set strict_data=False to skip it.")
        return msg

    def drop(self, rows: np.ndarray, reason: str, detail: Callable[[int], str]) -> None:
        for i in rows:
            msg = self._message(int(i), reason, detail)
            if self.counts[reason] < MAX_LOGGED_PER_REASON:
                logger.warning("skipping %s", msg)
            self.counts[reason] += 1

    def flag(self, rows: np.ndarray, reason: str, detail: Callable[[int], str]) -> None:
        for i in rows:
            msg = self._message(int(i), reason, detail)
            if self.flag_counts[reason] < MAX_LOGGED_PER_REASON:
                logger.warning("%s; kept in the sample order, another sample is loaded in its place", msg)
            self.flag_counts[reason] += 1


def parse_humandata_file(path: Path, file_index: int, opts: ParseOptions,
                         fix_params: Callable[[str, dict], dict] | None = None
                         ) -> tuple[Records, Counter]:
    """Parse one file into the records of its kept samples.

    Args:
        path: the ``.npz``. file_index: stored in ``Records.source[:, 0]``.
        fix_params: dataset hook ``(source_key, params) -> params`` applied to the raw parameter dict
            (HumanData names, (n, w) arrays) before packing (e.g. BEDLAM's hand-mean conversion).
    Returns:
        (records, dropped-sample counts per reason, flagged-sample counts per reason). Raises
        `MalformedHumanData` for a bad file.
    """
    table = np.asarray(js.SMPLX_TO_JOINT_SET if opts.fix_eyeball_swap else HUMANDATA_TO_JOINT_SET, np.int64)
    try:
        z = np.load(path, allow_pickle=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure means the same to the user
        raise MalformedHumanData(path, f"cannot be read as .npz ({type(exc).__name__}: {exc})") from exc
    with z:
        missing = [k for k in REQUIRED_KEYS if k not in z.files]
        if missing:
            raise MalformedHumanData(path, f"missing required key(s) {missing} (present: {sorted(z.files)})")
        image_path = np.asarray(z["image_path"]).reshape(-1)
        n = image_path.shape[0]
        bbox = np.asarray(z["bbox_xywh"], dtype=np.float32)
        if bbox.shape not in ((n, 4), (n, 5)):
            raise MalformedHumanData(path, f"'bbox_xywh' has shape {bbox.shape}, expected ({n}, 5)")
        kp2d = _keypoints(z, KP2D_KEYS, n, path, 2, table)
        if kp2d is None:
            raise MalformedHumanData(path, f"no 2D keypoints (one of {KP2D_KEYS})")
        kp3d = _keypoints(z, KP3D_KEYS, n, path, 3, table)
        source, params, gender = _param_dict(z, n, path)
        if fix_params is not None and source is not None:
            params = fix_params(source, params)
        hw = _image_hw(z, n, opts.img_shape)
        part = {}
        for k in PART_BOX_KEYS:
            arr = np.asarray(z[k], np.float32) if k in z.files else np.zeros((n, 5), np.float32)
            if arr.shape not in ((n, 4), (n, 5)):
                raise MalformedHumanData(path, f"'{k}' has shape {arr.shape}, expected ({n}, 5)")
            part[k] = arr

    rows = np.arange(0, n, max(1, int(opts.sample_interval)))
    skip = _Skipper(opts, path)
    keep = np.ones(rows.shape[0], bool)
    defect = np.zeros(rows.shape[0], np.uint8)
    flag_only = opts.split == "train"  # a test split drops what a training split only flags

    def drop(bad: np.ndarray, reason: str, detail: Callable[[int], str]) -> None:
        """The original's filters: the sample leaves the index list."""
        bad &= keep
        skip.drop(rows[bad], reason, detail)
        keep[bad] = False

    def flag(bad: np.ndarray, reason: str, detail: Callable[[int], str]) -> None:
        """Our extra checks: the sample keeps its place and is substituted when loaded."""
        if not flag_only:
            return drop(bad, reason, detail)
        bad &= keep
        skip.flag(rows[bad], reason, detail)
        defect[bad] |= defect_bit(reason)

    if kp3d is not None:
        drop(np.isnan(kp3d.values[rows]).any(axis=(1, 2)), "nan_keypoints3d", lambda i: "NaN in keypoints3d")
    size = np.where(hw > 0, hw, np.inf)  # unknown image size: no clamping
    body, ok = process_bbox_batch(bbox[rows], size[rows, 1], size[rows, 0],
                                  ratio=opts.bbox_ratio * BODY_BOX_RATIO_FACTOR, reject_outside=False)
    drop(~ok, "bbox_invalid",
         lambda i: f"bbox_xywh {bbox[i, :4].tolist()} has no area inside the {size[i, 1]:g}x{size[i, 0]:g} image")

    flag(~np.isfinite(kp2d.values[rows]).all(axis=(1, 2)), "nonfinite_keypoints2d",
         lambda i: "non-finite keypoints2d")
    if kp3d is not None:
        flag(~np.isfinite(kp3d.values[rows]).all(axis=(1, 2)), "nonfinite_keypoints3d",
             lambda i: "infinite keypoints3d")
    packed, flags, neutral_betas = _pack_smplx(source, params, n)
    flag(~np.isfinite(packed[rows]).all(axis=1), "nonfinite_params",
         lambda i: f"non-finite '{source}' parameters")
    x, y, w, h = bbox[rows, :4].T
    flag((x + w <= 0) | (y + h <= 0), "bbox_outside_image",
         lambda i: f"bbox_xywh {bbox[i, :4].tolist()} lies entirely left of or above the image")
    if opts.check_images:
        names = image_path[rows].astype(str)
        exists = {u: os.path.isfile(opts.img_dir / u) for u in np.unique(names[keep])}
        flag(np.array([not exists.get(u, True) for u in names], bool), "missing_image",
             lambda i: f"no file {opts.img_dir / str(image_path[i])}")

    sel = rows[keep]
    part_box = np.zeros((sel.shape[0], 3, 4), np.float32)
    part_valid = np.zeros((sel.shape[0], 3), bool)
    for j, k in enumerate(PART_BOX_KEYS):
        arr = part[k][sel]
        conf = arr[:, 4] > 0 if arr.shape[1] == 5 else np.ones(sel.shape[0], bool)
        boxes, box_ok = process_bbox_batch(arr, size[sel, 1], size[sel, 0], ratio=opts.bbox_ratio,
                                           reject_outside=False)
        part_box[:, j] = xywh_to_xyxy(boxes)
        part_valid[:, j] = conf & box_ok
    # The 3D mask only when the file has a 3D mask key; otherwise the 2D one (SPEC §4.1).
    mask = next((kp.mask for kp in (kp3d, kp2d) if kp is not None and kp.mask is not None),
                np.ones(js.NUM_JOINTS, np.uint8))
    if opts.neutral_model_for_betas_neutral and neutral_betas:
        gender[:] = GENDERS.index("neutral")
    records = Records(
        image_path=np.char.encode(image_path[sel].astype(str), "utf-8"),
        source=np.stack([np.full(sel.shape[0], file_index), sel], axis=1).astype(np.int64),
        bbox=body[keep], img_hw=hw[sel],
        kp2d=kp2d.values[sel],
        kp3d=kp3d.values[sel] if kp3d is not None else np.zeros((sel.shape[0], js.NUM_JOINTS, 3), np.float32),
        kp_valid=np.broadcast_to(mask, (sel.shape[0], js.NUM_JOINTS)).copy(),
        has_kp3d=np.full(sel.shape[0], kp3d is not None), part_box=part_box, part_valid=part_valid,
        smplx=packed[sel], flags=flags[sel], gender=gender[sel], defect=defect[keep])
    return records, skip.counts, skip.flag_counts
