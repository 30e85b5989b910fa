"""PositionNet: 3D joint heatmaps from a feature map (SPEC §1.4 body, §1.7 hand)."""
import logging
from typing import Tuple

import torch
from torch import nn

from common.nets.layers import make_conv_layers, soft_argmax_3d

logger = logging.getLogger(__name__)

__all__ = ['PositionNet']


class PositionNet(nn.Module):
    """1x1 conv to `joint_num * D` channels, read as per-joint (D, H, W) volumes, then soft-argmax.

    Body: C -> 25*16 on the (16, 12) feature map, heatmap (16, 16, 12).
    Hand: C -> 20*16 on the (16, 16) RoI features, heatmap (16, 16, 16).

    Input feat (B, C, H, W); returns `joint_coord (B, J, 3)` (x, y, z) in heatmap-cell units and
    `joint_hm (B, J, D, H, W)` softmax-normalised over each joint's volume.
    """

    def __init__(self, feat_dim: int, joint_num: int, hm_depth: int = 16):
        super().__init__()
        self.joint_num = joint_num
        self.hm_depth = hm_depth
        self.conv = make_conv_layers([feat_dim, joint_num * hm_depth], kernel=1, stride=1, padding=0,
                                     bnrelu_final=False)

    def forward(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        B, _, H, W = feat.shape
        hm = self.conv(feat).reshape(B, self.joint_num, self.hm_depth, H, W)  # joint-major channels
        return soft_argmax_3d(hm)
