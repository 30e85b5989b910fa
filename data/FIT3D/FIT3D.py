"""FIT3D: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/fit3d_{train,test}.npz`` (override with the config key
``humandata_files = {'FIT3D': {'train': [...]}}``); images: ``{data_dir}/FIT3D/`` + ``image_path``.
Sub-sampling: config key ``FIT3D_train_sample_interval`` / ``FIT3D_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["FIT3D"]


class FIT3D(HumanData):
    """FIT3D (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("fit3d_train.npz",)
    test_files = ("fit3d_test.npz",)
