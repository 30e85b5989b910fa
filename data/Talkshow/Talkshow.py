"""Talkshow: upper-body talk-show HumanData set (SPEC §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/talkshow_{train,test}.npz`` (override with
``humandata_files``); images: ``{data_dir}/Talkshow/`` + ``image_path``.

Its files store poses in other shapes and more than 10 expression coefficients; the generic parser
reshapes every parameter to (N, width) and keeps the first 10 expression coefficients. Deliberate fix:
the original copied the *left* hand pose into the right hand; here the right hand comes from
``right_hand_pose``.
"""
from data.humandata import HumanData

__all__ = ["Talkshow"]


class Talkshow(HumanData):
    """Talkshow (HumanData), right-hand pose taken from ``right_hand_pose`` (fix of the original)."""

    train_files = ("talkshow_train.npz",)
    test_files = ("talkshow_test.npz",)
