"""The SMPL-X skeleton as an animation rig, in numpy (no torch): shaped rest joints, full poses, forward kinematics.

Posing follows SMPL-X's linear blend skinning (smplx ``lbs``): the local transform of joint ``i`` is the rotation
``R_i`` (axis-angle of the full pose, hand poses plus the mean hand: ``flat_hand_mean=False``) about the joint,
placed at the rest offset ``J_i - J_parent(i)``; the root sits at ``J_0``; ``transl`` is added at the end. The
rest joints come from the shaped template with zero expression (``J_regressor @ (v_template + S betas)``).

World frame of the exports (``CAMERA_TO_WORLD``): the shared image camera's axes turned from OpenCV (x right,
y down, z forward) into a Y-up right-handed frame (x right, y up, z towards the viewer), i.e. a 180° rotation
about x: ``(x, y, z) -> (x, -y, -z)``. The camera sits at the origin looking down -z (glTF's camera convention).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from common.utils.joint_sets import SMPLX_PARENTS, SMPLX_SKELETON_NAMES

__all__ = ['BodyRig', 'CAMERA_TO_WORLD', 'POSE_KEYS', 'BODY_HANDS_JOINTS', 'full_pose', 'local_rotations',
           'forward_kinematics', 'RigError']

CAMERA_TO_WORLD = np.diag([1.0, -1.0, -1.0])  # OpenCV camera axes -> Y-up right-handed world
POSE_KEYS = (('global_orient', 1), ('body_pose', 21), ('jaw_pose', 1), ('leye_pose', 1), ('reye_pose', 1),
             ('left_hand_pose', 15), ('right_hand_pose', 15))  # SMPL-X joint order 0..54
BODY_HANDS_JOINTS = tuple(i for i in range(55) if i not in (22, 23, 24))  # without jaw and eyes


class RigError(ValueError):
    """The SMPL-X model file cannot be used for export (missing, or lacking an array)."""


@dataclass
class BodyRig:
    """SMPL-X model arrays needed for export (float64).

    Attributes:
        v_template (V, 3); shapedirs (V, 3, 10) betas; exprdirs (V, 3, 10) expression; J_regressor (55, V);
        weights (V, 55) LBS weights; faces (F, 3) int; parents (55,) (-1 for the root); names (55,);
        hand_mean (2, 15, 3) axis-angle mean left/right hand pose.
    """
    v_template: np.ndarray
    shapedirs: np.ndarray
    exprdirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    faces: np.ndarray
    parents: np.ndarray
    names: tuple
    hand_mean: np.ndarray

    @classmethod
    def load(cls, model_file: str | Path) -> 'BodyRig':
        """Read ``SMPLX_{GENDER}.npz`` (the real file or the synthetic stand-in)."""
        path = Path(model_file)
        if path.is_dir():
            path = path / 'smplx' / 'SMPLX_NEUTRAL.npz'
        if not path.is_file():
            raise RigError(f'SMPL-X model file {path} not found: pass --human_model_path DIR (the folder holding '
                           f'smplx/SMPLX_NEUTRAL.npz, see README "SMPL-X model files")')
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in ('v_template', 'shapedirs', 'J_regressor', 'weights', 'f', 'kintree_table',
                                       'hands_meanl', 'hands_meanr')}
        except (KeyError, ValueError, OSError) as e:
            raise RigError(f'{path}: not a usable SMPL-X npz ({e})') from e
        sd = np.asarray(d['shapedirs'], np.float64)
        parents = np.asarray(d['kintree_table'][0], np.int64).copy()
        parents[0] = -1
        assert tuple(parents[1:]) == tuple(SMPLX_PARENTS[1:]), 'unexpected SMPL-X kinematic tree'
        e0 = 300 if sd.shape[2] > 300 else 10  # expression components follow 300 (or 10) shape components
        return cls(np.asarray(d['v_template'], np.float64), sd[:, :, :10], sd[:, :, e0:e0 + 10],
                   np.asarray(d['J_regressor'], np.float64), np.asarray(d['weights'], np.float64),
                   np.asarray(d['f'], np.int64), parents, tuple(SMPLX_SKELETON_NAMES),
                   np.stack([np.asarray(d['hands_meanl'], np.float64).reshape(15, 3),
                             np.asarray(d['hands_meanr'], np.float64).reshape(15, 3)]))

    def shaped(self, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rest vertices (V, 3), rest joints (55, 3)) metres, model frame (Y up), zero expression, for betas (10,)."""
        v = self.v_template + self.shapedirs @ np.asarray(betas, np.float64).reshape(10)
        return v, self.J_regressor @ v


def full_pose(params: dict, hand_mean: np.ndarray) -> np.ndarray:
    """(T, 55, 3) axis-angle of every joint from stacked npz params (each key (T, J, 3) or (T, 3) for single
    joints), hand poses plus the mean hand (``flat_hand_mean=False``)."""
    parts = []
    for key, n in POSE_KEYS:
        a = np.asarray(params[key], np.float64)
        parts.append(a.reshape(a.shape[0], n, 3))
    pose = np.concatenate(parts, axis=1)
    pose[:, 25:40] += hand_mean[0]
    pose[:, 40:55] += hand_mean[1]
    return pose


def local_rotations(pose: np.ndarray) -> np.ndarray:
    """(T, 55, 3) axis-angle -> (T, 55, 3, 3) rotation matrices."""
    T = pose.shape[0]
    return Rotation.from_rotvec(pose.reshape(-1, 3)).as_matrix().reshape(T, -1, 3, 3)


def forward_kinematics(rotations: np.ndarray, rest_joints: np.ndarray, parents: np.ndarray,
                       root_position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (T, J, 3, 3) and joint positions (T, J, 3) of a posed skeleton.

    Args:
        rotations: (T, J, 3, 3) local rotations (the root's is its world rotation).
        rest_joints: (J, 3) rest joint positions; child offsets are ``rest[i] - rest[parent]``.
        parents: (J,) parent index, -1 for the root (parents come before children).
        root_position: (T, 3) world position of the root joint.
    """
    T, J = rotations.shape[:2]
    R = np.empty_like(rotations)
    p = np.empty((T, J, 3))
    R[:, 0], p[:, 0] = rotations[:, 0], root_position
    for i in range(1, J):
        q = parents[i]
        R[:, i] = R[:, q] @ rotations[:, i]
        p[:, i] = p[:, q] + np.einsum('tij,j->ti', R[:, q], rest_joints[i] - rest_joints[q])
    return R, p
