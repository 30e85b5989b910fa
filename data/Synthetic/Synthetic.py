"""Synthetic: the HumanData training set written by ``tools/make_synthetic_assets.py`` (not in the
original; for tests and an end-to-end check without licensed data).

Annotations: ``{data_dir}/preprocessed_datasets/synthetic_{train,test}.npz``; images:
``{data_dir}/Synthetic/`` + ``image_path`` (``images/*.jpg``).
"""
from data.humandata import HumanData

__all__ = ["Synthetic"]


class Synthetic(HumanData):
    """Synthetic HumanData set rendered from the (synthetic or real) SMPL-X body model."""

    train_files = ("synthetic_train.npz",)
    test_files = ("synthetic_test.npz",)
