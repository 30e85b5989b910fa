"""Person track ids across frames by IoU association (our addition; the original has no tracking).

Greedy association: all (track, box) pairs with IoU >= ``iou_thr`` are matched in descending IoU order;
unmatched boxes start new tracks; a track unseen for more than ``max_age`` frames is dropped.
"""
from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ['pairwise_iou', 'IoUTracker']


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of xyxy boxes a (N, 4) and b (M, 4) (continuous areas, no +1)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


class IoUTracker:
    """Online IoU tracker.

    Args:
        iou_thr: minimum IoU between a track's last box and a new box to continue the track.
        max_age: frames a track may be missing before it is forgotten.
    """

    def __init__(self, iou_thr: float = 0.3, max_age: int = 30):
        self.iou_thr = iou_thr
        self.max_age = max_age
        self.next_id = 0
        self.tracks: dict[int, tuple[np.ndarray, int]] = {}  # id -> (last xyxy box (4,), last frame index)

    def update(self, boxes: np.ndarray, frame: int) -> np.ndarray:
        """Assign ids to the (N, 4) xyxy boxes of ``frame`` (frames must come in increasing order).

        Returns (N,) int64 track ids.
        """
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        self.tracks = {k: v for k, v in self.tracks.items() if frame - v[1] <= self.max_age}
        ids = np.full(len(boxes), -1, np.int64)
        track_ids = list(self.tracks)
        if track_ids and len(boxes):
            iou = pairwise_iou(np.stack([self.tracks[k][0] for k in track_ids]), boxes)
            pairs = np.argwhere(iou >= self.iou_thr)
            pairs = pairs[np.argsort(-iou[pairs[:, 0], pairs[:, 1]], kind='stable')]
            used_t, used_b = set(), set()
            for t, b in pairs:
                if t in used_t or b in used_b:
                    continue
                used_t.add(t)
                used_b.add(b)
                ids[b] = track_ids[t]
        for b in np.nonzero(ids < 0)[0]:
            ids[b] = self.next_id
            self.next_id += 1
        self.observe(boxes, ids, frame)
        return ids

    def observe(self, boxes: np.ndarray, ids: np.ndarray, frame: int) -> None:
        """Record boxes with known ids (from a boxes file or a resumed run) without matching."""
        for box, k in zip(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(ids).reshape(-1)):
            self.tracks[int(k)] = (box, frame)
            self.next_id = max(self.next_id, int(k) + 1)
