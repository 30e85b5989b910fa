"""ARCTIC: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/arctic_{train,test}.npz`` (override with the config key
``humandata_files = {'ARCTIC': {'train': [...]}}``); images: ``{data_dir}/ARCTIC/`` + ``image_path``.
Sub-sampling: config key ``ARCTIC_train_sample_interval`` / ``ARCTIC_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["ARCTIC"]


class ARCTIC(HumanData):
    """ARCTIC (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("arctic_train.npz",)
    test_files = ("arctic_test.npz",)
