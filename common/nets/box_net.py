"""BoxNet: left-hand / right-hand / face boxes from the feature map (SPEC §1.6)."""
import logging
from typing import Tuple

import torch
from torch import nn

from common.nets.layers import (JointSampler, make_conv_layers, make_deconv_layers, make_linear_layers,
                                soft_argmax_2d)

logger = logging.getLogger(__name__)

__all__ = ['BoxNet', 'restore_bbox']


class BoxNet(nn.Module):
    """Hand / face box regression.

    Inputs: `img_feat (B, C, 16, 12)`, `body_joint_hm (B, 25, 16, 16, 12)` (detached inside).
    The heatmaps are read as 400 channels (joint-major, depth-minor) and appended to the features;
    a 3-stage deconv stack upsamples x8 to (B, 256, 128, 96); a 1x1 conv gives three centre
    heatmaps (lhand, rhand, face) and box sizes are regressed from features sampled at the
    (detached) centres.

    Returns `(lhand_c, lhand_s, rhand_c, rhand_s, face_c, face_s)`, each (B, 2) as (x, y) in
    body-heatmap units (the 12x16 grid): centres are divided by the x8 upsampling factor.
    """

    def __init__(self, feat_dim: int, joint_num: int = 25, hm_depth: int = 16,
                 hidden_dim: int = 256, num_deconv: int = 3):
        super().__init__()
        self.deconv = make_deconv_layers([feat_dim + joint_num * hm_depth] + [hidden_dim] * num_deconv)
        self.bbox_center = make_conv_layers([hidden_dim, 3], kernel=1, stride=1, padding=0,
                                            bnrelu_final=False)
        self.lhand_size = make_linear_layers([hidden_dim, hidden_dim, 2], relu_final=False)
        self.rhand_size = make_linear_layers([hidden_dim, hidden_dim, 2], relu_final=False)
        self.face_size = make_linear_layers([hidden_dim, hidden_dim, 2], relu_final=False)
        self.sample = JointSampler()  # bilinear sampling at the box centres (no parameters)
        self.upsample = 2 ** num_deconv  # 8: deconv grid -> body-heatmap grid

    def forward(self, img_feat: torch.Tensor, body_joint_hm: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        B, J, D, H, W = body_joint_hm.shape
        hm = body_joint_hm.detach().reshape(B, J * D, H, W).to(img_feat.dtype)  # (B, 400, 16, 12)
        x = torch.cat((img_feat, hm), dim=1)  # (B, C + 400, 16, 12)
        x = self.deconv(x)  # (B, 256, 128, 96)
        centers = soft_argmax_2d(self.bbox_center(x))  # (B, 3, 2) in 128x96 cells: lhand, rhand, face
        feats = self.sample(x, centers.detach())  # (B, 3, 256)
        lhand_size = self.lhand_size(feats[:, 0])
        rhand_size = self.rhand_size(feats[:, 1])
        face_size = self.face_size(feats[:, 2])
        centers = centers / self.upsample  # -> body-heatmap (12x16) units
        return centers[:, 0], lhand_size, centers[:, 1], rhand_size, centers[:, 2], face_size


def restore_bbox(center: torch.Tensor, size: torch.Tensor, aspect_ratio: float, extension: float,
                 hm_to_px: Tuple[float, float] = (16.0, 16.0)) -> torch.Tensor:
    """Turn a predicted box into an enlarged, aspect-corrected xyxy box (detached, new tensor).

    Args:
        center, size: (B, 2) (x, y) in body-heatmap units.
        aspect_ratio: wanted width / height (1.0 for hands and face).
        extension: factor applied to width and height after squaring (2.0 hands, 1.5 face).
        hm_to_px: (sx, sy) heatmap cell -> input_body_shape pixel (192/12, 256/16).
    Returns:
        (B, 4) xyxy in input_body_shape (192x256) pixels.
    """
    scale = center.new_tensor(hm_to_px)
    center = center.detach() * scale
    w = size.detach()[:, 0] * scale[0]
    h = size.detach()[:, 1] * scale[1]
    # enlarge the short side about the centre so that w / h == aspect_ratio
    wider = w > aspect_ratio * h
    w, h = torch.where(wider, w, aspect_ratio * h), torch.where(wider, w / aspect_ratio, h)
    half = torch.stack((w, h), dim=1) * (extension / 2)
    return torch.cat((center - half, center + half), dim=1)
