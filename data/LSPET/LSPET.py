"""LSPET: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/lspet_{train,test}.npz`` (override with the config key
``humandata_files = {'LSPET': {'train': [...]}}``); images: ``{data_dir}/LSPET/`` + ``image_path``.
Sub-sampling: config key ``LSPET_train_sample_interval`` / ``LSPET_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["LSPET"]


class LSPET(HumanData):
    """LSPET (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("lspet_train.npz",)
    test_files = ("lspet_test.npz",)
