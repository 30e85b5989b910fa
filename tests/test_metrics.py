"""Metric functions of common/evaluation/metrics.py against hand-computed values and invariances."""
import math

import numpy as np
import pytest
import torch

from common.evaluation import metrics as M
from tests.fixtures.evaluation import toy_metric_sets


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def test_mean_point_error_hand_case():
    pred = torch.tensor([[[0., 0, 0], [3, 4, 0]]])
    gt = torch.zeros(1, 2, 3)
    assert M.mean_point_error(pred, gt).item() == pytest.approx(2.5)


def test_translation_aligned_error_hand_case():
    gt = torch.tensor([[[0., 0, 0], [1, 0, 0]]])
    pred = torch.tensor([[[5., 5, 5], [5, 5, 7]]])
    # Anchor = point 0: pred moves to [[0,0,0],[0,0,2]] -> errors 0 and sqrt(5).
    err = M.translation_aligned_error(pred, gt, pred[:, 0], gt[:, 0])
    assert err.item() == pytest.approx(math.sqrt(5) / 2)


def test_procrustes_hand_case_anisotropic():
    # gt: (+-1,0,0), (0,+-1,0); pred: (+-2,0,0), (0,+-1,0). Umeyama: R = I, scale c = (a+b)/(a^2+b^2)
    # = 3/5, aligned x-points at 6/5 (error 0.2), y-points at 3/5 (error 0.4) -> mean 0.3.
    gt = torch.tensor([[[1., 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]])
    pred = torch.tensor([[[2., 0, 0], [-2, 0, 0], [0, 1, 0], [0, -1, 0]]])
    scale, rot, trans = M.rigid_transform(pred, gt)
    assert scale.item() == pytest.approx(0.6)
    assert torch.allclose(rot[0], torch.eye(3, dtype=rot.dtype), atol=1e-12)
    assert torch.allclose(trans, torch.zeros(1, 3, dtype=trans.dtype), atol=1e-12)
    assert M.procrustes_aligned_error(pred, gt).item() == pytest.approx(0.3)


def test_procrustes_recovers_known_similarity():
    gt = torch.tensor([[[0., 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]]])
    rz90 = torch.tensor([[0., -1, 0], [1, 0, 0], [0, 0, 1]])
    pred = 2.0 * gt @ rz90.T + torch.tensor([1., 2., 3.])
    scale, rot, trans = M.rigid_transform(pred, gt)
    assert scale.item() == pytest.approx(0.5)
    assert torch.allclose(rot[0].float(), rz90.T, atol=1e-6)
    assert torch.allclose(M.rigid_align(pred, gt).float(), gt, atol=1e-6)
    assert M.procrustes_aligned_error(pred, gt).item() == pytest.approx(0.0, abs=1e-9)


def test_procrustes_never_reflects():
    rng = np.random.default_rng(0)
    gt = torch.as_tensor(rng.normal(size=(4, 30, 3)))
    mirrored = gt * torch.tensor([-1., 1., 1.], dtype=gt.dtype)     # a reflection, not a rotation
    _, rot, _ = M.rigid_transform(mirrored, gt)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(4, dtype=rot.dtype), atol=1e-9)
    assert (M.procrustes_aligned_error(mirrored, gt) > 0.1).all()


def test_procrustes_is_least_squares_optimum():
    """No perturbation of (scale, rotation, translation) lowers the sum of squared residuals."""
    rng = np.random.default_rng(1)
    a = torch.as_tensor(rng.normal(size=(1, 40, 3)))
    b = torch.as_tensor(rng.normal(size=(1, 40, 3)))
    c, r, t = M.rigid_transform(a, b)

    def sse(c_, r_, t_):
        return ((c_ * a[0] @ r_.T + t_ - b[0]) ** 2).sum().item()

    best = sse(c[0], r[0], t[0])
    for _ in range(50):
        w = torch.as_tensor(rng.normal(size=3) * 1e-2)
        dr = torch.linalg.matrix_exp(torch.tensor([[0., -w[2], w[1]], [w[2], 0., -w[0]], [-w[1], w[0], 0.]],
                                                  dtype=torch.float64))
        dc = 1 + rng.normal() * 1e-2
        dt = torch.as_tensor(rng.normal(size=3) * 1e-2)
        assert sse(c[0] * dc, dr @ r[0], t[0] + dt) >= best - 1e-12


def test_pa_error_invariant_to_similarity_transform_of_prediction():
    rng = np.random.default_rng(2)
    gt = torch.as_tensor(rng.normal(size=(3, 50, 3)))
    pred = gt + torch.as_tensor(rng.normal(size=(3, 50, 3)) * 0.1)
    base = M.procrustes_aligned_error(pred, gt)
    assert (base > 0.01).all()
    for _ in range(3):
        rot = torch.as_tensor(np.stack([_random_rotation(rng) for _ in range(3)]))
        scale = torch.as_tensor(rng.uniform(0.2, 5.0, size=(3, 1, 1)))
        shift = torch.as_tensor(rng.normal(size=(3, 1, 3)) * 10)
        moved = scale * pred @ rot.transpose(1, 2) + shift
        assert torch.allclose(M.procrustes_aligned_error(moved, gt), base, atol=1e-9)


def test_translation_aligned_error_invariant_to_translation_of_prediction():
    rng = np.random.default_rng(3)
    gt = torch.as_tensor(rng.normal(size=(2, 20, 3)))
    pred = gt + torch.as_tensor(rng.normal(size=(2, 20, 3)) * 0.1)
    base = M.translation_aligned_error(pred, gt, pred[:, 0], gt[:, 0])
    shifted = pred + torch.as_tensor(rng.normal(size=(2, 1, 3)) * 5)
    assert torch.allclose(M.translation_aligned_error(shifted, gt, shifted[:, 0], gt[:, 0]), base, atol=1e-12)
    # Without re-anchoring the plain error does change (the test would catch a no-op alignment).
    assert not torch.allclose(M.mean_point_error(shifted, gt), M.mean_point_error(pred, gt))


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r'\(B, N, 3\)'):
        M.mean_point_error(torch.zeros(5, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match='same shape'):
        M.mean_point_error(torch.zeros(1, 5, 3), torch.zeros(1, 4, 3))


def test_hand_joint_regressor_layout():
    jr = np.arange(55 * 10475, dtype=np.float64).reshape(55, 10475)
    left = M.hand_joint_regressor(jr, 'left')
    right = M.hand_joint_regressor(jr, 'right')
    assert left.shape == right.shape == (21, 10475)
    np.testing.assert_array_equal(left[0], jr[20])
    np.testing.assert_array_equal(left[1:4], jr[[37, 38, 39]])           # thumb joints
    assert left[4].sum() == 1 and left[4, 5361] == 1                      # thumb tip vertex
    np.testing.assert_array_equal(left[5:8], jr[[25, 26, 27]])           # index
    assert left[20, 5286] == 1                                            # pinky tip
    np.testing.assert_array_equal(right[0], jr[21])
    np.testing.assert_array_equal(right[17:20], jr[[46, 47, 48]])
    assert right[8, 7669] == 1 and right[12, 7794] == 1 and right[16, 7905] == 1 and right[4, 8079] == 1


def test_whole_body_errors_zero_for_perfect_prediction():
    rng = np.random.default_rng(4)
    sets = toy_metric_sets(int(rng.integers(1000)))
    gt = torch.as_tensor(rng.normal(size=(2, 10475, 3)), dtype=torch.float32)
    errs = M.whole_body_errors(gt.clone(), gt, sets)
    assert set(errs) == set(M.WHOLE_BODY_METRICS) and len(errs) == 14
    for name, value in errs.items():
        assert value.shape == (2,)
        assert value.abs().max().item() < 1e-6, name


def test_whole_body_errors_hand_shift_case():
    """Shifting only the left-hand vertices by 5 mm: hand-computed value of every metric."""
    rng = np.random.default_rng(5)
    sets = toy_metric_sets(int(rng.integers(1000)))
    gt = torch.as_tensor(rng.normal(size=(1, 10475, 3)))
    pred = gt + torch.tensor([0.2, -0.1, 3.0], dtype=gt.dtype)            # global translation: no effect
    pred[:, sets.left_hand_vertices] += torch.tensor([0.003, 0.004, 0.0], dtype=gt.dtype)
    e = {k: v.item() for k, v in M.whole_body_errors(pred, gt, sets).items()}
    assert e['mpvpe_l_hand'] == pytest.approx(0.005)      # wrist anchor lies off the hand: error = |d|
    assert e['mpvpe_r_hand'] == pytest.approx(0.0, abs=1e-12)
    assert e['mpvpe_hand'] == pytest.approx(0.0025)
    assert e['mpvpe_face'] == pytest.approx(0.0, abs=1e-12)
    assert e['mpvpe_all'] == pytest.approx(0.005 * 778 / 10475)
    assert e['pa_mpvpe_l_hand'] == pytest.approx(0.0, abs=1e-9)   # the hand alone only translated
    assert 0 < e['pa_mpjpe_l_hand'] < 0.005                      # 20 of its 21 joints move, the wrist not
    assert e['pa_mpjpe_r_hand'] == pytest.approx(0.0, abs=1e-9)
    assert e['pa_mpjpe_body'] == pytest.approx(0.0, abs=1e-9)
    assert e['pa_mpvpe_all'] > 0


def test_lsp14_errors_hand_case():
    gt = torch.zeros(1, 24, 3)
    gt[0, :, 0] = torch.arange(24, dtype=torch.float32)
    pred = gt[:, :22].clone() + 1.0                                       # translated SMPL-X skeleton
    pred[0, 15] += torch.tensor([0.0, 0.014, 0.0])                        # head off by 14 mm
    e = M.lsp14_errors(pred, gt)
    assert e['mpjpe_body'].item() == pytest.approx(0.001, rel=1e-5)      # 14 mm / 14 joints
    assert e['pa_mpjpe_body'].item() > 0
    perfect = M.lsp14_errors(gt[:, :22], gt)
    assert perfect['mpjpe_body'].item() == 0 and perfect['pa_mpjpe_body'].item() == pytest.approx(0, abs=1e-7)


def test_part_mpvpe_aligns_by_wrist_and_neck():
    """Moving each part together with its own anchor joint (wrist / neck) gives 0 part MPVPE; the pelvis
    anchor would not (the rest of the body stays put)."""
    rng = np.random.default_rng(6)
    sets = toy_metric_sets(7)
    gt = torch.as_tensor(rng.normal(size=(1, 10475, 3)))
    pred = gt.clone()
    anchors = sets.regressor[1:4].argmax(axis=1)           # one-hot rows: left wrist, right wrist, neck vertex
    for ids, anchor, d in ((sets.left_hand_vertices, anchors[0], [0.01, 0, 0]),
                           (sets.right_hand_vertices, anchors[1], [0, 0.02, 0]),
                           (sets.face_vertices, anchors[2], [0, 0, 0.03])):
        move = torch.as_tensor(np.append(ids, anchor))
        pred[:, move] += torch.tensor(d, dtype=gt.dtype)
    e = {k: v.item() for k, v in M.whole_body_errors(pred, gt, sets).items()}
    for name in ('mpvpe_l_hand', 'mpvpe_r_hand', 'mpvpe_hand', 'mpvpe_face', 'pa_mpvpe_face'):
        assert e[name] == pytest.approx(0.0, abs=1e-12), name
    assert e['mpvpe_all'] == pytest.approx((0.01 * 779 + 0.02 * 779 + 0.03 * 5024) / 10475)


def test_metric_sets_stack_spec_rows():
    """Anchors are J_regressor rows 0 (pelvis), 20 / 21 (wrists), 12 (neck), then J14, then the hands."""
    v = 10475
    jr = np.random.default_rng(8).random((55, v))
    j14 = np.random.default_rng(9).random((14, v))
    sets = M.WholeBodyMetricSets.from_arrays(jr, j14, {'left_hand': np.arange(778), 'right_hand': np.arange(778)},
                                             np.arange(5023))
    assert sets.regressor.shape == (60, v)
    np.testing.assert_array_equal(sets.regressor[:4], jr[[0, 20, 21, 12]])
    np.testing.assert_array_equal(sets.regressor[4:18], j14)
    np.testing.assert_array_equal(sets.regressor[18], jr[20])
    np.testing.assert_array_equal(sets.regressor[39], jr[21])
    with pytest.raises(ValueError, match=r'\(14, 10475\)'):
        M.WholeBodyMetricSets.from_arrays(jr, j14[:13], {'left_hand': [], 'right_hand': []}, [])
