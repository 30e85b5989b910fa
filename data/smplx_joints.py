"""SMPL-X joints without the full mesh, for the data loader.

Training targets need only the 144 SMPL-X joints. They depend on few vertices: those the joint regressor
reads, the 21 vertex-based extra joints (face keypoints, feet, finger tips) and the corners of the
landmark faces (static and dynamic contour). `SmplxJoints` poses just that vertex subset with the
``smplx`` package's own `lbs` / landmark functions, so its joints equal those of the full layer
(`common.utils.human_models.SMPLX`, tested to 1e-5 m) at a fraction of the cost: one full-mesh forward
is ~20-35 ms on one CPU thread, the subset ~2 ms with the real or synthetic SMPL-X files.
"""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import torch

__all__ = ["SmplxJoints", "get_smplx_joints"]

logger = logging.getLogger(__name__)


class SmplxJoints:
    """Batched SMPL-X joints (B, 144, 3) of the same model files and options as `human_models.SMPLX`.

    Call with the keyword arguments of `human_models.SMPLX` (axis-angle ``global_orient (B,3)``,
    ``body_pose (B,63)``, ``left/right_hand_pose (B,45)`` relative to the mean hand, ``jaw_pose (B,3)``,
    ``betas (B,10)``, ``expression (B,10)``, optional ``leye_pose``/``reye_pose``/``transl``); returns an
    object with ``joints`` (B, 144, 3) metres and ``vertices`` None.
    """

    def __init__(self, layer: torch.nn.Module):
        faces = layer.faces_tensor.long()
        lmk_faces = torch.cat([layer.lmk_faces_idx.reshape(-1), layer.dynamic_lmk_faces_idx.reshape(-1)])
        extra = layer.vertex_joint_selector.extra_joints_idxs.long()
        support = torch.nonzero(layer.J_regressor.abs().sum(dim=0) > 0).reshape(-1)
        keep = torch.unique(torch.cat([support, extra, faces[lmk_faces].reshape(-1)]))
        remap = torch.zeros(layer.v_template.shape[0], dtype=torch.long)
        remap[keep] = torch.arange(keep.numel())
        num_pose_basis = layer.posedirs.shape[0]
        self.num_vertices_posed = int(keep.numel())
        self.v_template = layer.v_template[keep]
        self.shapedirs = torch.cat([layer.shapedirs, layer.expr_dirs], dim=-1)[keep]
        self.posedirs = layer.posedirs.reshape(num_pose_basis, -1, 3)[:, keep].reshape(num_pose_basis, -1)
        self.J_regressor = layer.J_regressor[:, keep]
        self.lbs_weights = layer.lbs_weights[keep]
        self.parents = layer.parents
        self.faces = remap[faces]  # rows not referenced by a landmark are meaningless but never read
        self.lmk_faces_idx = layer.lmk_faces_idx
        self.lmk_bary_coords = layer.lmk_bary_coords
        self.dynamic_lmk_faces_idx = layer.dynamic_lmk_faces_idx
        self.dynamic_lmk_bary_coords = layer.dynamic_lmk_bary_coords
        self.neck_kin_chain = layer.neck_kin_chain
        self.extra_idx = remap[extra]
        self.pose_mean = layer.pose_mean
        self.num_body_joints = 21

    def __call__(self, *, global_orient, body_pose, left_hand_pose, right_hand_pose, jaw_pose, betas,
                 expression, leye_pose=None, reye_pose=None, transl=None):
        from smplx.lbs import find_dynamic_lmk_idx_and_bcoords, lbs, vertices2landmarks
        batch = global_orient.shape[0]
        zeros = global_orient.new_zeros(batch, 3)
        full_pose = torch.cat([global_orient.reshape(batch, 3), body_pose.reshape(batch, 63),
                               jaw_pose.reshape(batch, 3),
                               (zeros if leye_pose is None else leye_pose).reshape(batch, 3),
                               (zeros if reye_pose is None else reye_pose).reshape(batch, 3),
                               left_hand_pose.reshape(batch, 45), right_hand_pose.reshape(batch, 45)],
                              dim=1).float() + self.pose_mean  # (B, 165); the mean adds the hand means
        shape = torch.cat([betas.reshape(batch, -1), expression.reshape(batch, -1)], dim=1).float()
        verts, joints = lbs(shape, full_pose, self.v_template, self.shapedirs, self.posedirs,
                            self.J_regressor, self.parents, self.lbs_weights, pose2rot=True)
        dyn_faces, dyn_bary = find_dynamic_lmk_idx_and_bcoords(
            verts, full_pose, self.dynamic_lmk_faces_idx, self.dynamic_lmk_bary_coords, self.neck_kin_chain,
            pose2rot=True)
        lmk_faces = torch.cat([self.lmk_faces_idx.expand(batch, -1), dyn_faces], dim=1)
        lmk_bary = torch.cat([self.lmk_bary_coords.expand(batch, -1, -1), dyn_bary], dim=1)
        landmarks = vertices2landmarks(verts, self.faces, lmk_faces, lmk_bary)
        joints = torch.cat([joints, verts[:, self.extra_idx], landmarks], dim=1)  # (B, 144, 3)
        if transl is not None:
            joints = joints + transl.reshape(batch, 1, 3).float()
        return _Joints(joints)


class _Joints:
    def __init__(self, joints):
        self.joints, self.vertices = joints, None


@functools.lru_cache(maxsize=None)
def _build(model_file: str, gender: str) -> SmplxJoints:
    import smplx
    layer = smplx.SMPLX(model_file, gender=gender, num_betas=10, num_expression_coeffs=10, use_pca=False,
                        use_face_contour=True, flat_hand_mean=False, create_global_orient=False,
                        create_body_pose=False, create_left_hand_pose=False, create_right_hand_pose=False,
                        create_jaw_pose=False, create_leye_pose=False, create_reye_pose=False,
                        create_betas=False, create_expression=False, create_transl=False, ext="npz")
    joints = SmplxJoints(layer)
    logger.debug("SmplxJoints(%s): posing %d of %d vertices", model_file, joints.num_vertices_posed,
                 layer.v_template.shape[0])
    return joints


def get_smplx_joints(model_dir: str | Path, gender: str = "neutral") -> SmplxJoints:
    """The process-wide joints-only SMPL-X for ``model_dir`` / ``gender`` (options of SPEC §6.1)."""
    from common.utils.human_models import get_smplx
    model = get_smplx(model_dir, gender)  # validates the files and gives their path
    return _build(str(model.model_path), model.gender)
