"""The inference pipeline: decode -> detect/track/crop -> batched estimation -> write, overlapped.

Four stages joined by bounded queues so the model is not idle while frames are decoded or results written:

    reader thread  : FrameSource -> frames
    detect thread  : frames (batched) -> detector or --bbox_file boxes -> person rules -> track ids -> crops
    main thread    : crops of many people and frames -> one model call per ``batch_size`` crops
    writer thread  : tensors -> numpy (the only host/device sync), files, overlay, frame records

A frame's record ``frames/{frame:06d}.json`` is written after its person files, so a crash or Ctrl-C keeps
every finished frame and ``--resume`` skips them (their overlays are re-drawn from the saved parameters).
``results.npz`` is assembled from disk at the end, also after an error or interrupt.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from common.inference.detection import Detections, clip_boxes, lookup_boxes, select_people
from common.inference.estimator import CropCamera, make_crop
from common.inference.io import Frame, FrameSource
from common.inference.output_stage import FrameWriter
from common.inference.tracking import IoUTracker
from common.inference.writers import assemble_results, finished_frames, read_frame_record
from common.utils.crop import xywh_to_xyxy, xyxy_to_xywh

logger = logging.getLogger(__name__)

__all__ = ['PipelineOptions', 'run_pipeline']

_END = object()  # end-of-stream marker on every queue


@dataclass
class PipelineOptions:
    """Run options (documented on the CLI flags of main/inference.py)."""
    output_folder: Path
    batch_size: int = 16
    det_batch_size: int = 8
    multi_person: bool = False
    iou_thr: float = 0.5
    min_size: float = 50.0
    score_thr: float = 0.5
    mesh_formats: tuple = ()
    show_verts: bool = False
    show_bbox: bool = False
    save_images: bool = False
    video_output: Path | None = None
    renderer: str = 'auto'
    resume: bool = False
    smooth: bool = False
    smooth_min_cutoff: float = 1.0
    smooth_beta: float = 0.5
    track_iou: float = 0.3
    progress: bool = True
    camera: CropCamera = field(default_factory=CropCamera)


@dataclass
class _Person:
    det_xywh: np.ndarray
    score: float
    track_id: int
    bbox: np.ndarray
    crop: np.ndarray | None


@dataclass
class _Job:
    frame: Frame
    people: list
    done_record: dict | None = None  # set when --resume skips this frame


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


def _get(q: queue.Queue, stop: threading.Event | None = None, errors: list | None = None):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if errors:
                raise _stage_error(errors)
            if stop is not None and stop.is_set():
                return _END


def _stage_error(errors: list) -> RuntimeError:
    e = errors[0]
    err = RuntimeError(f'inference stopped: {type(e).__name__}: {e}')
    err.__cause__ = e
    return err


class _Thread(threading.Thread):
    """Daemon thread that records its exception in ``errors`` and sets ``stop``."""

    def __init__(self, name, target, errors, stop):
        super().__init__(name=name, daemon=True)
        self._target_fn, self._errors, self._stop_ev = target, errors, stop

    def run(self):
        try:
            self._target_fn()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            logger.error('%s stage failed: %s: %s', self.name, type(e).__name__, e)
            self._errors.append(e)
            self._stop_ev.set()


def _frame_people(frame: Frame, det: Detections, opts: PipelineOptions, tracker: IoUTracker,
                  from_file: bool) -> list:
    """Detections of one frame -> kept people with track ids and crops (SPEC §5.1 rules)."""
    h, w = frame.image.shape[:2]
    boxes, valid = clip_boxes(det.boxes, w, h)
    if not valid.all():
        logger.warning('frame %d: dropping %d box(es) of zero size or outside the %dx%d image: %s', frame.index,
                       int((~valid).sum()), w, h, det.boxes[~valid].round(1).tolist())
    det = Detections(boxes, det.scores, det.track_ids).take(np.nonzero(valid)[0])
    if not from_file:
        det = select_people(det, multi_person=opts.multi_person, iou_thr=opts.iou_thr, min_size=opts.min_size,
                            score_thr=opts.score_thr)
    ids = det.track_ids
    if ids is None:
        ids = tracker.update(det.boxes, frame.index)
    else:
        tracker.observe(det.boxes, ids, frame.index)
    img_rgb = frame.image[:, :, ::-1].astype(np.float32) if len(det) else None
    people = []
    for box, score, tid in zip(xyxy_to_xywh(det.boxes), det.scores, ids):
        crop = make_crop(img_rgb, box, opts.camera)
        if crop is None:
            logger.warning('frame %d: box %s gives no valid crop; skipped', frame.index, box.round(1).tolist())
            continue
        people.append(_Person(box, float(score), int(tid), crop[1], crop[0]))
    return people


def _detect_stage(q_in, q_out, stop, opts, detector, boxes_table, done: set):
    tracker = IoUTracker(opts.track_iou)
    finished = False
    while not finished and not stop.is_set():
        batch = []
        while len(batch) < opts.det_batch_size:
            item = _get(q_in, stop) if not batch else (q_in.get_nowait() if not q_in.empty() else None)
            if item is None:
                break
            if item is _END:
                finished = True
                break
            batch.append(item)
        todo = [f for f in batch if f.index not in done]
        dets = detector([f.image for f in todo]) if detector is not None and todo else []
        found = dict(zip((f.index for f in todo), dets))
        for f in batch:
            if f.index in done:
                rec = read_frame_record(opts.output_folder, f.index)
                tracker.observe(xywh_to_xyxy(np.reshape([p['bbox_det'] for p in rec['people']], (-1, 4))),
                                [p['track_id'] for p in rec['people']], f.index)
                job = _Job(f, [], rec)
            elif boxes_table is not None:
                job = _Job(f, _frame_people(f, lookup_boxes(boxes_table, f.index, f.name), opts, tracker, True))
            else:
                job = _Job(f, _frame_people(f, found[f.index], opts, tracker, False))
            if not _put(q_out, job, stop):
                return
    _put(q_out, _END, stop)


def _read_stage(source: FrameSource, q_out, stop):
    for frame in source:
        if not _put(q_out, frame, stop):
            return
    _put(q_out, _END, stop)


def _concat(outs: list[dict]) -> dict:
    return outs[0] if len(outs) == 1 else {k: torch.cat([o[k] for o in outs]) for k in outs[0]}


def _write_stage(q_in, writer_factory, holder: dict, progress):
    writer = writer_factory()
    holder['writer'] = writer
    try:
        while True:
            item = q_in.get()
            if item is _END:
                return
            jobs, outs = item
            writer.write_batch(jobs, outs)
            progress.update(len(jobs))
    finally:
        writer.close()


def run_pipeline(source: FrameSource, estimator, faces: np.ndarray, body_model, opts: PipelineOptions,
                 detector=None, boxes_table: dict | None = None) -> dict:
    """Run inference over ``source`` and write every output under ``opts.output_folder``.

    Args:
        estimator: ``Estimator`` (crops -> output tensors).
        faces: (F, 3) SMPL-X faces; body_model: SMPL-X wrapper (re-posing smoothed / resumed results).
        detector: callable frames -> [Detections] (``YoloPersonDetector``); unused when ``boxes_table`` is given.
        boxes_table: ``load_bbox_file`` result (boxes used as given: no score/size filter, no NMS).
    Returns:
        summary {frames, skipped, people, seconds, results, video}.
    Raises:
        the first stage error (after finished frames and ``results.npz`` are written); KeyboardInterrupt likewise.
    """
    from tqdm import tqdm
    if detector is None and boxes_table is None:
        raise ValueError('run_pipeline needs a detector or a boxes table')
    out = Path(opts.output_folder)
    out.mkdir(parents=True, exist_ok=True)
    done = finished_frames(out)
    if opts.resume:
        logger.info('--resume: %d frame(s) already finished in %s will be skipped', len(done), out)
    elif done:
        logger.warning('%s already holds %d finished frame(s); frames of this input are recomputed and '
                       'overwritten (use --resume to keep them)', out, len(done))
        done = set()
    stop, wstop, errors = threading.Event(), threading.Event(), []
    q_frames = queue.Queue(maxsize=max(2 * opts.det_batch_size, 4))
    q_jobs = queue.Queue(maxsize=max(2 * opts.batch_size, 8))
    q_write = queue.Queue(maxsize=4)
    progress = tqdm(total=source.num_frames or None, unit='frame', disable=not opts.progress, desc='inference')
    holder: dict = {}
    threads = [
        _Thread('reader', lambda: _read_stage(source, q_frames, stop), errors, stop),
        _Thread('detect', lambda: _detect_stage(q_frames, q_jobs, stop, opts, detector, boxes_table, done),
                errors, stop),
        _Thread('writer', lambda: _write_stage(
            q_write, lambda: FrameWriter(opts, faces, body_model, source.fps, source.path), holder, progress),
            errors, wstop),
    ]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    jobs, crops = [], []

    def flush():
        nonlocal jobs, crops
        outs = None
        if crops:
            outs = _concat([estimator(np.stack(crops[i:i + opts.batch_size]))
                            for i in range(0, len(crops), opts.batch_size)])
        if jobs and not _put(q_write, (jobs, outs), wstop):
            raise _stage_error(errors or [RuntimeError('the writer stage stopped')])
        jobs, crops = [], []

    try:
        while True:
            job = _get(q_jobs, stop, errors)
            if job is _END:
                if errors:
                    raise _stage_error(errors)
                break
            jobs.append(job)
            for p in job.people:
                crops.append(p.crop)
                p.crop = None  # the job waits for the writer: do not keep the crop alive
            if len(crops) >= opts.batch_size or len(jobs) >= 4 * opts.batch_size:
                flush()
        flush()
    finally:
        stop.set()
        _put(q_write, _END, wstop)
        threads[2].join()
        progress.close()
        w = holder.get('writer')
        results = assemble_results(out, w.frame_ids if w is not None else set())
        summary = {'frames': getattr(w, 'frames_written', 0), 'skipped': getattr(w, 'frames_skipped', 0),
                   'people': getattr(w, 'people_written', 0), 'seconds': time.perf_counter() - t0,
                   'results': str(results) if results else None,
                   'video': str(opts.video_output) if w is not None and w.video is not None and w.video.count else None}
        logger.info('wrote %d frame(s) (%d skipped as finished) with %d people to %s in %.1f s', summary['frames'],
                    summary['skipped'], summary['people'], out, summary['seconds'])
    if errors:
        raise _stage_error(errors)
    return summary
