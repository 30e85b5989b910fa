"""Behave: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/behave_{train,test}.npz`` (override with the config key
``humandata_files = {'Behave': {'train': [...]}}``); images: ``{data_dir}/Behave/`` + ``image_path``.
Sub-sampling: config key ``Behave_train_sample_interval`` / ``Behave_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["Behave"]


class Behave(HumanData):
    """Behave (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("behave_train.npz",)
    test_files = ("behave_test.npz",)
