"""Output files of inference (layout documented in README "Inference outputs").

Per person (``STEM = {frame:06d}_{person}``; the original wrote ``{frame:05}`` — readers accept both):
- ``smplx/STEM.npz``: global_orient (1,3), body_pose (21,3), left_hand_pose (15,3), right_hand_pose (15,3),
  jaw_pose (1,3), leye_pose (1,3), reye_pose (1,3) (zeros), betas (1,10), expression (1,10), transl (1,3);
  axis-angle radians, hand poses relative to the SMPL-X mean hand (flat_hand_mean=False), transl metres.
- ``meta/STEM.json``: focal [fx, fy], princpt [cx, cy] (original-image pixels), bbox (processed crop box xywh),
  bbox_mmdet (raw detector box xywh; name kept from the original), bbox_score, bbox_id, track_id, frame,
  img_path, img_size [w, h].
- ``mesh/STEM.{obj,ply,glb}`` with --save_mesh: vertices in the camera frame (metres, OpenCV axes).
Per frame: ``frames/{frame:06d}.json`` (written last: marks the frame finished, used by --resume).
Per run: ``results.npz`` (every frame and person, see ``assemble_results``).
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import cv2
import numpy as np

from common.utils.files import atomic_write

logger = logging.getLogger(__name__)

__all__ = ['PARAM_SHAPES', 'person_stem', 'parse_stem', 'write_person', 'write_mesh', 'write_frame_record',
           'read_frame_record', 'finished_frames', 'assemble_results', 'VideoWriter', 'load_params']

PARAM_SHAPES = {  # npz key -> shape per person (SPEC §5.1)
    'global_orient': (1, 3), 'body_pose': (21, 3), 'left_hand_pose': (15, 3), 'right_hand_pose': (15, 3),
    'jaw_pose': (1, 3), 'leye_pose': (1, 3), 'reye_pose': (1, 3), 'betas': (1, 10), 'expression': (1, 10),
    'transl': (1, 3),
}
_STEM_RE = re.compile(r'^(\d+)_(\d+)$')


def person_stem(frame: int, person: int) -> str:
    """Output file stem of one person: 6-digit frame number (matching %06d frame files), person index."""
    return f'{frame:06d}_{person}'


def parse_stem(stem: str) -> tuple[int, int] | None:
    """(frame, person) from a stem written by us (6 digits) or by the original (5 digits); None otherwise."""
    m = _STEM_RE.match(stem)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _savez(path: Path, arrays: dict) -> None:
    def write(tmp):
        with open(tmp, 'wb') as f:  # a file object: np.savez would append '.npz' to a '.tmp' name
            np.savez(f, **arrays)
    _atomic_write(path, write)


def _atomic_write(path: Path, write) -> None:
    with atomic_write(path, fsync=False) as tmp:  # many small files: no fsync (a lost frame is redone)
        write(tmp)


def write_mesh(path: Path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Write a mesh; format from the suffix: .obj (plain text, 1-based faces), .ply/.glb (trimesh)."""
    if path.suffix == '.obj':
        v = np.asarray(vertices, np.float64).reshape(-1, 3)
        f = np.asarray(faces, np.int64).reshape(-1, 3) + 1
        text = ('v %.6f %.6f %.6f\n' * len(v)) % tuple(v.ravel()) + ('f %d %d %d\n' * len(f)) % tuple(f.ravel())
        _atomic_write(path, lambda tmp: tmp.write_text(text))
        return
    import trimesh
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=False)
    _atomic_write(path, lambda tmp: mesh.export(str(tmp), file_type=path.suffix[1:]))


def write_person(out_dir: Path, stem: str, params: dict[str, np.ndarray], meta: dict,
                 vertices: np.ndarray | None = None, faces: np.ndarray | None = None,
                 mesh_formats: tuple[str, ...] = ()) -> None:
    """Write one person's ``smplx/STEM.npz``, ``meta/STEM.json`` and meshes (``mesh_formats`` e.g. ('obj',))."""
    for key, shape in PARAM_SHAPES.items():
        assert params[key].shape == shape, f'{key}: expected {shape}, got {params[key].shape}'
    for sub in ('smplx', 'meta') + (('mesh',) if mesh_formats else ()):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    _savez(out_dir / 'smplx' / f'{stem}.npz', {k: params[k].astype(np.float32) for k in PARAM_SHAPES})
    _atomic_write(out_dir / 'meta' / f'{stem}.json', lambda tmp: tmp.write_text(json.dumps(meta)))
    for fmt in mesh_formats:
        write_mesh(out_dir / 'mesh' / f'{stem}.{fmt}', vertices, faces)


def write_frame_record(out_dir: Path, record: dict) -> None:
    """``frames/{frame:06d}.json``: {frame, name, img_size, people: [{person, track_id, bbox, bbox_det, score}]}.
    Written after the frame's person files, so its presence means the frame is complete."""
    (out_dir / 'frames').mkdir(parents=True, exist_ok=True)
    _atomic_write(out_dir / 'frames' / f'{record["frame"]:06d}.json', lambda t: t.write_text(json.dumps(record)))


def read_frame_record(out_dir: Path, frame: int) -> dict | None:
    path = Path(out_dir) / 'frames' / f'{frame:06d}.json'
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def finished_frames(out_dir: Path) -> set[int]:
    """Frame numbers with a complete frame record (what --resume skips)."""
    d = Path(out_dir) / 'frames'
    return {int(p.stem) for p in d.glob('*.json') if p.stem.isdigit()} if d.is_dir() else set()


def load_params(npz_path: Path) -> dict[str, np.ndarray]:
    """Read one person's npz (ours or the original's) into {key: float32 array of PARAM_SHAPES[key]};
    missing eye poses / expression / transl become zeros."""
    with np.load(npz_path) as z:
        return {k: (np.asarray(z[k], np.float32).reshape(s) if k in z.files else np.zeros(s, np.float32))
                for k, s in PARAM_SHAPES.items()}


def assemble_results(out_dir: Path, frames: set[int] | None = None) -> Path | None:
    """Collect the finished frames (all, or those in ``frames``: the ones of this run) into ``results.npz``.

    Arrays: frame_ids (T,), frame_names (T,), img_sizes (T,2) [w,h]; per person (P = all people of all frames):
    frame (P,), person (P,), track_id (P,), bbox (P,4) processed xywh, bbox_det (P,4) xywh, score (P,),
    focal (P,2), princpt (P,2) original-image pixels, and every PARAM_SHAPES key stacked as (P, *shape[1:]) for
    single-row keys ((P,3), (P,10)) and (P, J, 3) for the multi-joint poses. Returns the path (None: no frames).
    """
    out_dir = Path(out_dir)
    frames = sorted(finished_frames(out_dir) & (frames if frames is not None else finished_frames(out_dir)))
    if not frames:
        return None
    recs = [read_frame_record(out_dir, f) for f in frames]
    recs = [r for r in recs if r is not None]
    people = [(r['frame'], p) for r in recs for p in r['people']]
    res = {
        'frame_ids': np.asarray([r['frame'] for r in recs], np.int64),
        'frame_names': np.asarray([r['name'] for r in recs]),
        'img_sizes': np.asarray([r['img_size'] for r in recs], np.int64).reshape(-1, 2),
        'frame': np.asarray([f for f, _ in people], np.int64),
        'person': np.asarray([p['person'] for _, p in people], np.int64),
        'track_id': np.asarray([p['track_id'] for _, p in people], np.int64),
        'score': np.asarray([p['score'] for _, p in people], np.float32),
    }
    metas = [json.loads((out_dir / 'meta' / f'{person_stem(f, p["person"])}.json').read_text()) for f, p in people]
    for key, src, n in (('bbox', 'bbox', 4), ('bbox_det', 'bbox_mmdet', 4), ('focal', 'focal', 2),
                        ('princpt', 'princpt', 2)):
        res[key] = np.asarray([m[src] for m in metas], np.float32).reshape(len(people), n)
    params = [load_params(out_dir / 'smplx' / f'{person_stem(f, p["person"])}.npz') for f, p in people]
    for key, shape in PARAM_SHAPES.items():
        tail = shape[1:] if shape[0] == 1 else shape
        res[key] = np.asarray([q[key] for q in params], np.float32).reshape((len(people),) + tail)
    path = out_dir / 'results.npz'
    _savez(path, res)
    return path


class VideoWriter:
    """mp4 writer (OpenCV, codec mp4v) opened on the first frame; frames must all have that size."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self._writer, self.count, self.size = Path(path), fps, None, 0, None

    def write(self, img_bgr: np.ndarray) -> None:
        if self._writer is not None and img_bgr.shape[1::-1] != self.size:
            logger.warning('%s: frame of size %s resized to the video size %s', self.path, img_bgr.shape[1::-1],
                           self.size)
            img_bgr = cv2.resize(img_bgr, self.size)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = img_bgr.shape[:2]
            self.size = (w, h)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*'mp4v'), self.fps, (w, h))
            if not self._writer.isOpened():
                raise RuntimeError(f'cannot open {self.path} for writing an mp4 (OpenCV without an mp4 encoder?); '
                                   f'write images instead by leaving out --video_output')
        self._writer.write(img_bgr)
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
