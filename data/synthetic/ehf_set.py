"""Synthetic test set in the real EHF layout (SPEC §4.4), so the EHF loader and test.py run unchanged.

Writes, under ``data_dir``::

    EHF/data/EHF.json            COCO-style: images (id, file_name, height, width) and annotations
                                 (id, image_id, body_bbox, lefthand_bbox, righthand_bbox, face_bbox; xywh)
    EHF/data/NN_img.jpg          one person per frame (NN = 01, 02, ...)
    EHF/data/NN_align.ply        GT mesh (10475 vertices, SMPL-X faces), stored as R^T · v_cam so that the
                                 loader's fixed rotation R (``EHF_GT_ROTVEC``) maps it back into the camera
                                 frame the image was rendered in
    EHF/data/NN_params.npz       sidecar (not in the real EHF): the GT SMPL-X parameters (axis-angle, flat
                                 shapes: global_orient (3), body_pose (63), left/right_hand_pose (45),
                                 jaw_pose, leye_pose, reye_pose (3), betas (10), expression (10),
                                 transl (3)) and the camera (focal (2), princpt (2)), neutral model
"""
import json
import logging
from pathlib import Path

import cv2
import numpy as np

from common.utils.human_models import get_smplx, load_face_vertex_ids, load_hand_vertex_ids
from common.vis.raster import project_points, render_mesh_opencv
from data.EHF.EHF import ehf_gt_rotation
from data.synthetic.humandata_set import (pose_people, random_background, sample_smplx_params,
                                          synthetic_camera, tight_bbox_xywh)

__all__ = ['write_ehf_set', 'write_ply']

logger = logging.getLogger(__name__)


def write_ply(path, vertices, faces):
    """Write an ASCII PLY mesh: ``vertices`` (V,3) float, ``faces`` (F,3) int."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    header = (f'ply\nformat ascii 1.0\nelement vertex {len(vertices)}\nproperty float x\nproperty float y\n'
              f'property float z\nelement face {len(faces)}\nproperty list uchar int vertex_indices\n'
              'end_header\n')
    with open(path, 'w') as f:
        f.write(header)
        np.savetxt(f, vertices, fmt='%.7f')
        np.savetxt(f, np.concatenate([np.full((len(faces), 1), 3), faces], 1), fmt='%d')


def write_ehf_set(data_dir, human_model_path, num_frames=4, seed=1, img_size=(300, 400)):
    """Render ``num_frames`` single-person frames and write the EHF files.

    Args:
        data_dir: dataset root (the config's ``data_dir``); files go to ``{data_dir}/EHF/data/``.
        human_model_path: folder holding the SMPL-X model files (synthetic or real).
        num_frames: number of frames (the real EHF has 100).
        seed: RNG seed.
        img_size: (H, W) pixels (the real EHF is 1200 x 1600).

    Returns:
        Path of the written ``EHF.json``.
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(data_dir) / 'EHF' / 'data'
    out_dir.mkdir(parents=True, exist_ok=True)
    model = get_smplx(human_model_path)
    hand_ids = load_hand_vertex_ids(human_model_path)
    face_ids = load_face_vertex_ids(human_model_path)
    focal, princpt = synthetic_camera(img_size)
    rot = ehf_gt_rotation()
    images, annotations = [], []
    for k in range(num_frames):
        name = f'{k + 1:02d}'
        params = sample_smplx_params(rng, 1)
        transl, verts, _ = pose_people(model, params, rng, img_size, focal, princpt)
        img = render_mesh_opencv(random_background(rng, img_size), verts, model.faces, focal, princpt,
                                 color=rng.uniform(0.35, 0.95, size=3))
        if not cv2.imwrite(str(out_dir / f'{name}_img.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {out_dir / f"{name}_img.jpg"}')
        write_ply(out_dir / f'{name}_align.ply', verts[0] @ rot, model.faces)  # rows: (R^T v)^T = v^T R
        np.savez(out_dir / f'{name}_params.npz', focal=focal, princpt=princpt, transl=transl[0],
                 **{key: value[0].reshape(-1) for key, value in params.items()})
        verts_px = project_points(verts[0], focal, princpt)
        images.append({'id': k, 'file_name': f'{name}_img.jpg', 'height': img_size[0], 'width': img_size[1]})
        annotations.append({
            'id': k, 'image_id': k,
            'body_bbox': tight_bbox_xywh(verts_px).tolist(),
            'lefthand_bbox': tight_bbox_xywh(verts_px[hand_ids['left_hand']]).tolist(),
            'righthand_bbox': tight_bbox_xywh(verts_px[hand_ids['right_hand']]).tolist(),
            'face_bbox': tight_bbox_xywh(verts_px[face_ids]).tolist(),
        })
    path = out_dir / 'EHF.json'
    with open(path, 'w') as f:
        json.dump({'images': images, 'annotations': annotations}, f)
    logger.info('wrote %d EHF frames to %s', num_frames, out_dir)
    return path
