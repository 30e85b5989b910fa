"""Pure, batched 3D pose/mesh metrics (SPEC §4.4).

Every function takes batched point sets ``(B, N, 3)`` as torch tensors (any float dtype, any device) and
returns one value per sample ``(B,)`` in the input's length unit (metres in this project; evaluators
multiply by 1000 for millimetres). Computation runs in float64 so Procrustes is exact to ~1e-12.

The whole-body protocol of EHF (and of the HumanData / AGORA-val evaluators) is
:func:`whole_body_errors`, driven by a :class:`WholeBodyMetricSets` that holds every vertex index set and
joint regressor it needs as dense matrices, so one batch costs one matmul per mesh.
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch

logger = logging.getLogger(__name__)

__all__ = [
    'rigid_transform', 'rigid_align', 'mean_point_error', 'translation_aligned_error',
    'procrustes_aligned_error', 'regress_joints', 'hand_joint_regressor', 'WholeBodyMetricSets',
    'whole_body_errors', 'WHOLE_BODY_METRICS', 'LSP14_SMPLX_JOINTS', 'lsp14_errors',
    'SMPLX_PELVIS', 'SMPLX_NECK', 'SMPLX_LEFT_WRIST', 'SMPLX_RIGHT_WRIST',
]

# Rows of the neutral SMPL-X J_regressor (55, 10475) used as translation anchors (SPEC §4.4).
SMPLX_PELVIS = 0
SMPLX_NECK = 12
SMPLX_LEFT_WRIST = 20
SMPLX_RIGHT_WRIST = 21

# 21-joint hand layout (SPEC §4.4): wrist, then per finger (thumb, index, middle, ring, pinky) the three
# SMPL-X finger joints (J_regressor rows) followed by one fingertip vertex.
_LEFT_HAND_FINGERS = (  # (joint rows, fingertip vertex id)
    ((37, 38, 39), 5361), ((25, 26, 27), 4933), ((28, 29, 30), 5058), ((34, 35, 36), 5169),
    ((31, 32, 33), 5286))
_RIGHT_HAND_FINGERS = (
    ((52, 53, 54), 8079), ((40, 41, 42), 7669), ((43, 44, 45), 7794), ((49, 50, 51), 7905),
    ((46, 47, 48), 8022))

# 14 LSP-style body joints as SMPL-X (and SMPL) skeleton rows, used for 3DPW (SPEC §4.4): hips, knees,
# ankles, neck, head, shoulders, elbows, wrists. Row 0 (pelvis) is the MPJPE alignment anchor.
LSP14_SMPLX_JOINTS = (1, 2, 4, 5, 7, 8, 12, 15, 16, 17, 18, 19, 20, 21)

# Metric names of the whole-body protocol, in the order the original prints them.
WHOLE_BODY_METRICS = (
    'pa_mpvpe_all', 'pa_mpvpe_l_hand', 'pa_mpvpe_r_hand', 'pa_mpvpe_hand', 'pa_mpvpe_face',
    'mpvpe_all', 'mpvpe_l_hand', 'mpvpe_r_hand', 'mpvpe_hand', 'mpvpe_face',
    'pa_mpjpe_body', 'pa_mpjpe_l_hand', 'pa_mpjpe_r_hand', 'pa_mpjpe_hand',
)


def _as_points(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """Convert to a float64 tensor and check the (B, N, 3) shape."""
    t = torch.as_tensor(x)
    if t.ndim != 3 or t.shape[-1] != 3:
        raise ValueError(f'{name} must have shape (B, N, 3), got {tuple(t.shape)}')
    return t.to(torch.float64)


def _check_pair(pred: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    p, g = _as_points(pred, 'pred'), _as_points(gt, 'gt')
    if p.shape != g.shape:
        raise ValueError(f'pred {tuple(p.shape)} and gt {tuple(g.shape)} must have the same shape')
    return p, g.to(p.device)


def rigid_transform(source: torch.Tensor, target: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least-squares similarity transform (Umeyama) mapping ``source`` onto ``target``.

    Args:
        source: (B, N, 3) points A.
        target: (B, N, 3) points B (same correspondence order).

    Returns:
        scale (B,), rotation (B, 3, 3) proper (det = +1), translation (B, 3) such that
        ``scale * source @ rotation.T + translation`` best fits ``target``.
    """
    a, b = _check_pair(source, target)
    n = a.shape[1]
    mu_a, mu_b = a.mean(dim=1, keepdim=True), b.mean(dim=1, keepdim=True)  # (B, 1, 3)
    ac, bc = a - mu_a, b - mu_b
    h = ac.transpose(1, 2) @ bc / n                                        # (B, 3, 3) cross-covariance
    u, s, vh = torch.linalg.svd(h)                                          # h = u diag(s) vh
    v = vh.transpose(1, 2)
    # Reflection fix: flip the last singular direction when V U^T is improper.
    sign = torch.sign(torch.linalg.det(v @ u.transpose(1, 2)))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    d = torch.ones_like(s)
    d[:, -1] = sign
    rotation = v @ torch.diag_embed(d) @ u.transpose(1, 2)                 # (B, 3, 3)
    var_a = (ac ** 2).sum(dim=(1, 2)) / n                                   # sum of per-axis variances
    scale = (s * d).sum(dim=1) / var_a.clamp_min(1e-30)                     # (B,)
    translation = mu_b[:, 0] - scale[:, None] * torch.einsum('bij,bj->bi', rotation, mu_a[:, 0])
    return scale, rotation, translation


def rigid_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` (B, N, 3) after the best similarity transform onto ``target`` (B, N, 3); float64."""
    scale, rotation, translation = rigid_transform(source, target)
    a = _as_points(source, 'source').to(rotation.device)
    return scale[:, None, None] * (a @ rotation.transpose(1, 2)) + translation[:, None, :]


def mean_point_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean distance between corresponding points: (B, N, 3) x2 → (B,)."""
    p, g = _check_pair(pred, gt)
    return torch.linalg.norm(p - g, dim=-1).mean(dim=1)


def translation_aligned_error(pred: torch.Tensor, gt: torch.Tensor, pred_anchor: torch.Tensor,
                              gt_anchor: torch.Tensor) -> torch.Tensor:
    """MPJPE/MPVPE after translating ``pred`` so that its anchor point coincides with the GT anchor.

    Args:
        pred, gt: (B, N, 3) points.
        pred_anchor, gt_anchor: (B, 3) anchor (e.g. pelvis) of prediction and ground truth.

    Returns:
        (B,) mean per-point error.
    """
    p, g = _check_pair(pred, gt)
    pa = torch.as_tensor(pred_anchor).to(p)
    ga = torch.as_tensor(gt_anchor).to(p)
    if pa.shape != (p.shape[0], 3) or ga.shape != (p.shape[0], 3):
        raise ValueError(f'anchors must have shape ({p.shape[0]}, 3), got {tuple(pa.shape)} and '
                         f'{tuple(ga.shape)}')
    return mean_point_error(p - pa[:, None] + ga[:, None], g)


def procrustes_aligned_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """PA-MPJPE / PA-MPVPE: mean error after similarity Procrustes alignment of ``pred``; (B,)."""
    return mean_point_error(rigid_align(pred, gt), gt)


def regress_joints(regressor: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """Joints from vertices: regressor (J, V) x vertices (B, V, 3) → (B, J, 3)."""
    v = _as_points(vertices, 'vertices')
    r = torch.as_tensor(regressor).to(v)
    if r.ndim != 2 or r.shape[1] != v.shape[1]:
        raise ValueError(f'regressor {tuple(r.shape)} does not match vertices {tuple(v.shape)}')
    return torch.matmul(r, v)                                  # (J, V) @ (B, V, 3) -> (B, J, 3)


def hand_joint_regressor(joint_regressor: np.ndarray | torch.Tensor, side: str) -> np.ndarray:
    """The (21, V) regressor of one hand's 21 joints (SPEC §4.4 layout).

    Args:
        joint_regressor: (55, V) neutral SMPL-X J_regressor.
        side: 'left' or 'right'.

    Returns:
        (21, V) float64 matrix: wrist row, then per finger three J_regressor rows and a one-hot row
        selecting the fingertip vertex.
    """
    if side not in ('left', 'right'):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    jr = np.asarray(joint_regressor, dtype=np.float64)
    if jr.ndim != 2 or jr.shape[0] < 55:
        raise ValueError(f'joint_regressor must be the (55, V) SMPL-X J_regressor, got {jr.shape}')
    wrist, fingers = ((SMPLX_LEFT_WRIST, _LEFT_HAND_FINGERS) if side == 'left'
                      else (SMPLX_RIGHT_WRIST, _RIGHT_HAND_FINGERS))
    rows = [jr[wrist]]
    for joint_rows, tip_vertex in fingers:
        rows.extend(jr[r] for r in joint_rows)
        tip = np.zeros(jr.shape[1])
        tip[tip_vertex] = 1.0
        rows.append(tip)
    return np.stack(rows)


@dataclasses.dataclass(frozen=True)
class WholeBodyMetricSets:
    """Every index set and regressor of the whole-body protocol, for meshes with V vertices.

    Attributes:
        left_hand_vertices, right_hand_vertices: (778,) vertex ids (MANO_SMPLX_vertex_ids.pkl).
        face_vertices: (5023,) FLAME vertex ids (SMPL-X__FLAME_vertex_ids.npy).
        regressor: (4 + 14 + 21 + 21, V) stacked joint regressor: anchors (pelvis, left wrist, right
            wrist, neck), J14 body joints, left-hand 21 joints, right-hand 21 joints.
    """
    left_hand_vertices: np.ndarray
    right_hand_vertices: np.ndarray
    face_vertices: np.ndarray
    regressor: np.ndarray

    @classmethod
    def from_arrays(cls, joint_regressor, j14_regressor, hand_vertex_ids: dict, face_vertex_ids
                    ) -> 'WholeBodyMetricSets':
        """Build from the (55, V) J_regressor, (14, V) J14 regressor, {'left_hand','right_hand'} ids
        and the face ids."""
        jr = np.asarray(joint_regressor, dtype=np.float64)
        j14 = np.asarray(j14_regressor, dtype=np.float64)
        if j14.shape != (14, jr.shape[1]):
            raise ValueError(f'J14 regressor must have shape (14, {jr.shape[1]}), got {j14.shape}')
        anchors = jr[[SMPLX_PELVIS, SMPLX_LEFT_WRIST, SMPLX_RIGHT_WRIST, SMPLX_NECK]]
        regressor = np.concatenate([anchors, j14, hand_joint_regressor(jr, 'left'),
                                    hand_joint_regressor(jr, 'right')])
        return cls(np.asarray(hand_vertex_ids['left_hand'], dtype=np.int64),
                   np.asarray(hand_vertex_ids['right_hand'], dtype=np.int64),
                   np.asarray(face_vertex_ids, dtype=np.int64), regressor)

    @property
    def num_vertices(self) -> int:
        return self.regressor.shape[1]


def whole_body_errors(pred_vertices: torch.Tensor, gt_vertices: torch.Tensor,
                      sets: WholeBodyMetricSets) -> dict[str, torch.Tensor]:
    """All 14 whole-body errors of SPEC §4.4 for a batch of meshes.

    Args:
        pred_vertices, gt_vertices: (B, V, 3) meshes in the same frame and unit (metres).
        sets: index sets / regressors (see :class:`WholeBodyMetricSets`).

    Returns:
        {name: (B,) float64 tensor} for every name in :data:`WHOLE_BODY_METRICS`, in the input unit.
        PA = similarity Procrustes per part; MPVPE all / hands / face translate the prediction by the
        pelvis / wrist / neck joint; "hand" entries are the mean of left and right.
    """
    p, g = _check_pair(pred_vertices, gt_vertices)
    if p.shape[1] != sets.num_vertices:
        raise ValueError(f'meshes have {p.shape[1]} vertices, metric sets expect {sets.num_vertices}')
    reg = torch.as_tensor(sets.regressor, device=p.device)
    jp, jg = regress_joints(reg, p), regress_joints(reg, g)       # (B, 60, 3)
    anchor_p, anchor_g = jp[:, :4], jg[:, :4]                      # pelvis, l-wrist, r-wrist, neck
    body = slice(4, 18)
    lhand_j, rhand_j = slice(18, 39), slice(39, 60)
    part = {name: (torch.index_select(p, 1, torch.as_tensor(v, device=p.device)),   # (B, n_part, 3)
                   torch.index_select(g, 1, torch.as_tensor(v, device=p.device)))
            for name, v in (('l', sets.left_hand_vertices), ('r', sets.right_hand_vertices),
                            ('face', sets.face_vertices))}

    out = {
        'pa_mpvpe_all': procrustes_aligned_error(p, g),
        'pa_mpvpe_l_hand': procrustes_aligned_error(*part['l']),
        'pa_mpvpe_r_hand': procrustes_aligned_error(*part['r']),
        'pa_mpvpe_face': procrustes_aligned_error(*part['face']),
        'mpvpe_all': translation_aligned_error(p, g, anchor_p[:, 0], anchor_g[:, 0]),
        'mpvpe_l_hand': translation_aligned_error(*part['l'], anchor_p[:, 1], anchor_g[:, 1]),
        'mpvpe_r_hand': translation_aligned_error(*part['r'], anchor_p[:, 2], anchor_g[:, 2]),
        'mpvpe_face': translation_aligned_error(*part['face'], anchor_p[:, 3], anchor_g[:, 3]),
        'pa_mpjpe_body': procrustes_aligned_error(jp[:, body], jg[:, body]),
        'pa_mpjpe_l_hand': procrustes_aligned_error(jp[:, lhand_j], jg[:, lhand_j]),
        'pa_mpjpe_r_hand': procrustes_aligned_error(jp[:, rhand_j], jg[:, rhand_j]),
    }
    for prefix in ('pa_mpvpe', 'mpvpe', 'pa_mpjpe'):
        out[f'{prefix}_hand'] = (out[f'{prefix}_l_hand'] + out[f'{prefix}_r_hand']) / 2
    return {name: out[name] for name in WHOLE_BODY_METRICS}


def lsp14_errors(pred_joints: torch.Tensor, gt_joints: torch.Tensor) -> dict[str, torch.Tensor]:
    """3DPW protocol on skeleton joints (SPEC §4.4): MPJPE after pelvis alignment and PA-MPJPE.

    Args:
        pred_joints: (B, J>=22, 3) SMPL-X skeleton joints of the prediction (J_regressor order).
        gt_joints: (B, J>=22, 3) SMPL skeleton joints of the GT (the first 22 share the SMPL-X order).

    Returns:
        {'mpjpe_body': (B,), 'pa_mpjpe_body': (B,)} on the 14 joints of :data:`LSP14_SMPLX_JOINTS`,
        MPJPE translating the prediction so its pelvis (row 0) matches the GT pelvis.
    """
    p = _as_points(pred_joints, 'pred_joints')
    g = _as_points(gt_joints, 'gt_joints').to(p.device)
    idx = list(LSP14_SMPLX_JOINTS)
    return {'mpjpe_body': translation_aligned_error(p[:, idx], g[:, idx], p[:, SMPLX_PELVIS], g[:, SMPLX_PELVIS]),
            'pa_mpjpe_body': procrustes_aligned_error(p[:, idx], g[:, idx])}
