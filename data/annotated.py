"""Shared base of the datasets the original reads in their own (OSX/Hand4Whole-style) annotation formats:
MSCOCO, AGORA, UBody, PW3D, Human36M, MPII (SPEC §4.2, end).

A subclass only *parses* its annotation files into per-person sample dicts (`parse_samples`); this base
turns them into the same columnar `Records` the HumanData loader uses, and items are built by
`HumanData._build_item`, so every source yields exactly the HumanData train item (keys/shapes of §4.2).

A sample dict holds::

    image_path  str, relative to ``{data_dir}/{img_dir_name or Name}/``
    img_hw      (H, W) pixels
    bbox        (4,) body box xywh, image pixels (processed here with ``process_bbox(ratio=bbox_ratio)``)
    kp2d        (137, 2) image pixels; kp_valid (137,) 0/1; kp3d (137, 3) metres camera frame or None
    part_boxes  optional {'lhand'|'rhand'|'face': (4,) xywh or None}
    smplx       optional dict root_pose (3), body_pose (63), lhand_pose (45), rhand_pose (45), jaw_pose (3),
                shape (10), expr (10), trans (3) and lhand_valid / rhand_valid / face_valid (bool)
    gender      optional 'neutral' | 'male' | 'female'
    cam         optional {'focal' (2,), 'princpt' (2,) pixels, 'R' (3, 3), 't' (3,) metres}
    extra       optional dataset-specific payload kept per sample in ``self.extras`` (e.g. SMPL test GT)
"""
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from common.utils import joint_sets as js
from data.dataset import WorkerRNG
from data.humandata import HumanData
from data.humandata_parse import DataError
from data.humandata_records import (FLAG_FACE, FLAG_LHAND, FLAG_RHAND, FLAG_SMPLX, GENDERS, SMPLX_LAYOUT,
                                    Records, defect_bit)
from data.targets import GeometryConfig
from common.utils.crop import process_bbox_batch, xywh_to_xyxy

__all__ = ['AnnotatedDataset', 'map_to_joint_set', 'require_files', 'load_json', 'MAX_LOGGED_PER_REASON']

logger = logging.getLogger(__name__)

MAX_LOGGED_PER_REASON = 5
_NAME_TO_137 = {name: i for i, name in enumerate(js.JOINT_NAMES)}
_PARTS = ('lhand', 'rhand', 'face')


def map_to_joint_set(src_names, values, valid=None):
    """Re-index a source joint set to the 137 set by joint name.

    Args:
        src_names: (K,) source joint names; names not in the 137 set are dropped.
        values: (K, C) source values. valid: (K,) 0/1 (default all 1).
    Returns:
        (137, C) float32 values (zeros where unmapped) and (137,) float32 validity.
    """
    values = np.asarray(values, dtype=np.float32)
    valid = np.ones(len(src_names), np.float32) if valid is None else np.asarray(valid, np.float32)
    out = np.zeros((js.NUM_JOINTS, values.shape[1]), np.float32)
    out_valid = np.zeros(js.NUM_JOINTS, np.float32)
    for k, name in enumerate(src_names):
        j = _NAME_TO_137.get(name)
        if j is not None:
            out[j], out_valid[j] = values[k], valid[k]
    return out, out_valid


def require_files(dataset, paths, hint):
    """Raise FileNotFoundError naming every missing path of ``paths`` and where to get them."""
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f'{dataset}: annotation file(s) not found: {", ".join(missing)}. {hint}')


def load_json(path):
    import json
    with open(path) as f:
        return json.load(f)


class AnnotatedDataset(HumanData):
    """HumanData items from a dataset-specific annotation parser (train split; see the module docstring).

    Accepts the keyword arguments `HumanData.from_config` passes; ``files``, ``use_cache`` and ``cache_dir``
    are ignored (the annotation files are fixed per dataset; parsing is not cached).

    Bad samples follow the HumanData policy: a body box that sanitises to nothing drops the sample (the
    original's rule); our extra checks (non-finite keypoints or parameters, a missing image, a body box
    entirely left of / above the image) flag a training sample, which keeps its index and is substituted
    when loaded, and drop a test sample.
    """

    supported_splits = ('train',)
    download_hint = ''
    use_generic_sample_interval = False  # fall back to `{split}_sample_interval` (UBody)

    def __init__(self, split, *, data_dir, human_model_path, bbox_ratio=1.2, sample_interval=1,
                 shuffle=False, strict_data=False, check_images=True, no_aug=False, seed=2023,
                 geometry=GeometryConfig(), files=None, use_cache=True, cache_dir=None, **options):
        name = self.dataset_name()
        if split not in self.supported_splits:
            raise ValueError(f'{name}: split {split!r} is not supported (supported: {self.supported_splits})')
        self.split = split
        self.data_dir = Path(data_dir)
        self.human_model_path = Path(human_model_path)
        self.img_dir = self.data_dir / (self.img_dir_name or name)
        self.strict = strict_data
        self.no_aug = no_aug
        self.geometry = geometry
        self.bbox_ratio = float(bbox_ratio)
        self.options = options
        self._rng = WorkerRNG(seed)
        samples = self.parse_samples()
        samples = samples[::max(1, int(sample_interval))]
        self.records, self.cams, self.extras = self._to_records(samples, check_images)
        logger.info('%s/%s: %d samples; skipped: %s; kept but substituted when loaded: %s', name, split,
                    len(self.records), dict(self.records.skipped) or 'none', dict(self.records.flagged) or 'none')

    @classmethod
    def from_config(cls, cfg, split):
        """Read every setting from the config (the keys `HumanData.from_config` reads, plus
        `config_options`) and build the dataset."""
        name = cls.dataset_name()
        geometry = GeometryConfig(tuple(cfg.input_img_shape), tuple(cfg.output_hm_shape),
                                  float(cfg.body_3d_size), float(cfg.hand_3d_size), float(cfg.face_3d_size))
        interval = cfg.get(f'{name}_{split}_sample_interval')
        if interval is None and cls.use_generic_sample_interval:
            interval = cfg.get(f'{split}_sample_interval')
        return cls(split, data_dir=cfg.data_dir, human_model_path=cfg.human_model_path,
                   bbox_ratio=float(cfg.bbox_ratio), sample_interval=int(interval or 1),
                   strict_data=bool(cfg.strict_data),
                   check_images=bool(cfg.check_image_files),
                   no_aug=bool(cfg.no_aug), seed=int(cfg.seed),
                   geometry=geometry, **cls.config_options(cfg))

    @classmethod
    def config_options(cls, cfg):
        """Dataset-specific keyword options read from the config (stored in ``self.options``)."""
        return {}

    def parse_samples(self):
        """Read the annotation files → list of sample dicts (module docstring). Subclasses implement it."""
        raise NotImplementedError

    def camera(self, index):
        return self.cams[index]

    # --- records -----------------------------------------------------------------------------------
    def _report(self, counts, reason, msg, kept):
        full = f'{self.dataset_name()}/{self.split}: {msg}'
        if self.strict:
            raise DataError(full + '. Fix or remove the sample, or set strict_data=False to skip it.')
        if counts[reason] < MAX_LOGGED_PER_REASON:
            kept = kept and self.split == 'train'
            logger.warning('%s %s', full, '(kept in the sample order, substituted when loaded)' if kept
                           else '(skipped)')
        counts[reason] += 1

    def _sample_defects(self, samples, check_images, flagged):
        """(N,) uint8 DEFECTS bits of our extra checks (non-finite values, missing image)."""
        defect = np.zeros(len(samples), np.uint8)
        exists = {}
        for i, s in enumerate(samples):
            params = s.get('smplx')
            values = {'nonfinite_keypoints2d': [s['kp2d']], 'nonfinite_keypoints3d': [s.get('kp3d')],
                      'nonfinite_params': [None] if params is None else [params[k] for k, _ in SMPLX_LAYOUT]}
            for reason, arrays in values.items():
                if not all(a is None or np.isfinite(np.asarray(a, np.float64)).all() for a in arrays):
                    defect[i] |= defect_bit(reason)
                    self._report(flagged, reason, f'sample {i} ({s["image_path"]}): {reason}', True)
            if check_images:
                path = self.img_dir / s['image_path']
                if path not in exists:
                    exists[path] = path.is_file()
                if not exists[path]:
                    defect[i] |= defect_bit('missing_image')
                    self._report(flagged, 'missing_image', f'sample {i}: no file {path}', True)
        return defect

    def _to_records(self, samples, check_images):
        counts, flagged = Counter(), Counter()
        n = len(samples)
        hw = np.array([s['img_hw'] for s in samples], np.float32).reshape(n, 2)
        raw = np.array([s['bbox'] for s in samples], np.float32).reshape(n, 4)
        body, ok = process_bbox_batch(raw, hw[:, 1], hw[:, 0], ratio=self.bbox_ratio, reject_outside=False)
        for i in np.nonzero(~ok)[0]:
            self._report(counts, 'bbox_invalid', f'{samples[i]["image_path"]}: body box {raw[i].tolist()} has '
                         f'no area inside the {hw[i, 1]:g}x{hw[i, 0]:g} image', False)
        kept = [s for s, good in zip(samples, ok) if good]
        body, hw, raw, n = body[ok], hw[ok], raw[ok], len(kept)
        defect = self._sample_defects(kept, check_images, flagged)
        outside = (raw[:, 0] + raw[:, 2] <= 0) | (raw[:, 1] + raw[:, 3] <= 0)
        for i in np.nonzero(outside)[0]:
            self._report(flagged, 'bbox_outside_image', f'{kept[i]["image_path"]}: body box {raw[i].tolist()} '
                         'lies entirely left of or above the image', True)
        defect[outside] |= defect_bit('bbox_outside_image')
        if self.split != 'train':  # a test split drops what a training split flags
            good = defect == 0
            counts.update(flagged)
            flagged = Counter()
            kept = [s for s, g in zip(kept, good) if g]
            body, hw, defect, n = body[good], hw[good], defect[good], int(good.sum())
        part_box = np.zeros((n, 3, 4), np.float32)
        part_valid = np.zeros((n, 3), bool)
        for j, part in enumerate(_PARTS):
            boxes = np.zeros((n, 4), np.float32)
            given = np.zeros(n, bool)
            for i, s in enumerate(kept):
                box = (s.get('part_boxes') or {}).get(part)
                if box is not None:
                    boxes[i], given[i] = box, True
            processed, box_ok = process_bbox_batch(boxes, hw[:, 1], hw[:, 0], ratio=self.bbox_ratio,
                                                   reject_outside=False)
            part_box[:, j] = xywh_to_xyxy(processed)
            part_valid[:, j] = given & box_ok
        smplx, flags = self._pack_smplx(kept)
        records = Records(
            image_path=np.array([s['image_path'].encode('utf-8') for s in kept], dtype='S').reshape(n),
            source=np.stack([np.zeros(n, np.int64), np.arange(n)], 1).astype(np.int64),
            bbox=body, img_hw=hw,
            kp2d=np.array([s['kp2d'] for s in kept], np.float32).reshape(n, js.NUM_JOINTS, 2),
            kp3d=np.array([s['kp3d'] if s.get('kp3d') is not None else np.zeros((js.NUM_JOINTS, 3))
                           for s in kept], np.float32).reshape(n, js.NUM_JOINTS, 3),
            kp_valid=np.array([s['kp_valid'] for s in kept], np.float32).reshape(n, js.NUM_JOINTS).astype(np.uint8),
            has_kp3d=np.array([s.get('kp3d') is not None for s in kept], bool).reshape(n),
            part_box=part_box, part_valid=part_valid, smplx=smplx, flags=flags,
            gender=np.array([GENDERS.index(s.get('gender') or 'neutral') for s in kept], np.uint8).reshape(n),
            defect=defect, skipped=dict(counts), flagged=dict(flagged), files=[])
        cams = [_camera_arrays(s.get('cam')) for s in kept]
        return records, cams, [s.get('extra') for s in kept]

    @staticmethod
    def _pack_smplx(kept):
        n = len(kept)
        width = sum(w for _, w in SMPLX_LAYOUT)
        packed = np.zeros((n, width), np.float32)
        flags = np.zeros(n, np.uint8)
        for i, s in enumerate(kept):
            p = s.get('smplx')
            if p is None:
                continue
            packed[i] = np.concatenate([np.asarray(p[k], np.float32).reshape(w) for k, w in SMPLX_LAYOUT])
            flags[i] = (FLAG_SMPLX | (FLAG_LHAND if p.get('lhand_valid', True) else 0)
                        | (FLAG_RHAND if p.get('rhand_valid', True) else 0)
                        | (FLAG_FACE if p.get('face_valid', True) else 0))
        return packed, flags


def _camera_arrays(cam):
    if cam is None:
        return None
    return {k: np.asarray(v, np.float32) for k, v in cam.items()}
