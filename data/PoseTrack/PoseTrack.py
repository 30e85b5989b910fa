"""PoseTrack: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/posetrack_{train,test}.npz`` (override with the config key
``humandata_files = {'PoseTrack': {'train': [...]}}``); images: ``{data_dir}/PoseTrack/`` + ``image_path``.
Sub-sampling: config key ``PoseTrack_train_sample_interval`` / ``PoseTrack_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["PoseTrack"]


class PoseTrack(HumanData):
    """PoseTrack (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("posetrack_train.npz",)
    test_files = ("posetrack_test.npz",)
