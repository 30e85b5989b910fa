"""PROX: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/prox_{train,test}.npz`` (override with the config key
``humandata_files = {'PROX': {'train': [...]}}``); images: ``{data_dir}/PROX/`` + ``image_path``.
Sub-sampling: config key ``PROX_train_sample_interval`` / ``PROX_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["PROX"]


class PROX(HumanData):
    """PROX (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("prox_train.npz",)
    test_files = ("prox_test.npz",)
