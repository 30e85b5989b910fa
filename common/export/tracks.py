"""Per-track sequences of an inference output folder (``results.npz``), one value per video frame.

Absent frames (the person was not detected in a frame of the run): **interpolated and marked**. Between two
frames where the track is present, rotations are slerped per joint and translations, betas and expression are
interpolated linearly; before the first and after the last present frame the nearest pose is held. ``present``
says which frames were estimated (the exporters write it to ``track_K.json``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from common.export.rig import POSE_KEYS
from common.inference.result_files import IMAGE_CAMERA_KEYS, read_run_info

logger = logging.getLogger(__name__)

__all__ = ['Track', 'load_tracks', 'ExportInputError', 'results_fps']


class ExportInputError(ValueError):
    """The result folder cannot be exported (no results.npz, no shared camera, unknown track, no fps)."""


@dataclass
class Track:
    """One person over every frame of the run.

    Attributes:
        track_id: the track id; frame_ids (T,) frame numbers of the run; present (T,) bool.
        params: {POSE_KEYS key: (T, J, 3)} axis-angle, ``betas`` (T, 10), ``expression`` (T, 10),
            ``transl`` (T, 3) crop camera, ``transl_image_camera`` (T, 3) metres, shared image camera.
        image_focal, image_princpt: (2,) pixels; img_size: (w, h) of the frames.
    """
    track_id: int
    frame_ids: np.ndarray
    present: np.ndarray
    params: dict
    image_focal: np.ndarray
    image_princpt: np.ndarray
    img_size: tuple

    @property
    def median_betas(self) -> np.ndarray:
        """(10,) median betas over the frames where the person was estimated."""
        return np.median(self.params['betas'][self.present], axis=0)


def results_fps(out_dir: Path) -> float | None:
    """The frame rate recorded in ``run.json`` (None when absent)."""
    fps = (read_run_info(out_dir) or {}).get('fps')
    return float(fps) if fps else None


def _fill(values: np.ndarray, present: np.ndarray, rotation: bool) -> np.ndarray:
    """Fill absent rows of (T, ...) ``values`` (module doc); ``rotation``: rows are (J, 3) axis-angle."""
    idx = np.flatnonzero(present)
    T = len(present)
    out = values.copy()
    missing = np.flatnonzero(~present)
    if len(missing) == 0:
        return out
    t = np.clip(missing, idx[0], idx[-1]).astype(np.float64)
    if not rotation:
        flat = values[idx].reshape(len(idx), -1)
        out[missing] = np.stack([np.interp(t, idx, flat[:, k]) for k in range(flat.shape[1])], 1).reshape(
            (len(missing),) + values.shape[1:])
        return out
    if len(idx) == 1:
        out[missing] = values[idx[0]]
        return out
    for j in range(values.shape[1]):
        slerp = Slerp(idx.astype(np.float64), Rotation.from_rotvec(values[idx, j]))
        out[missing, j] = slerp(t).as_rotvec()
    assert out.shape[0] == T
    return out


def load_tracks(out_dir: Path, track: int | None = None) -> list[Track]:
    """Every track (or only ``track``) of a result folder, each over all frames of the run.

    Raises:
        ExportInputError: no readable ``results.npz``, results without the shared camera (older folder: re-run
            inference), an unknown track id.
    """
    out_dir = Path(out_dir)
    path = out_dir / 'results.npz'
    try:
        with np.load(path, allow_pickle=False) as z:
            res = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ExportInputError(f'{path}: cannot read ({e}); run main/inference.py with --output_folder '
                               f'{out_dir} first') from e
    missing = [k for k, _ in IMAGE_CAMERA_KEYS if k not in res]
    if missing:
        raise ExportInputError(f'{path} has no {", ".join(missing)}: it was written before the shared image camera '
                               f'existed; re-run main/inference.py on the input with --overwrite to add it')
    frame_ids = res['frame_ids']
    pos = {int(f): i for i, f in enumerate(frame_ids)}
    tids = res['track_id']
    if (tids < 0).any():  # untracked people: the person index stands in for the track
        tids = np.where(tids < 0, res['person'], tids)
    ids = sorted(set(int(t) for t in tids))
    if track is not None:
        if track not in ids:
            raise ExportInputError(f'--track {track}: no such track in {path}; tracks: {ids}')
        ids = [track]
    T = len(frame_ids)
    tracks = []
    for tid in ids:
        rows = np.flatnonzero(tids == tid)
        at = np.asarray([pos[int(f)] for f in res['frame'][rows]])
        at, first = np.unique(at, return_index=True)  # one person per track and frame
        rows = rows[first]
        present = np.zeros(T, bool)
        present[at] = True
        params = {}
        for key, n in POSE_KEYS:
            full = np.zeros((T, n, 3))
            full[at] = res[key][rows].reshape(len(rows), n, 3)
            params[key] = _fill(full, present, rotation=True)
        for key, n in (('betas', 10), ('expression', 10), ('transl', 3), ('transl_image_camera', 3)):
            full = np.zeros((T, n))
            full[at] = res[key][rows].reshape(len(rows), n)
            params[key] = _fill(full, present, rotation=False)
        r0 = rows[0]
        w, h = (int(v) for v in res['img_sizes'][pos[int(res['frame'][r0])]])
        tracks.append(Track(tid, frame_ids, present, params, res['image_focal'][r0].astype(np.float64),
                            res['image_princpt'][r0].astype(np.float64), (w, h)))
        if not present.all():
            logger.info('track %d: absent in %d of %d frame(s), interpolated (marked in track_%d.json)', tid,
                        int((~present).sum()), T, tid)
    return tracks
