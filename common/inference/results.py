"""Reading saved inference results (ours and the original SMPLer-X layout) and posing them.

Both layouts hold ``smplx/STEM.npz`` and ``meta/STEM.json`` with STEM = ``{frame}_{person}``; ours uses
6-digit frames (matching ``%06d.jpg`` frame files), the original 5 digits. Frames are grouped by the parsed
frame number, not by a fixed-length name prefix.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from common.inference.writers import PARAM_SHAPES, load_params, parse_stem

logger = logging.getLogger(__name__)

__all__ = ['SavedPerson', 'scan_results', 'find_sequences', 'vertices_from_params']


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
    ``meta/*.json`` under ``seq_dir`` (files with other names are ignored with a warning)."""
    seq_dir = Path(seq_dir)
    out: dict[int, list[SavedPerson]] = {}
    bad = []
    for npz in sorted((seq_dir / 'smplx').glob('*.npz')):
        parsed = parse_stem(npz.stem)
        meta_path = seq_dir / 'meta' / f'{npz.stem}.json'
        if parsed is None or not meta_path.is_file():
            bad.append(npz.name)
            continue
        if frames is not None and parsed[0] not in frames:
            continue
        try:
            person = SavedPerson(parsed[0], parsed[1], npz.stem, load_params(npz), json.loads(meta_path.read_text()))
        except (OSError, ValueError, KeyError) as e:
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


def vertices_from_params(body_model, params: list[dict], device: str | torch.device = 'cpu') -> np.ndarray:
    """Pose a list of saved people with the body model (with their ``transl``): (N, 10475, 3) float32 metres,
    camera frame. ``body_model`` is a ``common.utils.human_models.SMPLX``."""
    if not params:
        return np.zeros((0, 0, 3), np.float32)
    t = {k: torch.as_tensor(np.stack([p[k].reshape(-1) for p in params]), device=device) for k in PARAM_SHAPES}
    with torch.inference_mode():
        out = body_model(global_orient=t['global_orient'], body_pose=t['body_pose'],
                         left_hand_pose=t['left_hand_pose'], right_hand_pose=t['right_hand_pose'],
                         jaw_pose=t['jaw_pose'], betas=t['betas'], expression=t['expression'],
                         leye_pose=t['leye_pose'], reye_pose=t['reye_pose'], transl=t['transl'])
    return out.vertices.float().cpu().numpy()
