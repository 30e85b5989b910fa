"""Person detection for inference: YOLO over batches of frames, box selection rules, and ``--bbox_file``.

Box conventions: ``xyxy`` = (x1, y1, x2, y2) and ``xywh`` = (x, y, w, h), both in original-image pixels.
The selection rules follow SPEC §5.1 (the original's mmdet post-processing), with YOLO as the detector:

- size filter: drop boxes with width < ``min_size`` or height < 3 * ``min_size`` (original ``--bbox_thr``, 50);
- score filter: drop boxes with score < ``score_thr`` (our addition; the original had none);
- single person (default): keep the **largest-area** box (as the original, not the highest score);
- multi person: greedy NMS by score with IoU threshold ``iou_thr`` (0.5); IoU uses the +1-pixel convention.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common.utils.crop import xywh_to_xyxy

logger = logging.getLogger(__name__)

__all__ = [
    'Detections', 'iou_plus_one', 'greedy_nms', 'select_people', 'clip_boxes', 'YoloPersonDetector',
    'BoxFileError', 'load_bbox_file', 'lookup_boxes',
]

PERSON_CLASS = 0  # COCO class id of "person" (both mmdet and YOLO)


@dataclass
class Detections:
    """People found in one frame.

    Attributes:
        boxes: (N, 4) float xyxy, original-image pixels.
        scores: (N,) float in [0, 1] (1.0 for boxes read from a file without a score).
        track_ids: (N,) int, or None when the detector gives no identities (then the tracker assigns them).
    """
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    track_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    def take(self, keep: np.ndarray) -> 'Detections':
        """Subset by index array ``keep`` (order preserved as given)."""
        ids = None if self.track_ids is None else self.track_ids[keep]
        return Detections(self.boxes[keep], self.scores[keep], ids)


def iou_plus_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box (4,) against (N, 4) xyxy boxes, areas counted as (x2 - x1 + 1)(y2 - y1 + 1).

    This is the +1-pixel convention of the original's NMS (inclusive integer pixel boxes).
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1 + 1, 0, None) * np.clip(iy2 - iy1 + 1, 0, None)
    area = (box[2] - box[0] + 1) * (box[3] - box[1] + 1)
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    return inter / np.maximum(area + areas - inter, 1e-9)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS: visit boxes by descending score, keep a box when its IoU (+1 convention) with every
    already-kept box is < ``iou_thr``. Returns kept indices (int64) in descending-score order."""
    order = np.argsort(-np.asarray(scores), kind='stable')
    keep: list[int] = []
    for i in order:
        if keep and np.any(iou_plus_one(boxes[i], boxes[keep]) >= iou_thr):
            continue
        keep.append(int(i))
    return np.asarray(keep, np.int64)


def clip_boxes(boxes: np.ndarray, img_w: int, img_h: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip (N, 4) xyxy boxes to the image; returns (clipped boxes, valid mask).

    A box is invalid when it is not finite or has no area inside the image (zero size or fully outside).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    finite = np.isfinite(boxes).all(1)
    b = np.nan_to_num(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, img_w - 1)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, img_h - 1)
    valid = finite & (b[:, 2] - b[:, 0] >= 1) & (b[:, 3] - b[:, 1] >= 1)
    return b, valid


def select_people(det: Detections, *, multi_person: bool, iou_thr: float = 0.5, min_size: float = 50.0,
                  score_thr: float = 0.0) -> Detections:
    """Apply the SPEC §5.1 person rules to one frame's detections.

    Returns the kept people sorted by area, largest first (single-person mode keeps at most one).
    """
    if len(det) == 0:
        return det
    w = det.boxes[:, 2] - det.boxes[:, 0]
    h = det.boxes[:, 3] - det.boxes[:, 1]
    ok = (det.scores >= score_thr) & (w >= min_size) & (h >= 3 * min_size)
    det = det.take(np.nonzero(ok)[0])
    if len(det) == 0:
        return det
    if multi_person:
        det = det.take(greedy_nms(det.boxes, det.scores, iou_thr))
    area = (det.boxes[:, 2] - det.boxes[:, 0]) * (det.boxes[:, 3] - det.boxes[:, 1])
    order = np.argsort(-area, kind='stable')
    return det.take(order if multi_person else order[:1])


class YoloPersonDetector:
    """Ultralytics YOLO person detector, batched over frames.

    Args:
        model: an ``ultralytics.YOLO`` instance (from ``common.weights.load_yolo`` or ``YOLO('yolov8n.yaml')``).
        conf: YOLO's own confidence floor (boxes below it are never returned).
        device: torch device string for YOLO ('cpu', 'cuda:0', ...); None lets ultralytics choose.
        half: run YOLO in fp16 (CUDA only).
    """

    def __init__(self, model, conf: float = 0.05, device: str | None = None, half: bool = False):
        self.model = model
        self.conf = conf
        self.device = device
        self.half = half

    def __call__(self, frames_bgr: list[np.ndarray]) -> list[Detections]:
        """Detect people in a list of (H, W, 3) uint8 BGR frames; one ``Detections`` per frame."""
        if not frames_bgr:
            return []
        kwargs = dict(classes=[PERSON_CLASS], conf=self.conf, verbose=False)
        if self.half:
            kwargs['half'] = True
        if self.device is not None:
            kwargs['device'] = self.device
        results = self.model.predict(list(frames_bgr), **kwargs)
        out = []
        for r in results:
            boxes = r.boxes
            xyxy = boxes.xyxy.detach().float().cpu().numpy().reshape(-1, 4) if boxes is not None else None
            if xyxy is None or len(xyxy) == 0:
                out.append(Detections())
                continue
            cls = boxes.cls.detach().cpu().numpy().astype(int)
            keep = cls == PERSON_CLASS
            out.append(Detections(xyxy[keep].astype(np.float32),
                                  boxes.conf.detach().float().cpu().numpy()[keep].astype(np.float32)))
        return out


class BoxFileError(ValueError):
    """A ``--bbox_file`` that cannot be used; the message names the file, the entry and the fix."""


BOX_FILE_HELP = (
    'Expected JSON: {"format": "xywh" | "xyxy" (default xywh), "frames": {FRAME: [BOX, ...]}} or directly '
    '{FRAME: [BOX, ...]}; FRAME is the frame number (as in output names) or the image file name; BOX is '
    '[x, y, w, h] or {"bbox": [...], "score": s, "track_id": k}.')


def _parse_box(entry, where: str) -> tuple[list[float], float, int | None]:
    score, tid = 1.0, None
    if isinstance(entry, dict):
        if 'bbox' not in entry:
            raise BoxFileError(f'{where}: box object has no "bbox" key. {BOX_FILE_HELP}')
        score = float(entry.get('score', 1.0))
        tid = entry.get('track_id')
        tid = None if tid is None else int(tid)
        entry = entry['bbox']
    if not isinstance(entry, (list, tuple)) or len(entry) != 4:
        raise BoxFileError(f'{where}: a box must be 4 numbers, got {entry!r}. {BOX_FILE_HELP}')
    try:
        vals = [float(v) for v in entry]
    except (TypeError, ValueError):
        raise BoxFileError(f'{where}: box values must be numbers, got {entry!r}. {BOX_FILE_HELP}') from None
    if not all(math.isfinite(v) for v in vals):
        raise BoxFileError(f'{where}: box has non-finite values {entry!r}.')
    return vals, score, tid


def load_bbox_file(path: str | Path) -> dict[str, Detections]:
    """Read and validate a boxes JSON file (format in ``BOX_FILE_HELP``).

    Returns:
        {frame key (str: frame number or file name): Detections with xyxy boxes}. Boxes are validated
        for structure here; zero-size or out-of-frame boxes are dropped with a warning when the frame
        size is known (``clip_boxes`` in the pipeline).
    Raises:
        BoxFileError: missing file, invalid JSON or a malformed entry.
    """
    path = Path(path)
    if not path.is_file():
        raise BoxFileError(f'--bbox_file {path} does not exist. {BOX_FILE_HELP}')
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BoxFileError(f'--bbox_file {path} is not valid JSON ({e}). {BOX_FILE_HELP}') from None
    if not isinstance(data, dict):
        raise BoxFileError(f'--bbox_file {path}: top level must be an object. {BOX_FILE_HELP}')
    fmt = data.get('format', 'xywh') if 'frames' in data else 'xywh'
    frames = data['frames'] if 'frames' in data else data
    if fmt not in ('xywh', 'xyxy') or not isinstance(frames, dict):
        raise BoxFileError(f'--bbox_file {path}: "format" must be xywh or xyxy and "frames" an object. '
                           f'{BOX_FILE_HELP}')
    out: dict[str, Detections] = {}
    for key, boxes in frames.items():
        if not isinstance(boxes, list):
            raise BoxFileError(f'--bbox_file {path}: frame {key!r} must map to a list of boxes. {BOX_FILE_HELP}')
        parsed = [_parse_box(b, f'--bbox_file {path}, frame {key!r}, box {i}') for i, b in enumerate(boxes)]
        arr = np.asarray([p[0] for p in parsed], np.float32).reshape(-1, 4)
        tids = [p[2] for p in parsed]
        key = str(int(key)) if str(key).isdigit() else str(key)  # '000012' and '12' name the same frame
        out[key] = Detections(
            arr if fmt == 'xyxy' else xywh_to_xyxy(arr), np.asarray([p[1] for p in parsed], np.float32),
            np.asarray(tids, np.int64) if parsed and all(t is not None for t in tids) else None)
    return out


def lookup_boxes(table: dict[str, Detections], frame_id: int, name: str) -> Detections:
    """Boxes of one frame from a ``load_bbox_file`` table, keyed by frame number, file name or stem;
    an absent frame has no people."""
    for key in (str(frame_id), name, Path(name).stem):
        if key in table:
            return table[key]
    return Detections()
