"""Animated glTF 2.0 (.glb) writer (pygltflib): skinned SMPL-X meshes with expression morph targets.

Per person (``SkinnedTrack``) the file holds: a skinned mesh node ``track_K_mesh`` and a node ``track_K``
(identity) with the joint hierarchy under it (rest translations = the shaped skeleton's offsets, metres); the
mesh in its bind pose (shaped template, zero expression) with up to 8 influences per vertex (``JOINTS_0/1``, ``WEIGHTS_0/1``: the
largest LBS weights, renormalised to sum 1), 10 morph targets (the expression blend shapes), a skin with inverse
bind matrices; one animation with per-frame rotation channels of every joint, the root's translation and the
morph-target weights (the expression coefficients). Pose-corrective blend shapes (``posedirs``) are not
represented (glTF has no pose-driven morphs). Axes: Y-up right-handed world, metres (``rig.CAMERA_TO_WORLD``);
an optional perspective camera at the origin looking down -z is the shared image camera.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pygltflib as g
from scipy.spatial.transform import Rotation

from common.utils.files import atomic_write

__all__ = ['SkinnedTrack', 'write_glb', 'truncate_weights', 'MAX_INFLUENCES']

MAX_INFLUENCES = 8
_FLOAT, _USHORT, _UINT = 5126, 5123, 5125
_ARRAY, _ELEMENTS = 34962, 34963


def truncate_weights(weights: np.ndarray, k: int = MAX_INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) LBS weights -> (joints (V, k) int, weights (V, k) float32): the k largest, renormalised to 1
    (float32 sum within a few ulp of 1), descending."""
    w = np.asarray(weights, np.float64)
    idx = np.argsort(-w, axis=1, kind='stable')[:, :k]
    top = np.take_along_axis(w, idx, axis=1)
    top = np.where(top > 0, top, 0.0)
    top /= top.sum(axis=1, keepdims=True)
    top32 = top.astype(np.float32)
    top32[:, 0] += np.float32(1.0) - top32.sum(axis=1, dtype=np.float32)  # exact float32 sum for the validator
    idx = np.where(top32 > 0, idx, 0)
    return idx.astype(np.int64), top32


@dataclass
class SkinnedTrack:
    """One person to write.

    Attributes:
        name: node/mesh name; joint_names (J,); parents (J,) (-1 root).
        rest_vertices (V, 3), rest_joints (J, 3): bind pose, metres, world axes; faces (F, 3).
        weights (V, J) LBS weights; expr_dirs (V, 3, E) expression blend shapes (metres per unit).
        local_rotations (T, J, 3, 3) (index 0 ignored), root_rotation (T, 3, 3) world, root_position (T, 3)
        world metres; expression (T, E); present (T,) bool (written as the mesh's ``extras``).
    """
    name: str
    joint_names: tuple
    parents: np.ndarray
    rest_vertices: np.ndarray
    rest_joints: np.ndarray
    faces: np.ndarray
    weights: np.ndarray
    expr_dirs: np.ndarray
    local_rotations: np.ndarray
    root_rotation: np.ndarray
    root_position: np.ndarray
    expression: np.ndarray
    present: np.ndarray


class _Builder:
    """Accumulates a glTF document and its one binary buffer."""

    def __init__(self):
        self.doc = g.GLTF2(asset=g.Asset(generator='SMPLer-X export (pygltflib)', version='2.0'))
        self.blob = bytearray()

    def accessor(self, array: np.ndarray, component: int, kind: str, target: int | None = None,
                 minmax: bool = False) -> int:
        data = np.ascontiguousarray(array)
        while len(self.blob) % 4:
            self.blob.append(0)
        self.doc.bufferViews.append(g.BufferView(buffer=0, byteOffset=len(self.blob), byteLength=data.nbytes,
                                                 target=target))
        self.blob += data.tobytes()
        width = {'SCALAR': 1, 'VEC3': 3, 'VEC4': 4, 'MAT4': 16}[kind]
        flat = data.reshape(-1, width)
        acc = g.Accessor(bufferView=len(self.doc.bufferViews) - 1, componentType=component, count=len(flat),
                         type=kind)
        if minmax:
            acc.min, acc.max = flat.min(0).tolist(), flat.max(0).tolist()
        self.doc.accessors.append(acc)
        return len(self.doc.accessors) - 1

    def node(self, **kw) -> int:
        self.doc.nodes.append(g.Node(**kw))
        return len(self.doc.nodes) - 1


def _quats(rotations: np.ndarray) -> np.ndarray:
    """(T, 3, 3) -> (T, 4) float32 xyzw, signs chosen so consecutive keys are on the same hemisphere."""
    q = Rotation.from_matrix(rotations).as_quat()
    for t in range(1, len(q)):
        if np.dot(q[t], q[t - 1]) < 0:
            q[t] = -q[t]
    return q.astype(np.float32)


def _add_track(b: _Builder, tr: SkinnedTrack, times_acc: int, anim: g.Animation) -> int:
    J = len(tr.joint_names)
    joints = []
    for i in range(J):
        off = tr.rest_joints[i] - (tr.rest_joints[tr.parents[i]] if tr.parents[i] >= 0 else 0)
        joints.append(b.node(name=f'{tr.name}_{tr.joint_names[i]}', translation=[float(x) for x in off]))
    for i in range(J):
        kids = [joints[c] for c in range(J) if tr.parents[c] == i]
        if kids:
            b.doc.nodes[joints[i]].children = kids
    ibm = np.tile(np.eye(4, dtype=np.float32), (J, 1, 1))
    ibm[:, :3, 3] = -tr.rest_joints  # bind pose: unrotated joints at their rest positions
    ibm_acc = b.accessor(ibm.transpose(0, 2, 1).reshape(J, 16), _FLOAT, 'MAT4')  # column-major
    root = int(np.flatnonzero(np.asarray(tr.parents) < 0)[0])
    b.doc.skins.append(g.Skin(name=f'{tr.name}_skin', joints=joints, inverseBindMatrices=ibm_acc,
                              skeleton=joints[root]))
    jidx, w = truncate_weights(tr.weights)
    attrs = g.Attributes(POSITION=b.accessor(tr.rest_vertices.astype(np.float32), _FLOAT, 'VEC3', _ARRAY, True),
                         JOINTS_0=b.accessor(jidx[:, :4].astype(np.uint16), _USHORT, 'VEC4', _ARRAY),
                         WEIGHTS_0=b.accessor(w[:, :4], _FLOAT, 'VEC4', _ARRAY),
                         JOINTS_1=b.accessor(jidx[:, 4:8].astype(np.uint16), _USHORT, 'VEC4', _ARRAY),
                         WEIGHTS_1=b.accessor(w[:, 4:8], _FLOAT, 'VEC4', _ARRAY))
    E = tr.expr_dirs.shape[2]
    targets = [g.Attributes(POSITION=b.accessor(tr.expr_dirs[:, :, e].astype(np.float32), _FLOAT, 'VEC3', _ARRAY,
                                                True)) for e in range(E)]
    prim = g.Primitive(attributes=attrs, indices=b.accessor(tr.faces.astype(np.uint32).reshape(-1), _UINT,
                                                            'SCALAR', _ELEMENTS), targets=targets)
    b.doc.meshes.append(g.Mesh(name=tr.name, primitives=[prim], weights=[0.0] * E,
                               extras={'targetNames': [f'expression_{e}' for e in range(E)]}))
    mesh_node = b.node(name=f'{tr.name}_mesh', mesh=len(b.doc.meshes) - 1, skin=len(b.doc.skins) - 1,
                       extras={'present': [bool(x) for x in tr.present]})
    top = b.node(name=tr.name, children=[joints[root]])  # the skinned mesh node stays a scene root (glTF rule)

    def channel(node, path, values, kind):
        out = b.accessor(values, _FLOAT, kind)
        anim.samplers.append(g.AnimationSampler(input=times_acc, output=out, interpolation='LINEAR'))
        anim.channels.append(g.AnimationChannel(sampler=len(anim.samplers) - 1,
                                                target=g.AnimationChannelTarget(node=node, path=path)))

    rots = tr.local_rotations.copy()
    rots[:, root] = tr.root_rotation
    for i in range(J):
        channel(joints[i], 'rotation', _quats(rots[:, i]), 'VEC4')
    channel(joints[root], 'translation', tr.root_position.astype(np.float32), 'VEC3')
    channel(mesh_node, 'weights', tr.expression.astype(np.float32).reshape(-1), 'SCALAR')
    return [mesh_node, top]


def write_glb(path, tracks: list[SkinnedTrack], fps: float, camera: dict | None = None) -> None:
    """Write ``tracks`` (and ``camera`` {'yfov' rad, 'aspect'}: a perspective camera at the origin) as one .glb."""
    b = _Builder()
    T = len(tracks[0].root_position)
    times = b.accessor((np.arange(T) / fps).astype(np.float32), _FLOAT, 'SCALAR', minmax=True)
    anim = g.Animation(name='motion')
    tops = [n for tr in tracks for n in _add_track(b, tr, times, anim)]
    if camera is not None:
        b.doc.cameras.append(g.Camera(type='perspective', name='image_camera', perspective=g.Perspective(
            yfov=float(camera['yfov']), aspectRatio=float(camera['aspect']), znear=0.01, zfar=1000.0)))
        tops.append(b.node(name='image_camera', camera=0))
    b.doc.animations.append(anim)
    b.doc.scenes.append(g.Scene(name='scene', nodes=tops))
    b.doc.scene = 0
    b.doc.buffers.append(g.Buffer(byteLength=len(b.blob)))
    b.doc.set_binary_blob(bytes(b.blob))
    data = b"".join(b.doc.save_to_bytes())
    with atomic_write(path, fsync=False) as tmp:
        tmp.write_bytes(data)
