"""HumanData loading and item construction (SPEC §4.1, §4.2) on tiny files built from the synthetic
SMPL-X body model (tests/fixtures/humandata.py)."""
import random

import numpy as np
import pytest
import torch

from common.utils import joint_sets as js
from data.Synthetic.Synthetic import Synthetic
from common.utils.crop import apply_affine, generate_patch_image
from data.transforms import NO_AUG, crop_to_heatmap, flip_axis_angle_pose
from tests.fixtures.humandata import FOCAL, PRINCPT, project

ONES3 = np.ones(3, np.float32)

TRAIN_KEYS = {
    "inputs": {"img": (3, 512, 384)},
    "targets": {"joint_img": (137, 3), "smplx_joint_img": (137, 3), "joint_cam": (137, 3),
                "smplx_joint_cam": (137, 3), "smplx_pose": (159,), "smplx_shape": (10,), "smplx_expr": (10,),
                **{f"{p}_bbox_{k}": (2,) for p in ("lhand", "rhand", "face") for k in ("center", "size")}},
    "meta_info": {"joint_valid": (137, 1), "joint_trunc": (137, 1), "smplx_joint_valid": (137, 1),
                  "smplx_joint_trunc": (137, 1), "smplx_pose_valid": (159,), "smplx_shape_valid": (),
                  "smplx_expr_valid": (), "is_3D": (),
                  **{f"{p}_bbox_valid": () for p in ("lhand", "rhand", "face")}},
}


def make(root, hmp, split="train", **kw):
    kw.setdefault("cache_dir", None)
    kw.setdefault("use_cache", False)
    return Synthetic(split, data_dir=root, human_model_path=hmp, **kw)


def smplx_from_targets(hmp, targets, transl=None):
    """(137, 3) joints of the SMPL-X target parameters of an item."""
    from common.utils.human_models import get_smplx
    pose = torch.from_numpy(np.asarray(targets["smplx_pose"])).reshape(1, -1)
    kw = dict(global_orient=pose[:, :3], body_pose=pose[:, 3:66], left_hand_pose=pose[:, 66:111],
              right_hand_pose=pose[:, 111:156], jaw_pose=pose[:, 156:159],
              betas=torch.from_numpy(targets["smplx_shape"])[None],
              expression=torch.from_numpy(targets["smplx_expr"])[None])
    if transl is not None:
        kw["transl"] = torch.as_tensor(transl, dtype=torch.float32).reshape(1, 3)
    with torch.no_grad():
        joints = get_smplx(hmp)(**kw).joints[0].numpy()
    return joints[list(js.SMPLX_TO_JOINT_SET)]


def test_train_item_has_exactly_the_spec_keys_and_shapes(humandata_dir, human_model_path):
    root, _ = humandata_dir
    ds = make(root, human_model_path)
    assert len(ds) == 6
    item = ds[0]
    for group, got in zip(TRAIN_KEYS, item):
        assert set(got) == set(TRAIN_KEYS[group]), group
        for key, shape in TRAIN_KEYS[group].items():
            assert np.shape(got[key]) == shape, key
            assert np.asarray(got[key]).dtype == np.float32, key
    img = item[0]["img"]
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.std() > 0.05
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch[1]["joint_img"].shape == (2, 137, 3) and batch[2]["is_3D"].shape == (2,)


def test_test_item_keys(humandata_dir, human_model_path):
    root, info = humandata_dir
    ds = make(root, human_model_path, split="test")
    inputs, targets, meta = ds[2]
    assert set(inputs) == {"img"} and inputs["img"].shape == (3, 512, 384)
    assert {k: np.shape(v) for k, v in targets.items()} == {
        "smplx_pose": (159,), "smplx_shape": (10,), "smplx_expr": (10,), "smplx_cam_trans": (3,)}
    assert set(meta) == {"img_path", "bb2img_trans", "gt_smplx_transl", "sample_idx"}
    assert meta["bb2img_trans"].shape == (2, 3) and int(meta["sample_idx"]) == 2
    assert meta["img_path"].endswith(info["image_paths"][2])
    np.testing.assert_allclose(targets["smplx_cam_trans"], info["params"]["transl"][2])
    np.testing.assert_allclose(targets["smplx_pose"][3:66], info["params"]["body_pose"][2].reshape(-1))
    batch = torch.utils.data.default_collate([ds[0], ds[1]])
    assert batch[2]["img_path"][1].endswith(info["image_paths"][1])


EYEBALL_SWAP = np.arange(137)
EYEBALL_SWAP[[67, 68]] = [68, 67]  # Face_3 / Face_4 (SPEC §6.4)


@pytest.mark.parametrize("index,fix_eyeballs", [(0, True), (3, True), (3, False)])
def test_projected_smplx_joint_lands_on_its_2d_target(humandata_dir, human_model_path, index, fix_eyeballs):
    """SMPL-X of the item's parameter targets, projected with the camera and mapped into the crop, is at
    the item's 2D keypoint target (all 137 joints); the 3D targets agree too. By default the eyeball
    keypoints are read swapped, as the original's HumanData table does (SPEC §6.4)."""
    root, info = humandata_dir
    ds = make(root, human_model_path, no_aug=True, fix_eyeball_swap=fix_eyeballs)
    _, targets, meta = ds[index]
    joints = smplx_from_targets(human_model_path, targets, info["params"]["transl"][index])
    _, trans, _ = generate_patch_image(np.zeros((240, 320, 3), np.uint8), ds.records.bbox[index], *NO_AUG[:2],
                                       False)
    order = np.arange(137) if fix_eyeballs else EYEBALL_SWAP
    expected = crop_to_heatmap(apply_affine(project(joints, FOCAL, PRINCPT), trans))[order]
    valid = meta["joint_valid"][:, 0] > 0
    assert valid.all()
    np.testing.assert_allclose(targets["joint_img"][:, :2], expected, atol=2e-3)
    rel = joints - joints[js.ROOT_IDX]
    np.testing.assert_allclose(targets["joint_cam"], rel[order], atol=1e-4)
    assert meta["joint_trunc"].sum() > 100  # most joints inside the crop and the depth range


def test_rotation_and_scale_keep_keypoints_pose_and_boxes_consistent(humandata_dir, human_model_path):
    root, _ = humandata_dir
    ds = make(root, human_model_path, fix_eyeball_swap=True)  # keypoints and SMPL-X joints in one order
    scale, rot = 0.85, 90.0
    _, base, _ = ds.build_item(1, NO_AUG)
    _, aug, meta = ds.build_item(1, (scale, rot, ONES3, False))
    a = np.deg2rad(-rot)
    rmat = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], np.float32)
    centre = np.array([6.0, 8.0])  # crop centre in heatmap units
    expect_xy = (base["joint_img"][:, :2] - centre) @ rmat.T / scale + centre
    np.testing.assert_allclose(aug["joint_img"][:, :2], expect_xy, atol=1e-3)
    np.testing.assert_allclose(aug["joint_img"][:, 2], base["joint_img"][:, 2], atol=1e-5)
    # 3D keypoints rotate with R_z(-rot), and so does the body posed with the rotated root target.
    rz = np.eye(3, dtype=np.float32)
    rz[:2, :2] = rmat
    np.testing.assert_allclose(aug["joint_cam"], base["joint_cam"] @ rz.T, atol=1e-4)
    posed = smplx_from_targets(human_model_path, aug)
    np.testing.assert_allclose(posed - posed[0], aug["joint_cam"], atol=1e-4)
    # Boxes: centres rotate about the crop centre; a 90 degree turn swaps width and height.
    for part in ("lhand", "rhand", "face"):
        c = (base[f"{part}_bbox_center"] - centre) @ rmat.T / scale + centre
        np.testing.assert_allclose(aug[f"{part}_bbox_center"], c, atol=1e-3)
        np.testing.assert_allclose(aug[f"{part}_bbox_size"], base[f"{part}_bbox_size"][::-1] / scale, atol=1e-3)
        assert meta[f"{part}_bbox_valid"] == 1.0


def mirror_targets(t, m):
    """What flipping does to the targets of an unflipped item (crop column u -> 384 - u)."""
    out = {}
    for key in ("joint_img", "smplx_joint_img"):
        j = t[key].copy()
        j[:, 0] = 12.0 - j[:, 0]
        out[key] = j[np.argsort(_flip_perm())]
    for key in ("joint_cam", "smplx_joint_cam"):
        out[key] = (t[key] * [-1, 1, 1])[np.argsort(_flip_perm())]
    out["smplx_pose"] = flip_axis_angle_pose(t["smplx_pose"].reshape(53, 3), js.ROT_FLIP_PAIRS).reshape(-1)
    for a, b in (("lhand", "rhand"), ("rhand", "lhand"), ("face", "face")):
        c = t[f"{b}_bbox_center"].copy()
        c[0] = 12.0 - c[0]
        out[f"{a}_bbox_center"], out[f"{a}_bbox_size"] = c, t[f"{b}_bbox_size"]
    out["joint_valid"] = m["joint_valid"][np.argsort(_flip_perm())]
    return out


def _flip_perm():
    perm = np.arange(137)
    for a, b in js.FLIP_PAIRS:
        perm[a], perm[b] = b, a
    return perm


def test_flip_is_a_mirror_and_flipping_twice_restores(humandata_dir, human_model_path):
    root, _ = humandata_dir
    ds = make(root, human_model_path)
    _, base, base_meta = ds.build_item(2, (1.0, 20.0, ONES3, False))
    _, flipped, flip_meta = ds.build_item(2, (1.0, -20.0, ONES3, True))  # mirror turns +r into -r
    expected = mirror_targets(base, base_meta)
    for key, value in expected.items():
        got = flip_meta[key] if key == "joint_valid" else flipped[key]
        np.testing.assert_allclose(got, value, atol=2e-3, err_msg=key)
    # Mirroring the flipped targets once more gives back the original ones.
    twice = mirror_targets(flipped, flip_meta)
    for key in expected:
        ref = base_meta[key] if key == "joint_valid" else base[key]
        np.testing.assert_allclose(twice[key], ref, atol=2e-3, err_msg=key)


def test_two_d_only_file_uses_smplx_for_3d_targets(tmp_path, human_model_path):
    from tests.fixtures.humandata import write_humandata
    write_humandata(tmp_path, human_model_path, n=2, seed=3, with_3d=False)
    _, targets, meta = make(tmp_path, human_model_path, no_aug=True)[0]
    assert meta["is_3D"] == 0.0
    assert not targets["joint_cam"].any()
    assert meta["joint_trunc"].sum() == 0  # original rule: no 2D supervision at depth 0 (SPEC §7.11)
    assert meta["smplx_joint_valid"].all()
    posed = smplx_from_targets(human_model_path, targets)
    rel = posed - posed[js.ROOT_IDX]
    np.testing.assert_allclose(targets["smplx_joint_cam"][:25], rel[:25], atol=1e-4)
    np.testing.assert_allclose(targets["smplx_joint_cam"][25:45], rel[25:45] - rel[js.LWRIST_IDX], atol=1e-4)


def test_compressed_keypoints_are_unpacked(tmp_path, human_model_path):
    from tests.fixtures.humandata import write_humandata
    write_humandata(tmp_path, human_model_path, n=2, seed=4, compressed=True)
    plain = tmp_path / "plain"
    write_humandata(plain, human_model_path, n=2, seed=4)
    a = make(tmp_path, human_model_path).records
    b = make(plain, human_model_path).records
    masked = np.isin(np.asarray(js.SMPLX_TO_JOINT_SET), [30, 100, 140])
    assert masked.sum() == 3
    assert (a.kp_valid[:, masked] == 0).all() and (a.kp_valid[:, ~masked] == 1).all()
    np.testing.assert_allclose(a.kp2d[:, ~masked], b.kp2d[:, ~masked])
    np.testing.assert_allclose(a.kp3d[:, ~masked], b.kp3d[:, ~masked])
    assert not a.kp2d[:, masked].any()


def test_balance_shuffle_matches_python_random(tmp_path, human_model_path):
    from tests.fixtures.humandata import write_humandata
    info = write_humandata(tmp_path, human_model_path, n=7, seed=5)
    ds = make(tmp_path, human_model_path, shuffle=True)
    order = list(range(7))
    random.seed(2023)
    random.shuffle(order)
    assert [p.decode() for p in ds.records.image_path] == [info["image_paths"][i] for i in order]


def test_sample_interval(tmp_path, human_model_path):
    from tests.fixtures.humandata import write_humandata
    write_humandata(tmp_path, human_model_path, n=7, seed=6)
    ds = make(tmp_path, human_model_path, sample_interval=3)
    assert ds.records.source[:, 1].tolist() == [0, 3, 6]


def test_cache_is_used_and_invalidated(tmp_path, human_model_path, monkeypatch):
    from data import humandata_io
    from tests.fixtures.humandata import write_humandata
    write_humandata(tmp_path, human_model_path, n=3, seed=7)
    first = make(tmp_path, human_model_path, use_cache=True, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("Synthetic_train_*.npz"))) == 1

    def boom(*a, **k):
        raise AssertionError("parsed although a valid cache exists")

    real = humandata_io.parse_humandata_file
    monkeypatch.setattr(humandata_io, "parse_humandata_file", boom)
    second = make(tmp_path, human_model_path, use_cache=True, cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(second.records.kp2d, first.records.kp2d)
    assert second.records.image_path.tolist() == first.records.image_path.tolist()
    # A changed source file (new size/mtime) misses the cache and is parsed again.
    write_humandata(tmp_path, human_model_path, n=5, seed=8)
    with pytest.raises(AssertionError, match="parsed although"):
        make(tmp_path, human_model_path, use_cache=True, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(humandata_io, "parse_humandata_file", real)
    assert len(make(tmp_path, human_model_path, use_cache=True, cache_dir=tmp_path / "cache")) == 5


def test_smpl_source_ignores_meta_gender(tmp_path, human_model_path):
    from tests.fixtures.humandata import write_humandata
    info = write_humandata(tmp_path, human_model_path, n=2, seed=9)
    with np.load(info["path"], allow_pickle=True) as z:
        content = dict(z)
    p = info["params"]
    body69 = np.concatenate([p["body_pose"].reshape(2, 63), np.full((2, 6), 0.5, np.float32)], axis=1)
    content.pop("smplx")
    content["smpl"] = np.array({"global_orient": p["global_orient"], "body_pose": body69, "betas": p["betas"],
                                "transl": p["transl"]}, dtype=object)
    content["meta"] = np.array({"height": np.full(2, 240), "width": np.full(2, 320),
                                "gender": np.array(["female", "m"])}, dtype=object)
    np.savez(info["path"], **content)
    ds = make(tmp_path, human_model_path)
    a, b = ds.smplx_params(0), ds.smplx_params(1)
    assert (a.gender, b.gender) == ("neutral", "neutral")  # meta['gender'] is never read (SPEC §4.1)
    np.testing.assert_allclose(a.body_pose, p["body_pose"][0].reshape(-1))  # SMPL's 23 joints -> first 21
    assert not a.shape.any()  # SMPL betas do not fit SMPL-X: shape unsupervised
    assert not (a.lhand_valid or a.rhand_valid or a.face_valid)
    _, targets, meta = ds[0]
    assert meta["smplx_shape_valid"] == 0 and meta["smplx_expr_valid"] == 0
    assert meta["smplx_pose_valid"][:66].all() and not meta["smplx_pose_valid"][66:].any()
