"""CrowdPose: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/crowdpose_{train,test}.npz`` (override with the config key
``humandata_files = {'CrowdPose': {'train': [...]}}``); images: ``{data_dir}/CrowdPose/`` + ``image_path``.
Sub-sampling: config key ``CrowdPose_train_sample_interval`` / ``CrowdPose_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["CrowdPose"]


class CrowdPose(HumanData):
    """CrowdPose (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("crowdpose_train.npz",)
    test_files = ("crowdpose_test.npz",)
