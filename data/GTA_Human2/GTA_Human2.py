"""GTA_Human2: synthetic GTA-V HumanData set with one fixed camera (SPEC §4.2).

Annotations: ``{data_dir}/preprocessed_datasets/gta_human2_{train,test}.npz`` (override with
``humandata_files``); images: ``{data_dir}/GTA_Human2/`` + ``image_path``. The SMPL-X joint image
(``smplx_joint_trunc`` of samples without 3D keypoints) is a projection with the fixed intrinsics below.
"""
from data.humandata import HumanData

__all__ = ["GTA_Human2"]


class GTA_Human2(HumanData):
    """GTA_Human2: focal 1158.0337 px, principal point (960, 540), 1080 x 1920 images."""

    train_files = ("gta_human2_train.npz",)
    test_files = ("gta_human2_test.npz",)
    focal = (1158.0337, 1158.0337)
    princpt = (960.0, 540.0)
    img_shape = (1080, 1920)
