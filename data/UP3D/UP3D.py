"""UP3D: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/up3d_{train,test}.npz`` (override with the config key
``humandata_files = {'UP3D': {'train': [...]}}``); images: ``{data_dir}/UP3D/`` + ``image_path``.
Sub-sampling: config key ``UP3D_train_sample_interval`` / ``UP3D_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["UP3D"]


class UP3D(HumanData):
    """UP3D (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("up3d_train.npz",)
    test_files = ("up3d_test.npz",)
