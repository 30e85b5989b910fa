"""Pure numpy/OpenCV geometry of the person crop (SPEC §4.2): box processing, augmentation draws, the
affine crop and its inverse, point/box mapping into the crop and the heatmap grid, and flip helpers.

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

__all__ = [
    "process_bbox", "process_bbox_batch", "get_aug_config", "generate_patch_image", "affine_matrix",
    "apply_affine", "crop_to_heatmap", "flip_points_x", "swap_pairs", "flip_axis_angle_pose",
    "rotation_z", "rotate_root_pose", "xywh_to_xyxy", "box_to_heatmap_target", "apply_color_scale",
    "NO_AUG", "INPUT_IMG_SHAPE", "OUTPUT_HM_SHAPE",
]

logger = logging.getLogger(__name__)

INPUT_IMG_SHAPE = (512, 384)  # (H, W) crop size of every released config (SPEC §1.1)
OUTPUT_HM_SHAPE = (16, 16, 12)  # (D, H, W) body heatmap grid (SPEC §1.1)

# Augmentation ranges (SPEC §4.2).
SCALE_FACTOR = 0.25  # s = 1 + 0.25 * clip(N(0,1), -1, 1)
ROT_FACTOR_DEG = 30.0  # r = 30 * clip(N(0,1), -2, 2) degrees ...
ROT_PROB = 0.6  # ... with probability 0.6, else 0
COLOR_RANGE = (0.8, 1.2)  # per-channel colour gain U(0.8, 1.2)
FLIP_PROB = 0.5

# (scale, rot_deg, color_scale (3,), do_flip) of the test split / `no_aug`.
NO_AUG = (1.0, 0.0, np.ones(3, dtype=np.float32), False)


def process_bbox_batch(bbox_xywh: np.ndarray, img_w, img_h, ratio: float = 1.25,
                       aspect: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised `process_bbox`.

    Args:
        bbox_xywh: (N, >=4) boxes x, y, w, h in image pixels (extra columns, e.g. a confidence, ignored).
        img_w, img_h: scalars or (N,) image sizes in pixels (``np.inf`` = unknown, no clamping).
        ratio: enlargement of the aspect-corrected box; aspect: target w/h.
    Returns:
        boxes (N, 4) float32 xywh (rows of rejected boxes are zero) and ok (N,) bool.
    """
    b = np.asarray(bbox_xywh, dtype=np.float64).reshape(-1, np.shape(bbox_xywh)[-1])[:, :4]
    x, y, w, h = b.T
    img_w = np.broadcast_to(np.asarray(img_w, dtype=np.float64), x.shape)
    img_h = np.broadcast_to(np.asarray(img_h, dtype=np.float64), x.shape)
    # Sanitise: clamp the top-left corner into the image, keep the size, clamp the bottom-right corner.
    x1 = np.maximum(0.0, x)
    y1 = np.maximum(0.0, y)
    x2 = np.minimum(img_w - 1, x1 + np.maximum(0.0, w - 1))
    y2 = np.minimum(img_h - 1, y1 + np.maximum(0.0, h - 1))
    with np.errstate(invalid="ignore"):
        ok = (w * h > 0) & (x2 > x1) & (y2 > y1) & np.isfinite(b).all(axis=1)
        # Ours: a box lying entirely left of / above the image is rejected too (the original's clamp of
        # the top-left corner would move it into the image).
        ok &= (x + w > 0) & (y + h > 0)
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2.0, y1 + h / 2.0
    # Enlarge the short side to the target aspect ratio, then scale both sides by `ratio`.
    wide = w > aspect * h
    h = np.where(wide, w / aspect, h)
    w = np.where(~wide & (w < aspect * h), h * aspect, w)
    w, h = w * ratio, h * ratio
    out = np.stack([cx - w / 2.0, cy - h / 2.0, w, h], axis=1).astype(np.float32)
    out[~ok] = 0.0
    return out, ok


def process_bbox(bbox_xywh: np.ndarray, img_w: float, img_h: float, ratio: float = 1.25,
                 aspect: float = 0.75) -> np.ndarray | None:
    """Sanitise a box against the image, then expand it about its centre to ``aspect`` (w/h, enlarging
    the short side) and scale it by ``ratio`` (SPEC §4.2).

    Args:
        bbox_xywh: (4,) (or (5,) with a confidence) x, y, w, h, image pixels.
        img_w, img_h: image size, pixels.
    Returns:
        (4,) float32 xywh in image pixels, or None when the box has no area inside the image.
    """
    boxes, ok = process_bbox_batch(np.asarray(bbox_xywh)[None], img_w, img_h, ratio, aspect)
    return boxes[0] if ok[0] else None


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


def _rotate_2d(vec: np.ndarray, rad: float) -> np.ndarray:
    c, s = np.cos(rad), np.sin(rad)
    return np.array([vec[0] * c - vec[1] * s, vec[0] * s + vec[1] * c], dtype=np.float64)


def affine_matrix(center: Sequence[float], size: Sequence[float], scale: float, rot_deg: float,
                  out_shape: Sequence[int] = INPUT_IMG_SHAPE, inverse: bool = False) -> np.ndarray:
    """(2, 3) float32 affine from the rotated, scaled box to the ``out_shape`` (H, W) crop.

    The box (centre ``center`` (x, y), size ``size`` (w, h), pixels) is scaled by ``scale`` and rotated
    by ``rot_deg``; its centre, bottom-edge midpoint and right-edge midpoint map to those of the crop.
    ``inverse=True`` gives crop -> image.
    """
    out_h, out_w = out_shape
    src_w, src_h = size[0] * scale, size[1] * scale
    rad = np.deg2rad(rot_deg)
    c = np.asarray(center, dtype=np.float64)
    src = np.stack([c, c + _rotate_2d(np.array([0.0, src_h * 0.5]), rad),
                    c + _rotate_2d(np.array([src_w * 0.5, 0.0]), rad)]).astype(np.float32)
    d = np.array([out_w * 0.5, out_h * 0.5])
    dst = np.stack([d, d + [0.0, out_h * 0.5], d + [out_w * 0.5, 0.0]]).astype(np.float32)
    m = cv2.getAffineTransform(dst, src) if inverse else cv2.getAffineTransform(src, dst)
    return m.astype(np.float32)


def generate_patch_image(img: np.ndarray, bbox_xywh: np.ndarray, scale: float, rot_deg: float,
                         do_flip: bool, out_shape: Sequence[int] = INPUT_IMG_SHAPE
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the (augmented) person crop out of an image (bilinear warp).

    Args:
        img: (H, W, 3) image (any dtype OpenCV warps; the patch keeps it).
        bbox_xywh: (4,) processed box, image pixels. scale, rot_deg: augmentation (see `get_aug_config`).
        do_flip: mirror the image first; the box centre becomes x -> W - 1 - x.
        out_shape: (H, W) of the crop.
    Returns:
        patch (out_H, out_W, 3); trans (2, 3) image -> crop; inv_trans (2, 3) crop -> image. With
        ``do_flip`` both matrices refer to the *mirrored* image (x' = W - 1 - x), as the keypoints are
        mirrored before they are mapped.
    """
    img_w = img.shape[1]
    x, y, w, h = (float(v) for v in np.asarray(bbox_xywh)[:4])
    cx, cy = x + 0.5 * w, y + 0.5 * h
    if do_flip:
        cx = img_w - cx - 1
    trans = affine_matrix((cx, cy), (w, h), scale, rot_deg, out_shape)
    inv_trans = affine_matrix((cx, cy), (w, h), scale, rot_deg, out_shape, inverse=True)
    warp = trans.astype(np.float64)
    if do_flip:
        # Compose with the mirror x' = W - 1 - x instead of copying a flipped image.
        mirror = np.array([[-1.0, 0.0, img_w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        warp = warp @ mirror
    patch = cv2.warpAffine(img, warp, (int(out_shape[1]), int(out_shape[0])), flags=cv2.INTER_LINEAR)
    return patch, trans, inv_trans


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


def apply_affine(points_xy: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(N, 2) points -> (N, 2) float32 ``trans @ [x, y, 1]``."""
    p = np.asarray(points_xy, dtype=np.float64)
    t = np.asarray(trans, dtype=np.float64)
    return (p @ t[:, :2].T + t[:, 2]).astype(np.float32)


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
    """Left-multiply a (3,) axis-angle root orientation by R_z(-rot_deg); returns (3,) float32."""
    if rot_deg == 0.0:
        return np.asarray(root_aa, dtype=np.float32).reshape(3).copy()
    mat, _ = cv2.Rodrigues(np.asarray(root_aa, dtype=np.float64).reshape(3, 1))
    aa, _ = cv2.Rodrigues(rotation_z(rot_deg).astype(np.float64) @ mat)
    return aa.reshape(3).astype(np.float32)


def xywh_to_xyxy(bbox: np.ndarray) -> np.ndarray:
    """(..., 4) x, y, w, h -> (..., 4) x1, y1, x2, y2 (float32)."""
    b = np.asarray(bbox, dtype=np.float32)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)


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
