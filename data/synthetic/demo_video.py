"""A short two-person sample video made from the (synthetic or real) SMPL-X body model, with its boxes file.

``write_demo_video(out_dir, human_model_path)`` writes ``out_dir/sample.mp4`` (two people: one walking
across, one turning on the spot and waving) and ``out_dir/sample_boxes.json`` (per-frame tight boxes with
track ids, the ``--bbox_file`` format of main/inference.py), painted with ``common.vis.raster``.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

logger = logging.getLogger(__name__)

__all__ = ['write_demo_video', 'DEMO_VIDEO_NAME', 'DEMO_BOXES_NAME']

DEMO_VIDEO_NAME = 'sample.mp4'
DEMO_BOXES_NAME = 'sample_boxes.json'
_L_SHOULDER, _R_SHOULDER, _L_ELBOW = 16, 17, 18  # SMPL-X joint ids (body_pose index = id - 1)


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Wall-and-floor background, (h, w, 3) uint8 BGR."""
    img = np.zeros((h, w, 3), np.float32)
    horizon = int(h * 0.62)
    img[:horizon] = np.linspace(200, 150, horizon)[:, None, None] * np.array([1.0, 0.95, 0.85])
    img[horizon:] = np.linspace(120, 80, h - horizon)[:, None, None] * np.array([0.7, 0.8, 0.9])
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _poses(t: float, person: int) -> dict[str, torch.Tensor]:
    """Axis-angle pose of one person at normalised time t in [0, 1]."""
    body = np.zeros((21, 3), np.float32)
    root = np.array([math.pi, 0.0, 0.0], np.float32)  # model y-up -> camera y-down (180° about x)
    if person == 0:  # walking: legs and arms swing
        s = math.sin(2 * math.pi * 2 * t)
        body[0, 0], body[1, 0] = 0.5 * s, -0.5 * s      # hips
        body[3, 0], body[4, 0] = 0.4 * max(s, 0), 0.4 * max(-s, 0)  # knees
        body[_L_SHOULDER - 1, 2], body[_R_SHOULDER - 1, 2] = -1.2, 1.2  # arms down
        body[_L_SHOULDER - 1, 0], body[_R_SHOULDER - 1, 0] = -0.4 * s, 0.4 * s
    else:  # turning and waving
        yaw = 0.8 * math.sin(2 * math.pi * t)
        # first yaw about the model's y axis, then the 180° flip about x
        root = (Rotation.from_rotvec([math.pi, 0, 0]) * Rotation.from_rotvec([0, yaw, 0])).as_rotvec()
        body[_R_SHOULDER - 1, 2] = 1.2
        body[_L_SHOULDER - 1, 2] = -0.3 + 0.5 * math.sin(2 * math.pi * 3 * t)
        body[_L_ELBOW - 1, 1] = -1.0
    z3 = torch.zeros(1, 3)
    return dict(global_orient=torch.as_tensor(root, dtype=torch.float32).reshape(1, 3),
                body_pose=torch.from_numpy(body).reshape(1, 63), left_hand_pose=torch.zeros(1, 45),
                right_hand_pose=torch.zeros(1, 45), jaw_pose=z3, betas=torch.zeros(1, 10),
                expression=torch.zeros(1, 10))


def write_demo_video(out_dir: str | Path, human_model_path: str | Path, num_frames: int = 36,
                     size: tuple[int, int] = (320, 240), fps: float = 12.0, seed: int = 0) -> tuple[Path, Path]:
    """Render the two-person sample.

    Args:
        out_dir: folder for ``sample.mp4`` and ``sample_boxes.json``.
        human_model_path: ``human_model_files`` folder (synthetic or real).
        num_frames, size (W, H), fps: video length, frame size in pixels, frame rate.
    Returns:
        (video path, boxes path). Boxes are tight xywh boxes of the projected vertices (image pixels), frames
        keyed "1".."N" (the frame numbers inference uses), with ``track_id`` 0 (walker) and 1 (turner).
    """
    from common.utils.human_models import get_smplx
    from common.vis.raster import render_mesh_opencv
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    w, h = size
    rng = np.random.default_rng(seed)
    background = _background(rng, w, h)
    model = get_smplx(human_model_path)
    focal = np.array([1.1 * h, 1.1 * h])
    princpt = np.array([w / 2.0, h / 2.0])
    depth = 2.6
    video_path, boxes_path = out_dir / DEMO_VIDEO_NAME, out_dir / DEMO_BOXES_NAME
    writer = cv2.VideoWriter(str(video_path), cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'cannot write {video_path}: OpenCV has no mp4v encoder')
    frames = {}
    for i in range(num_frames):
        t = i / max(num_frames - 1, 1)
        transl = [np.array([-0.9 + 0.9 * t, 0.08, depth]), np.array([0.55, 0.08, depth + 0.4])]
        verts = []
        for person in (0, 1):
            with torch.no_grad():
                v = model(**_poses(t, person), transl=torch.tensor(transl[person], dtype=torch.float32)[None])
            verts.append(v.vertices[0].numpy())
        img = render_mesh_opencv(background, np.stack(verts), model.faces, focal, princpt,
                                 color=np.array([[0.9, 0.6, 0.4], [0.4, 0.7, 0.9]]))
        boxes = []
        for track, v in enumerate(verts):
            uv = v[:, :2] / v[:, 2:3] * focal + princpt
            x0, y0 = np.clip(uv.min(0), 0, [w - 1, h - 1])
            x1, y1 = np.clip(uv.max(0), 0, [w - 1, h - 1])
            boxes.append({'bbox': [round(float(x0), 1), round(float(y0), 1), round(float(x1 - x0), 1),
                                   round(float(y1 - y0), 1)], 'score': 1.0, 'track_id': track})
        frames[str(i + 1)] = boxes
        writer.write(img)
    writer.release()
    boxes_path.write_text(json.dumps({'format': 'xywh', 'frames': frames}, indent=1))
    logger.info('wrote %s (%d frames, %dx%d) and %s', video_path, num_frames, w, h, boxes_path)
    return video_path, boxes_path
