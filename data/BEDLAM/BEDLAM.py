"""BEDLAM: synthetic HumanData set (SPEC §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/bedlam_{train,test}.npz`` (override with
``humandata_files``); images: ``{data_dir}/BEDLAM/`` + ``image_path``.

Its SMPL-X fits use 11+ betas and flat-hand-mean hand poses. At parse time the betas are cut to 10 and
the hand poses are made relative to the mean hand pose (``flat_hand_mean=False``, like every other set)
by subtracting the mean hand pose of the SMPL-X model files in use (``hands_meanl`` / ``hands_meanr`` of
``SMPLX_NEUTRAL.npz``, read through the body-model wrapper) instead of the original's hard-coded MANO
constants.
"""
from __future__ import annotations

import hashlib

import numpy as np

from common.utils.human_models import get_smplx
from data.humandata import HumanData

__all__ = ["BEDLAM"]


class BEDLAM(HumanData):
    """BEDLAM (HumanData): 10 betas, hand poses converted from flat-hand-mean to mean-relative."""

    train_files = ("bedlam_train.npz",)
    test_files = ("bedlam_test.npz",)

    def _hand_means(self) -> tuple[np.ndarray, np.ndarray]:
        """(45,) left and right mean hand poses (axis-angle) of the neutral SMPL-X model files."""
        model = get_smplx(self.human_model_path, "neutral")
        return (model.left_hand_mean.numpy().reshape(45).astype(np.float32),
                model.right_hand_mean.numpy().reshape(45).astype(np.float32))

    def fix_params_hook(self):
        left_mean, right_mean = self._hand_means()

        def fix(source: str, params: dict) -> dict:
            params = dict(params)
            for key in ("betas", "betas_neutral"):
                if key in params:
                    params[key] = params[key][:, :10]
            if "left_hand_pose" in params:
                params["left_hand_pose"] = params["left_hand_pose"][:, :45] - left_mean
            if "right_hand_pose" in params:
                params["right_hand_pose"] = params["right_hand_pose"][:, :45] - right_mean
            return params

        return fix

    def fix_token(self) -> str:
        left_mean, right_mean = self._hand_means()
        return "bedlam-hand-mean:" + hashlib.sha1(left_mean.tobytes() + right_mean.tobytes()).hexdigest()[:12]
