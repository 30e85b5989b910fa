"""Every video the project writes plays in a real browser (headless Chromium): the writer's own output (with its
colours read back from a canvas), an inference.py overlay video and a render.py overlay video."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from common.vis.video import VideoWriter
from tests.fixtures.browser import assert_video_plays, serve_directory, write_player_page

_FRAME_PIXELS_JS = """([x, y]) => {
  const v = document.querySelector('video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  return Array.from(g.getImageData(x, y, 1, 1).data.slice(0, 3));
}"""


def test_writer_output_plays_with_its_colours(tmp_path, browser_page):
    writer = VideoWriter(tmp_path / 'colours.mp4', 24)
    img = np.empty((120, 160, 3), np.uint8)
    img[:, :80], img[:, 80:] = (0, 0, 255), (255, 128, 0)  # BGR: red | azure
    for _ in range(24):
        writer.write(img)
    writer.close()
    with serve_directory(tmp_path) as url:
        state = assert_video_plays(browser_page, f'{url}/{write_player_page(tmp_path, "colours.mp4")}')
        assert (state['width'], state['height']) == (160, 120)
        rgb_left = browser_page.evaluate(_FRAME_PIXELS_JS, [40, 60])
        rgb_right = browser_page.evaluate(_FRAME_PIXELS_JS, [120, 60])
    # the browser's YUV->RGB agrees with the writer's RGB->YUV (a BT.601/709 mix-up is off by 20+)
    assert np.abs(np.subtract(rgb_left, (255, 0, 0))).max() <= 10, rgb_left
    assert np.abs(np.subtract(rgb_right, (0, 128, 255))).max() <= 10, rgb_right


def test_inference_overlay_video_plays(bbox_run, browser_page):
    _, summary = bbox_run
    video = Path(summary['video'])
    with serve_directory(video.parent) as url:
        state = assert_video_plays(browser_page, f'{url}/{write_player_page(video.parent, video.name)}')
    assert (state['width'], state['height']) == (320, 240)
    assert abs(state['duration'] - 6 / 12.0) < 0.05  # 6 frames at the input's 12 fps


def test_render_overlay_video_plays(bbox_run, render_entry, human_model_path, tmp_path, browser_page):
    out, _ = bbox_run
    seq = tmp_path / 'results'
    for sub in ('smplx', 'meta'):
        shutil.copytree(out / sub, seq / sub)
    n = render_entry.main(['--data_path', str(seq), '--human_model_path', str(human_model_path),
                           '--renderer', 'opencv', '--no_images'])
    assert n == 6
    with serve_directory(seq) as url:
        state = assert_video_plays(browser_page, f'{url}/{write_player_page(seq, "smplerx_overlay.mp4")}')
    assert (state['width'], state['height']) == (320, 240)
