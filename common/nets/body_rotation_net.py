"""BodyRotationNet: body pose (6D), betas and camera from task tokens (SPEC §1.5)."""
import logging
from typing import Tuple

import torch
from torch import nn

from common.nets.layers import make_linear_layers

logger = logging.getLogger(__name__)

__all__ = ['BodyRotationNet']


class BodyRotationNet(nn.Module):
    """Regresses root / body 6D rotations, shape and camera parameters.

    Inputs: `body_pose_token (B, 25, C)`, `shape_token (B, C)`, `cam_token (B, C)`,
    `body_joint_img (B, 25, 3)` body heatmap units (detached inside).
    Outputs: root 6D (B, 6), body 6D (B, 21*6), betas (B, 10), raw camera parameters (B, 3).
    """

    def __init__(self, feat_dim: int, joint_num: int = 25, pose_joint_num: int = 21,
                 token_dim: int = 512, shape_dim: int = 10):
        super().__init__()
        self.body_conv = make_linear_layers([feat_dim, token_dim], relu_final=False)
        pose_feat_dim = joint_num * (token_dim + 3)  # 25 * 515 = 12875
        self.root_pose_out = make_linear_layers([pose_feat_dim, 6], relu_final=False)
        self.body_pose_out = make_linear_layers([pose_feat_dim, pose_joint_num * 6], relu_final=False)
        self.shape_out = make_linear_layers([feat_dim, shape_dim], relu_final=False)
        self.cam_out = make_linear_layers([feat_dim, 3], relu_final=False)

    def forward(self, body_pose_token: torch.Tensor, shape_token: torch.Tensor,
                cam_token: torch.Tensor, body_joint_img: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        B, J, _ = body_pose_token.shape
        tok = self.body_conv(body_pose_token)  # (B, J, 512)
        feat = torch.cat((tok, body_joint_img.detach().to(tok.dtype)), dim=2)  # (B, J, 515)
        feat = feat.reshape(B, -1)  # joint-major flatten -> (B, J*515)
        root_pose = self.root_pose_out(feat)
        body_pose = self.body_pose_out(feat)
        shape = self.shape_out(shape_token)
        cam_param = self.cam_out(cam_token)
        return root_pose, body_pose, shape, cam_param
