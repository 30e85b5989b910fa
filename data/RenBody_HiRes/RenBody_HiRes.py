"""RenBody_HiRes: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/renbody_hires_{train,test}.npz`` (override with the config key
``humandata_files = {'RenBody_HiRes': {'train': [...]}}``); images: ``{data_dir}/RenBody_HiRes/`` + ``image_path``.
Sub-sampling: config key ``RenBody_HiRes_train_sample_interval`` / ``RenBody_HiRes_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["RenBody_HiRes"]


class RenBody_HiRes(HumanData):
    """RenBody_HiRes (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("renbody_hires_train.npz",)
    test_files = ("renbody_hires_test.npz",)
