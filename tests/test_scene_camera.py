"""The shared image camera (common/utils/scene_camera.py) and its place in the inference outputs."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from common.utils.scene_camera import ImageCamera, image_intrinsics, project, reprojection_error, to_image_camera


def test_intrinsics_rules():
    f, c = image_intrinsics(640, 480)
    assert f.tolist() == [800.0, 800.0] and c.tolist() == [320.0, 240.0]  # 3-4-5: diagonal 800
    f, _ = image_intrinsics(640, 480, fov=90.0)
    assert f[0] == pytest.approx(320.0)  # half the larger side over tan(45°)
    f, _ = image_intrinsics(480, 640, fov=60.0)
    assert f[0] == pytest.approx(320.0 / math.tan(math.radians(30)))
    assert image_intrinsics(640, 480, focal=1234.0)[0].tolist() == [1234.0, 1234.0]
    with pytest.raises(ValueError, match='not both'):
        ImageCamera(focal=500.0, fov=60.0)
    with pytest.raises(ValueError, match='fov'):
        ImageCamera(fov=180.0)
    assert ImageCamera(fov=50.0).describe() == {'rule': 'fov', 'focal': None, 'fov': 50.0}


def test_pelvis_pixel_kept_and_depth_scaled():
    rng = np.random.default_rng(0)
    for _ in range(20):
        transl = rng.uniform([-2, -2, 20], [2, 2, 80])
        pelvis = transl + rng.uniform(-0.3, 0.3, 3)
        w = rng.uniform(50, 400)
        focal, princpt = np.array([5000 / 192 * w] * 2), rng.uniform(0, 1000, 2)
        F, C = image_intrinsics(1280, 720, fov=rng.uniform(30, 90))
        t2 = to_image_camera(transl, pelvis, focal, princpt, F, C)
        p2 = pelvis - transl + t2
        assert p2[2] == pytest.approx(pelvis[2] * F[0] / focal[0], rel=1e-12)
        np.testing.assert_allclose(project(p2, F, C), project(pelvis, focal, princpt), atol=1e-9)


def _real_people(export_run, human_model_path):
    """(joints (N,144,3) crop camera, metas) of every saved person of the demo run, posed from its npz."""
    import torch

    from common.inference.result_files import load_params, scan_results
    from common.utils.human_models import get_smplx
    out, _ = export_run
    people = [p for ps in scan_results(out).values() for p in ps]
    bm = get_smplx(human_model_path)
    keys = ('global_orient', 'body_pose', 'left_hand_pose', 'right_hand_pose', 'jaw_pose', 'leye_pose',
            'reye_pose', 'betas', 'expression', 'transl')
    params = {k: torch.from_numpy(np.stack([p.params[k].reshape(-1) for p in people])) for k in keys}
    joints = bm(**params).joints.numpy()
    return joints, params['transl'].numpy(), [p.meta for p in people]


def test_shared_camera_reprojects_every_person(export_run, human_model_path):
    """Every person of the demo (real model outputs, posed from the saved npz): the stored
    ``transl_image_camera`` puts the pelvis on its crop-camera pixel (<= 0.5 px) with depth scaled by the focal
    ratio. The other joints move by the two cameras' perspective difference (a rigid body cannot look the same
    through a near-orthographic crop camera and a normal lens; scene_camera docstring): reported, and checked to
    vanish as the shared focal approaches the person's own."""
    joints, transl, metas = _real_people(export_run, human_model_path)
    assert len(metas) >= 10
    worst, own = [], []
    for j, t, m in zip(joints, transl, metas):
        F, C = np.asarray(m['image_focal']), np.asarray(m['image_princpt'])
        w, h = m['img_size']
        np.testing.assert_allclose(F, image_intrinsics(w, h)[0], rtol=1e-6)  # the default camera
        err = reprojection_error(j, t, m['transl_image_camera'], m['focal'], m['princpt'], F, C)
        assert err[0] <= 0.5, f'pelvis off by {err[0]:.3f} px'
        moved_pelvis = j[0] - t + np.asarray(m['transl_image_camera'])
        assert moved_pelvis[2] == pytest.approx(j[0, 2] * F[0] / m['focal'][0], rel=1e-5)
        worst.append(err.max())
        f_own = np.asarray(m['focal'], np.float64)  # a shared camera with this person's own focal
        t_own = to_image_camera(t, j[0], m['focal'], m['princpt'], f_own, C)
        own.append(reprojection_error(j, t, t_own, m['focal'], m['princpt'], f_own, C).max())
    print(f'default camera: all-joint reprojection error max {max(worst):.2f} px, mean of per-person max '
          f'{np.mean(worst):.2f} px; with each person\'s own focal: max {max(own):.3f} px')
    assert all(o < w for o, w in zip(own, worst))  # the perspective difference shrinks with the focal gap


def test_resume_refuses_another_camera(export_run, two_person_video, model_args, inference_entry, caplog):
    """run.json records the camera choice; --resume with another --fov is refused before anything is written."""
    out, _ = export_run
    info = json.loads((out / 'run.json').read_text())
    assert info['processing']['image_camera'] == {'rule': 'diagonal', 'focal': None, 'fov': None}
    assert info['fps'] == pytest.approx(12.0)
    before = (out / 'results.npz').stat().st_mtime_ns
    video, _ = two_person_video
    with pytest.raises(SystemExit) as e:
        inference_entry.main(['--video_input', str(video), '--output_folder', str(out), '--resume', '--fov', '50',
                              '--bbox_file', str(out.parent / f'{out.name}_boxes.json'), '--no_overlay', *model_args])
    assert e.value.code == 2
    assert 'processing.image_camera' in caplog.text
    assert (out / 'results.npz').stat().st_mtime_ns == before


def test_focal_and_fov_flags_exclude_each_other(inference_entry, capsys):
    with pytest.raises(SystemExit) as e:
        inference_entry.main(['--video_input', 'x.mp4', '--random_weights', '--config', 'c', '--focal', '500',
                              '--fov', '60'])
    assert e.value.code == 2 and 'not allowed with argument' in capsys.readouterr().err
