"""SMPL-X and keypoint target construction (data/targets.py) on hand-checkable cases."""
import cv2
import numpy as np
import pytest

from common.utils import joint_sets as js
from data.smplx_joints import get_smplx_joints
from data.targets import SmplxParams, process_db_coord, process_human_model_output, source_joint_img
from common.utils.crop import apply_affine, generate_patch_image
from data.transforms import crop_to_heatmap
from tests.fixtures.humandata import FOCAL, PRINCPT, project, random_params, smplx_joints144

BOX = np.array([60.0, 20.0, 150.0, 200.0], np.float32)  # aspect 0.75, inside a 240 x 320 image


def params_of(raw, i=0, **overrides):
    p = SmplxParams(root_pose=raw["global_orient"][i].reshape(-1), body_pose=raw["body_pose"][i].reshape(-1),
                    lhand_pose=raw["left_hand_pose"][i].reshape(-1), rhand_pose=raw["right_hand_pose"][i].reshape(-1),
                    jaw_pose=raw["jaw_pose"][i].reshape(-1), shape=raw["betas"][i].reshape(-1),
                    expr=raw["expression"][i].reshape(-1), trans=raw["transl"][i].reshape(-1))
    for k, v in overrides.items():
        setattr(p, k, v)
    return p


@pytest.fixture(scope="module")
def person(human_model_path):
    raw = random_params(1, np.random.default_rng(31))
    joints = smplx_joints144(human_model_path, raw)[0][list(js.SMPLX_TO_JOINT_SET)]
    _, trans, _ = generate_patch_image(np.zeros((240, 320, 3), np.uint8), BOX, 1.0, 0.0, False)
    return raw, joints, trans, get_smplx_joints(human_model_path)


def test_intrinsics_projection_equals_keypoint_path(person):
    raw, joints, trans, model = person
    cam = {"focal": np.array(FOCAL), "princpt": np.array(PRINCPT)}
    a = process_human_model_output(params_of(raw), cam, False, 320, trans, 0.0, model)
    b = process_human_model_output(params_of(raw), None, False, 320, trans, 0.0, model,
                                   joint_img=source_joint_img(project(joints), joints))
    np.testing.assert_allclose(a["joint_img"], b["joint_img"], atol=1e-3)
    np.testing.assert_array_equal(a["joint_trunc"], b["joint_trunc"])  # 3D keypoints: source depth > 0
    expected = crop_to_heatmap(apply_affine(project(joints), trans))
    np.testing.assert_allclose(a["joint_img"][:, :2], expected, atol=1e-3)
    with pytest.raises(ValueError, match="intrinsics"):
        process_human_model_output(params_of(raw), None, False, 320, trans, 0.0, model)


def test_extrinsics_rotate_the_body_about_its_root_and_move_the_root(person):
    raw, joints, trans, model = person
    rot, _ = cv2.Rodrigues(np.array([0.0, 0.5, 0.1]))
    t = np.array([0.2, -0.1, 0.3])
    cam = {"R": rot, "t": t, "focal": np.array(FOCAL), "princpt": np.array(PRINCPT)}
    out = process_human_model_output(params_of(raw), cam, False, 320, trans, 0.0, model)
    rel = joints - joints[js.ROOT_IDX]
    np.testing.assert_allclose(out["joint_cam"][:25], rel[:25] @ rot.T, atol=1e-4)  # body: root-relative
    root = rot @ joints[js.ROOT_IDX] + t
    expected = crop_to_heatmap(apply_affine(project(root[None]), trans))[0]
    np.testing.assert_allclose(out["joint_img"][js.ROOT_IDX, :2], expected, atol=1e-3)
    r_in, _ = cv2.Rodrigues(raw["global_orient"][0].astype(np.float64))
    r_out, _ = cv2.Rodrigues(out["pose"][:3].astype(np.float64))
    np.testing.assert_allclose(r_out, rot @ r_in, atol=1e-5)


def test_missing_parts_and_wild_betas(person):
    raw, joints, trans, model = person
    p = params_of(raw, lhand_valid=False, face_valid=False, shape=np.full(10, 3.5, np.float32))
    src = source_joint_img(project(joints), joints)
    out = process_human_model_output(p, None, False, 320, trans, 0.0, model, joint_img=src)
    lh, face = slice(*js.JOINT_PARTS["lhand"]), slice(*js.JOINT_PARTS["face"])
    assert not out["joint_valid"][lh].any() and not out["joint_valid"][face].any()
    assert out["joint_valid"][slice(*js.JOINT_PARTS["rhand"])].all()
    pose_valid = out["pose_valid"].reshape(53, 3)[:, 0]
    assert not pose_valid[22:37].any() and pose_valid[37:52].all() and pose_valid[52] == 0
    assert not out["pose"].reshape(53, 3)[22:37].any()
    assert out["expr_valid"] == 0 and not out["expr"].any()
    assert out["shape_valid"] == 0 and not out["shape"].any()  # |beta| > 3: treated as a failed fit
    flipped = process_human_model_output(p, None, True, 320, trans, 0.0, model, joint_img=src)
    pose_valid = flipped["pose_valid"].reshape(53, 3)[:, 0]
    assert pose_valid[22:37].all() and not pose_valid[37:52].any()  # validity follows the mirrored hand
    assert flipped["joint_valid"][lh].all() and not flipped["joint_valid"][slice(*js.JOINT_PARTS["rhand"])].any()


def test_db_coord_targets_and_depth(person):
    _, joints, trans, _ = person
    valid = np.ones(137, np.float32)
    out = process_db_coord(project(joints), joints, valid, False, 320, trans, 0.0)
    two_d = process_db_coord(project(joints), None, valid, False, 320, trans, 0.0)
    assert not two_d["joint_cam"].any() and not two_d["joint_trunc"].any()  # depth 0 -> no 2D supervision
    rel = joints - joints[js.ROOT_IDX]
    np.testing.assert_allclose(out["joint_cam_ra"][slice(*js.JOINT_PARTS["face"])],
                               rel[slice(*js.JOINT_PARTS["face"])] - rel[js.NECK_IDX], atol=1e-5)
    depth = (rel[:, 2] / 1.0 + 1.0) / 2.0 * 16
    np.testing.assert_allclose(out["joint_img"][:, 2], depth, atol=1e-4)
