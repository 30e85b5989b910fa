"""6D -> axis-angle (SPEC §1.9) against scipy, and the left-hand mirror of axis-angle."""
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from common.utils.rotation import rot6d_to_axis_angle, rot6d_to_rotmat, unflip_axis_angle


def random_rotations(n, seed, max_angle=3.0):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return Rotation.from_rotvec(axis * rng.uniform(0.0, max_angle, size=(n, 1)))  # away from 180 deg


def gram_schmidt_numpy(six):
    """Independent reference of the SPEC convention: columns a1 = (0, 2, 4), a2 = (1, 3, 5)."""
    a1, a2 = six[:, [0, 2, 4]], six[:, [1, 3, 5]]
    b1 = a1 / np.linalg.norm(a1, axis=1, keepdims=True)
    b2 = a2 - (b1 * a2).sum(1, keepdims=True) * b1
    b2 /= np.linalg.norm(b2, axis=1, keepdims=True)
    return np.stack((b1, b2, np.cross(b1, b2)), axis=2)


def test_exact_rotation_roundtrip():
    rot = random_rotations(500, 0)
    R = rot.as_matrix()
    six = R[:, :, :2].reshape(500, 6)  # row-major 3x2: the first two columns of R
    aa = rot6d_to_axis_angle(torch.tensor(six, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(aa, rot.as_rotvec(), atol=2e-5)


def test_random_6d_matches_scipy():
    rng = np.random.default_rng(1)
    six = rng.normal(size=(400, 6))
    R_ref = gram_schmidt_numpy(six)
    keep = Rotation.from_matrix(R_ref).magnitude() < 3.0
    R = rot6d_to_rotmat(torch.tensor(six)).numpy()
    np.testing.assert_allclose(R, R_ref, atol=1e-10)
    aa = rot6d_to_axis_angle(torch.tensor(six, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(aa[keep], Rotation.from_matrix(R_ref[keep]).as_rotvec(), atol=2e-5)


def test_batched_joint_layout_and_nan_to_zero():
    rot = random_rotations(21, 2)
    six = torch.tensor(rot.as_matrix()[:, :, :2].reshape(1, 21 * 6), dtype=torch.float32)
    aa = rot6d_to_axis_angle(six)
    assert aa.shape == (1, 63)
    np.testing.assert_allclose(aa.reshape(21, 3).numpy(), rot.as_rotvec(), atol=2e-5)
    degenerate = rot6d_to_axis_angle(torch.zeros(2, 12))
    assert torch.isfinite(degenerate).all() and degenerate.shape == (2, 6)


def test_bf16_input_gives_float32():
    six = torch.tensor(random_rotations(4, 3).as_matrix()[:, :, :2].reshape(4, 6), dtype=torch.bfloat16)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        aa = rot6d_to_axis_angle(six)
    assert aa.dtype == torch.float32 and torch.isfinite(aa).all()


def test_unflip_is_the_mirror_rotation():
    """Mirroring across x = 0 maps R to M R M (M = diag(-1, 1, 1)): rotvec (x, y, z) -> (x, -y, -z)."""
    rot = random_rotations(15, 4)
    M = np.diag([-1.0, 1.0, 1.0])
    mirrored = Rotation.from_matrix(M @ rot.as_matrix() @ M).as_rotvec()
    aa = torch.tensor(rot.as_rotvec().reshape(1, 45), dtype=torch.float32)
    out = unflip_axis_angle(aa)
    np.testing.assert_allclose(out.reshape(15, 3).numpy(), mirrored, atol=1e-5)
    assert torch.equal(aa, torch.tensor(rot.as_rotvec().reshape(1, 45), dtype=torch.float32))  # input kept
