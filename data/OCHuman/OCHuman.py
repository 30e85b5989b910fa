"""OCHuman: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/ochuman_{train,test}.npz`` (override with the config key
``humandata_files = {'OCHuman': {'train': [...]}}``); images: ``{data_dir}/OCHuman/`` + ``image_path``.
Sub-sampling: config key ``OCHuman_train_sample_interval`` / ``OCHuman_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["OCHuman"]


class OCHuman(HumanData):
    """OCHuman (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("ochuman_train.npz",)
    test_files = ("ochuman_test.npz",)
