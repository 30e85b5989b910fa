"""CHI3D: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/chi3d_{train,test}.npz`` (override with the config key
``humandata_files = {'CHI3D': {'train': [...]}}``); images: ``{data_dir}/CHI3D/`` + ``image_path``.
Sub-sampling: config key ``CHI3D_train_sample_interval`` / ``CHI3D_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["CHI3D"]


class CHI3D(HumanData):
    """CHI3D (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("chi3d_train.npz",)
    test_files = ("chi3d_test.npz",)
