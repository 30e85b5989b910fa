"""SSP3D: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/ssp3d_{train,test}.npz`` (override with the config key
``humandata_files = {'SSP3D': {'train': [...]}}``); images: ``{data_dir}/SSP3D/`` + ``image_path``.
Sub-sampling: config key ``SSP3D_train_sample_interval`` / ``SSP3D_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["SSP3D"]


class SSP3D(HumanData):
    """SSP3D (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("ssp3d_train.npz",)
    test_files = ("ssp3d_test.npz",)
