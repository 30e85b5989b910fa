"""EgoBody_Egocentric: a HumanData-format training set of the SMPLer-X mix (SPEC §3.4, §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/egobody_egocentric_{train,test}.npz`` (override with the config key
``humandata_files = {'EgoBody_Egocentric': {'train': [...]}}``); images: ``{data_dir}/EgoBody_Egocentric/`` + ``image_path``.
Sub-sampling: config key ``EgoBody_Egocentric_train_sample_interval`` / ``EgoBody_Egocentric_test_sample_interval``.
"""
from data.humandata import HumanData

__all__ = ["EgoBody_Egocentric"]


class EgoBody_Egocentric(HumanData):
    """EgoBody_Egocentric (HumanData). Keypoints from the file; no fixed intrinsics."""

    train_files = ("egobody_egocentric_train.npz",)
    test_files = ("egobody_egocentric_test.npz",)
