"""glTF export: Khronos validator, and the glb's own skinning vs smplx's linear blend skinning on every frame."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from common.export.rig import CAMERA_TO_WORLD

ROOT = Path(__file__).resolve().parents[1]


def test_glb_files_pass_the_khronos_validator(export_run, gltf_validator):
    out, _ = export_run
    files = sorted((out / 'export').glob('*.glb'))
    assert [f.name for f in files] == ['scene.glb', 'track_0.glb', 'track_1.glb']
    run = subprocess.run(['node', str(ROOT / 'tests' / 'fixtures' / 'gltf_validate.js'), str(gltf_validator),
                          *map(str, files)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    reports = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(reports) == 3
    for r in reports:
        assert r['errors'] == 0 and r['warnings'] == 0, r


# ------------------------------------------------------------------------- reading a glb back (test-side reader)
def _read_glb(path):
    import pygltflib
    doc = pygltflib.GLTF2().load(str(path))
    blob = doc.binary_blob()
    width = {'SCALAR': 1, 'VEC3': 3, 'VEC4': 4, 'MAT4': 16}
    dtype = {5126: np.float32, 5123: np.uint16, 5125: np.uint32, 5121: np.uint8}

    def acc(i):
        a = doc.accessors[i]
        v = doc.bufferViews[a.bufferView]
        start = (v.byteOffset or 0) + (a.byteOffset or 0)
        n = a.count * width[a.type]
        return np.frombuffer(blob, dtype[a.componentType], n, start).reshape(a.count, width[a.type])
    return doc, acc


def _skin_glb(path, mesh_name):
    """(T, V, 3) vertices of mesh ``mesh_name`` at every key time, skinned as glTF defines it: node TRS (animated
    where a channel targets them), world = parent world @ local, skin matrix = sum_k w_k M_jk IBM_jk, morph
    targets added before skinning."""
    doc, acc = _read_glb(path)
    mi = next(i for i, n in enumerate(doc.nodes) if n.mesh is not None and doc.meshes[n.mesh].name == mesh_name)
    node = doc.nodes[mi]
    prim = doc.meshes[node.mesh].primitives[0]
    a = prim.attributes
    pos = acc(a.POSITION).astype(np.float64)
    joints = np.concatenate([acc(a.JOINTS_0), acc(a.JOINTS_1)], 1).astype(np.int64)
    weights = np.concatenate([acc(a.WEIGHTS_0), acc(a.WEIGHTS_1)], 1).astype(np.float64)
    targets = np.stack([acc(t['POSITION'] if isinstance(t, dict) else t.POSITION)
                        for t in prim.targets]).astype(np.float64)  # (E, V, 3)
    skin = doc.skins[node.skin]
    ibm = acc(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1).astype(np.float64)
    anim = doc.animations[0]
    times = acc(anim.samplers[0].input)[:, 0]
    T = len(times)
    trs = {i: {'t': np.tile(n.translation or [0, 0, 0], (T, 1)).astype(np.float64),
               'r': np.tile(n.rotation or [0, 0, 0, 1], (T, 1)).astype(np.float64)} for i, n in enumerate(doc.nodes)}
    morph = np.zeros((T, len(targets)))
    for ch in anim.channels:
        s = anim.samplers[ch.sampler]
        assert np.array_equal(acc(s.input)[:, 0], times)
        values = acc(s.output).astype(np.float64)
        if ch.target.path == 'weights':
            if ch.target.node == mi:
                morph = values.reshape(T, -1)
        else:
            trs[ch.target.node]['t' if ch.target.path == 'translation' else 'r'] = values
    parent = {c: p for p, n in enumerate(doc.nodes) for c in (n.children or [])}

    def world(i):
        m = np.tile(np.eye(4), (T, 1, 1))
        m[:, :3, :3] = Rotation.from_quat(trs[i]['r']).as_matrix()
        m[:, :3, 3] = trs[i]['t']
        return world(parent[i]) @ m if i in parent else m
    M = np.stack([world(j) for j in skin.joints], 1) @ ibm  # (T, J, 4, 4)
    verts = pos[None] + np.einsum('te,evc->tvc', morph, targets)
    skinmat = np.einsum('vk,tvkab->tvab', weights, M[:, joints])
    return np.einsum('tvab,tvb->tva', skinmat[..., :3, :3], verts) + skinmat[..., :3, 3], weights, joints


def _reference_lbs(human_model_path, res, track, max_influences=8):
    """smplx's LBS (``smplx.lbs`` building blocks) with posedirs zeroed and the weights truncated to the 8
    largest, renormalised; joints regressed from the shaped template at zero expression (the glb's fixed
    skeleton), expression blend shapes on the vertices; then ``transl_image_camera`` and the axis change.
    Returns (truncated-weight vertices, full smplx posed mesh) (T_present, V, 3) world metres, and the frames."""
    import torch
    from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

    from common.utils.human_models import get_smplx
    model = np.load(Path(human_model_path) / 'smplx' / 'SMPLX_NEUTRAL.npz')
    rows = {int(f): i for i, (f, t) in enumerate(zip(res['frame'], res['track_id'])) if t == track}
    frames = sorted(rows)
    r = [rows[f] for f in frames]
    B = len(r)
    betas = torch.from_numpy(np.median(res['betas'][r], axis=0)[None].astype(np.float64))
    sd = torch.from_numpy(model['shapedirs'].astype(np.float64))
    v_t = torch.from_numpy(model['v_template'].astype(np.float64))[None]
    v0 = v_t + blend_shapes(betas, sd[:, :, :10])
    J = vertices2joints(torch.from_numpy(model['J_regressor'].astype(np.float64)), v0).expand(B, -1, -1)
    v = v0 + blend_shapes(torch.from_numpy(res['expression'][r].astype(np.float64)), sd[:, :, 300:310])
    bm = get_smplx(human_model_path)
    lm, rm = bm.left_hand_mean.double().reshape(1, 45), bm.right_hand_mean.double().reshape(1, 45)
    p = {k: torch.from_numpy(res[k][r].astype(np.float64)).reshape(B, -1) for k in
         ('global_orient', 'body_pose', 'jaw_pose', 'leye_pose', 'reye_pose', 'left_hand_pose', 'right_hand_pose')}
    pose = torch.cat([p['global_orient'], p['body_pose'], p['jaw_pose'], p['leye_pose'], p['reye_pose'],
                      p['left_hand_pose'] + lm, p['right_hand_pose'] + rm], 1)
    rot = batch_rodrigues(pose.reshape(-1, 3)).reshape(B, -1, 3, 3)
    parents = torch.from_numpy(model['kintree_table'][0].astype(np.int64))
    parents[0] = -1
    _, A = batch_rigid_transform(rot, J, parents)
    w = model['weights'].astype(np.float64)
    idx = np.argsort(-w, 1)[:, :max_influences]
    wt = np.zeros_like(w)
    np.put_along_axis(wt, idx, np.take_along_axis(w, idx, 1), 1)
    wt /= wt.sum(1, keepdims=True)
    Tm = (torch.from_numpy(wt) @ A.reshape(B, -1, 16)).reshape(B, -1, 4, 4)  # per-vertex blended transforms
    verts = (Tm[..., :3, :3] @ v[..., None])[..., 0] + Tm[..., :3, 3]
    t_img = res['transl_image_camera'][r].astype(np.float64)
    ours = (verts.numpy() + t_img[:, None]) @ CAMERA_TO_WORLD.T
    full = bm(**{k: v.float() for k, v in p.items()}, betas=betas.float().expand(B, -1),
              expression=torch.from_numpy(res['expression'][r]), transl=torch.from_numpy(t_img).float())
    return ours, full.vertices.numpy().astype(np.float64) @ CAMERA_TO_WORLD.T, frames


def _results(out):
    with np.load(out / 'results.npz') as z:
        return {k: z[k] for k in z.files}


def test_glb_skinning_reproduces_smplx_lbs(export_run, human_model_path):
    out, _ = export_run
    res = _results(out)
    frame_ids = res['frame_ids'].tolist()
    for track in (0, 1):
        ref, full, frames = _reference_lbs(human_model_path, res, track)
        for name in (f'track_{track}.glb',) + (('scene.glb',) if track == 1 else ()):  # scene: one track suffices
            verts, _, _ = _skin_glb(out / 'export' / name, f'track_{track}')
            assert len(verts) == len(frame_ids)
            at = [frame_ids.index(f) for f in frames]
            err = np.linalg.norm(verts[at] - ref, axis=-1)
            assert err.max() < 1e-4, f'{name} track {track}: {err.max() * 1000:.4f} mm'
        d = np.linalg.norm(verts[at] - full, axis=-1) * 1000
        print(f'track {track} (synthetic model, <=2 influences/vertex, posedirs zero): glb vs smplx full mesh '
              f'mean {d.mean():.4f} mm, max {d.max():.4f} mm')


def _denser_model(human_model_path, tmp_path) -> Path:
    """A copy of the synthetic SMPL-X with weights spread over the kinematic neighbourhood (up to ~12
    influences per vertex at the hands, like the real SMPL-X's finger vertices), to exercise truncation."""
    src = Path(human_model_path) / 'smplx' / 'SMPLX_NEUTRAL.npz'
    data = dict(np.load(src))
    parents = data['kintree_table'][0]
    adj = np.zeros((55, 55))
    for i in range(1, 55):
        adj[i, parents[i]] = adj[parents[i], i] = 1
    w = data['weights'].astype(np.float64)
    for _ in range(3):
        w = w + 0.2 * (w @ adj)
    w *= 1 + 0.01 * np.random.default_rng(0).random(w.shape)  # no ties: the 8 largest are well defined
    data['weights'] = w / w.sum(1, keepdims=True)
    (tmp_path / 'smplx').mkdir(parents=True)
    np.savez(tmp_path / 'smplx' / 'SMPLX_NEUTRAL.npz', **data)
    return tmp_path


def test_truncated_weights_with_many_influences(export_run, human_model_path, tmp_path):
    """With more than 8 influences per vertex the glb keeps the 8 largest (renormalised) and still equals smplx
    LBS with the same truncated weights; the distance to the untruncated mesh is reported."""
    from common.export.exporter import export_results
    out, _ = export_run
    model = _denser_model(human_model_path, tmp_path / 'model')
    nnz = (np.load(model / 'smplx' / 'SMPLX_NEUTRAL.npz')['weights'] > 0).sum(1)
    assert nnz.max() > 8
    export_results(out, 'glb', human_model_path=model, track=0, out=tmp_path / 'exp')
    res = _results(out)
    ref, _, frames = _reference_lbs(model, res, 0)
    untruncated, _, _ = _reference_lbs(model, res, 0, max_influences=55)
    verts, weights, _ = _skin_glb(tmp_path / 'exp' / 'track_0.glb', 'track_0')
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
    at = [res['frame_ids'].tolist().index(f) for f in frames]
    err = np.linalg.norm(verts[at] - ref, axis=-1)
    assert err.max() < 1e-4, f'{err.max() * 1000:.4f} mm'
    d = np.linalg.norm(verts[at] - untruncated, axis=-1) * 1000
    print(f'influences per vertex: max {nnz.max()}, mean {nnz.mean():.1f}; 8-influence glb vs all weights: '
          f'mean {d.mean():.3f} mm, max {d.max():.3f} mm')
