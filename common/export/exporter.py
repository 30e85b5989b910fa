"""Export a result folder's tracks as BVH and animated glTF (README "Animation export").

Writes into ``out`` (default ``RESULTS/export``): ``track_K.bvh``, ``track_K.glb`` per track, ``scene.glb`` (every
track in the shared image camera, plus the camera), ``track_K.json`` (frames, which were estimated, fps, units).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from common.export.bvh import UNITS, write_bvh
from common.export.gltf import SkinnedTrack, write_glb
from common.export.rig import (BODY_HANDS_JOINTS, CAMERA_TO_WORLD, BodyRig, forward_kinematics, full_pose,
                               local_rotations)
from common.export.tracks import ExportInputError, Track, load_tracks, results_fps
from common.utils.files import atomic_write

logger = logging.getLogger(__name__)

__all__ = ['export_results', 'posed_track', 'ExportInputError', 'FORMATS']

FORMATS = ('bvh', 'glb', 'all')


def _smooth(track: Track, fps: float) -> None:
    """One-Euro smoothing of the track's parameters (``common.inference.smoothing``), in place."""
    from common.inference.smoothing import ParamSmoother
    sm = ParamSmoother(fps)
    keys = ('global_orient', 'body_pose', 'left_hand_pose', 'right_hand_pose', 'jaw_pose', 'betas', 'expression')
    for t in range(len(track.frame_ids)):
        p = {k: track.params[k][t].reshape(-1, track.params[k].shape[-1]).astype(np.float32) for k in keys}
        p['transl'] = track.params['transl_image_camera'][t].reshape(1, 3).astype(np.float32)
        out = sm(track.track_id, int(track.frame_ids[t]), p)
        for k in keys:
            track.params[k][t] = np.asarray(out[k]).reshape(track.params[k][t].shape)
        track.params['transl_image_camera'][t] = np.asarray(out['transl']).reshape(3)


def posed_track(rig: BodyRig, track: Track) -> dict:
    """The track's animation in the export world (``rig.CAMERA_TO_WORLD``), metres.

    Returns:
        {rest_vertices (V,3), rest_joints (55,3) (median betas, zero expression), local (T,55,3,3),
        root_rotation (T,3,3) world, root_position (T,3) world, world_joints (T,55,3) forward kinematics}.
    """
    rest_v, rest_j = rig.shaped(track.median_betas)
    local = local_rotations(full_pose(track.params, rig.hand_mean))
    root_rot = CAMERA_TO_WORLD @ local[:, 0]
    root_pos = (rest_j[0] + track.params['transl_image_camera']) @ CAMERA_TO_WORLD.T
    world_local = local.copy()
    world_local[:, 0] = root_rot
    _, joints = forward_kinematics(world_local, rest_j, rig.parents, root_pos)
    return {'rest_vertices': rest_v, 'rest_joints': rest_j, 'local': local, 'root_rotation': root_rot,
            'root_position': root_pos, 'world_joints': joints}


def _camera(track: Track) -> dict:
    w, h = track.img_size
    return {'yfov': 2 * math.atan(h / 2 / float(track.image_focal[1])), 'aspect': w / h}


def export_results(results: Path, fmt: str = 'all', *, human_model_path: Path | None = None, body_model=None,
                   track: int | None = None, smooth: bool = False, fps: float | None = None,
                   out: Path | None = None, body_hands: bool = False, unit: str = 'cm') -> list[Path]:
    """Write the animation files of ``results`` (an inference output folder); returns the written paths.

    Args:
        fmt: 'bvh' | 'glb' | 'all'. human_model_path: the folder with smplx/SMPLX_NEUTRAL.npz (or
            ``body_model``: the inference's SMPL-X layer, whose file is used). track: only this track id.
        smooth: One-Euro smoothing first; fps: frame rate (default: run.json's); body_hands: BVH without jaw
            and eyes (52 joints); unit: BVH unit, 'cm' or 'm' (glTF is always metres).
    Raises:
        ExportInputError: bad folder, unknown track, no frame rate; RigError: unusable SMPL-X file.
    """
    if fmt not in FORMATS:
        raise ExportInputError(f'--format must be one of {FORMATS}, got {fmt!r}')
    if unit not in UNITS:
        raise ExportInputError(f'--unit must be one of {tuple(UNITS)}, got {unit!r}')
    results = Path(results)
    fps = fps or results_fps(results)
    if not fps or fps <= 0:
        raise ExportInputError(f'{results}/run.json records no frame rate: pass --fps F')
    model_file = Path(body_model.model_path) if body_model is not None else Path(human_model_path)
    rig = BodyRig.load(model_file)
    tracks = load_tracks(results, track)
    out = Path(out) if out else results / 'export'
    out.mkdir(parents=True, exist_ok=True)
    written, skinned = [], []
    for tr in tracks:
        if smooth:
            _smooth(tr, fps)
        posed = posed_track(rig, tr)
        name = f'track_{tr.track_id}'
        if fmt in ('bvh', 'all'):
            keep = BODY_HANDS_JOINTS if body_hands else tuple(range(55))
            remap = {j: k for k, j in enumerate(keep)}
            parents = np.array([remap[rig.parents[j]] if rig.parents[j] >= 0 else -1 for j in keep])
            path = out / f'{name}.bvh'
            write_bvh(path, [rig.names[j] for j in keep], parents, posed['rest_joints'][list(keep)],
                      posed['root_rotation'], posed['local'][:, list(keep)], posed['root_position'], 1.0 / fps,
                      unit)
            written.append(path)
        if fmt in ('glb', 'all'):
            sk = SkinnedTrack(name, rig.names, rig.parents, posed['rest_vertices'], posed['rest_joints'], rig.faces,
                              rig.weights, rig.exprdirs, posed['local'], posed['root_rotation'],
                              posed['root_position'], tr.params['expression'], tr.present)
            skinned.append(sk)
            path = out / f'{name}.glb'
            write_glb(path, [sk], fps, _camera(tr))
            written.append(path)
        side = out / f'{name}.json'
        info = {'track_id': tr.track_id, 'fps': fps, 'frames': [int(f) for f in tr.frame_ids],
                'present': [bool(p) for p in tr.present], 'absent_frames': 'interpolated',
                'bvh_unit': unit, 'gltf_unit': 'm', 'axes': 'Y up, right-handed; camera at origin looking down -Z',
                'image_focal': tr.image_focal.tolist(), 'image_princpt': tr.image_princpt.tolist(),
                'img_size': list(tr.img_size), 'smooth': smooth}
        with atomic_write(side, fsync=False) as tmp:
            tmp.write_text(json.dumps(info))
        written.append(side)
    if skinned:
        path = out / 'scene.glb'
        write_glb(path, skinned, fps, _camera(tracks[0]))
        written.append(path)
    logger.info('exported %d track(s) of %s to %s', len(tracks), results, out)
    return written
