"""One web-app job without the browser (common/app/job.py): progress per frame, cancellation, readable failures,
the per-person table and the downloads. Tiny random-weight S32, synthetic body model, the two-person video."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.app.job import JobCancelled, JobFailed, JobOptions, people_table, run_job
from tests.fixtures.inference import TINY_CFG_OPTIONS


@pytest.fixture(scope='module')
def tiny_predictor(human_model_path, weights_dir):
    import smplerx
    return smplerx.load('config_smpler_x_s32', random_weights=True, human_model_path=human_model_path,
                        cfg_options=TINY_CFG_OPTIONS + [f'pretrained_model_dir={weights_dir}'], device='cpu')


OPTS = JobOptions(mesh_formats=(), batch_size=4, renderer='opencv')


def test_video_job_reports_every_frame_and_offers_the_results(tiny_predictor, two_person_video, tmp_path):
    video, boxes = two_person_video
    calls = []
    result = run_job(tiny_predictor, video, boxes, tmp_path / 'job', OPTS, lambda *a: calls.append(a))
    assert calls == [(i, 6) for i in range(1, 7)] and result.frames == 6
    assert result.kind == 'video' and result.overlay_image is None and result.overlay_video.is_file()
    assert len(result.table) == 12 and {row[2] for row in result.table} == {0, 1}
    names = [p.name for p in result.downloads]
    animation = {f'track_{t}.{ext}' for t in (0, 1) for ext in ('bvh', 'glb', 'json')} | {'scene.glb'}
    assert names[0] == 'results.npz' and sorted(n for n in names[1:] if n.endswith('.npz')) == [
        f'{f:06d}_{p}.npz' for f in range(1, 7) for p in (0, 1)]
    assert {n for n in names[1:] if not n.endswith('.npz')} == animation
    bvh = next(p for p in result.downloads if p.name == 'track_1.bvh').read_text()
    assert 'Frames: 6' in bvh and bvh.count('JOINT') + 1 == 55  # every frame of the video, the SMPL-X tree
    with np.load(result.downloads[0]) as res:
        assert list(res['frame_ids']) == list(range(1, 7)) and len(res['frame']) == 12


def test_cancel_from_the_progress_callback_stops_at_that_frame(tiny_predictor, two_person_video, tmp_path):
    video, boxes = two_person_video
    calls = []

    def cancel_at_two(done, total):
        calls.append(done)
        if done == 2:
            raise JobCancelled('stop')

    with pytest.raises(JobCancelled):
        run_job(tiny_predictor, video, boxes, tmp_path / 'job', OPTS, cancel_at_two)
    assert calls == [1, 2]
    assert sorted(p.name for p in (tmp_path / 'job' / 'results' / 'frames').iterdir()) == ['000001.json',
                                                                                          '000002.json']


@pytest.mark.parametrize('case', ['text_file', 'bad_boxes', 'nobody'])
def test_failures_are_readable(case, tiny_predictor, two_person_video, tmp_path):
    video, boxes = two_person_video
    if case == 'text_file':
        video = tmp_path / 'notes.txt'
        video.write_text('hello')
        expect = ['notes.txt', 'Upload a photo']
    elif case == 'bad_boxes':
        boxes = tmp_path / 'my_boxes.json'
        boxes.write_text('{"frames": {"1": [[1, 2, 3]]}}')
        expect = ['my_boxes.json', '4 numbers']
    else:
        boxes = tmp_path / 'empty_boxes.json'
        boxes.write_text(json.dumps({'frames': {str(i): [] for i in range(1, 7)}}))
        expect = ['nobody was found']
    with pytest.raises(JobFailed) as info:
        run_job(tiny_predictor, video, boxes, tmp_path / 'job', OPTS)
    for text in expect:
        assert text in str(info.value)
    assert str(tmp_path / 'job') not in str(info.value)  # no server paths in the page


def test_people_table_rows():
    res = {'frame': np.array([3]), 'person': np.array([1]), 'track_id': np.array([7]),
           'bbox_det': np.array([[10.04, 20.0, 30.5, 40.25]]), 'score': np.array([0.98765]),
           'betas': np.array([[3.0, -4.0, 0.0] + [0.0] * 7])}
    assert people_table(res) == [[3, 1, 7, 10.0, 20.0, 30.5, 40.2, 0.988, '+3.00, -4.00, +0.00', 5.0]]
