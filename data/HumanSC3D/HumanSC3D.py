"""HumanSC3D: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/humansc3d_{train,test}.npz`` (override with the config key
``humandata_files = {'HumanSC3D': {'train': [...]}}``); images: ``{data_dir}/HumanSC3D/`` + ``image_path``.
Sub-sampling: config key ``HumanSC3D_train_sample_interval`` / ``HumanSC3D_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["HumanSC3D"]


class HumanSC3D(HumanData):
    """HumanSC3D (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("humansc3d_train.npz",)
    test_files = ("humansc3d_test.npz",)
