"""BVH (Biovision hierarchy) writer for one track.

Hierarchy: the SMPL-X kinematic tree (55 joints, or 52 without jaw and eyes), names as
``common.utils.joint_sets.SMPLX_SKELETON_NAMES``. Offsets: the track's shaped rest skeleton (median betas), in
``unit`` (cm by default). The root has OFFSET 0 and six channels ``Xposition Yposition Zposition Zrotation
Yrotation Xrotation``: its world position and rotation; every other joint three rotation channels
``Zrotation Yrotation Xrotation`` (the local rotation ``R = Rz Ry Rx``, degrees). World = Y-up right-handed
(``rig.CAMERA_TO_WORLD``), the shared image camera at the origin looking down -z. Leaf joints get an
``End Site`` 5 cm (in ``unit``) along their bone.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from common.utils.files import atomic_write

__all__ = ['write_bvh', 'UNITS']

UNITS = {'cm': 100.0, 'm': 1.0}  # scale from metres


def _fmt(v) -> str:
    return ' '.join(f'{x:.6f}' for x in v)


def write_bvh(path, names, parents, rest_joints: np.ndarray, world_rotations_root: np.ndarray,
              local_rotations: np.ndarray, root_positions: np.ndarray, frame_time: float, unit: str = 'cm') -> None:
    """Write one animated skeleton.

    Args:
        names, parents: (J,) joint names and parent indices (-1 root; parents before children), the chosen subset.
        rest_joints: (J, 3) rest joint positions, metres, world axes.
        world_rotations_root: (T, 3, 3) root rotation in the world; local_rotations: (T, J, 3, 3) (index 0 ignored).
        root_positions: (T, 3) world position of the root joint, metres.
        frame_time: seconds per frame; unit: 'cm' or 'm'.
    """
    s = UNITS[unit]
    J = len(names)
    children = {i: [c for c in range(J) if parents[c] == i] for i in range(J)}
    lines = ['HIERARCHY']

    def emit(i, depth):
        pad = '  ' * depth
        if parents[i] < 0:
            lines.append(f'{pad}ROOT {names[i]}')
            lines.append(f'{pad}{{')
            lines.append(f'{pad}  OFFSET 0.000000 0.000000 0.000000')
            lines.append(f'{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation')
        else:
            lines.append(f'{pad}JOINT {names[i]}')
            lines.append(f'{pad}{{')
            lines.append(f'{pad}  OFFSET {_fmt((rest_joints[i] - rest_joints[parents[i]]) * s)}')
            lines.append(f'{pad}  CHANNELS 3 Zrotation Yrotation Xrotation')
        if children[i]:
            for c in children[i]:
                emit(c, depth + 1)
        else:
            bone = rest_joints[i] - rest_joints[parents[i]] if parents[i] >= 0 else np.array([0.0, 1.0, 0.0])
            end = bone / max(np.linalg.norm(bone), 1e-9) * 0.05 * s
            lines.extend([f'{pad}  End Site', f'{pad}  {{', f'{pad}    OFFSET {_fmt(end)}', f'{pad}  }}'])
        lines.append(f'{pad}}}')

    emit(int(np.flatnonzero(np.asarray(parents) < 0)[0]), 0)
    T = len(root_positions)
    rots = np.asarray(local_rotations, np.float64).copy()
    rots[:, 0] = world_rotations_root
    order = []  # channel order of the file: depth-first, as emitted
    stack = [int(np.flatnonzero(np.asarray(parents) < 0)[0])]
    while stack:
        i = stack.pop()
        order.append(i)
        stack.extend(reversed(children[i]))
    eul = Rotation.from_matrix(rots[:, order].reshape(-1, 3, 3)).as_euler('ZYX', degrees=True).reshape(T, J, 3)
    eul = np.rad2deg(np.unwrap(np.deg2rad(eul), axis=0))  # continuous channels (same rotations)
    motion = np.concatenate([np.asarray(root_positions, np.float64) * s, eul.reshape(T, -1)], axis=1)
    lines += ['MOTION', f'Frames: {T}', f'Frame Time: {frame_time:.8f}']
    lines += [_fmt(row) for row in motion]
    with atomic_write(path, fsync=False) as tmp:
        tmp.write_text('\n'.join(lines) + '\n')
