"""RenBody: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/renbody_{train,test}.npz`` (override with the config key
``humandata_files = {'RenBody': {'train': [...]}}``); images: ``{data_dir}/RenBody/`` + ``image_path``.
Sub-sampling: config key ``RenBody_train_sample_interval`` / ``RenBody_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["RenBody"]


class RenBody(HumanData):
    """RenBody (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("renbody_train.npz",)
    test_files = ("renbody_test.npz",)
