"""Synthetic, person-shaped stand-ins for the licensed SMPL-X / SMPL model files.

``write_body_model_files(out_dir, seed)`` writes ``out_dir/human_model_files/`` with the file names, formats
and topology sizes of the real downloads (SMPL-X: 10475 vertices, 20908 faces, 55-joint tree, 400 shape
components of which 10 betas + 10 expressions are non-zero, landmark embeddings; SMPL: 6890 vertices,
13776 faces, 24 joints; MANO/FLAME vertex ids; the J14 regressor), so the code path from file to result is
the one real users run. The mesh is a T-posed "tube person": tubes around the bones, spheres for head and
eyes, skinning weights blended between neighbouring bones, and a joint regressor that averages rings of
vertices centred on each joint (so it recovers the joints exactly in the rest pose).
Numbers differ from the real model; nothing here is derived from the licensed files.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import scipy.sparse

from common.utils.joint_sets import SMPLX_PARENTS

__all__ = ["write_body_model_files", "SMPLX_REST_JOINTS"]

# Rest (T-pose) joint positions in metres: y up, the person faces +z, their left is +x.
_BODY_JOINTS = np.array([
    [0.00, 0.00, 0.00], [0.09, -0.08, 0.00], [-0.09, -0.08, 0.00], [0.00, 0.11, -0.01],
    [0.10, -0.48, 0.01], [-0.10, -0.48, 0.01], [0.00, 0.24, 0.00], [0.10, -0.88, -0.03],
    [-0.10, -0.88, -0.03], [0.00, 0.32, 0.01], [0.11, -0.94, 0.09], [-0.11, -0.94, 0.09],
    [0.00, 0.50, -0.01], [0.07, 0.43, 0.00], [-0.07, 0.43, 0.00], [0.00, 0.60, 0.02],
    [0.17, 0.44, -0.01], [-0.17, 0.44, -0.01], [0.43, 0.44, -0.02], [-0.43, 0.44, -0.02],
    [0.68, 0.44, -0.01], [-0.68, 0.44, -0.01],
])
_HEAD_CENTER = np.array([0.0, 0.66, 0.02])
_HEAD_R = 0.105
_JAW = np.array([0.0, 0.60, 0.05])
_EYES = np.array([[0.033, 0.68, 0.105], [-0.033, 0.68, 0.105]])  # L, R
# Finger chains of the left hand, relative to the wrist, in SMPL-X order (index, middle, pinky, ring,
# thumb): three joints and a tip each.
_L_FINGERS = {
    "index": [[0.095, 0.0, 0.025], [0.135, 0.0, 0.027], [0.162, 0.0, 0.028], [0.184, 0.0, 0.029]],
    "middle": [[0.098, 0.0, 0.005], [0.142, 0.0, 0.005], [0.171, 0.0, 0.005], [0.194, 0.0, 0.005]],
    "pinky": [[0.085, 0.0, -0.035], [0.112, 0.0, -0.039], [0.131, 0.0, -0.042], [0.148, 0.0, -0.044]],
    "ring": [[0.093, 0.0, -0.015], [0.133, 0.0, -0.017], [0.160, 0.0, -0.018], [0.181, 0.0, -0.019]],
    "thumb": [[0.025, -0.01, 0.030], [0.050, -0.015, 0.055], [0.075, -0.018, 0.070],
              [0.095, -0.020, 0.080]],
}


def _smplx_rest_joints() -> np.ndarray:
    joints = np.zeros((55, 3))
    joints[:22] = _BODY_JOINTS
    joints[22], joints[23], joints[24] = _JAW, _EYES[0], _EYES[1]
    for side, wrist, first, sign in (("L", 20, 25, 1.0), ("R", 21, 40, -1.0)):
        for f, chain in enumerate(_L_FINGERS.values()):
            for k in range(3):
                offset = np.array(chain[k]) * [sign, 1.0, 1.0]
                joints[first + 3 * f + k] = joints[wrist] + offset
    return joints


SMPLX_REST_JOINTS = _smplx_rest_joints()


class _Mesh:
    """Accumulates vertices, faces, skinning weights, bone-axis points and joint rings."""

    def __init__(self, num_joints: int, parents):
        self.v, self.f, self.w, self.axis, self.part = [], [], [], [], []
        self.rings: dict[int, list[list[int]]] = {}
        self.parents = parents
        self.nj = num_joints

    def add_vertex(self, p, weights: dict, axis, part: str) -> int:
        row = np.zeros(self.nj)
        for j, wj in weights.items():
            row[j] += wj
        self.v.append(np.asarray(p, float)), self.w.append(row), self.axis.append(np.asarray(axis, float))
        self.part.append(part)
        return len(self.v) - 1

    def tube(self, pts, owners, radii, part, res=12, per_seg=4, flat=None, ring_joints=(), lead=None):
        """Tube along ``pts``; segment i is owned by joint ``owners[i]`` (blended with its parent at the
        start and with ``owners[i+1]`` at the end). Rings at points whose joint is in ``ring_joints``
        are recorded for the joint regressor. ``flat=(direction, ratio)`` makes elliptic rings.
        ``lead=(point, radius)`` prepends a segment owned by ``owners[0]`` (no joint ring there)."""
        pts = np.asarray(pts, float)
        if lead is not None:
            pts = np.vstack([lead[0], pts])
            owners = [owners[0]] + list(owners)
            radii = [lead[1]] + list(radii)
            ring_joints = set(ring_joints)
        rings = []
        n_seg = len(pts) - 1
        for i in range(n_seg):
            a, b = pts[i], pts[i + 1]
            d = (b - a) / np.linalg.norm(b - a)
            ref = np.array(flat[0], float) if flat else (
                np.array([0, 0, 1.0]) if abs(d[2]) < 0.9 else np.array([1.0, 0, 0]))
            u = ref - d * (ref @ d)
            u /= np.linalg.norm(u)
            v = np.cross(d, u)
            steps = per_seg + (1 if i == n_seg - 1 else 0)
            for s in range(steps):
                t = s / per_seg
                c = a + t * (b - a)
                r = radii[i] + t * (radii[i + 1] - radii[i])
                own = owners[i]
                nxt = owners[i + 1] if i + 1 < len(owners) else None
                wts = {own: 1.0}
                if nxt is not None and nxt != own and t > 0.75:
                    wts = {own: 1.0 - (t - 0.75) * 2, nxt: (t - 0.75) * 2}
                elif t < 0.25 and self.parents[own] >= 0:
                    wts = {own: 0.5 + t * 2, self.parents[own]: 0.5 - t * 2}
                ring = []
                for k in range(res):
                    ang = 2 * np.pi * k / res
                    ru, rv = (r, r * flat[1]) if flat else (r, r)
                    p = c + ru * np.cos(ang) * u + rv * np.sin(ang) * v
                    ring.append(self.add_vertex(p, wts, c, part))
                rings.append(ring)
                jt = owners[i] if s == 0 else (owners[i + 1] if (t == 1 and i + 1 < len(owners)) else None)
                if lead is not None and i == 0 and s == 0:
                    jt = None
                if jt is not None and jt in ring_joints:
                    self.rings.setdefault(jt, []).append(ring)
        for r0, r1 in zip(rings[:-1], rings[1:]):
            for k in range(res):
                k1 = (k + 1) % res
                self.f += [[r0[k], r0[k1], r1[k1]], [r0[k], r1[k1], r1[k]]]
        for ring, end in ((rings[0], pts[0]), (rings[-1], pts[-1])):  # caps
            wts = {owners[0]: 1.0} if ring is rings[0] else {owners[min(n_seg - 1, len(owners) - 1)]: 1.0}
            c = self.add_vertex(end, wts, end, part)
            for k in range(res):
                self.f.append([c, ring[(k + 1) % res], ring[k]] if ring is rings[0]
                              else [c, ring[k], ring[(k + 1) % res]])

    def sphere(self, center, radius, n_lat, n_lon, weight_fn, part, ring_joint=None):
        start = len(self.v)
        pts = [center + [0, radius, 0]]
        for i in range(1, n_lat):
            th = np.pi * i / n_lat
            for k in range(n_lon):
                ph = 2 * np.pi * k / n_lon
                pts.append(center + radius * np.array([np.sin(th) * np.sin(ph), np.cos(th),
                                                       np.sin(th) * np.cos(ph)]))
        pts.append(center - [0, radius, 0])
        ids = [self.add_vertex(p, weight_fn(p), center, part) for p in pts]
        last = len(pts) - 1

        def vid(i, k):  # ring i in 1..n_lat-1
            return start + 1 + (i - 1) * n_lon + k % n_lon
        first_face = len(self.f)
        for k in range(n_lon):
            self.f.append([start, vid(1, k), vid(1, k + 1)])
            self.f.append([start + last, vid(n_lat - 1, k + 1), vid(n_lat - 1, k)])
        for i in range(1, n_lat - 1):
            for k in range(n_lon):
                self.f += [[vid(i, k), vid(i + 1, k), vid(i + 1, k + 1)],
                           [vid(i, k), vid(i + 1, k + 1), vid(i, k + 1)]]
        if ring_joint is not None:
            self.rings.setdefault(ring_joint, []).append(ids)
        return first_face, len(self.f)


def _body_tubes(m: _Mesh, J: np.ndarray, ring_joints):
    """Torso, neck, legs (with feet) and arms, shared by SMPL-X and SMPL."""
    m.tube(J[[0, 3, 6, 9, 12]], [0, 3, 6, 9, 12], [0.13, 0.12, 0.125, 0.13, 0.06], "body", res=32,
           per_seg=6, flat=([1, 0, 0], 0.7), ring_joints=ring_joints, lead=(J[0] - [0, 0.13, 0], 0.10))
    m.tube(J[[12, 15]], [12, 15], [0.055, 0.05], "body", res=14, per_seg=4, ring_joints=ring_joints)
    for hip, knee, ankle, foot in ((1, 4, 7, 10), (2, 5, 8, 11)):
        toe = J[foot] + [0, 0, 0.07]
        m.tube(np.vstack([J[[hip, knee, ankle, foot]], toe]), [hip, knee, ankle, foot],
               [0.075, 0.055, 0.04, 0.035, 0.025], "body", res=24, per_seg=8, ring_joints=ring_joints)
    for collar, sho, elb, wri in ((13, 16, 18, 20), (14, 17, 19, 21)):
        m.tube(J[[collar, sho, elb, wri]], [collar, sho, elb, wri], [0.05, 0.05, 0.04, 0.03], "body",
               res=20, per_seg=8, ring_joints=ring_joints)


def _finish(m: _Mesh, num_v: int, num_f: int, special: dict, part_order, fixed_ids=None):
    """Pad to the exact topology sizes and permute vertices so part/special ids land where required.

    ``special``: {global id: (part, position, weights)} extra landmark vertices.
    Returns v, f, weights, axis, parts (all in global order) and the global ids of each part.
    """
    local_special = {}
    for gid, (part, pos, wts) in special.items():
        local_special[gid] = m.add_vertex(pos, wts, pos, part)
    budgets = dict(part_order)
    counts = {p: sum(1 for q in m.part if q == p) for p in budgets}
    for p, n in budgets.items():
        if counts[p] > n:
            raise AssertionError(f"synthetic model part {p!r} has {counts[p]} vertices > budget {n}")
        anchor = next(i for i, q in enumerate(m.part) if q == p)
        for _ in range(n - counts[p]):  # unreferenced filler vertices at the part's first vertex
            m.add_vertex(m.v[anchor], {int(np.argmax(m.w[anchor])): 1.0}, m.axis[anchor], p)
    assert len(m.v) == num_v, (len(m.v), num_v)
    if len(m.f) > num_f:
        raise AssertionError(f"{len(m.f)} faces > {num_f}")
    m.f += m.f[: num_f - len(m.f)]  # duplicate faces to reach the exact count
    # Global ids: specials fixed; the rest of each part takes consecutive free ids in part order.
    free = [g for g in range(num_v) if g not in special]
    local_to_global = np.full(num_v, -1, np.int64)
    for gid, li in local_special.items():
        local_to_global[li] = gid
    part_ids, cursor = {}, 0
    for p in budgets:
        local = [i for i, q in enumerate(m.part) if q == p and i not in local_special.values()]
        local_to_global[local] = free[cursor: cursor + len(local)]
        cursor += len(local)
        part_ids[p] = np.sort(local_to_global[[i for i, q in enumerate(m.part) if q == p]])
    order = np.argsort(local_to_global)  # global -> local
    v = np.asarray(m.v)[order]
    w = np.asarray(m.w)[order]
    axis = np.asarray(m.axis)[order]
    f = local_to_global[np.asarray(m.f)]
    rings = {j: [local_to_global[r] for r in rs] for j, rs in m.rings.items()}
    return v, f, w, axis, part_ids, rings


def _regressor(rings, num_joints, num_v):
    jr = np.zeros((num_joints, num_v))
    for j in range(num_joints):
        ids = np.concatenate(rings[j])
        jr[j, ids] += 1.0 / len(ids)
    return jr


def _shape_dirs(v, axis, rng, n_betas, n_components, expr_ids=None, expr_start=None, n_expr=10):
    """Smooth, plausible shape directions: height, girth, leg/arm length, torso, plus random blobs."""
    sd = np.zeros((len(v), 3, n_components))
    sd[:, :, 0] = 0.05 * v                                       # overall scale
    sd[:, :, 1] = 0.25 * (v - axis)                               # girth
    sd[:, 1, 2] = -0.05 * np.clip((-0.08 - v[:, 1]) / 0.9, 0, 1)  # leg length
    sd[:, 0, 3] = 0.04 * np.sign(v[:, 0]) * np.clip((np.abs(v[:, 0]) - 0.17) / 0.5, 0, 1)  # arms
    sd[:, 1, 4] = 0.04 * np.clip(v[:, 1] / 0.5, 0, 1)            # torso height
    for b in range(5, n_betas):
        c = rng.uniform([-0.3, -0.9, -0.1], [0.3, 0.7, 0.1])
        blob = np.exp(-np.sum((v - c) ** 2, 1) / (2 * 0.15 ** 2))
        sd[:, :, b] = 0.02 * blob[:, None] * rng.normal(size=3)
    if expr_ids is not None:
        face = expr_ids[v[expr_ids, 2] > _HEAD_CENTER[2]]
        for e in range(n_expr):
            c = _HEAD_CENTER + _HEAD_R * np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.6, 0.3), 0.9])
            blob = np.exp(-np.sum((v[face] - c) ** 2, 1) / (2 * 0.03 ** 2))
            sd[face, :, expr_start + e] = 0.006 * blob[:, None] * rng.normal(size=3)
    return sd


def _nearest_faces(v, f, face_range, targets):
    cand = np.arange(*face_range)
    cent = v[f[cand]].mean(1)
    d = np.linalg.norm(cent[None] - np.asarray(targets)[:, None], axis=-1)
    return cand[np.argmin(d, 1)]


def _face_landmarks():
    """51 static landmark directions on the face (units of head radius), SMPL-X/FLAME order."""
    pts = [(x, 0.38) for x in np.linspace(-0.55, -0.15, 5)] + [(x, 0.38) for x in np.linspace(0.15, 0.55, 5)]
    pts += [(0.0, y) for y in np.linspace(0.25, -0.05, 4)] + [(x, -0.15) for x in np.linspace(-0.2, 0.2, 5)]
    for cx in (-0.3, 0.3):
        pts += [(cx + 0.12 * np.cos(a), 0.17 + 0.05 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 6,
                                                                                       endpoint=False)]
    pts += [(0.3 * np.cos(a), -0.45 + 0.12 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 12, endpoint=False)]
    pts += [(0.18 * np.cos(a), -0.45 + 0.05 * np.sin(a)) for a in np.linspace(np.pi, -np.pi, 8, endpoint=False)]
    return [np.array([x, y, np.sqrt(max(1e-3, 1 - x * x - y * y))]) for x, y in pts]


def _build_smplx(rng):
    J = SMPLX_REST_JOINTS
    parents = np.array(SMPLX_PARENTS)
    m = _Mesh(55, parents)
    ring_joints = set(range(55))
    _body_tubes(m, J, ring_joints)
    for side, wrist, first, sign in (("lhand", 20, 25, 1.0), ("rhand", 21, 40, -1.0)):
        knuckle = J[wrist] + [sign * 0.09, 0.0, -0.003]
        m.tube([J[wrist], knuckle], [wrist], [0.03, 0.04], side, res=12, per_seg=4, flat=([0, 0, 1], 0.45),
               ring_joints=ring_joints)
        for f, chain in enumerate(_L_FINGERS.values()):
            ids = [first + 3 * f + k for k in range(3)]
            tip = J[wrist] + np.array(chain[3]) * [sign, 1, 1]
            m.tube(np.vstack([J[ids], tip]), ids, [0.009, 0.008, 0.007, 0.006], side, res=10, per_seg=4,
                   ring_joints=ring_joints)

    def head_w(p):
        rel = p - _HEAD_CENTER
        if rel[1] < -0.35 * _HEAD_R and rel[2] > 0:
            return {22: 1.0}
        return {15: 1.0}
    head_faces = m.sphere(_HEAD_CENTER, _HEAD_R, 56, 84, head_w, "head")
    m.sphere(_EYES[0], 0.012, 8, 12, lambda p: {23: 1.0}, "head", ring_joint=23)
    m.sphere(_EYES[1], 0.012, 8, 12, lambda p: {24: 1.0}, "head", ring_joint=24)
    m.sphere(_JAW, 0.01, 6, 8, lambda p: {22: 1.0}, "head", ring_joint=22)
    hc, r = _HEAD_CENTER, _HEAD_R
    special = {9120: ("head", hc + [0, -0.05, r + 0.012], {15: 1.0}),
               9929: ("head", _EYES[1] + [0, 0, 0.012], {24: 1.0}),
               9448: ("head", _EYES[0] + [0, 0, 0.012], {23: 1.0}),
               616: ("head", hc + [-r, 0, 0], {15: 1.0}), 6: ("head", hc + [r, 0, 0], {15: 1.0})}
    for gid, foot, ankle, dx, dz in ((5770, 10, 7, -0.02, 0.07), (5780, 10, 7, 0.03, 0.05),
                                     (8463, 11, 8, 0.02, 0.07), (8474, 11, 8, -0.03, 0.05)):
        special[gid] = ("body", J[foot] + [dx, -0.02, dz], {foot: 1.0})
    special[8846] = ("body", J[7] + [0, -0.07, -0.05], {7: 1.0})
    special[8635] = ("body", J[8] + [0, -0.07, -0.05], {8: 1.0})
    tips = {"lhand": (20, 25, 1.0, [5361, 4933, 5058, 5286, 5169]),  # thumb, index, middle, pinky, ring
            "rhand": (21, 40, -1.0, [8079, 7669, 7794, 8022, 7905])}
    for side, (wrist, first, sign, ids) in tips.items():
        chains = [_L_FINGERS[k] for k in ("thumb", "index", "middle", "pinky", "ring")]
        finger_idx = [4, 0, 1, 2, 3]
        for gid, chain, fi in zip(ids, chains, finger_idx):
            special[gid] = (side, J[wrist] + np.array(chain[3]) * [sign, 1, 1] + [sign * 0.004, 0, 0],
                            {first + 3 * fi + 2: 1.0})
    v, f, w, axis, part_ids, rings = _finish(
        m, 10475, 20908, special, [("body", 3896), ("lhand", 778), ("rhand", 778), ("head", 5023)])
    # head faces keep their order in m.f, so the face range is still valid after the vertex permutation
    lmk_faces = _nearest_faces(v, f, head_faces, [hc + r * d for d in _face_landmarks()])
    dyn = np.zeros((79, 17), np.int64)
    for b in range(79):
        yaw = np.deg2rad(b - 39)
        ang = np.linspace(-np.pi / 2, np.pi / 2, 17) + yaw
        hgt = -0.15 - 0.55 * np.cos(np.linspace(-np.pi / 2, np.pi / 2, 17))
        targets = [hc + r * np.array([np.sin(a) * np.sqrt(1 - h * h), h, np.cos(a) * np.sqrt(1 - h * h)])
                   for a, h in zip(ang, hgt)]
        dyn[b] = _nearest_faces(v, f, head_faces, targets)
    return dict(v=v, f=f, w=w, axis=axis, part_ids=part_ids, jr=_regressor(rings, 55, 10475),
                lmk_faces=lmk_faces, dyn=dyn)


def _build_smpl(rng):
    J = np.zeros((24, 3))
    J[:22] = _BODY_JOINTS
    J[22], J[23] = _BODY_JOINTS[20] + [0.09, 0, 0], _BODY_JOINTS[21] - [0.09, 0, 0]
    parents = np.array(list(SMPLX_PARENTS[:22]) + [20, 21])
    m = _Mesh(24, parents)
    ring_joints = set(range(24))
    _body_tubes(m, J, ring_joints)
    for wrist, hand, sign in ((20, 22, 1.0), (21, 23, -1.0)):
        m.tube([J[wrist], J[hand], J[hand] + [sign * 0.09, 0, 0]], [wrist, hand], [0.03, 0.04, 0.02], "body",
               res=10, per_seg=4, flat=([0, 0, 1], 0.45), ring_joints=ring_joints)
    m.sphere(_HEAD_CENTER, _HEAD_R, 40, 60, lambda p: {15: 1.0}, "head")
    v, f, w, axis, _, rings = _finish(m, 6890, 13776, {}, [("body", 4500), ("head", 2390)])
    return dict(v=v, f=f, w=w, axis=axis, jr=_regressor(rings, 24, 6890), parents=parents)


def write_body_model_files(out_dir: str | Path, seed: int = 0) -> Path:
    """Write the synthetic body-model files; returns ``out_dir/human_model_files``."""
    rng = np.random.default_rng(seed)
    root = Path(out_dir) / "human_model_files"
    (root / "smplx").mkdir(parents=True, exist_ok=True)
    (root / "smpl").mkdir(parents=True, exist_ok=True)

    sx = _build_smplx(rng)
    shapedirs = _shape_dirs(sx["v"], sx["axis"], rng, 10, 400, expr_ids=sx["part_ids"]["head"],
                            expr_start=300).astype(np.float32)
    hand_mean_r = np.tile([0.0, 0.0, 0.15], 15)
    hand_mean_r[12 * 3 + 2] = 0.05  # thumb curls less
    hand_mean_l = hand_mean_r * np.tile([1.0, -1.0, -1.0], 15)
    kintree = np.stack([np.array(SMPLX_PARENTS), np.arange(55)]).astype(np.int64)
    base = dict(v_template=sx["v"], f=sx["f"].astype(np.int32), J_regressor=sx["jr"], kintree_table=kintree,
                weights=sx["w"], posedirs=np.zeros((10475, 3, 486), np.float32), shapedirs=shapedirs,
                hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
                hands_meanl=hand_mean_l, hands_meanr=hand_mean_r,
                lmk_faces_idx=sx["lmk_faces"].astype(np.int64), lmk_bary_coords=np.full((51, 3), 1 / 3),
                dynamic_lmk_faces_idx=sx["dyn"], dynamic_lmk_bary_coords=np.full((79, 17, 3), 1 / 3))
    for i, gender in enumerate(("NEUTRAL", "MALE", "FEMALE")):
        data = dict(base)
        data["v_template"] = sx["v"] * (1.0 + 0.03 * (i == 1) - 0.03 * (i == 2))
        np.savez_compressed(root / "smplx" / f"SMPLX_{gender}.npz", **data)
    with open(root / "smplx" / "MANO_SMPLX_vertex_ids.pkl", "wb") as fh:
        pickle.dump({"left_hand": sx["part_ids"]["lhand"], "right_hand": sx["part_ids"]["rhand"]}, fh)
    np.save(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy", sx["part_ids"]["head"])
    j14_src = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15)  # LSP order
    with open(root / "smplx" / "SMPLX_to_J14.pkl", "wb") as fh:
        pickle.dump(sx["jr"][list(j14_src)].astype(np.float32), fh)

    sm = _build_smpl(rng)
    sm_dirs = _shape_dirs(sm["v"], sm["axis"], rng, 10, 10)
    for i, gender in enumerate(("NEUTRAL", "MALE", "FEMALE")):
        data = dict(v_template=sm["v"] * (1.0 + 0.03 * (i == 1) - 0.03 * (i == 2)), f=sm["f"].astype(np.uint32),
                    J_regressor=scipy.sparse.csc_matrix(sm["jr"]), weights=sm["w"],
                    kintree_table=np.stack([sm["parents"], np.arange(24)]).astype(np.int64),
                    posedirs=np.zeros((6890, 3, 207), np.float32), shapedirs=sm_dirs, J=sm["jr"] @ sm["v"],
                    bs_type="lrotmin", bs_style="lbs")
        with open(root / "smpl" / f"SMPL_{gender}.pkl", "wb") as fh:
            pickle.dump(data, fh, protocol=2)
    return root
