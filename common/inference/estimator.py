"""Person crops -> SMPL-X parameters: cropping, the batched model call, and per-person output records.

Crops follow SPEC §5.1: detector box (xywh) -> ``process_bbox`` (ratio 1.25, aspect 0.75) ->
``generate_patch_image`` (scale 1, no rotation, no flip) -> (512, 384) RGB float, /255 on the device.
The virtual camera (focal 5000 px, princpt (96, 128) in the 192x256 body input) is mapped to the original
image per SPEC §1.10: focal = (5000/192·w, 5000/256·h), princpt = (96/192·w + x, 128/256·h + y) of the
processed box (x, y, w, h).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from common.utils.precision import PRECISIONS, autocast

logger = logging.getLogger(__name__)

__all__ = ['CropCamera', 'make_crop', 'Estimator', 'outputs_to_people']

OUTPUT_KEYS = ('smplx_root_pose', 'smplx_body_pose', 'smplx_lhand_pose', 'smplx_rhand_pose', 'smplx_jaw_pose',
               'smplx_shape', 'smplx_expr', 'cam_trans', 'smplx_mesh_cam')


@dataclass(frozen=True)
class CropCamera:
    """Crop geometry constants (SPEC §1.1), read from the config once by the builder."""
    input_img_shape: tuple = (512, 384)   # (H, W) crop fed to the model
    input_body_shape: tuple = (256, 192)  # (H, W) space of the virtual camera
    focal: tuple = (5000.0, 5000.0)
    princpt: tuple = (96.0, 128.0)
    bbox_ratio: float = 1.25              # inference crop enlargement (SPEC §5.1)

    def to_image(self, bbox_xywh: np.ndarray) -> tuple[list[float], list[float]]:
        """(focal [fx, fy], princpt [cx, cy]) in original-image pixels for a processed box (x, y, w, h)."""
        x, y, w, h = (float(v) for v in bbox_xywh)
        bh, bw = self.input_body_shape
        focal = [self.focal[0] / bw * w, self.focal[1] / bh * h]
        princpt = [self.princpt[0] / bw * w + x, self.princpt[1] / bh * h + y]
        return focal, princpt


def make_crop(img_rgb: np.ndarray, bbox_xywh: np.ndarray, camera: CropCamera) -> tuple[np.ndarray, np.ndarray] | None:
    """Crop one person.

    Args:
        img_rgb: (H, W, 3) float32 RGB in [0, 255] (the original converts to float before cropping).
        bbox_xywh: (4,) detector box in image pixels.
    Returns:
        (crop (512, 384, 3) float32 RGB [0, 255], processed box (4,) xywh) or None when ``process_bbox``
        rejects the box (zero size / outside the image).
    """
    from common.utils.crop import generate_patch_image, process_bbox
    h, w = img_rgb.shape[:2]
    box = process_bbox(np.asarray(bbox_xywh, np.float32), w, h, ratio=camera.bbox_ratio)
    if box is None:
        return None
    patch, _, _ = generate_patch_image(img_rgb, box, 1.0, 0.0, False, tuple(camera.input_img_shape))
    return patch.astype(np.float32, copy=False), np.asarray(box, np.float32)


class Estimator:
    """Batched model call: (B, 512, 384, 3) float32 RGB [0, 255] crops -> dict of output tensors (on device).

    Args:
        model: ``common.model.Model`` in eval mode, already on ``device``.
        device: torch device of the model.
        precision: 'fp32' | 'bf16' | 'fp16' (autocast; the body model runs in fp32 regardless).
    """

    def __init__(self, model, device: torch.device, precision: str = 'fp32'):
        if precision not in PRECISIONS:
            raise ValueError(f'--precision must be one of {list(PRECISIONS)}, got {precision!r}')
        self.model, self.device, self.precision = model, torch.device(device), precision
        if PRECISIONS[precision] is not None and hasattr(model, 'prepare_for_inference'):
            model.prepare_for_inference(PRECISIONS[precision])  # pre-cast weights, same outputs
        self.pin = self.device.type == 'cuda'

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(crops))
        if self.pin:
            x = x.pin_memory()
        x = x.to(self.device, non_blocking=True).permute(0, 3, 1, 2).div_(255.0)  # (B, 3, 512, 384) [0, 1]
        with autocast(self.precision, self.device):
            out = self.model({'img': x}, {}, {}, 'test')
        return {k: out[k].detach() for k in OUTPUT_KEYS}


def outputs_to_people(out: dict[str, torch.Tensor]) -> list[dict[str, np.ndarray]]:
    """Model outputs of a batch (any device) -> per person {npz key: array} (SPEC §5.1 shapes) plus, when
    ``out`` has ``smplx_mesh_cam``, ``vertices`` (10475, 3) float32 (camera frame, metres, includes transl)."""
    o = {k: out[k].float().cpu().numpy() for k in OUTPUT_KEYS if k in out}
    B = o['cam_trans'].shape[0]
    zeros = np.zeros((1, 3), np.float32)
    people = [{
        'global_orient': o['smplx_root_pose'][i].reshape(1, 3),
        'body_pose': o['smplx_body_pose'][i].reshape(21, 3),
        'left_hand_pose': o['smplx_lhand_pose'][i].reshape(15, 3),
        'right_hand_pose': o['smplx_rhand_pose'][i].reshape(15, 3),
        'jaw_pose': o['smplx_jaw_pose'][i].reshape(1, 3),
        'leye_pose': zeros, 'reye_pose': zeros,
        'betas': o['smplx_shape'][i].reshape(1, 10),
        'expression': o['smplx_expr'][i].reshape(1, 10),
        'transl': o['cam_trans'][i].reshape(1, 3),
    } for i in range(B)]
    if 'smplx_mesh_cam' in o:
        for i, person in enumerate(people):
            person['vertices'] = o['smplx_mesh_cam'][i]
    return people
