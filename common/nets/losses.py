"""Training losses of SMPLer-X (SPEC §3.1-§3.2).

Every term is returned **unreduced** (elementwise, masked, already multiplied by its weight) with the
shapes the original produced; the trainer averages each tensor over all its elements and sums the
terms (SPEC §3.1 reduction).

Box terms: the original adds `lhand_bbox` / `rhand_bbox` / `face_bbox` only when some sample of the
batch has a valid box, which needs a host-device sync. We always return them, masked by the per-sample
validity: when no box is valid the term is all zeros, so the summed loss and every gradient are
identical to the original's; only the logged value differs (0 instead of absent). The hand-target
re-expression and the face/hand translation alignment are gated the same way with `torch.where` on a
0-dim "any valid" tensor, never with Python `if`.
"""
import logging
from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

import torch

from common.utils.joint_sets import HAND_JOINT_NUM, JOINT_PARTS, POS_JOINT_NUM

logger = logging.getLogger(__name__)

__all__ = ['LossWeights', 'coord_loss', 'param_loss', 'hand_box_frame', 'compute_losses']


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (config keys in brackets)."""
    smplx_pose: float = 10.0    # smplx_pose_weight
    smplx_shape: float = 1.0    # smplx_loss_weight
    smplx_kps_3d: float = 100.0  # smplx_kps_3d_weight (or legacy smplx_kps_weight)
    smplx_kps_2d: float = 1.0   # smplx_kps_2d_weight
    net_kps_2d: float = 1.0     # net_kps_2d_weight


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
    # a zero-size box would give inf (and NaN gradients through torch.where); keep the sign, avoid 0
    wh = torch.where(wh == 0, torch.full_like(wh, 1e-6), wh)
    return (xy - x0y0) * xy.new_tensor(hand_hm_wh) / wh


def _part_mask(n: int, start: int, stop: int, device) -> torch.Tensor:
    m = torch.zeros(n, dtype=torch.bool, device=device)
    m[start:stop] = True
    return m


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
    dev = f32['pose'].device
    D_h, H_h, W_h = hand_hm_shape
    losses = {}

    pose_sl = slice(0, None) if supervise_root_pose else slice(3, None)
    losses['smplx_pose'] = param_loss(f32['pose'][:, pose_sl], t['smplx_pose'][:, pose_sl],
                                      m['smplx_pose_valid'][:, pose_sl]) * weights.smplx_pose
    losses['smplx_shape'] = param_loss(f32['shape'], t['smplx_shape'],
                                       m['smplx_shape_valid'][:, None]) * weights.smplx_shape
    losses['smplx_expr'] = param_loss(f32['expr'], t['smplx_expr'], m['smplx_expr_valid'][:, None])
    is_3d = m['is_3D'].float()
    losses['joint_cam'] = coord_loss(f32['joint_cam_wo_ra'], t['joint_cam'],
                                     m['joint_valid'] * is_3d[:, None, None]) * weights.smplx_kps_3d
    losses['smplx_joint_cam'] = coord_loss(f32['joint_cam_ra'], t['smplx_joint_cam'],
                                           m['smplx_joint_valid']) * weights.smplx_kps_3d
    for part in ('lhand', 'rhand', 'face'):
        valid = m[f'{part}_bbox_valid'][:, None]
        losses[f'{part}_bbox'] = (param_loss(f32[f'{part}_bbox_center'], t[f'{part}_bbox_center'], valid)
                                  + param_loss(f32[f'{part}_bbox_size'], t[f'{part}_bbox_size'], valid))

    # --- hand targets in the predicted hand-box frames (per hand, only if some box of it is valid)
    J = t['joint_img'].shape[1]
    l0, l1 = JOINT_PARTS['lhand']
    r0, r1 = JOINT_PARTS['rhand']
    any_l = (m['lhand_bbox_valid'] > 0).any()
    any_r = (m['rhand_bbox_valid'] > 0).any()
    lmask, rmask = _part_mask(J, l0, l1, dev), _part_mask(J, r0, r1, dev)
    gate_l = (lmask & any_l)[None, :, None]  # (1, J, 1)
    gate_r = (rmask & any_r)[None, :, None]
    lbox, rbox = f32['lhand_bbox'], f32['rhand_bbox']
    hand_wh = (W_h, H_h)

    def to_hand(xy):  # (B, J, 2) -> both hands re-expressed (full J, other joints untouched below)
        return torch.where(gate_l, hand_box_frame(xy, lbox, body_px_to_hm, hand_wh),
                           torch.where(gate_r, hand_box_frame(xy, rbox, body_px_to_hm, hand_wh), xy))

    def reexpress(coord, trunc):
        xy = to_hand(coord[..., :2])
        z = torch.where(gate_l | gate_r, coord[..., 2:] * (D_h / body_hm_depth), coord[..., 2:])
        inside = ((xy >= 0) & (xy < xy.new_tensor(hand_wh))).all(dim=-1, keepdim=True)
        trunc = torch.where(gate_l | gate_r, trunc * inside, trunc)
        return torch.cat((xy, z), dim=-1), trunc

    joint_img_t, joint_trunc = reexpress(t['joint_img'], m['joint_trunc'])
    smplx_joint_img_t, smplx_joint_trunc = reexpress(t['smplx_joint_img'], m['smplx_joint_trunc'])

    # --- projected joints: same hand transform, then per-sample 2D translation alignment per part
    proj = to_hand(f32['joint_proj'])
    f0, f1 = JOINT_PARTS['face']
    any_f = (m['face_bbox_valid'] > 0).any()
    aligned = []
    for (s, e), gate in (((0, l0), None), ((l0, l1), any_l), ((r0, r1), any_r), ((f0, f1), any_f)):
        p = proj[:, s:e]
        if gate is not None:
            w = joint_trunc[:, s:e]  # (B, Jp, 1)
            # mean target - projection offset over the part's truncation-valid joints (0 if none)
            offset = (((joint_img_t[:, s:e, :2] - p) * w).sum(1, keepdim=True)
                      / w.sum(1, keepdim=True).clamp_min(1))
            p = torch.where(gate, p + offset, p)
        aligned.append(p)
    proj = torch.cat(aligned + [proj[:, f1:]], dim=1)
    losses['joint_proj'] = coord_loss(proj, joint_img_t[..., :2], joint_trunc) * weights.smplx_kps_2d

    # --- position-net joints vs the 65-joint reduced targets
    n = POS_JOINT_NUM
    assert f32['joint_img'].shape[1] == n == 25 + 2 * HAND_JOINT_NUM, f32['joint_img'].shape
    losses['joint_img'] = coord_loss(f32['joint_img'], joint_img_t[:, :n], joint_trunc[:, :n],
                                     is_3d) * weights.net_kps_2d
    losses['smplx_joint_img'] = coord_loss(f32['joint_img'], smplx_joint_img_t[:, :n],
                                           smplx_joint_trunc[:, :n]) * weights.net_kps_2d
    assert all(v.shape[0] == B for v in losses.values())
    return losses
