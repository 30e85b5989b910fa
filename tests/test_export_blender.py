"""A real client opens the exports: Blender (headless) imports the BVH and the glb, and converts the glb to FBX."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np

from common.utils.joint_sets import SMPLX_SKELETON_NAMES
from tests.test_export import _results, _smplx_joints, _track_rows

ROOT = Path(__file__).resolve().parents[1]
JOINT = 'L_Wrist'
MID = 3  # 0-based frame of the 6-frame demo (frame 4: both tracks present)


def _blender(exe, script, *args, timeout=180):
    run = subprocess.run([exe, '-b', '--factory-startup', '--python-exit-code', '1', '--python',
                          str(ROOT / 'tools' / script), '--', *map(str, args)], capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run


def test_blender_imports_bvh_and_glb(export_run, blender_exe, human_model_path, tmp_path):
    out, _ = export_run
    exp = out / 'export'
    files = [exp / 'track_0.bvh', exp / 'track_0.glb']
    spec = tmp_path / 'spec.json'
    spec.write_text(json.dumps({'fps': 12.0, 'frame': MID, 'files': list(map(str, files)), 'joints': [JOINT]}))
    _blender(blender_exe, 'blender_check.py', spec, tmp_path / 'report.json')
    report = json.loads((tmp_path / 'report.json').read_text())
    res = _results(out)
    T = len(res['frame_ids'])
    rows = _track_rows(res, 0)
    betas = np.median(res['betas'][list(rows.values())], axis=0)
    ref, _ = _smplx_joints(human_model_path, res, [rows[int(res['frame_ids'][MID])]], betas)
    expected = ref[0, SMPLX_SKELETON_NAMES.index(JOINT)]  # export world: Y up, metres
    for path in files:
        arms = report[str(path)]['armatures']
        assert len(arms) == 1, arms
        for arm in arms:
            assert arm['bones'] == 55
            start, end = arm['frame_range']
            assert end - start == T - 1, arm['frame_range']
        (head,) = arms[0]['heads'].values()
        bx, by, bz = head  # Blender world: Z up; both importers map (x, y, z) -> (x, -z, y)
        got = np.array([bx, bz, -by])
        assert np.linalg.norm(got - expected) < 1e-3, f'{path.name}: {got} vs SMPL-X {expected}'


def test_blender_converts_glb_to_fbx(export_run, blender_exe, tmp_path):
    out, _ = export_run
    fbx = tmp_path / 'track_1.fbx'
    _blender(blender_exe, 'blender_to_fbx.py', out / 'export' / 'track_1.glb', fbx)
    assert fbx.read_bytes()[:18] == b'Kaydara FBX Binary'
