"""SPEC: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/spec_{train,test}.npz`` (override with the config key
``humandata_files = {'SPEC': {'train': [...]}}``); images: ``{data_dir}/SPEC/`` + ``image_path``.
Sub-sampling: config key ``SPEC_train_sample_interval`` / ``SPEC_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["SPEC"]


class SPEC(HumanData):
    """SPEC (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("spec_train.npz",)
    test_files = ("spec_test.npz",)
