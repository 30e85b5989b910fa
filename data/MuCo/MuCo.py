"""MuCo: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/muco_{train,test}.npz`` (override with the config key
``humandata_files = {'MuCo': {'train': [...]}}``); images: ``{data_dir}/MuCo/`` + ``image_path``.
Sub-sampling: config key ``MuCo_train_sample_interval`` / ``MuCo_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["MuCo"]


class MuCo(HumanData):
    """MuCo (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("muco_train.npz",)
    test_files = ("muco_test.npz",)
