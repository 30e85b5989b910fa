"""SynBody: synthetic HumanData set with one fixed camera (SPEC §4.2).

Annotations: ``{data_dir}/preprocessed_datasets/synbody_{train,test}.npz`` (override with
``humandata_files``); images: ``{data_dir}/SynBody/`` + ``image_path``.
"""
from data.humandata import HumanData

__all__ = ["SynBody"]


class SynBody(HumanData):
    """SynBody: focal 540 px, principal point (640, 360), 720 x 1280 images."""

    train_files = ("synbody_train.npz",)
    test_files = ("synbody_test.npz",)
    focal = (540.0, 540.0)
    princpt = (640.0, 360.0)
    img_shape = (720, 1280)
