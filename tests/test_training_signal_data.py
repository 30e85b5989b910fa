"""The data side of the training signal follows the original (issue #11 items 1, 2, 4-9), each checked on
a hand-built case against the SPEC rule (§3.5, §4.1, §4.2), not against our own output."""
import random

import numpy as np
import pytest

from common.utils import joint_sets as js
from data.ARCTIC.ARCTIC import ARCTIC
from data.Synthetic.Synthetic import Synthetic
from data.targets import SmplxParams, process_db_coord, process_human_model_output
from data.transforms import NO_AUG, rotate_root_pose
from tests.fixtures.humandata import FOCAL, PRINCPT, random_params, write_humandata

L, R = js.LWRIST_IDX, js.RWRIST_IDX  # a flip pair of the 137 set (12, 13)
IMG_W = 320
# image -> crop affine that maps the whole 320 x 240 image onto the 384 x 512 crop, so heatmap x = x * 12 / 320,
# y = y * 16 / 240 and every image point lies inside the heatmap
WHOLE_IMAGE = np.array([[384 / 320, 0.0, 0.0], [0.0, 512 / 240, 0.0]], np.float32)


def make(root, hmp, split="train", **kw):
    return Synthetic(split, data_dir=root, human_model_path=hmp, use_cache=False, **kw)


def _params(raw, i=0, **overrides):
    p = SmplxParams(root_pose=raw["global_orient"][i].reshape(-1), body_pose=raw["body_pose"][i].reshape(-1),
                    lhand_pose=raw["left_hand_pose"][i].reshape(-1), rhand_pose=raw["right_hand_pose"][i].reshape(-1),
                    jaw_pose=raw["jaw_pose"][i].reshape(-1), shape=raw["betas"][i].reshape(-1),
                    expr=raw["expression"][i].reshape(-1), trans=raw["transl"][i].reshape(-1))
    for k, v in overrides.items():
        setattr(p, k, v)
    return p


def _edit_npz(path, edit):
    with np.load(path, allow_pickle=True) as z:
        content = dict(z)
    edit(content)
    np.savez(path, **content)


# --- item 1: smplx_joint_trunc needs source depth > 0 ----------------------------------------------------
def test_2d_only_sample_without_intrinsics_gets_no_smplx_joint_img_supervision(tmp_path, human_model_path):
    write_humandata(tmp_path, human_model_path, n=2, seed=41, with_3d=False)
    _, _, meta = make(tmp_path, human_model_path, no_aug=True)[0]
    assert meta["is_3D"] == 0 and meta["smplx_joint_valid"].all()  # every part has parameters ...
    assert not meta["smplx_joint_trunc"].any()  # ... but the source depth is 0: SPEC §4.2, all 0

    class WithIntrinsics(Synthetic):  # the same files, with the camera the keypoints were projected with
        name = "Synthetic"
        focal, princpt = FOCAL, PRINCPT

    _, _, meta = WithIntrinsics("train", data_dir=tmp_path, human_model_path=human_model_path, use_cache=False,
                                no_aug=True)[0]
    # the projection's source depth is the camera depth (~4 m > 0): joints in the crop are supervised
    assert meta["smplx_joint_trunc"].sum() > 100


# --- item 2: the source > 0 factors keep the un-flipped joint order ---------------------------------------
def test_flip_keeps_the_source_check_in_unflipped_order_for_keypoint_targets():
    xy = np.tile([160.0, 120.0], (137, 1)).astype(np.float32)
    xy[L] = [0.0, 100.0]  # a zero (missing) source x on the left wrist ...
    xy[R] = [200.0, 100.0]  # ... and a normal right wrist
    cam = np.tile([0.0, 0.0, 4.0], (137, 1)).astype(np.float32)  # depth bin 8 everywhere
    valid = np.ones(137, np.float32)
    plain = process_db_coord(xy, cam, valid, False, IMG_W, WHOLE_IMAGE, 0.0)
    assert plain["joint_trunc"][L, 0] == 0 and plain["joint_trunc"][R, 0] == 1
    flipped = process_db_coord(xy, cam, valid, True, IMG_W, WHOLE_IMAGE, 0.0)
    # coordinates and validity are exchanged: index R now holds the mirrored left wrist, x = 319 -> 11.9625
    np.testing.assert_allclose(flipped["joint_img"][R, :2], [(IMG_W - 1) * 12 / 320, 100 * 16 / 240], atol=1e-4)
    np.testing.assert_allclose(flipped["joint_img"][L, :2], [(IMG_W - 1 - 200) * 12 / 320, 100 * 16 / 240],
                               atol=1e-4)
    # ... the source factor is not: index L stays blocked (source x = 0), index R (inside) is kept
    assert flipped["joint_trunc"][L, 0] == 0 and flipped["joint_trunc"][R, 0] == 1
    assert flipped["joint_trunc"].sum() == 136


def test_flip_keeps_the_source_check_in_unflipped_order_for_smplx_targets(human_model_path):
    from data.smplx_joints import get_smplx_joints
    raw = random_params(1, np.random.default_rng(42))
    src = np.tile([160.0, 120.0, 8.0], (137, 1)).astype(np.float32)
    src[L] = [0.0, 100.0, 8.0]
    src[R] = [200.0, 100.0, 8.0]
    model = get_smplx_joints(human_model_path)
    for flip in (False, True):
        out = process_human_model_output(_params(raw), None, flip, IMG_W, WHOLE_IMAGE, 0.0, model, joint_img=src)
        # body depths of a standing person lie well inside the 2 m range: only the source check decides
        assert out["joint_trunc"][L, 0] == 0 and out["joint_trunc"][R, 0] == 1, flip


# --- item 4: per-file shuffles with a fresh seed 2023, concatenated; extra checks keep the order ---------
def _seed_2023_order(n):
    order = list(range(n))
    random.seed(2023)
    random.shuffle(order)
    return order


def test_two_files_are_shuffled_each_with_a_fresh_seed_then_concatenated(tmp_path, human_model_path):
    write_humandata(tmp_path, human_model_path, file="part_a.npz", n=5, seed=43)
    write_humandata(tmp_path, human_model_path, file="part_b.npz", n=4, seed=44)
    ds = make(tmp_path, human_model_path, files=("part_a.npz", "part_b.npz"), shuffle=True)
    expected = [[0, i] for i in _seed_2023_order(5)] + [[1, i] for i in _seed_2023_order(4)]
    assert ds.records.source.tolist() == expected


def test_samples_only_our_checks_reject_keep_the_original_order(tmp_path, human_model_path):
    info = write_humandata(tmp_path, human_model_path, n=6, seed=45)

    def damage(c):
        c["keypoints2d_smplx"][2, 20, 1] = np.inf  # our check: flagged, stays in the list
        c["smplx"].item()["body_pose"][4, 0, 0] = np.nan  # our check: flagged
    _edit_npz(info["path"], damage)
    (tmp_path / "Synthetic" / info["image_paths"][3]).unlink()  # our check: flagged
    ds = make(tmp_path, human_model_path, shuffle=True)
    assert ds.records.source[:, 1].tolist() == _seed_2023_order(6)  # the clean file's order
    flagged = {int(s) for s in ds.records.source[ds.records.defect > 0, 1]}
    assert flagged == {2, 3, 4}


# --- item 5: gender from the smplx dict's own entry only ---------------------------------------------------
def test_gender_comes_from_the_smplx_dict_never_from_meta(tmp_path, human_model_path):
    info = write_humandata(tmp_path, human_model_path, n=3, seed=46)

    def genders(c):
        smplx = c["smplx"].item()
        smplx["gender"] = np.array(["female", "male", "neutral"])
        c["smplx"] = np.array(smplx, dtype=object)
        c["meta"] = np.array({**c["meta"].item(), "gender": np.array(["male", "female", "male"])}, dtype=object)
    _edit_npz(info["path"], genders)
    ds = make(tmp_path, human_model_path)
    assert [ds.smplx_params(i).gender for i in range(3)] == ["female", "male", "neutral"]

    def one_string(c):
        smplx = c["smplx"].item()
        smplx["gender"] = "male"
        c["smplx"] = np.array(smplx, dtype=object)
    _edit_npz(info["path"], one_string)
    assert {make(tmp_path, human_model_path).smplx_params(i).gender for i in range(3)} == {"male"}


# --- item 6: the 3D mask only when a 3D mask key exists ---------------------------------------------------
def test_without_a_3d_mask_key_the_2d_mask_is_used(tmp_path, human_model_path):
    info = write_humandata(tmp_path, human_model_path, n=2, seed=47)
    lwrist_144 = js.SMPLX_TO_JOINT_SET[L]

    def masks(c):
        c["keypoints2d_smplx_mask"] = np.ones(144, np.uint8)
        c["keypoints2d_smplx_mask"][lwrist_144] = 0
        del c["keypoints3d_smplx_mask"]
    _edit_npz(info["path"], masks)
    valid = make(tmp_path, human_model_path).records.kp_valid[0]
    assert valid[L] == 0 and valid.sum() == 136

    def mask3d(c):
        c["keypoints3d_smplx_mask"] = np.ones(144, np.uint8)
        c["keypoints3d_smplx_mask"][js.SMPLX_TO_JOINT_SET[R]] = 0
    _edit_npz(info["path"], mask3d)
    valid = make(tmp_path, human_model_path).records.kp_valid[0]
    assert valid[R] == 0 and valid[L] == 1 and valid.sum() == 136


# --- item 7: the root always round-trips through a rotation matrix ----------------------------------------
AXIS = np.array([1.0, 2.0, 2.0]) / 3.0  # unit axis


def test_root_angle_above_pi_comes_back_wrapped():
    out = rotate_root_pose(3.5 * AXIS, 0.0)
    np.testing.assert_allclose(out, (2 * np.pi - 3.5) * -AXIS, atol=1e-5)  # same rotation, angle in [0, pi]


def test_stored_root_above_pi_is_wrapped_in_train_and_test_targets(tmp_path, human_model_path):
    params = random_params(2, np.random.default_rng(48))
    params["global_orient"][0] = 3.5 * AXIS
    write_humandata(tmp_path, human_model_path, params=params, seed=48)
    (tmp_path / "preprocessed_datasets" / "synthetic_test.npz").write_bytes(
        (tmp_path / "preprocessed_datasets" / "synthetic_train.npz").read_bytes())
    wrapped = (2 * np.pi - 3.5) * -AXIS
    _, train_targets, _ = make(tmp_path, human_model_path).build_item(0, NO_AUG)
    np.testing.assert_allclose(train_targets["smplx_pose"][:3], wrapped, atol=1e-5)
    _, test_targets, _ = make(tmp_path, human_model_path, split="test")[0]
    np.testing.assert_allclose(test_targets["smplx_pose"][:3], wrapped, atol=1e-5)


# --- item 8: test pseudo-GT betas follow the |beta| > 3 rule ----------------------------------------------
def test_test_sample_with_a_wild_beta_has_zero_pseudo_gt_shape(tmp_path, human_model_path):
    params = random_params(2, np.random.default_rng(49))
    params["betas"][0, 4] = 3.5
    params["betas"][1] = np.clip(params["betas"][1], -2.9, 2.9)
    write_humandata(tmp_path, human_model_path, params=params, file="synthetic_test.npz", seed=49)
    ds = make(tmp_path, human_model_path, split="test")
    assert not ds[0][1]["smplx_shape"].any()
    np.testing.assert_allclose(ds[1][1]["smplx_shape"], params["betas"][1])


# --- item 9: ARCTIC and RenBody_HiRes evaluate every 10th test frame by default ---------------------------
def test_arctic_and_renbody_hires_test_interval_defaults_to_10(tmp_path, tiny_cfg_factory, human_model_path):
    cfg = tiny_cfg_factory(data_dir=str(tmp_path), use_cache=False)
    assert cfg.ARCTIC_test_sample_interval == 10 and cfg.RenBody_HiRes_test_sample_interval == 10
    assert cfg.ARCTIC_train_sample_interval == 10 and cfg.BEDLAM_test_sample_interval == 1
    write_humandata(tmp_path, human_model_path, name="ARCTIC", file="arctic_test.npz", n=21, seed=50)
    ds = ARCTIC.from_config(cfg, "test")
    assert ds.records.source[:, 1].tolist() == [0, 10, 20]
