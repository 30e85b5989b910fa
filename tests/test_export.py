"""Animation export (common/export, main/export.py): BVH and glTF read back by independent readers.

Reference for every check: SMPL-X itself (``smplx`` through ``common.utils.human_models`` or ``smplx.lbs``),
posed from the saved ``results.npz`` of a demo run (two tracks, track 1 absent in two frames), with the track's
median betas (the exported skeleton) and ``transl_image_camera``, turned into the export world by the
documented axis change (x, -y, -z) and unit.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.export.rig import CAMERA_TO_WORLD
from common.utils.joint_sets import SMPLX_SKELETON_NAMES
from tests.fixtures.export import ABSENT

POSE = ('global_orient', 'body_pose', 'jaw_pose', 'leye_pose', 'reye_pose', 'left_hand_pose', 'right_hand_pose')


def _results(out):
    with np.load(out / 'results.npz') as z:
        return {k: z[k] for k in z.files}


def _track_rows(res, track):
    """{frame: row} of one track in results.npz."""
    return {int(f): i for i, (f, t) in enumerate(zip(res['frame'], res['track_id'])) if t == track}


def _smplx_joints(human_model_path, res, rows, betas, expression_zero=True):
    """(N, 55, 3) SMPL-X joints in the export world, metres, for results.npz rows (median betas)."""
    import torch

    from common.utils.human_models import get_smplx
    bm = get_smplx(human_model_path)
    n = len(rows)
    kw = {k: torch.from_numpy(res[k][rows].reshape(n, -1)) for k in POSE}
    kw['betas'] = torch.from_numpy(np.tile(betas, (n, 1)).astype(np.float32))
    kw['expression'] = torch.zeros(n, 10) if expression_zero else torch.from_numpy(res['expression'][rows])
    kw['transl'] = torch.from_numpy(res['transl_image_camera'][rows])
    out = bm(**kw)
    return out.joints.numpy()[:, :55].astype(np.float64) @ CAMERA_TO_WORLD.T, out.vertices.numpy() @ CAMERA_TO_WORLD.T


def _elementary(axis, deg):
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return {'X': np.array([[1, 0, 0], [0, c, -s], [0, s, c]]), 'Y': np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            'Z': np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def _bvh_world_joints(path):
    """Forward kinematics of a BVH parsed by the ``bvh`` package: (names, (T, J, 3) world positions in file units).
    Rotation channels compose in their listed order (R = R_first R_second R_third), as the format defines."""
    from bvh import Bvh
    mocap = Bvh(path.read_text())
    names = mocap.get_joints_names()
    T = mocap.nframes
    pos = np.zeros((T, len(names), 3))
    rot = np.zeros((T, len(names), 3, 3))
    index = {n: i for i, n in enumerate(names)}
    for i, name in enumerate(names):
        chans = mocap.joint_channels(name)
        vals = np.asarray(mocap.frames_joint_channels(name, chans), np.float64).reshape(T, len(chans))
        local = np.tile(np.eye(3), (T, 1, 1))
        trans = np.zeros((T, 3))
        for k, ch in enumerate(chans):
            if ch.endswith('rotation'):
                local = local @ np.stack([_elementary(ch[0], v) for v in vals[:, k]])
            else:
                trans[:, 'XYZ'.index(ch[0])] = vals[:, k]
        offset = np.asarray(mocap.joint_offset(name), np.float64)
        parent = mocap.joint_parent(name)
        if parent is None:
            pos[:, i], rot[:, i] = offset + trans, local
        else:
            p = index[parent.name]
            pos[:, i] = pos[:, p] + rot[:, p] @ offset
            rot[:, i] = rot[:, p] @ local
    return names, pos, mocap.frame_time


def test_every_track_exports_with_the_videos_frames(export_run):
    out, summary = export_run
    res = _results(out)
    T = len(res['frame_ids'])
    assert T == 6 and summary['frames'] == 6
    exp = out / 'export'
    for track in (0, 1):
        info = json.loads((exp / f'track_{track}.json').read_text())
        assert info['frames'] == res['frame_ids'].tolist()
        absent = [int(f) for f in ABSENT['frames']] if track == ABSENT['track'] else []
        assert [f for f, p in zip(info['frames'], info['present']) if not p] == absent
        text = (exp / f'track_{track}.bvh').read_text()
        assert f'Frames: {T}\n' in text
        assert (exp / f'track_{track}.glb').stat().st_size > 0
    assert (exp / 'scene.glb').is_file()
    assert sorted(p.name for p in map(type(out), summary['export'])) == sorted(p.name for p in exp.iterdir())


def test_bvh_forward_kinematics_reproduces_smplx(export_run, human_model_path):
    """Every frame where the person was estimated: BVH FK (cm, Y up) = SMPL-X joints within 1 mm."""
    out, _ = export_run
    res = _results(out)
    for track in (0, 1):
        names, pos, frame_time = _bvh_world_joints(out / 'export' / f'track_{track}.bvh')
        assert sorted(names) == sorted(SMPLX_SKELETON_NAMES) and frame_time == pytest.approx(1 / 12)
        pos = pos[:, [names.index(n) for n in SMPLX_SKELETON_NAMES]]  # file order (depth first) -> SMPL-X order
        rows = _track_rows(res, track)
        frames = sorted(rows)
        betas = np.median(res['betas'][[rows[f] for f in frames]], axis=0)
        ref, _ = _smplx_joints(human_model_path, res, [rows[f] for f in frames], betas)
        at = [res['frame_ids'].tolist().index(f) for f in frames]
        err = np.linalg.norm(pos[at] / 100.0 - ref, axis=-1)  # cm -> m
        assert err.max() < 1e-3, f'track {track}: max {err.max() * 1000:.3f} mm'


def test_absent_frames_are_interpolated(export_run):
    """Track 1 is absent in frames 3-4: its root moves linearly between frames 2 and 5 there (and its rotations
    are slerped), so the BVH root position at the gap lies on the segment."""
    out, _ = export_run
    names, pos, _ = _bvh_world_joints(out / 'export' / f'track_{ABSENT["track"]}.bvh')
    assert names[0] == 'Pelvis'
    a, b = pos[1, 0], pos[4, 0]  # frames 2 and 5 (0-based rows 1 and 4)
    np.testing.assert_allclose(pos[2, 0], a + (b - a) / 3, atol=1e-3)
    np.testing.assert_allclose(pos[3, 0], a + 2 * (b - a) / 3, atol=1e-3)


def test_body_hands_and_unit_flags(export_run, tmp_path, human_model_path):
    out, _ = export_run
    from tests.fixtures.inference import load_entry
    export = load_entry('export')
    export.main(['--data_path', str(out), '--format', 'bvh', '--track', '0', '--body_hands', '--unit', 'm',
                 '--out', str(tmp_path), '--human_model_path', str(human_model_path)])
    names, pos, _ = _bvh_world_joints(tmp_path / 'track_0.bvh')
    full_names, full, _ = _bvh_world_joints(out / 'export' / 'track_0.bvh')
    assert len(names) == 52 and 'Jaw' not in names
    keep = [full_names.index(n) for n in names]
    np.testing.assert_allclose(pos, full[:, keep] / 100.0, atol=2e-5)
    assert not (tmp_path / 'track_1.bvh').exists()


def test_export_errors_are_one_line(export_run, tmp_path, capsys, human_model_path):
    from tests.fixtures.inference import load_entry
    export = load_entry('export')
    out, _ = export_run
    with pytest.raises(SystemExit) as e:
        export.main(['--data_path', str(out), '--track', '7', '--out', str(tmp_path), '--human_model_path',
                     str(human_model_path)])
    assert e.value.code == 2 and 'no such track' in capsys.readouterr().err
    old = tmp_path / 'old'
    old.mkdir()
    res = _results(out)
    np.savez(old / 'results.npz', **{k: v for k, v in res.items() if k != 'transl_image_camera'})
    (old / 'run.json').write_text((out / 'run.json').read_text())
    with pytest.raises(SystemExit) as e:
        export.main(['--data_path', str(old), '--human_model_path', str(human_model_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and 're-run main/inference.py' in err and len(err.strip().splitlines()) == 1


def test_smooth_export(export_run, tmp_path, human_model_path):
    """--smooth filters each track (One-Euro): the first frame passes unchanged, later ones move towards the past."""
    from tests.fixtures.inference import load_entry
    out, _ = export_run
    load_entry('export').main(['--data_path', str(out), '--format', 'bvh', '--track', '0', '--smooth', '--out',
                               str(tmp_path), '--human_model_path', str(human_model_path)])
    _, smooth, _ = _bvh_world_joints(tmp_path / 'track_0.bvh')
    _, raw, _ = _bvh_world_joints(out / 'export' / 'track_0.bvh')
    assert smooth.shape == raw.shape
    np.testing.assert_allclose(smooth[0], raw[0], atol=0.05)  # cm (the filter's float32 rotation round trip)
    assert np.abs(smooth[1:] - raw[1:]).max() > 1.0, np.abs(smooth[1:] - raw[1:]).max()  # cm
    json_info = json.loads((tmp_path / 'track_0.json').read_text())
    assert json_info['smooth'] is True
