"""Training losses of SMPLer-X (SPEC §3.1-§3.2).

Every term is returned **unreduced** (elementwise, masked, already multiplied by its weight) with the
shapes the original produced; the trainer averages each tensor over all its elements and sums the
terms (SPEC §3.1 reduction).

Which terms exist follows the original: `lhand_bbox` / `rhand_bbox` / `face_bbox` only when some sample of
the batch has a valid box of that kind, and `smplx_orient` only when its weight is set. Whether a batch
has any valid left/right hand or face box also decides the hand re-expression (one gate for both hands)
and the face alignment; those three flags cost one host-device sync per step.
"""
import logging
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from common.utils.joint_sets import HAND_JOINT_NUM, JOINT_PARTS, POS_JOINT_NUM

logger = logging.getLogger(__name__)

__all__ = ['LossWeights', 'coord_loss', 'param_loss', 'hand_box_frame', 'compute_losses']

_PARTS = ('body', 'lhand', 'rhand', 'face')  # contiguous joint ranges of the 137 set, in this order


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (config keys in brackets)."""
    smplx_pose: float = 10.0    # smplx_pose_weight
    smplx_shape: float = 1.0    # smplx_loss_weight
    smplx_kps_3d: float = 100.0  # smplx_kps_3d_weight (or legacy smplx_kps_weight)
    smplx_kps_2d: float = 1.0   # smplx_kps_2d_weight
    net_kps_2d: float = 1.0     # net_kps_2d_weight
    smplx_orient: Optional[float] = None  # smplx_orient_weight; None = no smplx_orient term


def coord_loss(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor,
               is_3d: torch.Tensor = None) -> torch.Tensor:
    """|out - gt| * valid elementwise (B, J, D); with `is_3d (B,)` the z column is also masked by it."""
    loss = (out - gt).abs() * valid
    if is_3d is not None:
        z_w = is_3d[:, None, None].to(loss.dtype).expand(-1, loss.shape[1], 1)  # (B, J, 1)
        loss = loss * torch.cat((torch.ones_like(loss[..., :2]), z_w), dim=-1)
    return loss


def param_loss(out: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """|out - gt| * valid elementwise."""
    return (out - gt).abs() * valid


def hand_box_frame(xy: torch.Tensor, box: torch.Tensor, body_px_to_hm: Tuple[float, float],
                   hand_hm_wh: Tuple[int, int]) -> torch.Tensor:
    """Re-express body-heatmap points in a hand box's heatmap frame.

    Args:
        xy: (B, J, 2) body-heatmap units.
        box: (B, 4) xyxy in input_body_shape pixels (restored, predicted box).
        body_px_to_hm: (12/192, 16/256) pixel -> body-heatmap factors.
        hand_hm_wh: (W, H) of the hand heatmap (16, 16).
    Returns:
        (B, J, 2) with x' = (x - x0) * Wh / w, y' = (y - y0) * Hh / h.
    """
    s = xy.new_tensor(body_px_to_hm)
    x0y0 = box[:, None, :2] * s
    wh = (box[:, None, 2:] - box[:, None, :2]) * s
    # a zero-size box would give inf (and NaN losses); keep the sign, avoid 0
    wh = torch.where(wh == 0, torch.full_like(wh, 1e-6), wh)
    return (xy - x0y0) * xy.new_tensor(hand_hm_wh) / wh


def _split_parts(x: torch.Tensor) -> List[torch.Tensor]:
    """(B, 137, C) -> [body (B, 25, C), lhand (B, 20, C), rhand (B, 20, C), face (B, 72, C)] views."""
    return [x[:, slice(*JOINT_PARTS[p])] for p in _PARTS]


def _to_box_frame(coord: torch.Tensor, trunc: torch.Tensor, box: torch.Tensor,
                  body_px_to_hm: Tuple[float, float], hand_hm_shape: Tuple[int, int, int], body_hm_depth: int
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
    """One hand's (B, 20, 3) body-heatmap targets -> its box's hand-heatmap frame; the (B, 20, 1)
    truncation flags additionally require 0 <= x', y' < 16 (SPEC §3.2)."""
    D_h, H_h, W_h = hand_hm_shape
    xy = hand_box_frame(coord[..., :2], box, body_px_to_hm, (W_h, H_h))
    z = coord[..., 2:] * (D_h / body_hm_depth)
    inside = ((xy >= 0) & (xy < xy.new_tensor((W_h, H_h)))).all(dim=-1, keepdim=True)
    return torch.cat((xy, z), dim=-1), trunc * inside


def _translation_aligned(proj: torch.Tensor, target: torch.Tensor, trunc: torch.Tensor) -> torch.Tensor:
    """(B, J, 2) projections shifted per sample by the mean target - projection offset over the
    truncation-valid joints (`trunc` (B, J, 1)); zero offset when none is valid."""
    offset = ((target - proj) * trunc).sum(1, keepdim=True) / trunc.sum(1, keepdim=True).clamp_min(1)
    return proj + offset


def compute_losses(pred: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                   meta_info: Mapping[str, torch.Tensor], weights: LossWeights, *,
                   body_px_to_hm: Tuple[float, float], hand_hm_shape: Tuple[int, int, int],
                   body_hm_depth: int, supervise_root_pose: bool = True) -> Dict[str, torch.Tensor]:
    """All SPEC §3.2 loss terms; inputs are never modified.

    `pred` keys: pose (B,159) axis-angle; shape, expr (B,10); joint_cam_wo_ra, joint_cam_ra (B,137,3)
    metres (root-relative / part-rooted); joint_proj (B,137,2) body-heatmap units; joint_img (B,65,3)
    (body joints in body-heatmap units, hands in their hand-box heatmap units); lhand_bbox, rhand_bbox
    (B,4) restored xyxy in input_body_shape pixels; {lhand,rhand,face}_bbox_{center,size} (B,2).
    `targets` / `meta_info` follow SPEC §4.2 (after default collate).
    """
    f32 = {k: v.float() for k, v in pred.items()}
    t, m = targets, meta_info
    B = f32['pose'].shape[0]
    # one host sync: which kinds of part box have a valid sample in this batch
    any_box = dict(zip(('lhand', 'rhand', 'face'), torch.stack(
        [(m[f'{p}_bbox_valid'] > 0).any() for p in ('lhand', 'rhand', 'face')]).tolist()))
    losses = {}

    pose_sl = slice(0, None) if supervise_root_pose else slice(3, None)
    losses['smplx_pose'] = param_loss(f32['pose'][:, pose_sl], t['smplx_pose'][:, pose_sl],
                                      m['smplx_pose_valid'][:, pose_sl]) * weights.smplx_pose
    if weights.smplx_orient is not None:
        losses['smplx_orient'] = param_loss(f32['pose'][:, :3], t['smplx_pose'][:, :3],
                                            m['smplx_pose_valid'][:, :3]) * weights.smplx_orient
    losses['smplx_shape'] = param_loss(f32['shape'], t['smplx_shape'],
                                       m['smplx_shape_valid'][:, None]) * weights.smplx_shape
    losses['smplx_expr'] = param_loss(f32['expr'], t['smplx_expr'], m['smplx_expr_valid'][:, None])
    is_3d = m['is_3D'].float()
    losses['joint_cam'] = coord_loss(f32['joint_cam_wo_ra'], t['joint_cam'],
                                     m['joint_valid'] * is_3d[:, None, None]) * weights.smplx_kps_3d
    losses['smplx_joint_cam'] = coord_loss(f32['joint_cam_ra'], t['smplx_joint_cam'],
                                           m['smplx_joint_valid']) * weights.smplx_kps_3d
    for part in ('lhand', 'rhand', 'face'):
        if any_box[part]:  # the original adds the term only then
            valid = m[f'{part}_bbox_valid'][:, None]
            losses[f'{part}_bbox'] = (param_loss(f32[f'{part}_bbox_center'], t[f'{part}_bbox_center'], valid)
                                      + param_loss(f32[f'{part}_bbox_size'], t[f'{part}_bbox_size'], valid))

    # --- hand targets in the predicted hand-box frames: one gate for both hands (SPEC §3.2)
    joint_img, joint_trunc = _split_parts(t['joint_img']), _split_parts(m['joint_trunc'])
    smplx_img, smplx_trunc = _split_parts(t['smplx_joint_img']), _split_parts(m['smplx_joint_trunc'])
    proj = _split_parts(f32['joint_proj'])
    if any_box['lhand'] or any_box['rhand']:
        hand_wh = (hand_hm_shape[2], hand_hm_shape[1])
        for k, box in ((1, f32['lhand_bbox']), (2, f32['rhand_bbox'])):  # indices into _PARTS
            joint_img[k], joint_trunc[k] = _to_box_frame(joint_img[k], joint_trunc[k], box, body_px_to_hm,
                                                         hand_hm_shape, body_hm_depth)
            smplx_img[k], smplx_trunc[k] = _to_box_frame(smplx_img[k], smplx_trunc[k], box, body_px_to_hm,
                                                         hand_hm_shape, body_hm_depth)
            proj[k] = _translation_aligned(hand_box_frame(proj[k], box, body_px_to_hm, hand_wh),
                                           joint_img[k][..., :2], joint_trunc[k])
    if any_box['face']:  # the face projections get the translation alignment only (no box rescale)
        proj[3] = _translation_aligned(proj[3], joint_img[3][..., :2], joint_trunc[3])
    joint_img_t, joint_trunc = torch.cat(joint_img, dim=1), torch.cat(joint_trunc, dim=1)
    smplx_joint_img_t, smplx_joint_trunc = torch.cat(smplx_img, dim=1), torch.cat(smplx_trunc, dim=1)
    losses['joint_proj'] = coord_loss(torch.cat(proj, dim=1), joint_img_t[..., :2],
                                      joint_trunc) * weights.smplx_kps_2d

    # --- position-net joints vs the 65-joint reduced targets
    n = POS_JOINT_NUM
    assert f32['joint_img'].shape[1] == n == 25 + 2 * HAND_JOINT_NUM, f32['joint_img'].shape
    losses['joint_img'] = coord_loss(f32['joint_img'], joint_img_t[:, :n], joint_trunc[:, :n],
                                     is_3d) * weights.net_kps_2d
    losses['smplx_joint_img'] = coord_loss(f32['joint_img'], smplx_joint_img_t[:, :n],
                                           smplx_joint_trunc[:, :n]) * weights.net_kps_2d
    assert all(v.shape[0] == B for v in losses.values())
    return losses
