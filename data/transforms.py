"""Training-sample geometry on top of the crop (SPEC §4.2): augmentation draws, mapping into the heatmap
grid, flips, rotations of the root pose and the hand/face box targets.

The box processing and the affine crop itself live in ``common.utils.crop`` (shared with inference).
Pixel spaces used below:
- *image*: the original image, (x right, y down), pixels;
- *crop*: the ``out_shape`` = (512, 384) (H, W) network input crop, pixels;
- *heatmap*: the body heatmap grid (x over ``output_hm_shape[2]`` = 12 columns, y over
  ``output_hm_shape[1]`` = 16 rows), i.e. crop pixels scaled by 12/384 and 16/512.
"""
from __future__ import annotations

import logging
from typing import Sequence

import cv2
import numpy as np

from common.utils.crop import INPUT_IMG_SHAPE, apply_affine

__all__ = [
    "get_aug_config", "crop_to_heatmap", "flip_points_x", "swap_pairs", "flip_axis_angle_pose",
    "rotation_z", "rotate_root_pose", "box_to_heatmap_target", "apply_color_scale", "NO_AUG", "OUTPUT_HM_SHAPE",
]

logger = logging.getLogger(__name__)

OUTPUT_HM_SHAPE = (16, 16, 12)  # (D, H, W) body heatmap grid (SPEC §1.1)

# Augmentation ranges (SPEC §4.2).
SCALE_FACTOR = 0.25  # s = 1 + 0.25 * clip(N(0,1), -1, 1)
ROT_FACTOR_DEG = 30.0  # r = 30 * clip(N(0,1), -2, 2) degrees ...
ROT_PROB = 0.6  # ... with probability 0.6, else 0
COLOR_RANGE = (0.8, 1.2)  # per-channel colour gain U(0.8, 1.2)
FLIP_PROB = 0.5

# (scale, rot_deg, color_scale (3,), do_flip) of the test split / `no_aug`.
NO_AUG = (1.0, 0.0, np.ones(3, dtype=np.float32), False)


def get_aug_config(rng: np.random.Generator) -> tuple[float, float, np.ndarray, bool]:
    """Draw one training augmentation (SPEC §4.2).

    Returns:
        scale (crop box multiplier), rot_deg (degrees, + = the box is rotated counter-clockwise in the
        image, so crop content turns clockwise), color_scale (3,) float32 RGB gains, do_flip.
    """
    scale = 1.0 + SCALE_FACTOR * float(np.clip(rng.standard_normal(), -1.0, 1.0))
    rot = ROT_FACTOR_DEG * float(np.clip(rng.standard_normal(), -2.0, 2.0))
    if rng.random() > ROT_PROB:
        rot = 0.0
    color_scale = rng.uniform(COLOR_RANGE[0], COLOR_RANGE[1], size=3).astype(np.float32)
    do_flip = bool(rng.random() < FLIP_PROB)
    return scale, rot, color_scale, do_flip


def apply_color_scale(patch: np.ndarray, color_scale: np.ndarray) -> np.ndarray:
    """(H, W, 3) patch (0..255) times per-channel gains, clipped to [0, 255] -> (3, H, W) float32 in [0, 1].

    uint8 patches go through one OpenCV lookup table (same values as the float formula, ~3x faster).
    """
    gains = np.asarray(color_scale, np.float64).reshape(1, 3)
    if patch.dtype == np.uint8:
        levels = np.arange(256, dtype=np.float64)[:, None]
        lut = (np.clip(levels * gains, 0.0, 255.0) / 255.0).astype(np.float32).reshape(256, 1, 3)
        out = cv2.LUT(np.ascontiguousarray(patch), lut)
    else:
        out = np.clip(patch.astype(np.float32) * gains.astype(np.float32), 0.0, 255.0) / np.float32(255.0)
    return np.ascontiguousarray(out.transpose(2, 0, 1), dtype=np.float32)


def crop_to_heatmap(points_xy: np.ndarray, input_img_shape: Sequence[int] = INPUT_IMG_SHAPE,
                    output_hm_shape: Sequence[int] = OUTPUT_HM_SHAPE) -> np.ndarray:
    """(N, 2) crop pixels -> (N, 2) float32 body-heatmap units (x * 12/384, y * 16/512)."""
    s = np.array([output_hm_shape[2] / input_img_shape[1], output_hm_shape[1] / input_img_shape[0]])
    return (np.asarray(points_xy, dtype=np.float64) * s).astype(np.float32)


def flip_points_x(points: np.ndarray, img_w: float) -> np.ndarray:
    """Mirror x (column 0) of (N, >=2) image points: x -> img_w - 1 - x. Returns a copy."""
    out = np.array(points, dtype=np.float32, copy=True)
    out[:, 0] = img_w - 1 - out[:, 0]
    return out


def swap_pairs(arr: np.ndarray, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Copy of ``arr`` with rows ``a`` and ``b`` exchanged for every (a, b) in ``pairs``."""
    out = np.array(arr, copy=True)
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    b = np.array([p[1] for p in pairs], dtype=np.int64)
    out[a], out[b] = arr[b], arr[a]
    return out


def flip_axis_angle_pose(pose: np.ndarray, rot_flip_pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Mirror a (J, 3) axis-angle pose across the x = 0 plane: swap left/right joints, negate y and z."""
    out = swap_pairs(np.asarray(pose, dtype=np.float32).reshape(-1, 3), rot_flip_pairs)
    out[:, 1:3] *= -1.0
    return out


def rotation_z(rot_deg: float) -> np.ndarray:
    """(3, 3) float32 R_z(-rot_deg): the camera-frame rotation matching a crop rotated by ``rot_deg``."""
    rad = np.deg2rad(-rot_deg)
    c, s = np.cos(rad), np.sin(rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]], dtype=np.float32)


def rotate_root_pose(root_aa: np.ndarray, rot_deg: float) -> np.ndarray:
    """Left-multiply a (3,) axis-angle root orientation by R_z(-rot_deg); returns (3,) float32.

    Always a round trip through the rotation matrix (cv2.Rodrigues), also for rot_deg = 0, as the
    original: an angle above pi comes back as 2 pi - angle about the negated axis (SPEC §4.2).
    """
    mat, _ = cv2.Rodrigues(np.asarray(root_aa, dtype=np.float64).reshape(3, 1))
    aa, _ = cv2.Rodrigues(rotation_z(rot_deg).astype(np.float64) @ mat)
    return aa.reshape(3).astype(np.float32)


def box_to_heatmap_target(box_xyxy: np.ndarray, trans: np.ndarray, do_flip: bool, img_w: float,
                          input_img_shape: Sequence[int] = INPUT_IMG_SHAPE,
                          output_hm_shape: Sequence[int] = OUTPUT_HM_SHAPE
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Hand/face box target: the 4 corners (mirrored if ``do_flip``) mapped into the crop and the heatmap
    grid, then their axis-aligned hull.

    Args:
        box_xyxy: (4,) image pixels. trans: (2, 3) image -> crop (of the mirrored image when flipping).
    Returns:
        centre (2,) and size (2,) float32, body-heatmap units.
    """
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    corners = np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], dtype=np.float32)
    if do_flip:
        corners = flip_points_x(corners, img_w)
    hm = crop_to_heatmap(apply_affine(corners, trans), input_img_shape, output_hm_shape)
    lo, hi = hm.min(axis=0), hm.max(axis=0)
    return ((lo + hi) / 2.0).astype(np.float32), (hi - lo).astype(np.float32)
