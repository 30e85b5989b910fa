"""A run owns its output folder: stale results are never mixed in, foreign folders are refused, and a resumed
run redoes frames whose files are damaged (issue-level cases, end to end through main/inference.py)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest


def _run(entry, video, boxes, out, model_args, *extra):
    return entry.main(['--video_input', str(video), '--bbox_file', str(boxes), '--output_folder', str(out),
                       '--no_overlay', *model_args, *extra])


@pytest.fixture
def one_person_boxes(tmp_path, two_person_video):
    """The sample's boxes file with only the person of track 0 in every frame."""
    data = json.loads(two_person_video[1].read_text())
    data['frames'] = {k: [b for b in v if b['track_id'] == 0] for k, v in data['frames'].items()}
    path = tmp_path / 'one_person.json'
    path.write_text(json.dumps(data))
    return path


def test_rerun_into_a_used_folder_leaves_no_stale_person(tmp_path, two_person_video, one_person_boxes, model_args,
                                                         inference_entry, render_entry, human_model_path):
    video, boxes = two_person_video
    out = tmp_path / 'out'
    _run(inference_entry, video, boxes, out, model_args, '--save_mesh')
    assert len(list((out / 'smplx').glob('*_1.npz'))) == 6
    summary = _run(inference_entry, video, one_person_boxes, out, model_args)  # same input, fewer people
    assert summary['people'] == 6
    for sub in ('smplx', 'meta', 'mesh'):
        assert not list((out / sub).glob('*_1.*')), sub
    res = np.load(out / 'results.npz')
    assert res['person'].tolist() == [0] * 6
    from common.inference.result_files import scan_results
    assert {f: len(p) for f, p in scan_results(out).items()} == {f: 1 for f in range(1, 7)}
    # render.py draws what the folder's records list; a stray person file (not written by the run) is ignored
    shutil.copy(out / 'smplx' / '000001_0.npz', out / 'smplx' / '000001_5.npz')
    shutil.copy(out / 'meta' / '000001_0.json', out / 'meta' / '000001_5.json')
    assert len(scan_results(out)[1]) == 1
    assert render_entry.main(['--data_path', str(out), '--renderer', 'opencv', '--no_video',
                              '--human_model_path', str(human_model_path)]) == 6


def test_another_input_is_refused_unless_overwrite(tmp_path, two_person_video, model_args, inference_entry, caplog):
    video, boxes = two_person_video
    other = tmp_path / 'other.mp4'
    other.write_bytes(video.read_bytes() + b'\0' * 16)  # a different file (path and size)
    out = tmp_path / 'out'
    _run(inference_entry, video, boxes, out, model_args)
    for extra in ((), ('--resume',)):
        caplog.clear()
        with pytest.raises(SystemExit) as info:
            _run(inference_entry, other, boxes, out, model_args, *extra)
        assert info.value.code == 2
        assert 'other.mp4' in caplog.text
        assert ('input.path' in caplog.text) if extra else ('--overwrite' in caplog.text)
    assert json.loads((out / 'run.json').read_text())['input']['path'] == str(video.resolve())  # untouched
    summary = _run(inference_entry, other, boxes, out, model_args, '--overwrite')
    assert summary['frames'] == 6 and summary['skipped'] == 0
    assert json.loads((out / 'run.json').read_text())['input']['path'] == str(other.resolve())


def test_resume_with_other_settings_says_what_differs(tmp_path, two_person_video, model_args, inference_entry,
                                                      caplog):
    video, boxes = two_person_video
    out = tmp_path / 'out'
    _run(inference_entry, video, boxes, out, model_args, '--end', '3')
    with pytest.raises(SystemExit):
        _run(inference_entry, video, boxes, out, model_args, '--resume', '--smooth')
    assert 'processing.smooth' in caplog.text
    with pytest.raises(SystemExit):
        _run(inference_entry, video, boxes, out, model_args, '--resume', '--precision', 'bf16')
    assert 'model.precision' in caplog.text


def test_resume_redoes_frames_with_damaged_files(tmp_path, two_person_video, model_args, inference_entry, caplog):
    video, boxes = two_person_video
    out = tmp_path / 'out'
    _run(inference_entry, video, boxes, out, model_args)
    first = np.load(out / 'results.npz')
    record = out / 'frames' / '000002.json'
    record.write_text(record.read_text()[:20])                 # truncated frame record
    (out / 'meta' / '000003_0.json').write_text('')           # empty meta json
    (out / 'smplx' / '000004_1.npz').unlink()                 # a deleted person file
    npz = out / 'smplx' / '000005_0.npz'
    npz.write_bytes(npz.read_bytes()[:100])                    # a truncated npz
    caplog.clear()
    summary = _run(inference_entry, video, boxes, out, model_args, '--resume')
    assert summary['skipped'] == 2 and summary['frames'] == 4
    warnings = [r.message for r in caplog.records if 'incomplete or unreadable' in r.message]
    assert len(warnings) == 1 and '4 frame(s)' in warnings[0]
    res = np.load(out / 'results.npz')
    assert res['frame_ids'].tolist() == list(range(1, 7)) and len(res['frame']) == 12
    for key in ('body_pose', 'transl', 'betas'):
        np.testing.assert_allclose(res[key], first[key], atol=1e-6)  # the redone frames equal the first run
