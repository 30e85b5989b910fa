"""Talkshow: upper-body talk-show HumanData set (SPEC §4.1).

Annotations: ``{data_dir}/preprocessed_datasets/talkshow_{train,test}.npz`` (override with
``humandata_files``); images: ``{data_dir}/Talkshow/`` + ``image_path``.

Its files store poses in other shapes and more than 10 expression coefficients; the generic parser
reshapes every parameter to (N, width) and keeps the first 10 expression coefficients. As the original,
the *left* hand pose is copied into the right hand (SPEC §4.1); config key ``fix_talkshow_right_hand=True``
takes the right hand from ``right_hand_pose`` instead.
"""
from data.humandata import HumanData

__all__ = ["Talkshow"]


class Talkshow(HumanData):
    """Talkshow (HumanData); right-hand pose = left-hand pose unless ``fix_talkshow_right_hand``."""

    train_files = ("talkshow_train.npz",)
    test_files = ("talkshow_test.npz",)

    @classmethod
    def config_options(cls, cfg) -> dict:
        return {"fix_right_hand": bool(cfg.fix_talkshow_right_hand)}

    def fix_params_hook(self):
        if self.options.get("fix_right_hand", False):
            return None

        def copy_left_hand(source: str, params: dict) -> dict:
            if "left_hand_pose" not in params:
                return params
            return {**params, "right_hand_pose": params["left_hand_pose"]}

        return copy_left_hand

    def fix_token(self) -> str:
        return "talkshow-right-hand:" + ("own" if self.options.get("fix_right_hand", False) else "left")
