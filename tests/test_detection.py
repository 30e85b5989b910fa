"""Person selection rules (SPEC §5.1), the boxes-file loader and the YOLO wrapper."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.inference.detection import (BoxFileError, BoxTable, Detections, YoloPersonDetector, greedy_nms,
                                        iou_plus_one, load_bbox_file, select_people)


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


def test_single_person_takes_the_largest_raw_box_before_the_size_filter():
    """SPEC §5.1: the largest box is chosen first; when it fails the size filter nobody is kept (a rule that
    filtered first would fall back to the smaller box)."""
    det = Detections(np.array([[0, 0, 300, 120], [400, 0, 460, 200]], np.float32), np.array([0.9, 0.9], np.float32))
    # box 0: 300x120 (largest, but lower than 3 * 50); box 1: 60x200 passes the filter
    assert len(select_people(det, multi_person=False, min_size=50)) == 0
    assert select_people(det, multi_person=True, min_size=50).boxes.tolist() == [[400, 0, 460, 200]]


def test_multi_person_nms_runs_before_the_size_filter():
    """A small high-score box overlapping a big one suppresses it in NMS, then fails the size filter itself:
    nobody is left (filtering first would have kept the big box)."""
    big = [0, 0, 100, 300]      # 100x300, passes the filter
    small = [0, 0, 90, 140]     # 90x140 fails 3*50; IoU with big (+1 areas) = 91*141 / (101*301) = 0.42
    det = Detections(np.array([big, small], np.float32), np.array([0.6, 0.9], np.float32))
    assert len(select_people(det, multi_person=True, iou_thr=0.4, min_size=50)) == 0
    assert select_people(det, multi_person=True, iou_thr=0.5, min_size=50).boxes.tolist() == [big]


def test_boxes_are_not_clipped_before_cropping():
    """A box crossing the border reaches process_bbox unclipped (process_bbox sanitises it): the crop box is
    the one process_bbox gives for the raw box."""
    from common.inference.estimator import CropCamera, make_crop
    from common.utils.crop import process_bbox
    img = np.zeros((240, 320, 3), np.uint8)
    raw = np.array([-40, 30, 120, 200], np.float32)  # starts left of the image
    _, box = make_crop(img, raw, CropCamera())
    np.testing.assert_allclose(box, process_bbox(raw, 320, 240, ratio=1.25))
    # sanitising by hand (SPEC §4.2): x1 = 0, x2 = min(319, 0 + 119) -> w = 119, h = 199, centre (59.5, 129.5);
    # aspect 0.75 -> w = 149.25; x 1.25
    np.testing.assert_allclose(box, [59.5 - 149.25 * 1.25 / 2, 129.5 - 199 * 1.25 / 2, 149.25 * 1.25, 199 * 1.25],
                               rtol=1e-5)


def test_load_bbox_file_formats_and_lookup(tmp_path):
    p = tmp_path / 'b.json'
    p.write_text(json.dumps({'format': 'xyxy', 'frames': {
        '000003': [[10, 20, 30, 60]], 'img_7.png': [{'bbox': [0, 0, 5, 5], 'score': 0.3, 'track_id': 4}]}}))
    table = BoxTable(load_bbox_file(p))
    d = table.lookup(3, '000003.jpg')
    assert d.boxes.tolist() == [[10, 20, 30, 60]] and d.track_ids is None
    d = table.lookup(9, 'img_7.png')
    assert d.scores.tolist() == [pytest.approx(0.3)] and d.track_ids.tolist() == [4]
    assert len(table.lookup(5, '000005.jpg')) == 0
    assert table.unused() == []
    p.write_text(json.dumps({'1': [[10, 20, 30, 40]]}))  # bare mapping, xywh
    assert load_bbox_file(p)['1'].boxes.tolist() == [[10, 20, 40, 60]]


@pytest.mark.parametrize('text,msg', [('{not json', 'not valid JSON'), ('[1, 2]', 'top level'),
                                      ('{"1": [[1, 2, 3]]}', 'must be 4 numbers'),
                                      ('{"1": [["a", 2, 3, 4]]}', 'must be numbers'),
                                      ('{"1": [{"score": 1}]}', 'no "bbox"'), ('{"1": 5}', 'list of boxes'),
                                      ('{"1": [{"bbox": [1, 2, 3, 4], "score": "high"}]}', '"score" must be'),
                                      ('{"1": [{"bbox": [1, 2, 3, 4], "track_id": "abc"}]}', '"track_id" must'),
                                      ('{"1": [{"bbox": [1, 2, 3, 4], "track_id": 1.7}]}', '"track_id" must'),
                                      ('{"1": [{"bbox": [1, 2, 3, 4], "track_id": 2}, [5, 6, 7, 8]]}',
                                       'some boxes have a "track_id"'),
                                      ('{"1": [[1, 2, 3, 4]], "000001": [[1, 2, 3, 4]]}', 'name the same frame')])
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


def test_box_table_reports_keys_that_match_no_frame():
    table = BoxTable({k: Detections() for k in ('1', '2', '4', 'typo.jpg', '50')})
    for frame in (1, 2, 3):
        table.lookup(frame, f'{frame:06d}.jpg')
    # '4' and '50' lie outside the frames looked up (e.g. --end 3): not reported; the file name matched nothing
    assert table.unused() == ['typo.jpg']
    table.lookup(5, '000005.jpg')
    assert table.unused() == ['4', 'typo.jpg']  # frame 4 was in range (a gap in an image folder) but never asked
