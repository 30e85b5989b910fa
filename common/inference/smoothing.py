"""Temporal smoothing of per-track SMPL-X parameters with the One-Euro filter (our addition).

One-Euro filter (Casiez et al., CHI 2012): an exponential low-pass whose cutoff rises with the signal's speed,
``cutoff = min_cutoff + beta * |dx/dt|``, so slow motion is smoothed strongly and fast motion lags little.
Rotations are filtered as rotation matrices (axis-angle is not a vector space: wrap-around at pi) and projected
back onto SO(3) before converting to axis-angle; shape, expression and translation are filtered directly.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import roma
import torch

logger = logging.getLogger(__name__)

__all__ = ['OneEuroFilter', 'ParamSmoother', 'ROTATION_KEYS', 'VECTOR_KEYS']

ROTATION_KEYS = ('global_orient', 'body_pose', 'left_hand_pose', 'right_hand_pose', 'jaw_pose')  # axis-angle
VECTOR_KEYS = ('betas', 'expression', 'transl')


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over a fixed-size float vector.

    Args:
        min_cutoff: minimum cutoff frequency (Hz); lower = smoother when still.
        beta: speed coefficient; higher = less lag on fast motion.
        d_cutoff: cutoff (Hz) of the derivative's low-pass.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x_prev: np.ndarray | None = None
        self.dx_prev: np.ndarray | None = None
        self.t_prev: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` (any shape, float) taken at time ``t`` (seconds, increasing)."""
        x = np.asarray(x, np.float64)
        if self.x_prev is None or t <= self.t_prev:
            self.x_prev, self.dx_prev, self.t_prev = x, np.zeros_like(x), t
            return x.copy()
        dt = t - self.t_prev
        dx = (x - self.x_prev) / dt
        a_d = _alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self.dx_prev
        a = _alpha(self.min_cutoff + self.beta * np.abs(dx_hat), dt)
        x_hat = a * x + (1 - a) * self.x_prev
        self.x_prev, self.dx_prev, self.t_prev = x_hat, dx_hat, t
        return x_hat


class ParamSmoother:
    """One filter per (track id, parameter key); feed each track's frames in increasing order.

    Args:
        fps: frame rate used to turn frame numbers into seconds.
        min_cutoff, beta: One-Euro parameters (see ``OneEuroFilter``).
    """

    def __init__(self, fps: float = 30.0, min_cutoff: float = 1.0, beta: float = 0.5):
        self.fps = fps if fps and fps > 0 else 30.0
        self.min_cutoff, self.beta = min_cutoff, beta
        self.filters: dict[tuple[int, str], OneEuroFilter] = {}

    def _filter(self, track: int, key: str) -> OneEuroFilter:
        if (track, key) not in self.filters:
            self.filters[(track, key)] = OneEuroFilter(self.min_cutoff, self.beta)
        return self.filters[(track, key)]

    def __call__(self, track: int, frame: int, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Smooth one person's parameters.

        Args:
            params: SMPL-X parameters of one person in the npz layout (``global_orient (1,3)``,
                ``body_pose (21,3)`` ... axis-angle; ``betas (1,10)``, ``expression (1,10)``, ``transl (1,3)``).
        Returns:
            a new dict, same keys and shapes; keys not listed in ROTATION_KEYS/VECTOR_KEYS are copied.
        """
        t = frame / self.fps
        out = dict(params)
        for key in VECTOR_KEYS:
            if key in params:
                out[key] = self._filter(track, key)(params[key], t).astype(np.float32)
        for key in ROTATION_KEYS:
            if key in params:
                aa = np.asarray(params[key], np.float32).reshape(-1, 3)
                rotmat = roma.rotvec_to_rotmat(torch.from_numpy(aa)).double().numpy()  # (J, 3, 3)
                smoothed = self._filter(track, key)(rotmat, t)
                rotmat = roma.special_procrustes(torch.from_numpy(smoothed))  # back onto SO(3)
                out[key] = roma.rotmat_to_rotvec(rotmat).float().numpy().reshape(np.shape(params[key]))
        return out
