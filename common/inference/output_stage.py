"""Writer stage of the pipeline: model outputs -> person files, overlay frames/video, frame records."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np

from common.inference.estimator import outputs_to_people
from common.inference.results import vertices_from_params
from common.inference.smoothing import ParamSmoother
from common.inference.writers import PARAM_SHAPES, load_params, person_stem, write_frame_record, write_person
from common.vis.video import VideoWriter

logger = logging.getLogger(__name__)

__all__ = ['FrameWriter']


class FrameWriter:
    """Writes finished frames in order. Create, call and close it from one thread (the GL context of the
    pyrender overlay belongs to that thread).

    Args:
        opts: ``PipelineOptions``.
        faces: (F, 3) int64 SMPL-X faces.
        body_model: SMPL-X wrapper, used to re-pose smoothed or resumed parameters.
        fps: frame rate (video output and smoothing time base).
        source_path: input path, stored as ``img_path`` in the meta json.
    """

    def __init__(self, opts, faces: np.ndarray, body_model, fps: float, source_path: Path):
        self.opts, self.faces, self.body_model, self.source_path = opts, faces, body_model, Path(source_path)
        self.out = Path(opts.output_folder)
        self.video = VideoWriter(opts.video_output, fps) if opts.video_output else None
        self.smoother = ParamSmoother(fps, opts.smooth_min_cutoff, opts.smooth_beta) if opts.smooth else None
        self.renderer = None
        self.frames_written = self.frames_skipped = self.people_written = 0
        self.frame_ids: set[int] = set()  # frames of this run (written or skipped as finished)

    @property
    def wants_overlay(self) -> bool:
        return self.video is not None or self.opts.save_images

    def write_batch(self, jobs: list, outs) -> None:
        """jobs: the ``_Job`` list of one model call, in frame order; outs: its output dict (or None)."""
        results = outputs_to_people(outs) if outs is not None else []
        k = 0
        for job in jobs:
            self.frame_ids.add(job.frame.index)
            if job.done_record is not None:
                self._replay(job)
                continue
            self._write_frame(job, results[k:k + len(job.people)])
            k += len(job.people)

    def _write_frame(self, job, results: list) -> None:
        frame = job.frame
        params = [{key: r[key] for key in PARAM_SHAPES} for r in results]
        verts = [r['vertices'] for r in results]
        if self.smoother is not None and params:
            params = [self.smoother(p.track_id, frame.index, q) for p, q in zip(job.people, params)]
            verts = list(vertices_from_params(self.body_model, params))
        h, w = frame.image.shape[:2]
        cams, people_rec = [], []
        for pid, (p, q, v) in enumerate(zip(job.people, params, verts)):
            focal, princpt = self.opts.camera.to_image(p.bbox)
            meta = {'focal': focal, 'princpt': princpt, 'bbox': [float(x) for x in p.bbox],
                    'bbox_mmdet': [float(x) for x in p.det_xywh], 'bbox_score': p.score, 'bbox_id': pid,
                    'track_id': p.track_id, 'frame': frame.index, 'img_size': [w, h], 'input': str(self.source_path),
                    'img_path': str(self.source_path / frame.name) if self.source_path.is_dir()
                    else str(self.source_path)}
            write_person(self.out, person_stem(frame.index, pid), q, meta, v, self.faces, self.opts.mesh_formats)
            cams.append((v, np.asarray(focal), np.asarray(princpt)))
            people_rec.append({'person': pid, 'track_id': p.track_id, 'bbox': meta['bbox'],
                               'bbox_det': meta['bbox_mmdet'], 'score': p.score})
        if self.wants_overlay:
            self._overlay(frame, cams, np.asarray([p.det_xywh for p in job.people]).reshape(-1, 4))
        write_frame_record(self.out, {'frame': frame.index, 'name': frame.name, 'img_size': [w, h],
                                      'people': people_rec})
        self.frames_written += 1
        self.people_written += len(people_rec)

    def _replay(self, job) -> None:
        """A frame finished by an earlier run: redraw its overlay from the saved parameters if needed."""
        self.frames_skipped += 1
        frame, rec = job.frame, job.done_record
        img_done = (self.out / 'img' / frame.name).is_file()
        if self.video is None and (not self.opts.save_images or img_done):
            return
        params, cams = [], []
        for p in rec['people']:
            stem = person_stem(frame.index, p['person'])
            params.append(load_params(self.out / 'smplx' / f'{stem}.npz'))
            meta = json.loads((self.out / 'meta' / f'{stem}.json').read_text())
            cams.append((np.asarray(meta['focal']), np.asarray(meta['princpt'])))
        verts = vertices_from_params(self.body_model, params) if params else []
        boxes = np.asarray([p['bbox_det'] for p in rec['people']]).reshape(-1, 4)
        self._overlay(frame, [(v, f, c) for v, (f, c) in zip(verts, cams)], boxes)

    def _overlay(self, frame, cams: list, det_boxes: np.ndarray) -> None:
        from common.vis.render import make_renderer, overlay_people
        if self.renderer is None and not self.opts.show_verts:
            self.renderer = make_renderer(self.opts.renderer)
            logger.info('overlay renderer: %s', self.renderer.name)
        img = overlay_people(self.renderer, frame.image, cams, self.faces, self.opts.show_verts,
                             det_boxes if self.opts.show_bbox else None)
        if self.video is not None:
            self.video.write(img)
        if self.opts.save_images:
            (self.out / 'img').mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.out / 'img' / frame.name), img)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.renderer is not None and hasattr(self.renderer, 'close'):
            self.renderer.close()
