"""The web demo in a real browser: main/app.py on a free localhost port, driven by headless Chromium.

A photo from a package's bundled sample data (ultralytics' zidane.jpg, two people, 1280x720) and the demo video
(demo/sample.mp4 with demo/sample_boxes.json) go through the page; the overlay, the video element, the table and
the downloads are checked; bad uploads give a readable error and the app serves the next job.
"""
from __future__ import annotations

import io
import json
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fixtures.browser import HAVE_ENOUGH_DATA, video_check
from tests.fixtures.inference import ROOT

JOB_TIMEOUT_MS = 240_000
ZIDANE_BOXES = [[115, 196, 980, 512], [750, 44, 398, 661]]  # xywh, the two men of zidane.jpg


@pytest.fixture(scope='module')
def sample_photo() -> Path:
    """zidane.jpg as shipped inside the ultralytics wheel (a real photo with two people)."""
    import ultralytics
    path = Path(ultralytics.__file__).parent / 'assets' / 'zidane.jpg'
    assert path.is_file(), f'{path} missing from the installed ultralytics package'
    return path


def open_app(page, url):
    page.goto(url)
    page.wait_for_selector('#run', timeout=120_000)  # the first load of a fresh server is slow on busy cores


FINAL_STATUS_JS = '() => /Done|Job failed|Job cancelled/.test(document.querySelector("#status").innerText)'
# Gradio's progress tracker over the outputs while a job runs: "12/30 frames"
PROGRESS_JS = """() => Array.from(document.querySelectorAll('[data-testid=status-tracker]'))
    .some(e => /[1-9][0-9]*\\/[0-9]+ frames/.test(e.innerText))"""


def upload(page, media: Path, boxes: Path | None = None) -> None:
    """Put ``media`` (and ``boxes``) into the upload fields and wait until the page lists them."""
    page.locator('#media input[type=file]').set_input_files(str(media))
    page.wait_for_function('name => document.querySelector("#media").innerText.includes(name)', arg=media.name,
                           timeout=120_000)
    if boxes is not None:
        page.locator('#boxes input[type=file]').set_input_files(str(boxes))
        page.wait_for_function('name => document.querySelector("#boxes").innerText.includes(name)',
                               arg=boxes.name, timeout=120_000)


def submit(page, media: Path, boxes: Path | None = None) -> str:
    """Upload ``media`` (and ``boxes``), press Run, wait for the job's final status; returns the status text."""
    upload(page, media, boxes)
    page.click('#run')
    page.wait_for_function(FINAL_STATUS_JS, timeout=JOB_TIMEOUT_MS)
    return page.inner_text('#status')


def download_links(page) -> dict[str, str]:
    """{file name: URL} of the Downloads list."""
    links = page.eval_on_selector_all('#downloads a[href]', 'as => as.map(a => [a.textContent, a.href])')
    return {Path(urllib.request.url2pathname(href.split('/')[-1])).name: href for _, href in links}


def no_meshes(page) -> None:
    """Untick the mesh formats (60 mesh files would only slow a video job down)."""
    for fmt in ('obj', 'glb'):
        page.locator('#mesh-formats label', has_text=fmt).click()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        return r.read()


def test_photo_job_shows_overlay_table_and_downloads(app_server, browser_page, sample_photo, tmp_path):
    url, _, _ = app_server
    boxes = tmp_path / 'zidane_boxes.json'
    boxes.write_text(json.dumps({'format': 'xywh', 'frames': {'1': ZIDANE_BOXES}}))
    open_app(browser_page, url)
    banner = browser_page.inner_text('#pipeline-check')  # random weights: the pipeline-check banner is shown
    assert 'PIPELINE CHECK, NOT A PREDICTION' in banner and 'RANDOM weights' in banner
    status = submit(browser_page, sample_photo, boxes)
    assert 'Done' in status and '2 person result(s)' in status, status
    h, w = cv2.imread(str(sample_photo)).shape[:2]
    browser_page.wait_for_function('() => { const i = document.querySelector("#overlay-image img");'
                                   ' return i && i.complete && i.naturalWidth > 0; }', timeout=30_000)
    size = browser_page.eval_on_selector('#overlay-image img', 'i => [i.naturalWidth, i.naturalHeight]')
    assert size == [w, h]
    rows = browser_page.eval_on_selector('#people [role=grid]', 'g => Number(g.getAttribute("aria-rowcount"))')
    assert rows == 1 + 2  # header + one row per person
    table = browser_page.inner_text('#people')
    assert '980' in table and '661' in table  # the given boxes' sizes
    links = download_links(browser_page)
    assert {'results.npz', '000001_0.npz', '000001_1.npz', '000001_0.obj', '000001_1.glb'} <= set(links), links
    with np.load(io.BytesIO(fetch(links['results.npz']))) as res:
        assert list(res['frame_ids']) == [1] and res['img_sizes'].tolist() == [[w, h]]
        assert res['body_pose'].shape == (2, 21, 3) and res['betas'].shape == (2, 10)
        np.testing.assert_allclose(sorted(res['bbox_det'].tolist()), sorted(ZIDANE_BOXES), atol=0.01)
    with np.load(io.BytesIO(fetch(links['000001_1.npz']))) as person:
        assert person['body_pose'].shape == (21, 3) and person['transl'].shape == (1, 3)
    assert fetch(links['000001_0.obj']).count(b'\nv ') + 1 >= 10475
    assert fetch(links['000001_1.glb'])[:4] == b'glTF'
    browser_page.screenshot(path=str(tmp_path / 'app_photo.png'), full_page=True)


def test_video_job_plays_and_downloads_every_person(app_server, browser_page, tmp_path):
    url, _, _ = app_server
    video, boxes = ROOT / 'demo' / 'sample.mp4', ROOT / 'demo' / 'sample_boxes.json'
    frames = json.loads(boxes.read_text())['frames']
    expected_people = sum(len(b) for b in frames.values())
    open_app(browser_page, url)
    no_meshes(browser_page)
    upload(browser_page, video, boxes)
    browser_page.click('#run')
    browser_page.wait_for_function(PROGRESS_JS, timeout=JOB_TIMEOUT_MS)  # a long job shows its progress
    browser_page.wait_for_function(FINAL_STATUS_JS, timeout=JOB_TIMEOUT_MS)
    status = browser_page.inner_text('#status')
    assert 'Done' in status and f'{len(frames)} frame(s)' in status, status
    state = video_check(browser_page, '#overlay-video video', timeout_s=30)
    assert state['error'] is None and state['readyState'] == HAVE_ENOUGH_DATA, state
    assert state['played'] is True and state['currentTime'] > state['start'], state
    assert (state['width'], state['height']) == (320, 240)
    links = download_links(browser_page)
    tracks = {b['track_id'] for f in frames.values() for b in f}
    animation = {f'track_{t}.{ext}' for t in tracks for ext in ('bvh', 'glb', 'json')} | {'scene.glb'}
    assert set(links) == {'results.npz', 'people.zip'} | animation, links
    assert f'Frames: {len(frames)}'.encode() in fetch(links[f'track_{min(tracks)}.bvh'])
    assert fetch(links['scene.glb'])[:4] == b'glTF'
    with np.load(io.BytesIO(fetch(links['results.npz']))) as res:
        assert len(res['frame_ids']) == len(frames) and len(res['frame']) == expected_people
        assert set(res['track_id'].tolist()) == {b['track_id'] for f in frames.values() for b in f}
    browser_page.screenshot(path=str(tmp_path / 'app_video.png'), full_page=True)


def test_stop_cancels_a_running_job(app_server, browser_page):
    url, jobs, _ = app_server
    open_app(browser_page, url)
    no_meshes(browser_page)
    upload(browser_page, ROOT / 'demo' / 'sample.mp4', ROOT / 'demo' / 'sample_boxes.json')
    browser_page.click('#run')
    browser_page.wait_for_function(PROGRESS_JS, timeout=JOB_TIMEOUT_MS)
    browser_page.click('#stop')
    browser_page.wait_for_function(FINAL_STATUS_JS, timeout=60_000)
    assert 'Job cancelled' in browser_page.inner_text('#status')
    assert browser_page.locator('#overlay-video video').count() == 0  # no result shown
    time.sleep(5)  # the job stops at its next frame: it never gets to the end of the video
    frames_dir = sorted(jobs.glob('job-*'))[-1] / 'results' / 'frames'
    assert len(list(frames_dir.glob('*.json'))) < 30


def test_bad_uploads_give_readable_errors_and_the_app_keeps_serving(app_server, browser_page, sample_photo,
                                                                    tmp_path):
    url, _, _ = app_server
    text = tmp_path / 'notes.txt'
    text.write_text('not a picture\n')
    data = (ROOT / 'demo' / 'sample.mp4').read_bytes()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) * 2 // 3])  # the index (moov) of this file is at its end: undecodable
    for bad in (text, cut):
        open_app(browser_page, url)
        status = submit(browser_page, bad)
        assert 'Job failed' in status and bad.name in status, status
        assert 'Traceback' not in status
    open_app(browser_page, url)
    boxes = tmp_path / 'boxes.json'
    boxes.write_text(json.dumps({'frames': {'1': ZIDANE_BOXES[:1]}}))
    status = submit(browser_page, sample_photo, boxes)
    assert 'Done' in status and '1 person result(s)' in status, status
