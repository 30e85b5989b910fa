"""Person selection rules (SPEC §5.1), the boxes-file loader and the YOLO wrapper."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.inference.detection import (BoxFileError, Detections, YoloPersonDetector, clip_boxes, greedy_nms,
                                        iou_plus_one, load_bbox_file, lookup_boxes, select_people)


def test_iou_uses_plus_one_pixel_areas():
    a = np.array([0, 0, 9, 9.0])             # 10x10 pixels inclusive
    b = np.array([[5, 0, 14, 9.0]])          # overlap 5x10 = 50
    assert iou_plus_one(a, b)[0] == pytest.approx(50 / (100 + 100 - 50))


def test_greedy_nms_keeps_by_score_and_threshold():
    boxes = np.array([[0, 0, 9, 9], [1, 0, 10, 9], [5, 0, 14, 9], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.5, 0.1])
    # box 1 (best) suppresses 0 (IoU 90/110 >= 0.5); box 2 vs 1: overlap 6x10=60, IoU 60/140 < 0.5 -> kept
    assert greedy_nms(boxes, scores, 0.5).tolist() == [1, 2, 3]
    assert greedy_nms(boxes, scores, 0.44).tolist() == [1, 2, 3]
    assert greedy_nms(boxes, scores, 0.42).tolist() == [1, 3]


def test_single_person_keeps_largest_area_not_highest_score():
    det = Detections(np.array([[0, 0, 60, 200], [100, 0, 200, 300], [300, 0, 340, 100]], np.float32),
                     np.array([0.99, 0.6, 0.95], np.float32))
    one = select_people(det, multi_person=False, min_size=50, score_thr=0.5)
    assert one.boxes.tolist() == [[100, 0, 200, 300]]
    many = select_people(det, multi_person=True, min_size=50, score_thr=0.5)
    assert many.boxes.tolist() == [[100, 0, 200, 300], [0, 0, 60, 200]]  # third fails the 3x50 height rule
    assert select_people(det, multi_person=True, min_size=50, score_thr=0.97).boxes.tolist() == [[0, 0, 60, 200]]
    assert len(select_people(Detections(), multi_person=False)) == 0


def test_clip_boxes_flags_zero_size_outside_and_nan():
    b, ok = clip_boxes(np.array([[-10, -10, 50, 50], [5, 5, 5, 40], [400, 10, 500, 90], [np.nan, 0, 4, 4]]),
                       320, 240)
    assert ok.tolist() == [True, False, False, False]
    assert b[0].tolist() == [0, 0, 50, 50]


def test_load_bbox_file_formats_and_lookup(tmp_path):
    p = tmp_path / 'b.json'
    p.write_text(json.dumps({'format': 'xyxy', 'frames': {
        '000003': [[10, 20, 30, 60]], 'img_7.png': [{'bbox': [0, 0, 5, 5], 'score': 0.3, 'track_id': 4}]}}))
    table = load_bbox_file(p)
    d = lookup_boxes(table, 3, '000003.jpg')
    assert d.boxes.tolist() == [[10, 20, 30, 60]] and d.track_ids is None
    d = lookup_boxes(table, 9, 'img_7.png')
    assert d.scores.tolist() == [pytest.approx(0.3)] and d.track_ids.tolist() == [4]
    assert len(lookup_boxes(table, 5, '000005.jpg')) == 0
    p.write_text(json.dumps({'1': [[10, 20, 30, 40]]}))  # bare mapping, xywh
    assert load_bbox_file(p)['1'].boxes.tolist() == [[10, 20, 40, 60]]


@pytest.mark.parametrize('text,msg', [('{not json', 'not valid JSON'), ('[1, 2]', 'top level'),
                                      ('{"1": [[1, 2, 3]]}', 'must be 4 numbers'),
                                      ('{"1": [["a", 2, 3, 4]]}', 'must be numbers'),
                                      ('{"1": [{"score": 1}]}', 'no "bbox"'), ('{"1": 5}', 'list of boxes')])
def test_load_bbox_file_errors_name_the_problem(tmp_path, text, msg):
    p = tmp_path / 'b.json'
    p.write_text(text)
    with pytest.raises(BoxFileError, match=msg):
        load_bbox_file(p)
    with pytest.raises(BoxFileError, match='does not exist'):
        load_bbox_file(tmp_path / 'missing.json')


def test_yolo_wrapper_batches_frames(offline_env):
    from ultralytics import YOLO
    det = YoloPersonDetector(YOLO('yolov8n.yaml'), conf=1e-6, device='cpu')
    frames = [np.full((120, 160, 3), v, np.uint8) for v in (0, 128, 255)]
    out = det(frames)
    assert len(out) == 3
    for d in out:
        assert d.boxes.shape[1:] == (4,) and d.boxes.dtype == np.float32 and len(d.scores) == len(d.boxes)
        assert np.all(d.scores >= 0) and np.all(d.boxes[:, 2] >= d.boxes[:, 0])
    assert det([]) == []
