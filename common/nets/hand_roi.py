"""HandRoI: upsampled features cropped on the two hand boxes with RoI-Align (SPEC §1.7)."""
import logging

import torch
from torch import nn
from torchvision.ops import roi_align

from common.nets.layers import make_conv_layers, make_deconv_layers

logger = logging.getLogger(__name__)

__all__ = ['HandRoI']


class HandRoI(nn.Module):
    """Hand feature extractor.

    Inputs: `img_feat (B, C, 16, 12)`; `lhand_bbox`, `rhand_bbox (B, 4)` xyxy in input_body_shape
    (192x256) pixels. A 2-stage deconv stack gives (B, C/4, 64, 48) (x4); boxes are mapped onto it
    (pixel / 4), RoI-Align'ed to 16x16 (spatial scale 1, adaptive sampling, aligned=False), the left
    crops mirrored along width, and a 1x1 conv lifts them back to C channels.

    Returns (2B, C, 16, 16): rows [0, B) left hands (mirrored), rows [B, 2B) right hands.
    """

    def __init__(self, feat_dim: int, upscale: int = 4, roi_size: int = 16,
                 body_feat_px: float = 16.0):
        super().__init__()
        if upscale != 4:
            raise ValueError(f'HandRoI: upscale={upscale} is not supported; every released model uses 4')
        self.deconv = make_deconv_layers([feat_dim, feat_dim // 2, feat_dim // 4])
        self.conv = make_conv_layers([feat_dim // 4, feat_dim], kernel=1, stride=1, padding=0,
                                     bnrelu_final=False)
        self.roi_size = roi_size
        # one body-feature cell covers 16 input pixels; after x4 upsampling one cell is 4 pixels
        self.px_to_cell = upscale / body_feat_px

    def forward(self, img_feat: torch.Tensor, lhand_bbox: torch.Tensor,
                rhand_bbox: torch.Tensor) -> torch.Tensor:
        B = img_feat.shape[0]
        feat = self.deconv(img_feat)  # (B, C/4, 64, 48)
        batch_idx = torch.arange(B, device=feat.device, dtype=feat.dtype)[:, None].repeat(2, 1)
        boxes = torch.cat((lhand_bbox, rhand_bbox), dim=0).to(feat.dtype) * self.px_to_cell
        rois = torch.cat((batch_idx, boxes), dim=1)  # (2B, 5): batch index, x1, y1, x2, y2
        crops = roi_align(feat, rois, (self.roi_size, self.roi_size), spatial_scale=1.0,
                          sampling_ratio=0, aligned=False)  # (2B, C/4, 16, 16)
        crops = torch.cat((crops[:B].flip(3), crops[B:]), dim=0)  # mirror left hands
        return self.conv(crops)
