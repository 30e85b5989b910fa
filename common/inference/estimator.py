"""Person crops -> SMPL-X outputs: the crop camera, cropping, and the batched model call.

Crops follow SPEC §5.1: person box (xywh) -> ``process_bbox`` (ratio 1.25, aspect 0.75) ->
``generate_patch_image`` (scale 1, no rotation, no flip) -> (512, 384) RGB float, /255 on the device.
The virtual camera (focal 5000 px, princpt (96, 128) in the 192x256 body input) is mapped to the original
image per SPEC §1.10: focal = (5000/192·w, 5000/256·h), princpt = (96/192·w + x, 128/256·h + y) of the
processed box (x, y, w, h).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from common.utils.crop import affine_matrix, generate_patch_image, process_bbox
from common.utils.precision import PRECISIONS, autocast

logger = logging.getLogger(__name__)

__all__ = ['CropCamera', 'make_crop', 'Estimator', 'OUTPUT_KEYS']

OUTPUT_KEYS = ('smplx_root_pose', 'smplx_body_pose', 'smplx_lhand_pose', 'smplx_rhand_pose', 'smplx_jaw_pose',
               'smplx_shape', 'smplx_expr', 'cam_trans', 'smplx_mesh_cam', 'smplx_joint_cam')


@dataclass(frozen=True)
class CropCamera:
    """Crop geometry constants (SPEC §1.1), read from the config once by ``smplerx.load``."""
    input_img_shape: tuple = (512, 384)   # (H, W) crop fed to the model
    input_body_shape: tuple = (256, 192)  # (H, W) space of the virtual camera
    focal: tuple = (5000.0, 5000.0)
    princpt: tuple = (96.0, 128.0)
    bbox_ratio: float = 1.25              # inference crop enlargement (SPEC §5.1)

    @classmethod
    def from_config(cls, cfg) -> 'CropCamera':
        return cls(tuple(cfg.input_img_shape), tuple(cfg.input_body_shape), tuple(cfg.focal), tuple(cfg.princpt),
                   float(cfg.inference_bbox_ratio))

    def to_image(self, bbox_xywh: np.ndarray) -> tuple[list[float], list[float]]:
        """(focal [fx, fy], princpt [cx, cy]) in original-image pixels for a processed box (x, y, w, h)."""
        x, y, w, h = (float(v) for v in bbox_xywh)
        bh, bw = self.input_body_shape
        focal = [self.focal[0] / bw * w, self.focal[1] / bh * h]
        princpt = [self.princpt[0] / bw * w + x, self.princpt[1] / bh * h + y]
        return focal, princpt


def _source_window(box: np.ndarray, out_shape: tuple, img_w: int, img_h: int) -> tuple[int, int, int, int]:
    """Integer image window (x0, y0, x1, y1) holding every pixel the crop's bilinear warp can read."""
    inv = affine_matrix((box[0] + 0.5 * box[2], box[1] + 0.5 * box[3]), (box[2], box[3]), 1.0, 0.0, out_shape,
                        inverse=True).astype(np.float64)
    h, w = out_shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ inv.T
    x0 = max(0, math.floor(corners[:, 0].min()) - 2)
    y0 = max(0, math.floor(corners[:, 1].min()) - 2)
    x1 = min(img_w, math.ceil(corners[:, 0].max()) + 3)
    y1 = min(img_h, math.ceil(corners[:, 1].max()) + 3)
    return x0, y0, x1, y1


def make_crop(img_bgr: np.ndarray, bbox_xywh: np.ndarray, camera: CropCamera) -> tuple[np.ndarray, np.ndarray] | None:
    """Crop one person as the original does (RGB float32 image, bilinear warp), converting only the image window
    under the crop, so memory and time do not grow with the frame size (the crop equals the whole-image one up
    to float32 rounding of OpenCV's sample positions, a few hundredths of a grey level).

    Args:
        img_bgr: (H, W, 3) uint8 BGR frame.
        bbox_xywh: (4,) person box in image pixels (unclipped; ``process_bbox`` sanitises it).
    Returns:
        (crop (512, 384, 3) float32 RGB [0, 255], processed box (4,) xywh) or None when ``process_bbox``
        rejects the box (no area inside the image).
    """
    h, w = img_bgr.shape[:2]
    box = process_bbox(np.asarray(bbox_xywh, np.float32), w, h, ratio=camera.bbox_ratio)
    if box is None:
        return None
    out_shape = tuple(camera.input_img_shape)
    x0, y0, x1, y1 = _source_window(box, out_shape, w, h)
    window = np.ascontiguousarray(img_bgr[y0:y1, x0:x1, ::-1], dtype=np.float32)
    patch, _, _ = generate_patch_image(window, box, 1.0, 0.0, False, out_shape, origin=(x0, y0))
    return patch.astype(np.float32, copy=False), np.asarray(box, np.float32)


class Estimator:
    """Batched model call: (B, 512, 384, 3) float32 RGB [0, 255] crops -> dict of ``OUTPUT_KEYS`` tensors
    (on the model's device, not yet synchronised).

    Args:
        model: plain ``common.model.Model`` (or its ``torch.compile`` wrapper) in eval mode, already on
            ``device``; not modified: the estimator runs ``optimize_for_inference(model, device, dtype)``,
            the inference copy (BN-folded deconvolutions, gather sampling, pre-cast weights; same outputs
            within float rounding), as ``self.model``.
        device: torch device of the model.
        precision: 'fp32' | 'bf16' | 'fp16' (autocast; the body model runs in fp32 regardless).
    """

    def __init__(self, model, device: torch.device, precision: str = 'fp32'):
        from common.nets.inference_transform import optimize_for_inference
        if precision not in PRECISIONS:
            raise ValueError(f'--precision must be one of {list(PRECISIONS)}, got {precision!r}')
        self.device, self.precision = torch.device(device), precision
        self.model = optimize_for_inference(model, self.device, PRECISIONS[precision])
        self.pin = self.device.type == 'cuda'

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(crops))
        if self.pin:
            x = x.pin_memory()
        # (B, 3, 512, 384) [0, 1]; not in place: on the CPU x shares the caller's array
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2).div(255.0)
        with autocast(self.precision, self.device):
            out = self.model({'img': x}, {}, {}, 'test')
        return {k: out[k].detach() for k in OUTPUT_KEYS}
