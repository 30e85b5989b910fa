"""Crop geometry, augmentation draws and flip helpers of data/transforms.py."""
import numpy as np
import pytest

from common.utils import joint_sets as js
from common.utils.crop import apply_affine, generate_patch_image, process_bbox, process_bbox_batch
from data.transforms import flip_axis_angle_pose, flip_points_x, get_aug_config, rotate_root_pose, swap_pairs


def test_process_bbox_by_hand():
    # Sanitised: x1=10, y1=20, x2=min(99, 10+29)=39, y2=min(99, 20+39)=59 -> w=29, h=39, centre (24.5, 39.5).
    # w < 0.75*h -> w = 0.75*39 = 29.25; then x1.25 -> (36.5625, 48.75).
    out = process_bbox(np.array([10, 20, 30, 40, 0.9]), 100, 100, ratio=1.25)
    w, h = 36.5625, 48.75
    np.testing.assert_allclose(out, [24.5 - w / 2, 39.5 - h / 2, w, h], rtol=1e-6)
    # A wide box gets its height enlarged instead.
    wide = process_bbox(np.array([0, 0, 81, 31]), 1000, 1000, ratio=1.0)
    np.testing.assert_allclose(wide[2:], [80, 80 / 0.75], rtol=1e-6)
    # Clamping at the right/bottom border: x2 = y2 = 99 -> 9 x 9, then h = 9 / 0.75 = 12.
    clamped = process_bbox(np.array([90, 90, 50, 50]), 100, 100, ratio=1.0)
    np.testing.assert_allclose(clamped, [90, 88.5, 9, 12], rtol=1e-6)


@pytest.mark.parametrize("box", [[200, 10, 30, 30], [10, 10, 0, 30], [10, 10, 30, -5], [np.nan, 0, 10, 10],
                                 [-50, -50, 20, 20], [10, 150, 20, 20]])
def test_process_bbox_rejects_boxes_without_area_in_image(box):
    assert process_bbox(np.array(box, float), 100, 100) is None


def test_process_bbox_batch_matches_single():
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(-20, 120, (50, 2)), rng.uniform(-5, 60, (50, 2))], axis=1)
    out, ok = process_bbox_batch(boxes, 100, 80, ratio=1.1)
    for b, o, k in zip(boxes, out, ok):
        single = process_bbox(b, 100, 80, ratio=1.1)
        assert (single is not None) == k
        if k:
            np.testing.assert_allclose(o, single)


def test_aug_config_ranges_and_reproducibility():
    draws = [get_aug_config(np.random.default_rng([7, i])) for i in range(2000)]
    scale = np.array([d[0] for d in draws])
    rot = np.array([d[1] for d in draws])
    color = np.stack([d[2] for d in draws])
    flip = np.array([d[3] for d in draws])
    assert scale.min() >= 0.75 and scale.max() <= 1.25 and scale.std() > 0.1
    assert np.abs(rot).max() <= 60 and 0.3 < (rot == 0).mean() < 0.5  # rotation with probability 0.6
    assert color.min() >= 0.8 and color.max() <= 1.2 and color.shape == (2000, 3)
    assert 0.45 < flip.mean() < 0.55
    a, b = get_aug_config(np.random.default_rng(3)), get_aug_config(np.random.default_rng(3))
    assert a[:2] == b[:2] and a[3] == b[3] and np.array_equal(a[2], b[2])


def _dot_image(h=300, w=400, points=((150, 120),)):
    img = np.zeros((h, w, 3), np.uint8)
    for x, y in points:
        img[y - 2:y + 3, x - 2:x + 3] = 255
    return img


def _brightest(patch):
    g = patch.astype(float).sum(axis=2)
    ys, xs = np.nonzero(g >= g.max() * 0.5)
    w = g[ys, xs]
    return np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])


def test_patch_maps_box_to_crop_and_inverse():
    bbox = np.array([100, 50, 150, 200], np.float32)  # aspect 0.75 already
    patch, trans, inv = generate_patch_image(_dot_image(), bbox, 1.0, 0.0, False)
    assert patch.shape == (512, 384, 3)
    corners = np.array([[100, 50], [250, 250]], np.float32)
    np.testing.assert_allclose(apply_affine(corners, trans), [[0, 0], [384, 512]], atol=1e-3)
    pts = np.random.default_rng(0).uniform(0, 300, (10, 2))
    np.testing.assert_allclose(apply_affine(apply_affine(pts, trans), inv), pts, atol=1e-3)


@pytest.mark.parametrize("scale,rot", [(1.0, 30.0), (0.8, -45.0), (1.2, 90.0)])
def test_patch_content_follows_keypoint_transform(scale, rot):
    """The dot drawn at an image point appears in the crop where `trans` sends that point."""
    point = (150, 120)
    bbox = np.array([100, 50, 150, 200], np.float32)
    patch, trans, _ = generate_patch_image(_dot_image(points=(point,)), bbox, scale, rot, False)
    expected = apply_affine(np.array([point], np.float32), trans)[0]
    np.testing.assert_allclose(_brightest(patch), expected, atol=1.0)
    # Rotation/scale about the crop centre: offset = R(-rot) * offset_unaugmented / scale.
    _, t0, _ = generate_patch_image(_dot_image(), bbox, 1.0, 0.0, False)
    base = apply_affine(np.array([point], np.float32), t0)[0] - [192, 256]
    a = np.deg2rad(-rot)
    rotated = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) @ base / scale
    np.testing.assert_allclose(expected - [192, 256], rotated, atol=1e-3)


def test_flipped_patch_is_mirrored_crop():
    img = np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    bbox = np.array([100, 50, 150, 200], np.float32)
    # Mirroring reverses the sense of rotation: flip + rot r is the mirror of the crop with rot -r.
    patch, _, _ = generate_patch_image(img, bbox, 1.0, -10.0, False)
    flipped, trans_f, _ = generate_patch_image(img, bbox, 1.0, 10.0, True)
    # Crop column u of the unflipped patch lands at column 384 - u of the flipped one.
    np.testing.assert_allclose(flipped[:, 1:].astype(int), patch[:, :0:-1].astype(int), atol=1)
    # ... and a point of the original image maps through `trans` after mirroring its x.
    point = np.array([[180.0, 140.0]])
    _, trans, _ = generate_patch_image(img, bbox, 1.0, -10.0, False)
    u = apply_affine(point, trans)[0]
    u_f = apply_affine(flip_points_x(point, 400), trans_f)[0]
    np.testing.assert_allclose(u_f, [384 - u[0], u[1]], atol=1e-3)


def test_flip_helpers_twice_restore():
    rng = np.random.default_rng(2)
    joints = rng.normal(size=(137, 3)).astype(np.float32)
    np.testing.assert_allclose(flip_points_x(flip_points_x(joints, 320), 320), joints, atol=1e-4)
    twice = swap_pairs(swap_pairs(joints, js.FLIP_PAIRS), js.FLIP_PAIRS)
    np.testing.assert_array_equal(twice, joints)
    assert not np.array_equal(swap_pairs(joints, js.FLIP_PAIRS), joints)
    pose = rng.normal(size=(53, 3)).astype(np.float32)
    once = flip_axis_angle_pose(pose, js.ROT_FLIP_PAIRS)
    np.testing.assert_array_equal(once[22], pose[37] * [1, -1, -1])  # left index1 <- mirrored right index1
    np.testing.assert_allclose(flip_axis_angle_pose(once, js.ROT_FLIP_PAIRS), pose)


def test_rotate_root_pose_composes_rotations():
    import cv2
    root = np.array([0.3, -0.5, 1.1], np.float32)
    out = rotate_root_pose(root, 40.0)
    r_out, _ = cv2.Rodrigues(out.astype(np.float64))
    r_in, _ = cv2.Rodrigues(root.astype(np.float64))
    a = np.deg2rad(-40.0)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    np.testing.assert_allclose(r_out, rz @ r_in, atol=1e-5)


def test_color_scale_matches_the_float_formula():
    from data.transforms import apply_color_scale
    patch = np.random.default_rng(3).integers(0, 256, (20, 16, 3), dtype=np.uint8)
    gains = np.array([0.8, 1.2, 1.05], np.float32)
    expected = np.clip(patch.astype(np.float32) * gains, 0, 255).transpose(2, 0, 1) / 255.0
    for src in (patch, patch.astype(np.float32)):
        out = apply_color_scale(src, gains)
        assert out.shape == (3, 20, 16) and out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
        np.testing.assert_allclose(out, expected, atol=1e-6)
