"""Writer of an inference run: ``FrameResult``s -> person files, overlay frames/video, frame records."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from common.inference.person import FrameResult
from common.inference.result_files import (image_camera_meta, load_params, person_stem, read_frame_record,
                                           write_frame_record, write_person)
from common.inference.stream import pose_people
from common.vis.video import VideoWriter

logger = logging.getLogger(__name__)

__all__ = ['WriteOptions', 'FrameWriter']


@dataclass
class WriteOptions:
    """What a run writes (CLI flags of main/inference.py).

    Attributes:
        mesh_formats: mesh files per person, e.g. ('obj', 'ply'); () = none.
        show_verts: overlay projected vertices instead of the rendered mesh; show_bbox: draw the person boxes.
        save_images: write ``img/<frame name>`` overlays; video_output: overlay video path (None = none).
        renderer: 'auto' | 'pyrender' | 'opencv'.
    """
    mesh_formats: tuple = ()
    show_verts: bool = False
    show_bbox: bool = False
    save_images: bool = False
    video_output: Path | None = None
    renderer: str = 'auto'

    @property
    def wants_overlay(self) -> bool:
        return self.video_output is not None or self.save_images


class FrameWriter:
    """Writes finished frames in order. Create, call and close it from one thread (the GL context of the
    pyrender overlay belongs to that thread).

    Args:
        out_dir: the run's output folder.
        opts: ``WriteOptions``.
        faces: (F, 3) int64 SMPL-X faces.
        body_model: SMPL-X layer, to re-pose frames finished by an earlier run for their overlay.
        fps: frame rate of the overlay video.
        source_path: the input, recorded in the meta json (``input``, ``img_path``).
    """

    def __init__(self, out_dir: Path, opts: WriteOptions, faces: np.ndarray, body_model, fps: float,
                 source_path: Path):
        self.out, self.opts, self.faces, self.body_model = Path(out_dir), opts, faces, body_model
        self.source_path = Path(source_path)
        self.video = VideoWriter(opts.video_output, fps) if opts.video_output else None
        self.renderer = None
        self.frames_written = self.frames_skipped = self.people_written = 0
        self.frame_ids: set[int] = set()  # frames of this run (written or kept as finished)

    def write(self, result: FrameResult) -> None:
        self.frame_ids.add(result.frame)
        if result.finished:
            self._replay(result)
        else:
            self._write_frame(result)

    def _write_frame(self, result: FrameResult) -> None:
        w, h = result.size
        img_path = self.source_path / result.name if self.source_path.is_dir() else self.source_path
        cams, record = [], []
        for pid, p in enumerate(result.people):
            meta = {'focal': p.focal.tolist(), 'princpt': p.princpt.tolist(), 'bbox': p.bbox.tolist(),
                    'bbox_mmdet': p.bbox_det.tolist(), 'bbox_score': p.score, 'bbox_id': pid,
                    'track_id': p.track_id, 'frame': result.frame, 'img_size': [w, h],
                    'input': str(self.source_path), 'img_path': str(img_path), **image_camera_meta(p)}
            write_person(self.out, person_stem(result.frame, pid), p.params, meta, p.vertices, self.faces,
                         self.opts.mesh_formats)
            cams.append((p.vertices, p.focal, p.princpt))
            record.append({'person': pid, 'track_id': p.track_id, 'bbox': meta['bbox'], 'bbox_det': meta['bbox_mmdet'],
                           'score': p.score})
        if self.opts.wants_overlay:
            self._overlay(result, cams, np.asarray([p.bbox_det for p in result.people]).reshape(-1, 4))
        write_frame_record(self.out, {'frame': result.frame, 'name': result.name, 'img_size': [w, h],
                                      'people': record})
        self.frames_written += 1
        self.people_written += len(record)

    def _replay(self, result: FrameResult) -> None:
        """A frame finished by an earlier run: redraw its overlay from the saved parameters if needed."""
        self.frames_skipped += 1
        img_done = (self.out / 'img' / result.name).is_file()
        if self.video is None and (not self.opts.save_images or img_done):
            return
        rec = read_frame_record(self.out, result.frame)
        stems = [person_stem(result.frame, p['person']) for p in rec['people']]
        verts, _ = pose_people(self.body_model, [load_params(self.out / 'smplx' / f'{s}.npz') for s in stems])
        metas = [json.loads((self.out / 'meta' / f'{s}.json').read_text()) for s in stems]
        cams = [(v, np.asarray(m['focal']), np.asarray(m['princpt'])) for v, m in zip(verts, metas)]
        self._overlay(result, cams, np.asarray([p['bbox_det'] for p in rec['people']]).reshape(-1, 4))

    def _overlay(self, result: FrameResult, cams: list, det_boxes: np.ndarray) -> None:
        from common.vis.render import make_renderer, overlay_people
        if self.renderer is None and not self.opts.show_verts:
            self.renderer = make_renderer(self.opts.renderer)
            logger.info('overlay renderer: %s', self.renderer.name)
        img = overlay_people(self.renderer, result.image_bgr, cams, self.faces, self.opts.show_verts,
                             det_boxes if self.opts.show_bbox else None)
        if self.video is not None:
            self.video.write(img)
        if self.opts.save_images:
            (self.out / 'img').mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(self.out / 'img' / result.name), img)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.renderer is not None and hasattr(self.renderer, 'close'):
            self.renderer.close()
