"""Person-crop geometry shared by the datasets and inference (SPEC §4.2, §5.1): box conversions, box
processing (sanitise, aspect, enlarge) and the affine crop with its inverse.

A bottom layer: numpy and OpenCV only, no dataset or model code. Pixel spaces:
- *image*: the original image, (x right, y down), pixels;
- *crop*: the ``out_shape`` = (512, 384) (H, W) network input crop, pixels.
Box conventions: ``xywh`` = (x, y, w, h) and ``xyxy`` = (x1, y1, x2, y2), image pixels.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

__all__ = [
    'INPUT_IMG_SHAPE', 'process_bbox', 'process_bbox_batch', 'affine_matrix', 'generate_patch_image',
    'apply_affine', 'xywh_to_xyxy', 'xyxy_to_xywh',
]

INPUT_IMG_SHAPE = (512, 384)  # (H, W) crop size of every released config (SPEC §1.1)


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
                         do_flip: bool, out_shape: Sequence[int] = INPUT_IMG_SHAPE,
                         origin: Sequence[int] = (0, 0)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the (augmented) person crop out of an image (bilinear warp).

    Args:
        img: (H, W, 3) image (any dtype OpenCV warps; the patch keeps it).
        bbox_xywh: (4,) processed box, image pixels. scale, rot_deg: augmentation (see `get_aug_config`).
        do_flip: mirror the image first; the box centre becomes x -> W - 1 - x.
        out_shape: (H, W) of the crop.
        origin: (x0, y0) whole-pixel position of ``img`` inside the full image, when ``img`` is a window of it
            (no flip): the crop is the one of the full image, provided the window holds every pixel the warp
            reads. ``bbox_xywh``, ``trans`` and ``inv_trans`` stay in full-image pixels.
    Returns:
        patch (out_H, out_W, 3); trans (2, 3) image -> crop; inv_trans (2, 3) crop -> image. With
        ``do_flip`` both matrices refer to the *mirrored* image (x' = W - 1 - x), as the keypoints are
        mirrored before they are mapped.
    """
    assert not (do_flip and any(origin)), 'generate_patch_image: a window (origin) cannot be flipped'
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
    elif origin[0] or origin[1]:
        warp = warp.copy()
        warp[:, 2] += warp[:, :2] @ np.asarray(origin, np.float64)  # window pixel (u, v) = image (u + x0, v + y0)
    patch = cv2.warpAffine(img, warp, (int(out_shape[1]), int(out_shape[0])), flags=cv2.INTER_LINEAR)
    return patch, trans, inv_trans


def apply_affine(points_xy: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(N, 2) points -> (N, 2) float32 ``trans @ [x, y, 1]``."""
    p = np.asarray(points_xy, dtype=np.float64)
    t = np.asarray(trans, dtype=np.float64)
    return (p @ t[:, :2].T + t[:, 2]).astype(np.float32)


def xywh_to_xyxy(bbox: np.ndarray) -> np.ndarray:
    """(..., 4) x, y, w, h -> (..., 4) x1, y1, x2, y2 (float32)."""
    b = np.asarray(bbox, dtype=np.float32)
    return np.concatenate([b[..., :2], b[..., :2] + b[..., 2:4]], axis=-1)



def xyxy_to_xywh(bbox: np.ndarray) -> np.ndarray:
    """(..., 4) x1, y1, x2, y2 -> (..., 4) x, y, w, h (float32)."""
    b = np.asarray(bbox, dtype=np.float32)
    return np.concatenate([b[..., :2], b[..., 2:4] - b[..., :2]], axis=-1)
