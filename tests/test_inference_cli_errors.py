"""Ordinary mistakes with main/inference.py end in one clear line and a non-zero exit code, not a traceback."""
from __future__ import annotations

import cv2
import numpy as np
import pytest


@pytest.mark.parametrize('extra,message', [
    (['--start', '0'], '--start must be >= 1'),
    (['--start', '-5'], '--start must be >= 1'),
    (['--end', '0'], '--end must be >= 1'),
    (['--iou_thr', '7'], '--iou_thr must be in (0, 1]'),
    (['--score_thr', '-1'], '--score_thr must be in [0, 1]'),
    (['--bbox_thr', '-3'], '--bbox_thr is a size in pixels'),
    (['--device', 'tpu'], "unknown device 'tpu'"),
    (['--resume', '--overwrite'], 'give one'),
])
def test_bad_flag_values_are_refused_before_any_work(extra, message, two_person_video, model_args, inference_entry,
                                                     capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        inference_entry.main(['--video_input', str(two_person_video[0]), '--output_folder', str(tmp_path / 'o'),
                              *model_args, *extra])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_random_weights_alone_names_the_missing_flag(two_person_video, inference_entry, capsys):
    with pytest.raises(SystemExit):
        inference_entry.main(['--video_input', str(two_person_video[0]), '--random_weights'])
    err = capsys.readouterr().err
    assert 'add --config FILE' in err and 'or with --random_weights' not in err


@pytest.mark.parametrize('case', ['text_as_image', 'image_as_video', 'start_past_end', 'output_is_a_file'])
def test_wrong_inputs_say_what_to_do(case, tmp_path, two_person_video, model_args, inference_entry, caplog):
    video, boxes = two_person_video
    out = tmp_path / 'o'
    if case == 'text_as_image':
        (tmp_path / 'notes.txt').write_text('hello')
        args, expect = ['--img_path', str(tmp_path / 'notes.txt')], 'give videos with --video_input'
    elif case == 'image_as_video':
        cv2.imwrite(str(tmp_path / 'a.jpg'), np.zeros((8, 8, 3), np.uint8))
        args, expect = ['--video_input', str(tmp_path / 'a.jpg')], 'give image files and folders with --img_path'
    elif case == 'start_past_end':
        args, expect = ['--video_input', str(video), '--start', '100'], '--start 100 is past the last frame'
    else:
        out.write_text('a file')
        args, expect = ['--video_input', str(video)], 'is a file'
    with pytest.raises(SystemExit) as info:
        inference_entry.main([*args, '--bbox_file', str(boxes), '--output_folder', str(out), *model_args])
    assert info.value.code == 2
    assert expect in caplog.text


def test_a_run_that_reads_no_frame_fails(tmp_path, two_person_video, model_args, inference_entry, caplog):
    bad = tmp_path / 'only.jpg'
    good = cv2.imencode('.jpg', np.full((240, 320, 3), 90, np.uint8))[1].tobytes()
    bad.write_bytes(good[:len(good) // 2])  # a truncated JPEG: OpenCV would decode it half grey
    with pytest.raises(SystemExit) as info:
        inference_entry.main(['--img_path', str(bad), '--bbox_file', str(two_person_video[1]), '--output_folder',
                              str(tmp_path / 'o'), *model_args])
    assert info.value.code == 1
    assert 'truncated JPEG' in caplog.text and 'only.jpg' in caplog.text and 'nothing was written' in caplog.text


def test_read_image_refuses_truncated_jpegs_only(tmp_path):
    from common.utils.images import ImageReadError, read_image
    img = np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)
    data = cv2.imencode('.jpg', img)[1].tobytes()
    (tmp_path / 'ok.jpg').write_bytes(data)
    (tmp_path / 'trailer.jpg').write_bytes(data + b'\0' * 70000)  # bytes after the end marker are fine
    (tmp_path / 'cut.jpg').write_bytes(data[:-40])
    assert read_image(tmp_path / 'ok.jpg').shape == (64, 48, 3)
    assert read_image(tmp_path / 'trailer.jpg').shape == (64, 48, 3)
    with pytest.raises(ImageReadError, match='truncated JPEG'):
        read_image(tmp_path / 'cut.jpg')
    with pytest.raises(ImageReadError, match='no such image file'):
        read_image(tmp_path / 'missing.jpg')
