"""The files of an inference output folder, written and read in one place (layout in README "Inference outputs").

Per person (``STEM = {frame:06d}_{person}``; the original wrote ``{frame:05}`` — readers accept both):
- ``smplx/STEM.npz``: global_orient (1,3), body_pose (21,3), left_hand_pose (15,3), right_hand_pose (15,3),
  jaw_pose (1,3), leye_pose (1,3), reye_pose (1,3) (zeros), betas (1,10), expression (1,10), transl (1,3);
  axis-angle radians, hand poses relative to the SMPL-X mean hand (flat_hand_mean=False), transl metres.
- ``meta/STEM.json``: focal [fx, fy], princpt [cx, cy] (original-image pixels), bbox (processed crop box xywh),
  bbox_mmdet (raw detector box xywh; name kept from the original), bbox_score, bbox_id, track_id, frame,
  img_path, img_size [w, h], input; transl_image_camera [x, y, z] (metres, ``transl`` moved into the frame's
  shared image camera) with that camera's image_focal [f, f] and image_princpt [cx, cy] (pixels): see
  ``common.utils.scene_camera``. Folders written before these keys existed lack them (``image_camera_of``).
- ``mesh/STEM.{obj,ply,glb}`` with --save_mesh: vertices in the camera frame (metres, OpenCV axes).
Per frame: ``frames/{frame:06d}.json`` (written last: marks the frame finished, used by --resume).
Per run: ``run.json`` (what the folder was made from, checked by --resume) and ``results.npz`` (every frame and
person of the run, see ``assemble_results``).
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.inference.person import PARAM_SHAPES
from common.utils.files import atomic_write

logger = logging.getLogger(__name__)

__all__ = ['RUN_FILE', 'OUTPUT_DIRS', 'person_stem', 'parse_stem', 'write_person', 'write_mesh',
           'write_frame_record', 'read_frame_record', 'load_params', 'check_finished_frames', 'remove_frames',
           'assemble_results', 'read_run_info', 'write_run_info', 'clear_outputs', 'has_outputs', 'SavedPerson',
           'scan_results', 'find_sequences', 'IMAGE_CAMERA_KEYS', 'image_camera_meta', 'image_camera_of',
           'MissingImageCamera']

RUN_FILE = 'run.json'
OUTPUT_DIRS = ('smplx', 'meta', 'mesh', 'frames', 'img')  # sub-folders a run writes
_STEM_RE = re.compile(r'^(\d+)_(\d+)$')
_META_KEYS = ('focal', 'princpt', 'bbox', 'bbox_mmdet')
_RECORD_PERSON_KEYS = ('person', 'track_id', 'bbox', 'bbox_det', 'score')
IMAGE_CAMERA_KEYS = (('transl_image_camera', 3), ('image_focal', 2), ('image_princpt', 2))  # meta json / npz


class MissingImageCamera(ValueError):
    """A result folder written before the shared image camera existed (no ``transl_image_camera``)."""


def image_camera_meta(person) -> dict:
    """The meta json entries of a ``Person``'s image camera ({} when it has none)."""
    if getattr(person, 'transl_image_camera', None) is None:
        return {}
    return {k: np.asarray(getattr(person, k), np.float64).reshape(n).tolist() for k, n in IMAGE_CAMERA_KEYS}


def image_camera_of(meta: dict, where: str = 'meta json') -> dict[str, np.ndarray]:
    """{transl_image_camera (3,), image_focal (2,), image_princpt (2,)} float64 from a meta json dict.

    Raises:
        MissingImageCamera: the folder predates the shared camera; the message says to re-run inference.
    """
    missing = [k for k, _ in IMAGE_CAMERA_KEYS if k not in meta]
    if missing:
        raise MissingImageCamera(f'{where} has no {", ".join(missing)}: these results were written before the '
                                 f'shared image camera existed; re-run main/inference.py on the input (with '
                                 f'--overwrite) to add it')
    return {k: np.asarray(meta[k], np.float64).reshape(n) for k, n in IMAGE_CAMERA_KEYS}


def person_stem(frame: int, person: int) -> str:
    """Output file stem of one person: 6-digit frame number (matching %06d frame files), person index."""
    return f'{frame:06d}_{person}'


def parse_stem(stem: str) -> tuple[int, int] | None:
    """(frame, person) from a stem written by us (6 digits) or by the original (5 digits); None otherwise."""
    m = _STEM_RE.match(stem)
    return (int(m.group(1)), int(m.group(2))) if m else None


# ---------------------------------------------------------------------------------------------- writing
def _atomic_write(path: Path, write) -> None:
    with atomic_write(path, fsync=False) as tmp:  # many small files: no fsync (a lost frame is redone)
        write(tmp)


def _savez(path: Path, arrays: dict) -> None:
    def write(tmp):
        with open(tmp, 'wb') as f:  # a file object: np.savez would append '.npz' to a '.tmp' name
            np.savez(f, **arrays)
    _atomic_write(path, write)


def _write_json(path: Path, data: dict) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data)))


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
    _write_json(out_dir / 'meta' / f'{stem}.json', meta)
    for fmt in mesh_formats:
        write_mesh(out_dir / 'mesh' / f'{stem}.{fmt}', vertices, faces)


def write_frame_record(out_dir: Path, record: dict) -> None:
    """``frames/{frame:06d}.json``: {frame, name, img_size, people: [{person, track_id, bbox, bbox_det, score}]}.
    Written after the frame's person files, so its presence means the frame is complete."""
    (out_dir / 'frames').mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / 'frames' / f'{record["frame"]:06d}.json', record)


def write_run_info(out_dir: Path, info: dict) -> None:
    """``run.json``: what the folder is made from (input, model, detection and processing settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / RUN_FILE, info)


# ---------------------------------------------------------------------------------------------- reading
def read_frame_record(out_dir: Path, frame: int) -> dict | None:
    """The frame record, or None when it is missing or unreadable."""
    path = Path(out_dir) / 'frames' / f'{frame:06d}.json'
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_run_info(out_dir: Path) -> dict | None:
    """``run.json`` of a folder, or None when there is none (or it is unreadable)."""
    try:
        info = json.loads((Path(out_dir) / RUN_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def load_params(npz_path: Path) -> dict[str, np.ndarray]:
    """Read one person's npz (ours or the original's) into {key: float32 array of PARAM_SHAPES[key]};
    missing eye poses / expression / transl become zeros."""
    with np.load(npz_path) as z:
        return {k: (np.asarray(z[k], np.float32).reshape(s) if k in z.files else np.zeros(s, np.float32))
                for k, s in PARAM_SHAPES.items()}


def _check_frame(out_dir: Path, frame: int, mesh_formats: tuple[str, ...]) -> tuple[dict | None, str]:
    """(record, '') for a complete frame; (None, reason) when any of its files is missing or unreadable."""
    path = out_dir / 'frames' / f'{frame:06d}.json'
    try:
        rec = json.loads(path.read_text())
        people = rec['people']
        if rec['frame'] != frame or not isinstance(people, list) or not isinstance(rec['name'], str):
            return None, f'{path.name}: wrong content'
        for p in people:
            if not isinstance(p, dict) or any(k not in p for k in _RECORD_PERSON_KEYS):
                return None, f'{path.name}: a person entry lacks {_RECORD_PERSON_KEYS}'
            stem = person_stem(frame, int(p['person']))
            meta = json.loads((out_dir / 'meta' / f'{stem}.json').read_text())
            if any(k not in meta for k in _META_KEYS):
                return None, f'meta/{stem}.json lacks one of {_META_KEYS}'
            with np.load(out_dir / 'smplx' / f'{stem}.npz') as z:
                for key, shape in PARAM_SHAPES.items():
                    if z[key].shape != shape:
                        return None, f'smplx/{stem}.npz: {key} has shape {z[key].shape}'
            for fmt in mesh_formats:
                if not (out_dir / 'mesh' / f'{stem}.{fmt}').is_file():
                    return None, f'mesh/{stem}.{fmt} is missing'
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:  # json/npz damage
        return None, f'{type(e).__name__}: {e}'
    return rec, ''


def check_finished_frames(out_dir: Path, mesh_formats: tuple[str, ...] = ()) -> tuple[dict[int, dict], dict]:
    """Frames an earlier run finished, each checked file by file.

    Returns:
        (finished {frame: record}, damaged {frame: reason}). A frame is finished when its record, every
        person's npz and meta json (and the requested mesh files) exist and read back; otherwise it is damaged.
    """
    d = Path(out_dir) / 'frames'
    frames = sorted(int(p.stem) for p in d.glob('*.json') if p.stem.isdigit()) if d.is_dir() else []
    finished, damaged = {}, {}
    for frame in frames:
        rec, reason = _check_frame(Path(out_dir), frame, mesh_formats)
        if rec is None:
            damaged[frame] = reason
        else:
            finished[frame] = rec
    return finished, damaged


def remove_frames(out_dir: Path, frames) -> None:
    """Delete every file of these frames (record, person npz/json, meshes, overlay image of a video frame)."""
    out_dir = Path(out_dir)
    for frame in frames:
        (out_dir / 'frames' / f'{frame:06d}.json').unlink(missing_ok=True)
        for sub in ('smplx', 'meta', 'mesh'):
            for path in (out_dir / sub).glob(f'{frame:06d}_*.*'):
                path.unlink(missing_ok=True)


def has_outputs(out_dir: Path) -> bool:
    """Whether the folder holds results of some run (ours or the original's layout)."""
    out_dir = Path(out_dir)
    return (out_dir / RUN_FILE).is_file() or (out_dir / 'results.npz').is_file() or any(
        (out_dir / sub).is_dir() and any((out_dir / sub).iterdir()) for sub in OUTPUT_DIRS)


def clear_outputs(out_dir: Path) -> None:
    """Remove everything a run writes into ``out_dir`` (our sub-folders, results.npz, run.json and the overlay
    video recorded in run.json when it lies inside the folder); other files are left alone."""
    out_dir = Path(out_dir)
    info = read_run_info(out_dir) or {}
    video = info.get('video')
    for sub in OUTPUT_DIRS:
        if (out_dir / sub).is_dir():
            shutil.rmtree(out_dir / sub)
    for path in [out_dir / 'results.npz', out_dir / RUN_FILE] + ([Path(video)] if video else []):
        if path.is_file() and path.resolve().parent == out_dir.resolve():
            path.unlink()


def assemble_results(out_dir: Path, frames) -> Path | None:
    """Collect the given finished frames (this run's) into ``results.npz``.

    Arrays: frame_ids (T,), frame_names (T,), img_sizes (T,2) [w,h]; per person (P = all people of all frames):
    frame (P,), person (P,), track_id (P,), bbox (P,4) processed xywh, bbox_det (P,4) xywh, score (P,),
    focal (P,2), princpt (P,2) original-image pixels, transl_image_camera (P,3), image_focal (P,2),
    image_princpt (P,2) (only when every person's meta json has them), and every PARAM_SHAPES key stacked as
    (P, *shape[1:]) for single-row keys ((P,3), (P,10)) and (P, J, 3) for the multi-joint poses. Returns the
    path (None: no frames).
    """
    out_dir = Path(out_dir)
    recs = [r for r in (read_frame_record(out_dir, f) for f in sorted(frames)) if r is not None]
    if not recs:
        return None
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
    for key, n in IMAGE_CAMERA_KEYS:
        if all(key in m for m in metas):
            res[key] = np.asarray([m[key] for m in metas], np.float32).reshape(len(people), n)
    params = [load_params(out_dir / 'smplx' / f'{person_stem(f, p["person"])}.npz') for f, p in people]
    for key, shape in PARAM_SHAPES.items():
        tail = shape[1:] if shape[0] == 1 else shape
        res[key] = np.asarray([q[key] for q in params], np.float32).reshape((len(people),) + tail)
    path = out_dir / 'results.npz'
    _savez(path, res)
    return path


@dataclass
class SavedPerson:
    """One saved person: ``params`` {npz key: array (PARAM_SHAPES)}, ``meta`` (json dict with focal/princpt
    in original-image pixels), ``stem`` (file stem)."""
    frame: int
    person: int
    stem: str
    params: dict
    meta: dict

    @property
    def bbox_area(self) -> float:
        b = self.meta.get('bbox', [0, 0, 0, 0])
        return float(b[2]) * float(b[3])


def scan_results(seq_dir: Path, frames: set[int] | None = None) -> dict[int, list[SavedPerson]]:
    """{frame number: [SavedPerson, ...] sorted by person} for every ``smplx/*.npz`` with a matching
    ``meta/*.json`` under ``seq_dir`` (files with other names are ignored with a warning). When the folder
    holds frame records (ours), only the people listed in them are read: a file no record names is not
    part of any run's results."""
    seq_dir = Path(seq_dir)
    listed = None
    if (seq_dir / 'frames').is_dir():
        listed = set()
        for path in (seq_dir / 'frames').glob('*.json'):
            rec = read_frame_record(seq_dir, int(path.stem)) if path.stem.isdigit() else None
            for p in (rec or {}).get('people', []):
                listed.add(person_stem(rec['frame'], int(p['person'])))
    out: dict[int, list[SavedPerson]] = {}
    bad = []
    for npz in sorted((seq_dir / 'smplx').glob('*.npz')):
        parsed = parse_stem(npz.stem)
        meta_path = seq_dir / 'meta' / f'{npz.stem}.json'
        if parsed is None or not meta_path.is_file():
            bad.append(npz.name)
            continue
        if (frames is not None and parsed[0] not in frames) or (listed is not None and npz.stem not in listed):
            continue
        try:
            person = SavedPerson(parsed[0], parsed[1], npz.stem, load_params(npz), json.loads(meta_path.read_text()))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            logger.warning('skipping %s: unreadable (%s)', npz, e)
            continue
        out.setdefault(parsed[0], []).append(person)
    if bad:
        logger.warning('%s: ignoring %d npz file(s) without a FRAME_PERSON name or meta json, e.g. %s',
                       seq_dir, len(bad), bad[:3])
    for people in out.values():
        people.sort(key=lambda p: p.person)
    return out


def find_sequences(data_path: Path, seq: str = 'default') -> list[Path]:
    """Result folders: with seq 'default', ``data_path`` and every folder below it holding ``smplx/``;
    otherwise the folders matching the glob ``seq`` under ``data_path``."""
    data_path = Path(data_path)
    if seq == 'default':
        found = [p.parent for p in sorted(data_path.rglob('smplx')) if p.is_dir()]
    else:
        found = [p for p in sorted(data_path.glob(seq)) if (p / 'smplx').is_dir()]
    return found

