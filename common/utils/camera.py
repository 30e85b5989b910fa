"""Virtual-camera helpers of the SMPLer-X head (SPEC §1.10)."""
import logging
import math
from typing import Sequence

import torch

logger = logging.getLogger(__name__)

__all__ = ['camera_depth_scale', 'camera_translation', 'project_to_body_heatmap']

# Added to the depth before the perspective division (original value, avoids division by zero).
PROJ_DEPTH_EPS = 1e-4


def camera_depth_scale(focal: Sequence[float], camera_3d_size: float,
                       input_body_shape: Sequence[int]) -> float:
    """k = sqrt(fx * fy * size^2 / (H * W)); 56.3819 m for the released constants."""
    H, W = input_body_shape
    return math.sqrt(focal[0] * focal[1] * camera_3d_size ** 2 / (H * W))


def camera_translation(cam_param: torch.Tensor, depth_scale: float) -> torch.Tensor:
    """Raw camera parameters (B, 3) -> translation (B, 3) metres: (t_x, t_y, k * sigmoid(raw_z))."""
    t_z = depth_scale * torch.sigmoid(cam_param[:, 2:3])
    return torch.cat((cam_param[:, :2], t_z), dim=1)


def project_to_body_heatmap(points: torch.Tensor, cam_trans: torch.Tensor, focal: Sequence[float],
                            princpt: Sequence[float], input_body_shape: Sequence[int],
                            output_hm_shape: Sequence[int]) -> torch.Tensor:
    """Perspective projection of camera-frame points into body-heatmap units.

    Args:
        points: (B, J, 3) metres, camera frame, before adding `cam_trans`.
        cam_trans: (B, 3) metres.
        focal, princpt: (fx, fy), (cx, cy) in input_body_shape pixels (192x256 space).
        input_body_shape: (H, W) = (256, 192); output_hm_shape: (D, H, W) = (16, 16, 12).
    Returns:
        (B, J, 2) (x, y) in body-heatmap units (x over 12 columns, y over 16 rows).
    """
    p = points + cam_trans[:, None, :]
    z = p[:, :, 2:3] + PROJ_DEPTH_EPS
    f = p.new_tensor(focal)
    c = p.new_tensor(princpt)
    px = p[:, :, :2] / z * f + c  # (B, J, 2) in input_body_shape pixels
    to_hm = p.new_tensor([output_hm_shape[2] / input_body_shape[1], output_hm_shape[1] / input_body_shape[0]])
    return px * to_hm
