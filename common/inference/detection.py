"""Person detection for inference: YOLO over batches of frames, box selection rules, and ``--bbox_file``.

Box conventions: ``xyxy`` = (x1, y1, x2, y2) and ``xywh`` = (x, y, w, h), both in original-image pixels.
The selection rules follow SPEC §5.1 (the original's mmdet post-processing), with YOLO as the detector:

- score filter: drop boxes with score < ``score_thr`` (our addition; the original had none), first;
- single person (default): the **largest-area** box (as the original, not the highest score), then the size filter;
- multi person: greedy NMS by score with IoU threshold ``iou_thr`` (0.5; IoU with the +1-pixel convention),
  then the size filter;
- size filter: drop boxes with width < ``min_size`` or height < 3 * ``min_size`` (original ``--bbox_thr``, 50).
Boxes are passed on unclipped: ``process_bbox`` sanitises them against the image, as in the original.
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from common.utils.crop import xywh_to_xyxy

logger = logging.getLogger(__name__)

__all__ = [
    'Detections', 'iou_plus_one', 'greedy_nms', 'select_people', 'YoloPersonDetector',
    'BoxFileError', 'parse_boxes', 'load_bbox_file', 'BoxTable',
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


def _iou_matrix_plus_one(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU with the +1-pixel convention, by ``torchvision.ops.box_iou``: an inclusive-pixel box
    (x1, y1, x2, y2) covers the same area as the half-open box (x1, y1, x2 + 1, y2 + 1)."""
    import torch
    from torchvision.ops import box_iou
    one = torch.tensor([0.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    ta = torch.as_tensor(np.asarray(a, np.float64).reshape(-1, 4)) + one
    tb = torch.as_tensor(np.asarray(b, np.float64).reshape(-1, 4)) + one
    return box_iou(ta, tb).numpy()


def iou_plus_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box (4,) against (N, 4) xyxy boxes, areas counted as (x2 - x1 + 1)(y2 - y1 + 1).

    This is the +1-pixel convention of the original's NMS (inclusive integer pixel boxes).
    """
    return _iou_matrix_plus_one(np.asarray(box)[None], boxes)[0]


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS: visit boxes by descending score, keep a box when its IoU (+1 convention) with every
    already-kept box is < ``iou_thr``. Returns kept indices (int64) in descending-score order.

    Not ``torchvision.ops.nms``: that one suppresses only IoU > thr (the original: >= thr) and does not
    promise an order for tied scores (here: stable, the detector's order); the IoUs are torchvision's.
    """
    order = np.argsort(-np.asarray(scores), kind='stable')
    if len(order) == 0:
        return np.zeros(0, np.int64)
    iou = _iou_matrix_plus_one(boxes, boxes)
    keep: list[int] = []
    for i in order:
        if keep and np.any(iou[i, keep] >= iou_thr):
            continue
        keep.append(int(i))
    return np.asarray(keep, np.int64)


def select_people(det: Detections, *, multi_person: bool, iou_thr: float = 0.5, min_size: float = 50.0,
                  score_thr: float = 0.0) -> Detections:
    """Apply the SPEC §5.1 person rules to one frame's raw detector boxes (not clipped to the image).

    Order as the original: the score filter (ours) first; single-person mode then takes the largest-area box
    and applies the size filter to it (so a too-small largest box means nobody, not the next box);
    multi-person mode runs greedy NMS in score order and then applies the size filter.
    Returns the kept people sorted by area, largest first.
    """
    det = det.take(np.nonzero(det.scores >= score_thr)[0])
    if multi_person:
        det = det.take(greedy_nms(det.boxes, det.scores, iou_thr))
    else:
        det = det.take(np.argsort(-_area(det.boxes), kind='stable')[:1])
    w = det.boxes[:, 2] - det.boxes[:, 0]
    h = det.boxes[:, 3] - det.boxes[:, 1]
    det = det.take(np.nonzero((w >= min_size) & (h >= 3 * min_size))[0])
    return det.take(np.argsort(-_area(det.boxes), kind='stable'))


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


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

    def __call__(self, frames_bgr: list[np.ndarray], conf: float | None = None) -> list[Detections]:
        """Detect people in a list of (H, W, 3) uint8 BGR frames; one ``Detections`` per frame.
        ``conf`` replaces the confidence floor for this call."""
        if not frames_bgr:
            return []
        kwargs = dict(classes=[PERSON_CLASS], conf=self.conf if conf is None else conf, verbose=False)
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
        score = entry.get('score', 1.0)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise BoxFileError(f'{where}: "score" must be a finite number, got {score!r}')
        tid = entry.get('track_id')
        if tid is not None and (isinstance(tid, bool) or not isinstance(tid, (int, float)) or tid != int(tid)
                                or tid < 0):
            raise BoxFileError(f'{where}: "track_id" must be a non-negative integer, got {tid!r}')
        tid = None if tid is None else int(tid)
        entry = entry['bbox']
    if not isinstance(entry, (list, tuple)) or len(entry) != 4:
        raise BoxFileError(f'{where}: a box must be 4 numbers, got {entry!r}. {BOX_FILE_HELP}')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in entry):
        raise BoxFileError(f'{where}: box values must be numbers, got {entry!r}. {BOX_FILE_HELP}')
    vals = [float(v) for v in entry]
    if not all(math.isfinite(v) for v in vals):
        raise BoxFileError(f'{where}: box has non-finite values {entry!r}.')
    return vals, float(score), tid


def parse_boxes(frames: Mapping, fmt: str = 'xywh', where: str = 'boxes') -> dict[str, Detections]:
    """Validate given boxes ``{FRAME: [BOX, ...]}`` (``BOX_FILE_HELP``) into {frame key: Detections (xyxy)}.

    Frame keys are frame numbers (``12``, ``'12'`` and ``'000012'`` name the same frame: two of them in one
    mapping is an error) or image file names / stems. Within a frame either every box has a ``track_id`` or
    none has. Raises BoxFileError naming ``where``, the frame and the box.
    """
    if fmt not in ('xywh', 'xyxy') or not isinstance(frames, Mapping):
        raise BoxFileError(f'{where}: "format" must be xywh or xyxy and "frames" an object. {BOX_FILE_HELP}')
    out: dict[str, Detections] = {}
    source: dict[str, object] = {}
    for key, boxes in frames.items():
        if not isinstance(boxes, (list, tuple)):
            raise BoxFileError(f'{where}: frame {key!r} must map to a list of boxes. {BOX_FILE_HELP}')
        parsed = [_parse_box(b, f'{where}, frame {key!r}, box {i}') for i, b in enumerate(boxes)]
        tids = [p[2] for p in parsed]
        if any(t is None for t in tids) and any(t is not None for t in tids):
            raise BoxFileError(f'{where}, frame {key!r}: some boxes have a "track_id" and some do not; give one '
                               f'to every box of the frame or to none')
        norm = str(int(key)) if str(key).isdigit() else str(key)
        if norm in out:
            raise BoxFileError(f'{where}: frame keys {source[norm]!r} and {key!r} name the same frame; keep one')
        arr = np.asarray([p[0] for p in parsed], np.float32).reshape(-1, 4)
        out[norm], source[norm] = Detections(
            arr if fmt == 'xyxy' else xywh_to_xyxy(arr), np.asarray([p[1] for p in parsed], np.float32),
            np.asarray(tids, np.int64) if parsed and tids[0] is not None else None), key
    return out


def load_bbox_file(path: str | Path) -> dict[str, Detections]:
    """Read and validate a boxes JSON file (format in ``BOX_FILE_HELP``; rules in ``parse_boxes``).

    Returns:
        {frame key (str: frame number or file name): Detections with xyxy boxes}. A box with no area inside
        its frame is dropped with a warning when the frame is cropped (``process_bbox``).
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
    if 'frames' in data:
        return parse_boxes(data['frames'], data.get('format', 'xywh'), f'--bbox_file {path}')
    return parse_boxes(data, 'xywh', f'--bbox_file {path}')


class BoxTable:
    """Given boxes of many frames ({frame key: Detections}, from ``parse_boxes``) looked up by frame number,
    file name or stem; remembers the lookups, so keys that match no frame can be reported."""

    def __init__(self, table: Mapping[str, Detections], where: str = 'boxes'):
        self.table, self.where, self.used, self.seen = dict(table), where, set(), []

    def lookup(self, frame_id: int, name: str) -> Detections:
        """Boxes of one frame; a frame without an entry has nobody."""
        self.seen.append(frame_id)
        for key in (str(frame_id), name, Path(name).stem):
            if key in self.table:
                self.used.add(key)
                return self.table[key]
        return Detections()

    def unused(self) -> list[str]:
        """Keys that named no frame: file names that matched nothing, and frame numbers inside the range of
        frames looked up that matched nothing (numbers outside it were simply not asked for)."""
        if not self.seen:
            return []
        lo, hi = min(self.seen), max(self.seen)
        return sorted(k for k in set(self.table) - self.used if not k.isdigit() or lo <= int(k) <= hi)
