"""Rotation conversions used by the network (SPEC §1.9), built on roma."""
import logging

import roma
import torch

logger = logging.getLogger(__name__)

__all__ = ['rot6d_to_rotmat', 'rotmat_to_axis_angle', 'rot6d_to_axis_angle', 'unflip_axis_angle']

# F.normalize-style clamp for the Gram-Schmidt norms.
_GS_EPS = 1e-12


def rot6d_to_rotmat(x: torch.Tensor) -> torch.Tensor:
    """6D -> rotation matrix.

    Args:
        x: (..., 6) read as a row-major 3x2 matrix: first column = elements (0, 2, 4), second
            column = elements (1, 3, 5).
    Returns:
        (..., 3, 3) rotation matrices with columns (b1, b2, b1 x b2) from Gram-Schmidt.
    """
    m = x.reshape(*x.shape[:-1], 3, 2)
    return roma.special_gramschmidt(m, epsilon=_GS_EPS)


def rotmat_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle (radians); NaN results become 0."""
    return torch.nan_to_num(roma.rotmat_to_rotvec(R), nan=0.0)


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    """(B, 6*J) or (..., 6) 6D rotations -> axis-angle (B, 3*J) / (..., 3), computed in float32.

    A trailing dimension that is a multiple of 6 is treated as J joints of 6 values each.
    """
    lead = x.shape[:-1]
    with torch.autocast(device_type=x.device.type, enabled=False):
        six = x.float().reshape(*lead, -1, 6)  # (..., J, 6)
        aa = rotmat_to_axis_angle(rot6d_to_rotmat(six))  # (..., J, 3)
    return aa.reshape(*lead, -1)


def unflip_axis_angle(aa: torch.Tensor) -> torch.Tensor:
    """Mirror axis-angle rotations across the x=0 plane: keep x, negate y and z of every joint.

    Args:
        aa: (..., 3*J) axis-angle.
    Returns:
        new tensor of the same shape.
    """
    sign = aa.new_tensor([1.0, -1.0, -1.0])
    return (aa.reshape(*aa.shape[:-1], -1, 3) * sign).reshape(aa.shape)
