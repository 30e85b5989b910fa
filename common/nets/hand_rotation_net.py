"""HandRotationNet: 15 finger rotations (6D) per hand from RoI features (SPEC §1.7)."""
import logging

import torch
from torch import nn

from common.nets.layers import JointSampler, make_conv_layers, make_linear_layers

logger = logging.getLogger(__name__)

__all__ = ['HandRotationNet']


class HandRotationNet(nn.Module):
    """`hand_feat (N, C, 16, 16)`, `hand_joint_img (N, 20, 3)` hand-heatmap units -> (N, 15*6) 6D.

    A 1x1 conv + BN + ReLU gives 512 channels, sampled at the (detached) joint x, y; each joint's
    512 features are concatenated with its (x, y, z) and the joint-major flatten (N, 20*515) is
    regressed to 15 rotations.
    """

    def __init__(self, feat_dim: int, joint_num: int = 20, pose_joint_num: int = 15,
                 hidden_dim: int = 512):
        super().__init__()
        self.hand_conv = make_conv_layers([feat_dim, hidden_dim], kernel=1, stride=1, padding=0)
        self.hand_pose_out = make_linear_layers([joint_num * (hidden_dim + 3), pose_joint_num * 6],
                                                relu_final=False)
        self.sample = JointSampler()  # bilinear sampling at the joints (no parameters)

    def forward(self, hand_feat: torch.Tensor, hand_joint_img: torch.Tensor) -> torch.Tensor:
        N = hand_feat.shape[0]
        feat = self.hand_conv(hand_feat)  # (N, 512, 16, 16)
        joints = hand_joint_img.detach()
        sampled = self.sample(feat, joints[:, :, :2])  # (N, 20, 512)
        feat = torch.cat((sampled, joints.to(sampled.dtype)), dim=2).reshape(N, -1)  # (N, 20*515)
        return self.hand_pose_out(feat)
