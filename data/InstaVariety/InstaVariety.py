"""InstaVariety: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/instavariety_{train,test}.npz`` (override with the config key
``humandata_files = {'InstaVariety': {'train': [...]}}``); images: ``{data_dir}/InstaVariety/`` + ``image_path``.
Sub-sampling: config key ``InstaVariety_train_sample_interval`` / ``InstaVariety_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["InstaVariety"]


class InstaVariety(HumanData):
    """InstaVariety (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("instavariety_train.npz",)
    test_files = ("instavariety_test.npz",)
