"""HumanData base dataset (SPEC §4.1, §4.2): parsed, cached sample records plus the mapper that turns one
record into ``(inputs, targets, meta_info)`` dicts of float32 numpy arrays.

A concrete dataset is a thin subclass naming its files, e.g.::

    class GTA_Human2(HumanData):
        train_files = ("gta_human2_train.npz",)
        focal, princpt, img_shape = (1158.0337, 1158.0337), (960.0, 540.0), (1080, 1920)

Files: ``{data_dir}/preprocessed_datasets/{file}``; images: ``{data_dir}/{img_dir_name or name}/`` +
``image_path``. Build it with ``Dataset.from_config(cfg, split)`` (the registry does).
"""
from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import torch.utils.data

from common.utils import joint_sets as js
from common.utils.crop import generate_patch_image
from common.utils.image_io import ImageReadError, read_image
from data.dataset import WorkerRNG
from data.humandata_io import load_records
from data.humandata_parse import DataError, ParseOptions
from data.humandata_records import (FLAG_FACE, FLAG_LHAND, FLAG_RHAND, FLAG_SMPLX, GENDERS, Records,
                                    describe_defects)
from data.smplx_joints import get_smplx_joints
from data.targets import (GeometryConfig, SmplxParams, process_db_coord, process_human_model_output,
                          process_part_boxes, source_joint_img, zero_wild_betas)
from data.transforms import NO_AUG, apply_color_scale, get_aug_config, rotate_root_pose

__all__ = ["HumanData", "DataError", "MAX_SUBSTITUTIONS", "BALANCE_SHUFFLE_SEED"]

logger = logging.getLogger(__name__)

BALANCE_SHUFFLE_SEED = 2023  # the original shuffles the sample list with random.seed(2023) for 'balance'
EVAL_ON_TRAIN_SAMPLES = 10000  # eval_on_train: the first 10,000 of the shuffled training samples
MAX_SUBSTITUTIONS = 10  # unusable samples in a row before a non-strict __getitem__ gives up
LOG_FIRST_SUBSTITUTIONS = 10  # per dataset and process; after that only every 100th is logged


class HumanData(torch.utils.data.Dataset):
    """Base class of every HumanData-format dataset; see the module docstring."""

    name: ClassVar[str | None] = None  # registry name; defaults to the class name
    train_files: ClassVar[tuple[str, ...]] = ()  # defaults to ("{name.lower()}_train.npz",)
    test_files: ClassVar[tuple[str, ...]] = ()  # defaults to ("{name.lower()}_test.npz",)
    img_dir_name: ClassVar[str | None] = None  # image folder under data_dir; defaults to the name
    img_shape: ClassVar[tuple[int, int] | None] = None  # (H, W) when the files lack meta height/width
    focal: ClassVar[tuple[float, float] | None] = None  # fixed intrinsics (pixels), when known
    princpt: ClassVar[tuple[float, float] | None] = None
    _substitutions = 0  # unusable samples substituted in this process (instance attribute once set)

    def __init__(self, split: str, *, data_dir: str | Path, human_model_path: str | Path,
                 files: tuple[str, ...] | None = None, bbox_ratio: float = 1.2, sample_interval: int = 1,
                 shuffle: bool = False, use_cache: bool = True, cache_dir: str | Path | None = None,
                 strict_data: bool = False, check_images: bool = True, no_aug: bool = False,
                 seed: int = 2023, geometry: GeometryConfig = GeometryConfig(), max_samples: int | None = None,
                 fix_eyeball_swap: bool = False, neutral_model_for_betas_neutral: bool = False, **options):
        if split not in ("train", "test"):
            raise ValueError(f"{self.dataset_name()}: split must be 'train' or 'test', got {split!r}")
        self.split = split
        self.data_dir = Path(data_dir)
        self.human_model_path = Path(human_model_path)
        self.img_dir = self.data_dir / (self.img_dir_name or self.dataset_name())
        self.strict = strict_data
        self.no_aug = no_aug
        self.geometry = geometry
        self.options = options  # dataset-specific settings (`config_options`), read by the hooks
        self._rng = WorkerRNG(seed, stream=zlib.crc32(self.dataset_name().encode()))
        names = files if files is not None else self.default_files(split)
        paths = [self.data_dir / "preprocessed_datasets" / f for f in names]
        opts = ParseOptions(dataset=self.dataset_name(), split=split, img_dir=self.img_dir,
                            bbox_ratio=bbox_ratio, sample_interval=sample_interval, img_shape=self.img_shape,
                            check_images=check_images, strict=strict_data, fix_eyeball_swap=fix_eyeball_swap,
                            neutral_model_for_betas_neutral=neutral_model_for_betas_neutral)
        cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / "cache"
        self.records: Records = load_records(
            paths, opts, fix_params=self.fix_params_hook(), fix_token=self.fix_token(),
            shuffle_seed=BALANCE_SHUFFLE_SEED if shuffle else None,
            cache_dir=cache_dir if use_cache else None)
        if max_samples is not None and len(self.records) > max_samples:
            self.records = self.records.take(np.arange(max_samples))

    # --- configuration -----------------------------------------------------------------------------
    @classmethod
    def dataset_name(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def default_files(cls, split: str) -> tuple[str, ...]:
        files = cls.train_files if split == "train" else cls.test_files
        return files or (f"{cls.dataset_name().lower()}_{split}.npz",)

    @classmethod
    def from_config(cls, cfg, split: str) -> "HumanData":
        """Read every setting from the config (the one place that does) and build the dataset."""
        name = cls.dataset_name()
        # eval_on_train: test items from the training files (shuffled, first 10,000), as the original.
        on_train = split == "test" and bool(cfg.eval_on_train)
        file_split = "train" if on_train else split
        files = (cfg.humandata_files or {}).get(name, {}).get(file_split) or cls.default_files(file_split)
        cache_dir = cfg.data_cache_dir or None
        geometry = GeometryConfig(tuple(cfg.input_img_shape), tuple(cfg.output_hm_shape),
                                  float(cfg.body_3d_size), float(cfg.hand_3d_size), float(cfg.face_3d_size))
        return cls(split, data_dir=cfg.data_dir, human_model_path=cfg.human_model_path,
                   files=tuple(files), bbox_ratio=float(cfg.bbox_ratio),
                   sample_interval=int(cfg.get(f"{name}_{file_split}_sample_interval", 1)),
                   shuffle=on_train or (split == "train" and cfg.data_strategy == "balance"),
                   use_cache=bool(cfg.use_cache), cache_dir=cache_dir,
                   strict_data=bool(cfg.strict_data),
                   check_images=bool(cfg.check_image_files),
                   no_aug=bool(cfg.no_aug), seed=int(cfg.seed),
                   geometry=geometry, max_samples=EVAL_ON_TRAIN_SAMPLES if on_train else None,
                   fix_eyeball_swap=bool(cfg.fix_eyeball_swap),
                   neutral_model_for_betas_neutral=bool(cfg.neutral_model_for_betas_neutral),
                   **cls.config_options(cfg))

    @classmethod
    def config_options(cls, cfg) -> dict:
        """Dataset-specific keyword options read from the config (stored in ``self.options``)."""
        return {}

    def set_epoch(self, epoch: int) -> None:
        """Reseed the augmentation stream for ``epoch`` (see `data.dataset.WorkerRNG`)."""
        self._rng.epoch = epoch

    def fix_params_hook(self):
        """Dataset-specific parameter fix ``(source, params) -> params`` applied at parse time, or None."""
        return None

    def fix_token(self) -> str:
        """A string that changes whenever `fix_params_hook` would change its result (part of the cache key)."""
        return ""

    def root_pose_supervised(self, index: int) -> bool:
        """Whether sample ``index``'s root orientation is a target (``smplx_pose_valid[:3]``)."""
        return True

    def camera(self, index: int) -> dict | None:
        """Intrinsics of sample ``index`` (``focal``, ``princpt``), or None to use the 2D keypoints."""
        if self.focal is None or self.princpt is None:
            return None
        return {"focal": np.asarray(self.focal, np.float32), "princpt": np.asarray(self.princpt, np.float32)}

    # --- records -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def image_file(self, index: int) -> Path:
        return self.img_dir / self.records.image_path[index].decode("utf-8")

    def smplx_params(self, index: int) -> SmplxParams | None:
        """The SMPL-X parameters of sample ``index`` (None when the dataset has none)."""
        flags = int(self.records.flags[index])
        if not flags & FLAG_SMPLX:
            return None
        d = self.records.smplx_dict(index)
        return SmplxParams(**{k: v.copy() for k, v in d.items()}, lhand_valid=bool(flags & FLAG_LHAND),
                           rhand_valid=bool(flags & FLAG_RHAND), face_valid=bool(flags & FLAG_FACE),
                           gender=GENDERS[int(self.records.gender[index])])

    # --- items -------------------------------------------------------------------------------------
    def __getitem__(self, index: int):
        """One item. A sample that cannot be used (a defect found at parse time, or an image that is
        missing, undecodable or a truncated JPEG) is replaced by a random other one and counted
        (non-strict), or raises `DataError` (strict_data=True, or a test split)."""
        rng = self._rng.get()
        tried = []
        for _ in range(MAX_SUBSTITUTIONS):
            aug = NO_AUG if (self.split == "test" or self.no_aug) else get_aug_config(rng)
            img, problem = self._load_image(index)
            if img is not None:
                return self._build_item_safely(index, img, aug)
            tried.append(index)
            msg = f"{self.dataset_name()}/{self.split} sample {index}: {problem}"
            if self.strict or self.split == "test":
                raise DataError(msg + " (strict_data=True, or a test split: not substituted)")
            self._substitutions += 1
            if self._substitutions <= LOG_FIRST_SUBSTITUTIONS or self._substitutions % 100 == 0:
                logger.warning("%s; substituting another sample (%d so far in this process)", msg,
                               self._substitutions)
            index = int(rng.integers(len(self)))
        raise DataError(f"{self.dataset_name()}/{self.split}: {MAX_SUBSTITUTIONS} unusable samples in a row "
                        f"(samples {tried}); check the image folder {self.img_dir} and the warnings above")

    def build_item(self, index: int, aug=NO_AUG):
        """Item of sample ``index`` under augmentation ``aug`` = (scale, rot_deg, color_scale, do_flip)."""
        img, problem = self._load_image(index)
        if img is None:
            raise DataError(f"{self.dataset_name()}/{self.split} sample {index}: {problem}")
        return self._build_item_safely(index, img, aug)

    def _load_image(self, index: int) -> tuple[np.ndarray | None, str | None]:
        """((H, W, 3) uint8 BGR, None), or (None, why the sample cannot be used)."""
        defect = int(self.records.defect[index])
        if defect:
            return None, f"{describe_defects(defect)} (found when the annotations were parsed)"
        try:
            return read_image(self.image_file(index)), None
        except ImageReadError as exc:
            return None, f"cannot use image {exc.path}: {exc.reason}"

    def _build_item_safely(self, index, img, aug):
        try:
            return self._build_item(index, img, aug)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.dataset_name()}/{self.split} sample {index} ({self.image_file(index)}): "
                            f"{type(exc).__name__}: {exc}") from exc

    def _build_item(self, index: int, img: np.ndarray, aug):
        scale, rot, color_scale, do_flip = aug
        geo, r = self.geometry, self.records
        img_w = img.shape[1]
        patch, trans, inv_trans = generate_patch_image(img, r.bbox[index], scale, rot, do_flip,
                                                       geo.input_img_shape)
        patch = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
        inputs = {"img": apply_color_scale(patch, color_scale)}  # (3, H, W) RGB in [0, 1]
        params = self.smplx_params(index)
        if self.split == "test":
            return inputs, *self._test_targets(index, params, inv_trans)

        has3d = bool(r.has_kp3d[index])
        kp3d = r.kp3d[index] if has3d else None
        db = process_db_coord(r.kp2d[index], kp3d, r.kp_valid[index], do_flip, img_w, trans, rot, geo)
        if params is not None:
            body_model = get_smplx_joints(self.human_model_path, params.gender)
            hm = process_human_model_output(params, self.camera(index), do_flip, img_w, trans, rot, body_model,
                                            joint_img=source_joint_img(r.kp2d[index], kp3d, geo), geo=geo)
            if not self.root_pose_supervised(index):
                hm["pose_valid"][:3] = 0.0
        else:
            hm = _no_smplx_targets()
        boxes = {p: r.part_box[index, j] for j, p in enumerate(("lhand", "rhand", "face"))}
        valid = {p: bool(r.part_valid[index, j]) for j, p in enumerate(("lhand", "rhand", "face"))}
        box_targets, box_valid = process_part_boxes(boxes, valid, trans, do_flip, img_w, geo)
        targets = {
            "joint_img": db["joint_img"], "smplx_joint_img": db["joint_img"].copy(),
            "joint_cam": db["joint_cam"],
            "smplx_joint_cam": db["joint_cam_ra"] if has3d else hm["joint_cam"],
            "smplx_pose": hm["pose"], "smplx_shape": hm["shape"], "smplx_expr": hm["expr"], **box_targets,
        }
        meta_info = {
            "joint_valid": db["joint_valid"], "joint_trunc": db["joint_trunc"],
            "smplx_joint_valid": db["joint_valid"].copy() if has3d else hm["joint_valid"],
            "smplx_joint_trunc": db["joint_trunc"].copy() if has3d else hm["joint_trunc"],
            "smplx_pose_valid": hm["pose_valid"], "smplx_shape_valid": np.float32(hm["shape_valid"]),
            "smplx_expr_valid": np.float32(hm["expr_valid"]), "is_3D": np.float32(has3d), **box_valid,
        }
        return inputs, targets, meta_info

    def _test_targets(self, index: int, params: SmplxParams | None, inv_trans: np.ndarray):
        """Parameter targets of the pseudo-GT mesh, with the training targets' rules (SPEC §4.2): the root
        round-trips through a rotation matrix and betas with any |beta| > 3 become zeros."""
        if params is None:
            raise DataError(f"{self.dataset_name()}/test sample {index}: no SMPL-X parameters to evaluate "
                            "against; test files need an 'smplx' entry")
        pose = params.pose53()
        pose[0] = rotate_root_pose(pose[0], 0.0)
        targets = {"smplx_pose": pose.reshape(-1), "smplx_shape": zero_wild_betas(params.shape),
                   "smplx_expr": params.expr.astype(np.float32),
                   "smplx_cam_trans": params.trans.astype(np.float32)}
        meta_info = {"img_path": str(self.image_file(index)), "bb2img_trans": inv_trans,
                     "gt_smplx_transl": params.trans.astype(np.float32), "sample_idx": np.int64(index)}
        return targets, meta_info


def _no_smplx_targets() -> dict:
    """SMPL-X targets of a sample without parameters: zeros, every validity 0."""
    z137 = np.zeros((js.NUM_JOINTS, 1), np.float32)
    return dict(joint_img=np.zeros((js.NUM_JOINTS, 3), np.float32),
                joint_cam=np.zeros((js.NUM_JOINTS, 3), np.float32), joint_trunc=z137, joint_valid=z137.copy(),
                pose=np.zeros(159, np.float32), shape=np.zeros(10, np.float32), expr=np.zeros(10, np.float32),
                pose_valid=np.zeros(159, np.float32), shape_valid=0.0, expr_valid=0.0)

