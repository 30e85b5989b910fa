"""Body model wrapper, joint tables and the synthetic SMPL-X/SMPL files."""
from __future__ import annotations

import pickle
import re
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from common.utils import joint_sets as js
from common.utils.human_models import (SMPL, SMPLX, BodyModelError, BodyModelFileError, BodyModelFilesMissing,
                                       get_smpl, get_smplx, load_chumpy_pickle, load_face_vertex_ids,
                                       load_hand_vertex_ids, load_j14_regressor)
from data.synthetic.body_model_files import SMPLX_REST_JOINTS


def _params(batch, seed=0, scale=0.3):
    g = torch.Generator().manual_seed(seed)
    r = lambda n: torch.randn(batch, n, generator=g) * scale  # noqa: E731
    return dict(global_orient=r(3), body_pose=r(63), left_hand_pose=r(45), right_hand_pose=r(45),
                jaw_pose=r(3), betas=r(10) * 3, expression=r(10) * 3)


def test_joint_tables_sizes_and_parts():
    assert len(js.SMPLX_TO_JOINT_SET) == 137
    # the eye keypoints appear twice: as body joints L_Eye/R_Eye and as face eyeballs Face_3/Face_4
    src = list(js.SMPLX_TO_JOINT_SET)
    assert sorted(i for i in set(src) if src.count(i) > 1) == [56, 57]
    assert src[js.JOINT_NAMES.index("Face_3")] == src[js.JOINT_NAMES.index("L_Eye")] == 57
    assert max(js.SMPLX_TO_JOINT_SET) == 143
    sizes = {k: b - a for k, (a, b) in js.JOINT_PARTS.items()}
    assert sizes == {"body": 25, "lhand": 20, "rhand": 20, "hand": 40, "face": 72}
    assert js.JOINT_NAMES[js.ROOT_IDX] == "Pelvis" and js.JOINT_NAMES[js.NECK_IDX] == "Neck"
    assert js.JOINT_NAMES[js.LWRIST_IDX] == "L_Wrist" and js.JOINT_NAMES[js.RWRIST_IDX] == "R_Wrist"
    assert [js.JOINT_NAMES[25 + i] for i in js.HAND_MCP_IDX] == ["L_Index_1", "L_Middle_1", "L_Ring_1",
                                                                 "L_Pinky_1"]
    assert js.ROT_JOINT_NAMES[22] == "L_Index_1" and js.ROT_JOINT_NAMES[-1] == "Jaw"


@pytest.mark.parametrize("pairs,n", [(js.FLIP_PAIRS, 137), (js.ROT_FLIP_PAIRS, 53)])
def test_flip_pairs_are_involutions(pairs, n):
    perm = np.arange(n)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    assert len({i for p in pairs for i in p}) == 2 * len(pairs)  # disjoint
    np.testing.assert_array_equal(perm[perm], np.arange(n))


def test_flip_pairs_swap_left_and_right_names():
    for names, pairs in ((js.JOINT_NAMES, js.FLIP_PAIRS[:31]), (js.ROT_JOINT_NAMES, js.ROT_FLIP_PAIRS)):
        for a, b in pairs:
            assert names[a].replace("L_", "R_", 1) == names[b], (names[a], names[b])


def test_synthetic_smplx_gives_144_joints_and_137_subset(human_model_path):
    model = get_smplx(human_model_path)
    out = model(**_params(2))
    assert out.vertices.shape == (2, 10475, 3) and out.joints.shape == (2, 144, 3)
    assert out["vertices"] is out.vertices
    assert model.faces.shape == (20908, 3) and model.faces.max() < 10475
    sel = out.joints[:, list(js.SMPLX_TO_JOINT_SET)]
    assert sel.shape == (2, 137, 3) and torch.isfinite(sel).all()


def test_regressor_recovers_rest_joints(human_model_path):
    model = get_smplx(human_model_path)
    p = {k: torch.zeros_like(v) for k, v in _params(1).items()}
    # undo the mean hand pose (flat_hand_mean=False) to get the true rest pose
    p["left_hand_pose"] = -model.left_hand_mean[None]
    p["right_hand_pose"] = -model.right_hand_mean[None]
    joints = model(**p).joints[0, :55].numpy()
    np.testing.assert_allclose(joints, SMPLX_REST_JOINTS, atol=1e-5)


def test_batch_of_seven_equals_seven_batches_of_one(human_model_path):
    model = get_smplx(human_model_path)
    params = _params(7, seed=3)
    full = model(**params)
    for i in range(7):
        one = model(**{k: v[i:i + 1] for k, v in params.items()})
        torch.testing.assert_close(one.vertices[0], full.vertices[i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(one.joints[0], full.joints[i], atol=1e-5, rtol=1e-5)


def test_transl_and_autocast(human_model_path):
    model = get_smplx(human_model_path)
    params = _params(2, seed=1)
    base = model(**params)
    shifted = model(**params, transl=torch.tensor([[1.0, 2.0, 3.0]]).repeat(2, 1))
    torch.testing.assert_close(shifted.vertices - base.vertices,
                               torch.tensor([1.0, 2.0, 3.0]).expand_as(base.vertices), atol=1e-5, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**{k: v.bfloat16() for k, v in params.items()})
    assert out.vertices.dtype == torch.float32
    torch.testing.assert_close(out.vertices, base.vertices, atol=2e-2, rtol=0)


def test_skinning_is_local(human_model_path):
    """Bending the left elbow moves the left hand, not the right hand or the head."""
    model = get_smplx(human_model_path)
    ids = load_hand_vertex_ids(human_model_path)
    face = load_face_vertex_ids(human_model_path)
    p = {k: torch.zeros_like(v) for k, v in _params(1).items()}
    rest = model(**p).vertices[0]
    p["body_pose"] = p["body_pose"].clone()
    p["body_pose"][0, (18 - 1) * 3 + 1] = 1.2  # L_Elbow about y
    bent = model(**p).vertices[0]
    moved = (bent - rest).norm(dim=-1)
    assert moved[ids["left_hand"]].min() > 0.05
    assert moved[ids["right_hand"]].max() < 1e-6 and moved[face].max() < 1e-6


def test_vertex_id_files(human_model_path):
    ids = load_hand_vertex_ids(human_model_path)
    face = load_face_vertex_ids(human_model_path)
    assert ids["left_hand"].shape == (778,) and ids["right_hand"].shape == (778,) and face.shape == (5023,)
    all_ids = np.concatenate([ids["left_hand"], ids["right_hand"], face])
    assert len(np.unique(all_ids)) == len(all_ids) and all_ids.max() < 10475
    # the finger-tip vertices smplx uses for the extra joints belong to the hands
    assert {5361, 4933, 5058, 5169, 5286} <= set(ids["left_hand"].tolist())
    assert {8079, 7669, 7794, 7905, 8022} <= set(ids["right_hand"].tolist())
    j14 = load_j14_regressor(human_model_path)
    assert j14.shape == (14, 10475)
    np.testing.assert_allclose(j14.sum(1), 1.0, atol=1e-5)


def test_smpl_loads_and_poses(human_model_path):
    smpl = get_smpl(human_model_path, "female")
    assert isinstance(smpl, SMPL)
    out = smpl(global_orient=torch.zeros(3, 3), body_pose=torch.randn(3, 69) * 0.2, betas=torch.zeros(3, 10))
    assert out.vertices.shape == (3, 6890, 3) and out.joints.shape == (3, 24, 3)
    assert smpl.faces.shape == (13776, 3)


def test_missing_files_error_names_every_file(tmp_path):
    with pytest.raises(BodyModelFilesMissing) as exc:
        get_smplx(tmp_path, "male")
    msg = str(exc.value)
    assert "smplx/SMPLX_MALE.npz" in msg and str(tmp_path) in msg
    assert "smpl-x.is.tue.mpg.de" in msg and "human_model_path" in msg
    with pytest.raises(BodyModelFilesMissing, match="MANO_SMPLX_vertex_ids.pkl"):
        load_hand_vertex_ids(tmp_path)


def _damaged_copy(human_model_path, tmp_path, edit):
    """A copy of the synthetic smplx/ folder whose SMPLX_NEUTRAL.npz went through ``edit(path)``."""
    dst = tmp_path / "human_model_files"
    shutil.copytree(human_model_path / "smplx", dst / "smplx")
    path = dst / "smplx" / "SMPLX_NEUTRAL.npz"
    edit(path)
    return dst, path


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _drop_j_regressor(path):
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "J_regressor"}
    np.savez(path, **arrays)


def _corrupt_member(path):
    """Central directory intact, compressed bytes of the arrays overwritten: fails only when smplx reads."""
    data = bytearray(path.read_bytes())
    start = len(data) // 4
    data[start:start + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("edit, problem", [
    (_truncate, r"cannot be read \(BadZipFile: .*truncated or corrupt"),
    (_drop_j_regressor, r"has no J_regressor \(it holds .*v_template.*\); it is not a complete SMPL-X model file"),
    (_corrupt_member, r"cannot be read \(\w+: .*truncated or corrupt"),
])
def test_damaged_smplx_file_gives_one_message_naming_it(human_model_path, tmp_path, edit, problem):
    model_dir, path = _damaged_copy(human_model_path, tmp_path, edit)
    with pytest.raises(BodyModelFileError) as exc:
        SMPLX(model_dir)
    assert str(exc.value).startswith(f"Body model file {path} ")
    assert re.search(problem, str(exc.value)), str(exc.value)
    assert "smpl-x.is.tue.mpg.de" in str(exc.value) and "human_model_path" in str(exc.value)
    assert isinstance(exc.value, BodyModelError) and not isinstance(exc.value, BodyModelFilesMissing)


def test_damaged_pickles_name_the_file(tmp_path):
    smplx_dir = tmp_path / "smplx"
    smplx_dir.mkdir()
    for name, loader in (("MANO_SMPLX_vertex_ids.pkl", load_hand_vertex_ids), ("SMPLX_to_J14.pkl", load_j14_regressor)):
        (smplx_dir / name).write_bytes(pickle.dumps({"left_hand": np.arange(3)})[:10])  # truncated
        with pytest.raises(BodyModelFileError, match=f"{smplx_dir / name} cannot be read"):
            loader(tmp_path)
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(BodyModelFileError, match="holds a list, not the dict of an SMPL model"):
        SMPL(tmp_path)


def test_chumpy_pickles_load_without_chumpy(tmp_path, monkeypatch):
    """Official SMPL pickles hold chumpy objects; we load them with chumpy absent."""
    fake = types.ModuleType("chumpy.ch")

    class Ch:  # stands in for chumpy.ch.Ch while *writing* the pickle
        def __init__(self, x):
            self.x = x
    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    fake.Ch = Ch
    monkeypatch.setitem(sys.modules, "chumpy", types.ModuleType("chumpy"))
    monkeypatch.setitem(sys.modules, "chumpy.ch", fake)
    arr = np.arange(12.0).reshape(4, 3)
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump({"shapedirs": Ch(arr), "f": np.zeros((2, 3), np.uint32)}, f, protocol=2)
    monkeypatch.delitem(sys.modules, "chumpy.ch")
    monkeypatch.delitem(sys.modules, "chumpy")
    data = load_chumpy_pickle(path)
    np.testing.assert_array_equal(data["shapedirs"], arr)
    assert data["f"].shape == (2, 3)


def test_first_use_under_inference_mode_does_not_break_autograd(human_model_path):
    """A layer first built inside torch.inference_mode() must still serve gradient-tracked calls."""
    from common.utils.human_models import SMPLX
    with torch.inference_mode():
        model = SMPLX(human_model_path)  # a fresh instance, not the cached one
        model(**_params(1))
    params = {k: v.requires_grad_() for k, v in _params(1).items()}
    model(**params).vertices.sum().backward()
    assert params["body_pose"].grad is not None
