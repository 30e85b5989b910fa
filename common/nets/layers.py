"""Small building blocks shared by the SMPLer-X heads (SPEC §1.3).

The `make_*_layers` helpers return `nn.Sequential`s whose child indices reproduce the released
checkpoint layout (conv at 0, BN at 1, ReLU at 2, next conv at 3, ...), so the heads' parameter
names match `state_dict_*.tsv` exactly.

Coordinate conventions: soft-argmax results are in heatmap-cell index units (x over W, y over H,
z over D, no half-cell offset); `sample_joint_features` expects the same units.
"""
import logging
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger(__name__)

__all__ = [
    'make_conv_layers', 'make_deconv_layers', 'make_linear_layers',
    'soft_argmax_2d', 'soft_argmax_3d', 'sample_joint_features', 'JointSampler',
]


def make_conv_layers(feat_dims: Sequence[int], kernel: int = 3, stride: int = 1, padding: int = 1,
                     bnrelu_final: bool = True) -> nn.Sequential:
    """Conv2d (with bias) stack; BatchNorm2d + ReLU after each conv except, optionally, the last."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.Conv2d(feat_dims[i], feat_dims[i + 1], kernel_size=kernel, stride=stride,
                                padding=padding))
        if i < len(feat_dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_deconv_layers(feat_dims: Sequence[int], bnrelu_final: bool = True) -> nn.Sequential:
    """ConvTranspose2d(k=4, s=2, p=1, no bias) + BatchNorm2d + ReLU stages; each doubles H and W."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.ConvTranspose2d(feat_dims[i], feat_dims[i + 1], kernel_size=4, stride=2,
                                         padding=1, output_padding=0, bias=False))
        if i < len(feat_dims) - 2 or bnrelu_final:
            layers.append(nn.BatchNorm2d(feat_dims[i + 1]))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def make_linear_layers(feat_dims: Sequence[int], relu_final: bool = True) -> nn.Sequential:
    """Linear stack with ReLU between layers (and after the last one only if `relu_final`)."""
    layers = []
    for i in range(len(feat_dims) - 1):
        layers.append(nn.Linear(feat_dims[i], feat_dims[i + 1]))
        if i < len(feat_dims) - 2 or relu_final:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _expectation(prob: torch.Tensor, dim_sizes: Sequence[int]) -> list:
    """Expected index along each trailing axis of a normalised `prob (B, J, *dim_sizes)`."""
    coords = []
    n = len(dim_sizes)
    for axis, size in enumerate(dim_sizes):
        # marginal over every other spatial axis -> (B, J, size)
        other = tuple(2 + a for a in range(n) if a != axis)
        marginal = prob.sum(dim=other) if other else prob
        idx = torch.arange(size, device=prob.device, dtype=prob.dtype)
        coords.append((marginal * idx).sum(dim=-1))
    return coords


def soft_argmax_3d(heatmap: torch.Tensor) -> tuple:
    """Soft-argmax over a volume.

    Args:
        heatmap: (B, J, D, H, W) logits.
    Returns:
        coords (B, J, 3) as (x in [0, W-1], y in [0, H-1], z in [0, D-1]) cell-index units, and
        prob (B, J, D, H, W), the softmax over each joint's D*H*W cells.
    """
    B, J, D, H, W = heatmap.shape
    prob = F.softmax(heatmap.reshape(B, J, D * H * W), dim=2).reshape(B, J, D, H, W)
    z, y, x = _expectation(prob, (D, H, W))
    return torch.stack((x, y, z), dim=2), prob


def soft_argmax_2d(heatmap: torch.Tensor) -> torch.Tensor:
    """Soft-argmax over an image: heatmap (B, J, H, W) logits -> (B, J, 2) as (x, y) cell units."""
    B, J, H, W = heatmap.shape
    prob = F.softmax(heatmap.reshape(B, J, H * W), dim=2).reshape(B, J, H, W)
    y, x = _expectation(prob, (H, W))
    return torch.stack((x, y), dim=2)


def sample_joint_features(feat: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample features at joint locations (`F.grid_sample`, as the original).

    Args:
        feat: (B, C, H, W) feature map.
        joint_xy: (B, J, 2) locations in feature-cell units (x over W, y over H).
    Returns:
        (B, J, C); zero padding outside the map; `align_corners=True` (cell centres at integers).
    """
    B, C, H, W = feat.shape
    scale = joint_xy.new_tensor([2.0 / (W - 1), 2.0 / (H - 1)])
    grid = (joint_xy * scale - 1.0)[:, :, None, :].to(feat.dtype)  # (B, J, 1, 2) in [-1, 1]
    sampled = F.grid_sample(feat, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    return sampled[:, :, :, 0].transpose(1, 2)  # (B, C, J, 1) -> (B, J, C)


class JointSampler(nn.Module):
    """`sample_joint_features` as a module (no parameters): (B, C, H, W), (B, J, 2) -> (B, J, C).

    A module so that `common.nets.inference_transform.optimize_for_inference` can swap in the
    gather-based `GatherJointSampler` for inference; it holds nothing, so no state_dict entry.
    """

    def forward(self, feat: torch.Tensor, joint_xy: torch.Tensor) -> torch.Tensor:
        return sample_joint_features(feat, joint_xy)
