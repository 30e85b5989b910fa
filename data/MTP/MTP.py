"""MTP: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/mtp_{train,test}.npz`` (override with the config key
``humandata_files = {'MTP': {'train': [...]}}``); images: ``{data_dir}/MTP/`` + ``image_path``.
Sub-sampling: config key ``MTP_train_sample_interval`` / ``MTP_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["MTP"]


class MTP(HumanData):
    """MTP (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("mtp_train.npz",)
    test_files = ("mtp_test.npz",)
