"""Overlays: the shared-camera transform, pyrender vs the OpenCV painter, the automatic fallback, render.py."""
from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest
import torch

from common.vis.render import OpenCVRenderer, make_renderer, to_common_camera


def project(v, f, c):
    return v[:, :2] / v[:, 2:3] * f + c


def test_common_camera_keeps_projections_and_orders_depth_by_focal():
    rng = np.random.default_rng(0)
    v = rng.normal(0, 0.3, (50, 3)) + [0.2, -0.1, 20.0]
    f, c = np.array([3000.0, 3200.0]), np.array([140.0, 90.0])
    F, C = np.array([1000.0, 1000.0]), np.array([160.0, 120.0])
    w = to_common_camera(v, f, c, F, C)
    np.testing.assert_allclose(project(w, F, C), project(v, f, c), atol=1e-3)
    np.testing.assert_allclose(w[:, 2], v[:, 2] * F.mean() / f.mean(), rtol=1e-5)


@pytest.fixture(scope='module')
def posed_person(human_model_path):
    """(vertices (V,3) camera frame, focal, princpt, faces) of a standing synthetic person in a 320x240 view."""
    from common.utils.human_models import get_smplx
    bm = get_smplx(human_model_path)
    z = lambda d: torch.zeros(1, d)  # noqa: E731
    out = bm(global_orient=torch.tensor([[np.pi, 0.0, 0.0]]), body_pose=z(63), left_hand_pose=z(45),
             right_hand_pose=z(45), jaw_pose=z(3), betas=z(10), expression=z(10),
             transl=torch.tensor([[0.0, 0.1, 6.0]]))
    return out.vertices[0].numpy(), np.array([400.0, 400.0]), np.array([150.0, 125.0]), bm.faces


def test_pyrender_and_opencv_paint_the_same_pixels(posed_person):
    v, f, c, faces = posed_person
    img = np.full((240, 320, 3), 30, np.uint8)
    masks = {}
    for kind in ('pyrender', 'opencv'):
        out = make_renderer(kind).render(img, [(v, f, c)], faces)
        assert out.shape == img.shape and out.dtype == np.uint8
        masks[kind] = np.any(out != img, axis=2)
    uv = project(v, f, c)
    for kind, m in masks.items():
        ys, xs = np.nonzero(m)
        # painted area lies where the vertices project (catches flipped axes / principal point errors)
        assert abs(xs.min() - uv[:, 0].min()) < 4 and abs(xs.max() - uv[:, 0].max()) < 4, kind
        assert abs(ys.min() - uv[:, 1].min()) < 4 and abs(ys.max() - uv[:, 1].max()) < 4, kind
    iou = (masks['pyrender'] & masks['opencv']).sum() / (masks['pyrender'] | masks['opencv']).sum()
    assert iou > 0.8  # thin limbs at this size: boundary pixels differ (0.95 at 4x the resolution)
    centroids = [np.argwhere(m).mean(0) for m in masks.values()]
    assert np.abs(centroids[0] - centroids[1]).max() < 1.5


def test_tiled_pyrender_paints_exactly_the_untiled_pixels(posed_person):
    """Large frames are rendered in bounded tiles (memory does not grow with the photo); the pixels are those
    of one full-frame render (tiles of 100x100 on a 320x240 frame: uneven edge tiles included)."""
    from common.vis.render import PyrenderRenderer
    v, f, c, faces = posed_person
    img = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    full = PyrenderRenderer().render(img, [(v, f, c)], faces)
    tiled = PyrenderRenderer(max_tile=100).render(img, [(v, f, c)], faces)
    assert (full != img).any(axis=2).mean() > 0.01  # the person is drawn
    np.testing.assert_array_equal(tiled, full)


def test_auto_falls_back_to_opencv_with_a_notice(monkeypatch, caplog):
    from common.vis import render

    def no_gl(self):
        raise RuntimeError('no EGL device')
    monkeypatch.setattr(render.PyrenderRenderer, '__init__', no_gl)
    with caplog.at_level(logging.WARNING):
        r = make_renderer('auto')
    assert isinstance(r, OpenCVRenderer)
    assert 'pyrender unavailable' in caplog.text and 'no EGL device' in caplog.text
    with pytest.raises(RuntimeError, match='--renderer opencv'):
        make_renderer('pyrender')


def test_render_original_layout(tmp_path, posed_person, human_model_path, render_entry):
    """The original's layout: smplx/{frame:05}_{id}.npz, meta json, frames in orig_img/{frame:06d}.jpg."""
    v, f, c, _ = posed_person
    seq = tmp_path / 'results' / 'seq'
    for sub in ('smplx', 'meta', 'orig_img'):
        (seq / sub).mkdir(parents=True)
    for frame in (1, 2, 3):
        cv2.imwrite(str(seq / 'orig_img' / f'{frame:06d}.jpg'), np.full((240, 320, 3), 40, np.uint8))
    params = dict(global_orient=np.array([[np.pi, 0, 0]]), body_pose=np.zeros((21, 3)),
                  left_hand_pose=np.zeros((15, 3)), right_hand_pose=np.zeros((15, 3)), jaw_pose=np.zeros((1, 3)),
                  leye_pose=np.zeros((1, 3)), reye_pose=np.zeros((1, 3)), betas=np.zeros((1, 10)),
                  expression=np.zeros((1, 10)), transl=np.array([[0.0, 0.1, 6.0]]))
    for frame in (1, 3):  # frame 2: nobody
        np.savez(seq / 'smplx' / f'{frame:05}_0.npz', **params)
        (seq / 'meta' / f'{frame:05}_0.json').write_text(json.dumps(
            {'focal': f.tolist(), 'princpt': c.tolist(), 'bbox': [100, 20, 100, 200], 'img_path': 'x.jpg'}))
    for renderer in ('pyrender', 'opencv'):
        n = render_entry.main(['--data_path', str(tmp_path / 'results'), '--human_model_path', str(human_model_path),
                               '--renderer', renderer])
        assert n == 3
        outs = [cv2.imread(str(seq / 'smplerx_overlay_img' / f'{i:06d}.jpg')) for i in (1, 2, 3)]
        assert all(o.shape == (240, 320, 3) for o in outs)
        uv = project(v, f, c).mean(0).astype(int)  # a pixel on the body
        assert np.abs(outs[0][uv[1], uv[0]].astype(int) - 40).max() > 20, renderer
        assert np.abs(outs[1].astype(int) - 40).max() < 12  # no person: frame unchanged (jpeg noise only)
        assert np.abs(outs[0][5, 5].astype(int) - 40).max() < 12  # background untouched
        cap = cv2.VideoCapture(str(seq / 'smplerx_overlay.mp4'))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
        cap.release()


def test_render_our_layout_finds_the_input_video(bbox_run, render_entry, human_model_path, two_person_video):
    out, _ = bbox_run
    n = render_entry.main(['--data_path', str(out), '--human_model_path', str(human_model_path), '--renderer',
                           'opencv', '--no_images', '--show_bbox'])
    assert n == 6
    cap = cv2.VideoCapture(str(out / 'smplerx_overlay.mp4'))
    count, size = 0, None
    while True:
        ok, img = cap.read()
        if not ok:
            break
        count, size = count + 1, img.shape
    assert count == 6 and size == (240, 320, 3)


def test_render_refuses_frames_of_another_size(tmp_path, bbox_run, render_entry, human_model_path, caplog):
    """--image_path pointing at other frames (here: the right ones at half size) is refused, naming both sizes."""
    out, _ = bbox_run
    frames = tmp_path / 'small'
    frames.mkdir()
    for i in range(1, 7):
        cv2.imwrite(str(frames / f'{i:06d}.jpg'), np.zeros((120, 160, 3), np.uint8))
    n = render_entry.main(['--data_path', str(out), '--human_model_path', str(human_model_path), '--renderer',
                           'opencv', '--no_video', '--image_path', str(frames)])
    assert n == 0
    assert 'is 160x120 but its results were computed on a 320x240 frame' in caplog.text
