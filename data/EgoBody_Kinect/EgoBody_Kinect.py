"""EgoBody_Kinect: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/egobody_kinect_{train,test}.npz`` (override with the config key
``humandata_files = {'EgoBody_Kinect': {'train': [...]}}``); images: ``{data_dir}/EgoBody_Kinect/`` + ``image_path``.
Sub-sampling: config key ``EgoBody_Kinect_train_sample_interval`` / ``EgoBody_Kinect_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["EgoBody_Kinect"]


class EgoBody_Kinect(HumanData):
    """EgoBody_Kinect (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("egobody_kinect_train.npz",)
    test_files = ("egobody_kinect_test.npz",)
