"""The one inference path: frames -> people -> crops -> batched estimation -> ``FrameResult``s, in frame order.

``stream_results`` is a generator. Two background threads keep the model busy:

    reader thread : frame source -> frames
    detect thread : frames (batched) -> detector or given boxes -> person rules -> track ids -> crops
    caller thread : crops of many people and frames -> one model call per ``batch_size`` crops -> results

The outputs of one model call are turned into numpy (the only host/device sync) after the next call has been
issued, so on a GPU the copy of batch k overlaps the forward of batch k+1. ``smplerx.Predictor`` (predict,
predict_video) and the folder runner (``main/inference.py``) all consume this generator.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import torch

from common.inference.detection import BoxTable, Detections, select_people
from common.inference.estimator import CropCamera, make_crop
from common.inference.io import Frame
from common.inference.person import PARAM_SHAPES, FrameResult, Person, outputs_to_params
from common.inference.smoothing import ParamSmoother
from common.inference.tracking import IoUTracker
from common.utils.crop import xyxy_to_xywh

logger = logging.getLogger(__name__)

__all__ = ['StreamOptions', 'stream_results', 'pose_people', 'StreamError']

_END = object()  # end-of-stream marker on every queue


class StreamError(RuntimeError):
    """A background stage (frame reading or detection) failed; ``__cause__`` holds its exception."""


@dataclass
class StreamOptions:
    """How people are found, batched, tracked and smoothed (CLI flags of main/inference.py).

    Attributes:
        batch_size: person crops per model call (across frames); det_batch_size: frames per detector call.
        multi_person, iou_thr, min_size (``--bbox_thr``), score_thr: detector person rules (SPEC §5.1); not
            applied to given boxes, which are used as they are.
        track: give people track ids (IoU tracking with ``track_iou``; given ids are kept).
        smooth, smooth_min_cutoff, smooth_beta: One-Euro smoothing per track (needs ``track``).
        fps: time base of the smoothing (frames per second).
    """
    batch_size: int = 16
    det_batch_size: int = 8
    multi_person: bool = True
    iou_thr: float = 0.5
    min_size: float = 50.0
    score_thr: float = 0.5
    track: bool = True
    track_iou: float = 0.3
    smooth: bool = False
    smooth_min_cutoff: float = 1.0
    smooth_beta: float = 0.5
    fps: float = 30.0


@dataclass
class _Found:
    """One person before estimation."""
    det_xywh: np.ndarray
    score: float
    track_id: int | None
    bbox: np.ndarray
    crop: np.ndarray | None = field(default=None, repr=False)


@dataclass
class _Job:
    frame: Frame
    found: list
    finished: bool = False


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


class _Stage(threading.Thread):
    """Daemon thread running ``target``; its exception is kept for the caller, and ``stop`` is set."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self._fn, self._stop_event, self.error = target, stop, None

    def run(self):
        try:
            self._fn()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            self.error = e
            self._stop_event.set()


def _find_people(frame: Frame, det: Detections, opts: StreamOptions, tracker: IoUTracker | None,
                 given: bool, camera: CropCamera) -> list[_Found]:
    """One frame's boxes -> kept people with track ids and crops (SPEC §5.1 rules for detector boxes)."""
    if not given:
        det = select_people(det, multi_person=opts.multi_person, iou_thr=opts.iou_thr, min_size=opts.min_size,
                            score_thr=opts.score_thr)
    ids = det.track_ids
    if tracker is not None:
        if ids is None:
            ids = tracker.update(det.boxes, frame.index)
        else:
            tracker.observe(det.boxes, ids, frame.index)
    found = []
    for i, (box, score) in enumerate(zip(xyxy_to_xywh(det.boxes), det.scores)):
        crop = make_crop(frame.image, box, camera)
        if crop is None:
            h, w = frame.image.shape[:2]
            logger.warning('frame %d: box %s (xywh) has no area inside the %dx%d image; skipped', frame.index,
                           box.round(1).tolist(), w, h)
            continue
        found.append(_Found(box, float(score), None if ids is None else int(ids[i]), crop[1], crop[0]))
    return found


def _detect_stage(frames: queue.Queue, jobs: queue.Queue, stop: threading.Event, opts: StreamOptions,
                  camera: CropCamera, detector, boxes: BoxTable | None, finished: Mapping[int, Detections]) -> None:
    tracker = IoUTracker(opts.track_iou) if opts.track else None
    done = False
    while not done and not stop.is_set():
        batch = []
        while len(batch) < opts.det_batch_size:
            try:
                item = frames.get(timeout=0.1) if not batch else frames.get_nowait()
            except queue.Empty:
                if batch or stop.is_set():
                    break
                continue
            if item is _END:
                done = True
                break
            batch.append(item)
        todo = [f for f in batch if f.index not in finished]
        dets = detector([f.image for f in todo]) if detector is not None and boxes is None and todo else []
        detected = dict(zip((f.index for f in todo), dets))
        for f in batch:
            if f.index in finished:
                if tracker is not None:
                    old = finished[f.index]
                    tracker.observe(old.boxes, old.track_ids, f.index)
                job = _Job(f, [], finished=True)
            elif boxes is not None:
                job = _Job(f, _find_people(f, boxes.lookup(f.index, f.name), opts, tracker, True, camera))
            else:
                job = _Job(f, _find_people(f, detected[f.index], opts, tracker, False, camera))
            if not _put(jobs, job, stop):
                return
    _put(jobs, _END, stop)


def _read_stage(source: Iterable[Frame], frames: queue.Queue, stop: threading.Event) -> None:
    for frame in source:
        if not _put(frames, frame, stop):
            return
    _put(frames, _END, stop)


def pose_people(body_model, params: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Pose saved/smoothed people with the SMPL-X layer, ``transl`` included.

    Args:
        body_model: ``common.utils.human_models.SMPLX``.
        params: per person {npz key: array of ``PARAM_SHAPES``}.
    Returns:
        vertices (N, 10475, 3) and joints (N, 144, 3), float32 metres, camera frame.
    """
    if not params:
        return np.zeros((0, 0, 3), np.float32), np.zeros((0, 0, 3), np.float32)
    t = {k: torch.as_tensor(np.stack([np.asarray(p[k], np.float32).reshape(-1) for p in params]))
         for k in PARAM_SHAPES}
    with torch.inference_mode():
        out = body_model(global_orient=t['global_orient'], body_pose=t['body_pose'],
                         left_hand_pose=t['left_hand_pose'], right_hand_pose=t['right_hand_pose'],
                         jaw_pose=t['jaw_pose'], betas=t['betas'], expression=t['expression'],
                         leye_pose=t['leye_pose'], reye_pose=t['reye_pose'], transl=t['transl'])
    return out.vertices.float().cpu().numpy(), out.joints.float().cpu().numpy()


def _to_people(jobs: list[_Job], outs: dict[str, torch.Tensor] | None, camera: CropCamera) -> list[list[Person]]:
    """Model outputs of one call (any device) -> per job its list of ``Person``."""
    if outs is None:
        return [[] for _ in jobs]
    params = outputs_to_params(outs)  # the host/device sync
    verts, joints = (outs[k].float().cpu().numpy() for k in ('smplx_mesh_cam', 'smplx_joint_cam'))
    result, i = [], 0
    for job in jobs:
        people = []
        for p in job.found:
            focal, princpt = camera.to_image(p.bbox)
            people.append(Person(params[i], verts[i], joints[i], p.bbox, p.det_xywh, np.asarray(focal, np.float32),
                                 np.asarray(princpt, np.float32), p.score, p.track_id))
            i += 1
        result.append(people)
    return result


def stream_results(frames: Iterable[Frame], estimator: Callable, camera: CropCamera, opts: StreamOptions, *,
                   detector=None, boxes: BoxTable | None = None, body_model=None,
                   finished: Mapping[int, Detections] | None = None) -> Iterator[FrameResult]:
    """Estimate everybody in ``frames``; yields one ``FrameResult`` per frame, in order.

    Args:
        frames: iterable of ``common.inference.io.Frame`` (a ``FrameSource`` or a list).
        estimator: crops (B, 512, 384, 3) float32 RGB [0, 255] -> dict of output tensors (``Estimator``).
        camera: crop geometry (``CropCamera``).
        detector: frames (BGR) -> [Detections] (``YoloPersonDetector``); not called when ``boxes`` is given.
        boxes: given boxes (``BoxTable``), used as they are: no score/size filter, no NMS.
        body_model: SMPL-X layer; needed with ``opts.smooth`` (smoothed people are re-posed).
        finished: frames done by an earlier run {frame: Detections with track ids}: not estimated, yielded with
            ``finished=True`` (their boxes and ids continue the tracks).
    Raises:
        StreamError: a background stage failed (after the frames before it were yielded).
    """
    if detector is None and boxes is None:
        raise ValueError('stream_results needs a detector or given boxes')
    if opts.smooth and (body_model is None or not opts.track):
        raise ValueError('smoothing needs track=True and the body model (smoothed people are re-posed)')
    finished = finished or {}
    stop = threading.Event()
    q_frames = queue.Queue(maxsize=max(2 * opts.det_batch_size, 4))
    q_jobs = queue.Queue(maxsize=max(2 * opts.batch_size, 8))
    stages = [_Stage('reader', lambda: _read_stage(frames, q_frames, stop), stop),
              _Stage('detect', lambda: _detect_stage(q_frames, q_jobs, stop, opts, camera, detector, boxes,
                                                     finished), stop)]
    smoother = ParamSmoother(opts.fps, opts.smooth_min_cutoff, opts.smooth_beta) if opts.smooth else None
    for s in stages:
        s.start()

    def next_job():
        while True:
            try:
                return q_jobs.get(timeout=0.1)
            except queue.Empty:
                _raise_stage_error(stages)

    def finish(jobs: list[_Job], outs) -> Iterator[FrameResult]:
        for job, people in zip(jobs, _to_people(jobs, outs, camera)):
            if smoother is not None and people:
                for p in people:
                    p.params = smoother(p.track_id, job.frame.index, p.params)
                verts, joints = pose_people(body_model, [p.params for p in people])
                for p, v, j in zip(people, verts, joints):
                    p.vertices, p.joints = v, j
            yield FrameResult(job.frame.index, job.frame.name, job.frame.image, people, job.finished)

    try:
        jobs, crops, pending = [], [], None
        while True:
            job = next_job()
            end = job is _END
            if not end:
                jobs.append(job)
                for p in job.found:
                    crops.append(p.crop)
                    p.crop = None  # the job lives on until its results are yielded: drop the crop now
            if end or len(crops) >= opts.batch_size or len(jobs) >= 4 * opts.batch_size:
                try:
                    outs = _estimate(estimator, crops, opts.batch_size) if crops else None
                except BaseException:
                    if pending is not None:  # the frames estimated before the failure are still delivered
                        yield from finish(*pending)
                    raise
                if pending is not None:
                    yield from finish(*pending)
                pending, jobs, crops = (jobs, outs), [], []
            if end:
                break
        if pending is not None:
            yield from finish(*pending)
        _raise_stage_error(stages)
    finally:
        stop.set()
        for s in stages:
            s.join(timeout=10)


def _raise_stage_error(stages: list[_Stage]) -> None:
    for stage in stages:
        if stage.error is not None:
            raise StreamError(f'inference stopped: the {stage.name} stage failed: {type(stage.error).__name__}: '
                              f'{stage.error}') from stage.error


def _estimate(estimator: Callable, crops: list[np.ndarray], batch_size: int) -> dict[str, torch.Tensor]:
    outs = [estimator(np.stack(crops[i:i + batch_size])) for i in range(0, len(crops), batch_size)]
    return outs[0] if len(outs) == 1 else {k: torch.cat([o[k] for o in outs]) for k in outs[0]}
