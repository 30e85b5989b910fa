"""RICH: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/rich_{train,test}.npz`` (override with the config key
``humandata_files = {'RICH': {'train': [...]}}``); images: ``{data_dir}/RICH/`` + ``image_path``.
Sub-sampling: config key ``RICH_train_sample_interval`` / ``RICH_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["RICH"]


class RICH(HumanData):
    """RICH (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("rich_train.npz",)
    test_files = ("rich_test.npz",)
