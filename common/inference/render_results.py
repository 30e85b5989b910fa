"""Overlay saved results on their frames (the logic of main/render.py, SPEC §5.2).

Frames come from (first that exists): ``--image_path`` (a folder of frames or a video), the original's
``<seq>/orig_img/`` folder, or the input recorded as ``img_path`` in the meta json (our results). Every input
frame is written, with or without people, so the output has the input's frame count and size.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from common.inference.io import FrameSourceError, open_source
from common.inference.result_files import VideoWriter, scan_results
from common.inference.stream import pose_people

logger = logging.getLogger(__name__)

__all__ = ['frames_for_sequence', 'render_sequence']


def frames_for_sequence(seq_dir: Path, results: dict, image_path: str | None = None):
    """The frame source of a result folder (see module docstring). Raises FrameSourceError naming the places
    that were tried."""
    tried = []
    candidates = [image_path] if image_path else []
    candidates.append(str(seq_dir / 'orig_img'))
    first = next((people[0] for _, people in sorted(results.items())), None)
    if first is not None and first.meta.get('input'):  # ours: the video, folder or image given to inference
        candidates.append(first.meta['input'])
    elif first is not None and first.meta.get('img_path'):  # the original's: a frame file in the frames folder
        candidates.append(str(Path(first.meta['img_path']).parent))
    for cand in candidates:
        if cand and Path(cand).exists():
            return open_source(cand)
        tried.append(cand)
    raise FrameSourceError(f'no frames for results in {seq_dir}: tried {tried}; pass --image_path with the '
                           f'frames folder or video the results were computed from')


def render_sequence(seq_dir: Path, body_model, renderer, out_img_dir: Path | None, video_path: Path | None,
                    image_path: str | None = None, biggest_only: bool = False, fps: float | None = None,
                    show_bbox: bool = False) -> int:
    """Render every frame of one result folder; returns the number of frames written.

    Args:
        body_model: SMPL-X wrapper (``flat_hand_mean`` as the results were saved with).
        renderer: from ``common.vis.render.make_renderer``.
        out_img_dir: folder for ``{frame:06d}.jpg`` overlays (None: none); video_path: mp4 (None: none).
        biggest_only: render only the person with the largest processed box (the original's default).
    """
    from common.vis.render import overlay_people
    seq_dir = Path(seq_dir)
    results = scan_results(seq_dir)
    if not results:
        logger.warning('%s: no smplx/*.npz results; nothing to render', seq_dir)
        return 0
    source = frames_for_sequence(seq_dir, results, image_path)
    video = VideoWriter(video_path, fps or source.fps) if video_path else None
    if out_img_dir is not None:
        Path(out_img_dir).mkdir(parents=True, exist_ok=True)
    count, seen = 0, set()
    try:
        for frame in source:
            seen.add(frame.index)
            people = results.get(frame.index, [])
            size = list(frame.image.shape[1::-1])
            saved = next((p.meta['img_size'] for p in people if 'img_size' in p.meta), size)
            if list(saved) != size:
                raise FrameSourceError(f'{seq_dir}: frame {frame.index} of {source.path} is {size[0]}x{size[1]} but its '
                                       f'results were computed on a {saved[0]}x{saved[1]} frame; pass the frames or '
                                       f'video the results came from with --image_path')
            if biggest_only and people:
                people = [max(people, key=lambda p: p.bbox_area)]
            verts, _ = pose_people(body_model, [p.params for p in people])
            cams = [(v, np.asarray(p.meta['focal'], np.float64), np.asarray(p.meta['princpt'], np.float64))
                    for v, p in zip(verts, people)]
            boxes = np.asarray([p.meta.get('bbox_mmdet', p.meta.get('bbox')) for p in people]).reshape(-1, 4)
            img = overlay_people(renderer, frame.image, cams, body_model.faces,
                                 boxes_xywh=boxes if show_bbox else None)
            if out_img_dir is not None:
                cv2.imwrite(str(Path(out_img_dir) / f'{frame.index:06d}.jpg'), img)
            if video is not None:
                video.write(img)
            count += 1
    finally:
        if video is not None:
            video.close()
    unused = set(results) - seen
    if unused:
        logger.warning('%s: results for %d frame(s) had no matching input frame', seq_dir, len(unused))
    logger.info('%s: rendered %d frame(s)', seq_dir, count)
    return count
