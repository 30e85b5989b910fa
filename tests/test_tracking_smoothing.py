"""IoU tracking and One-Euro smoothing."""
from __future__ import annotations

import numpy as np
import pytest
import roma
import torch

from common.inference.smoothing import OneEuroFilter, ParamSmoother
from common.inference.tracking import IoUTracker, pairwise_iou


def test_pairwise_iou_by_hand():
    iou = pairwise_iou(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))
    assert iou[0].tolist() == [pytest.approx(50 / 150), 0.0]


def test_tracker_follows_moving_people_in_any_order():
    t = IoUTracker(iou_thr=0.3, max_age=2)
    a, b = np.array([0, 0, 50, 150.0]), np.array([200, 0, 250, 150.0])
    assert t.update(np.stack([a, b]), 1).tolist() == [0, 1]
    shift = np.array([5, 0, 5, 0.0])
    assert t.update(np.stack([b + shift, a + shift]), 2).tolist() == [1, 0]  # order swapped, ids follow
    c = np.array([100, 0, 150, 150.0])
    assert t.update(np.stack([a + 2 * shift, c]), 3).tolist() == [0, 2]      # newcomer gets a new id
    assert t.update(np.stack([b + 2 * shift]), 4).tolist() == [1]             # b was missing 1 frame only
    assert t.update(np.stack([c]), 10).tolist() == [3]                        # c forgotten after max_age


def test_tracker_observe_continues_known_ids():
    t = IoUTracker()
    t.observe(np.array([[0, 0, 10, 10.0]]), np.array([7]), 1)
    assert t.update(np.array([[1, 0, 11, 10.0], [50, 50, 60, 60.0]]), 2).tolist() == [7, 8]


def test_one_euro_constant_signal_unchanged_and_noise_reduced():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    assert np.allclose([f(np.array([2.0, -1.0]), t / 30) for t in range(10)][-1], [2.0, -1.0])
    rng = np.random.default_rng(0)
    noisy = 1.0 + rng.normal(0, 0.1, 300)
    f = OneEuroFilter(min_cutoff=0.5, beta=0.0)
    smooth = np.array([f(x, t / 30) for t, x in enumerate(noisy)])
    assert np.std(smooth[30:] - 1.0) < 0.4 * np.std(noisy[30:] - 1.0)
    # fast motion with a large beta: little lag on a ramp
    f = OneEuroFilter(min_cutoff=0.5, beta=5.0)
    ramp = np.array([f(np.array(t / 10.0), t / 30) for t in range(60)])
    assert abs(ramp[-1] - 5.9) < 0.3


def test_param_smoother_rotations_stay_valid_and_tracks_are_independent():
    s = ParamSmoother(fps=30, min_cutoff=0.5, beta=0.0)
    rng = np.random.default_rng(1)
    base = rng.normal(0, 0.5, (21, 3)).astype(np.float32)

    def params(noise):
        return {'body_pose': base + noise * rng.normal(size=(21, 3)).astype(np.float32),
                'global_orient': np.array([[3.0, 0.0, 0.0]], np.float32),  # near pi: wrap-around region
                'transl': np.array([[0.0, 0.0, 5.0]], np.float32) + noise, 'betas': np.zeros((1, 10), np.float32)}
    outs = [s(0, t, params(0.05)) for t in range(60)]
    last = outs[-1]
    assert last['body_pose'].shape == (21, 3) and last['global_orient'].shape == (1, 3)
    err = roma.rotvec_geodesic_distance(torch.from_numpy(last['body_pose']), torch.from_numpy(base))
    raw_err = roma.rotvec_geodesic_distance(torch.from_numpy(params(0.05)['body_pose']), torch.from_numpy(base))
    assert err.mean() < raw_err.mean()
    np.testing.assert_allclose(last['global_orient'], [[3.0, 0.0, 0.0]], atol=1e-4)
    # a new track starts from its own first sample
    other = s(1, 59, {'transl': np.array([[1.0, 2.0, 3.0]], np.float32)})
    np.testing.assert_allclose(other['transl'], [[1.0, 2.0, 3.0]])
