"""FaceRegressor: expression and jaw 6D rotation from the face task tokens (SPEC §1.8)."""
import logging
from typing import Tuple

import torch
from torch import nn

from common.nets.layers import make_linear_layers

logger = logging.getLogger(__name__)

__all__ = ['FaceRegressor']


class FaceRegressor(nn.Module):
    """`expr_token (B, C)` -> expression (B, 10); `jaw_token (B, C)` -> jaw 6D (B, 6)."""

    def __init__(self, feat_dim: int, expr_dim: int = 10):
        super().__init__()
        self.expr_out = make_linear_layers([feat_dim, expr_dim], relu_final=False)
        self.jaw_pose_out = make_linear_layers([feat_dim, 6], relu_final=False)

    def forward(self, expr_token: torch.Tensor, jaw_token: torch.Tensor
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.expr_out(expr_token), self.jaw_pose_out(jaw_token)
