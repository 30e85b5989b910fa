"""Synthetic HumanData training set rendered from a (synthetic or real) SMPL-X body model.

Writes, under ``data_dir``::

    Synthetic/images/{k:06d}.jpg                       one image per sample, one or two people
    preprocessed_datasets/synthetic_train.npz          HumanData (SPEC §4.1), one entry per person

Every person gets a random plausible pose (small body-joint angles, arms lowered by a random amount,
random hand poses, betas and expression), a random yaw and a camera placement that makes them fill a
reasonable part of the frame; people are painted with ``render_mesh_opencv`` over a random colour
gradient with noise. The camera is the fixed pinhole ``synthetic_camera(img_size)``; its values are also
stored per sample in ``meta`` (``focal_length``, ``principal_point``).

The random-scene helpers here are shared with ``data/synthetic/ehf_set.py``.
"""
import logging
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from common.utils.human_models import get_smplx, load_face_vertex_ids, load_hand_vertex_ids
from common.vis.raster import project_points, render_mesh_opencv

__all__ = ['write_humandata_train_set', 'synthetic_camera', 'sample_smplx_params', 'pose_people',
           'random_background', 'tight_bbox_xywh', 'HUMANDATA_FILE', 'IMAGE_FOLDER']

logger = logging.getLogger(__name__)

HUMANDATA_FILE = 'synthetic_train.npz'  # under {data_dir}/preprocessed_datasets/
IMAGE_FOLDER = 'Synthetic'              # image_path entries are relative to {data_dir}/Synthetic/
BODY_BOX_PADDING = 1.2                   # HumanData body boxes carry ~1.2 padding (SPEC §4.1)
_FLIP_UPRIGHT = Rotation.from_rotvec([np.pi, 0.0, 0.0])  # model frame (y up, facing +z) -> OpenCV camera

# body_pose rows (SMPL-X joint index - 1) used to make poses look human.
_L_KNEE, _R_KNEE, _L_SHOULDER, _R_SHOULDER, _L_ELBOW, _R_ELBOW = 3, 4, 15, 16, 17, 18


def synthetic_camera(img_size):
    """Fixed pinhole of the synthetic sets. ``img_size`` = (H, W) pixels → (focal (2,), princpt (2,))."""
    height, width = img_size
    focal = float(max(height, width))
    return np.array([focal, focal], dtype=np.float32), np.array([width / 2.0, height / 2.0], dtype=np.float32)


def sample_smplx_params(rng, num_people):
    """Random plausible SMPL-X parameters (axis-angle, radians) for ``num_people`` people.

    Returns a dict of float32 arrays in HumanData layout: global_orient (N,3) (upright in the OpenCV camera
    frame, random yaw), body_pose (N,21,3), left/right_hand_pose (N,15,3) (relative to the mean hand),
    jaw_pose, leye_pose, reye_pose (N,3), betas (N,10), expression (N,10).
    """
    n = num_people
    body = rng.normal(0.0, 0.12, size=(n, 21, 3))
    lower = rng.uniform(0.3, 1.3, size=n)                 # lower the arms out of the T-pose
    body[:, _L_SHOULDER, 2] -= lower
    body[:, _R_SHOULDER, 2] += lower
    body[:, _L_ELBOW, 1] -= rng.uniform(0.0, 1.2, size=n)  # bend the elbows
    body[:, _R_ELBOW, 1] += rng.uniform(0.0, 1.2, size=n)
    body[:, [_L_KNEE, _R_KNEE], 0] += rng.uniform(0.0, 0.6, size=(n, 2))
    yaw = rng.uniform(-0.5 * np.pi, 0.5 * np.pi, size=n)
    tilt = rng.normal(0.0, 0.08, size=(n, 3))
    orient = (_FLIP_UPRIGHT * Rotation.from_rotvec(np.stack([np.zeros(n), yaw, np.zeros(n)], 1))
              * Rotation.from_rotvec(tilt)).as_rotvec()
    jaw = np.zeros((n, 3))
    jaw[:, 0] = rng.uniform(0.0, 0.3, size=n)
    params = {
        'global_orient': orient, 'body_pose': body,
        'left_hand_pose': rng.normal(0.0, 0.25, size=(n, 15, 3)),
        'right_hand_pose': rng.normal(0.0, 0.25, size=(n, 15, 3)),
        'jaw_pose': jaw, 'leye_pose': np.zeros((n, 3)), 'reye_pose': np.zeros((n, 3)),
        'betas': np.clip(rng.normal(0.0, 1.0, size=(n, 10)), -2.0, 2.0),
        'expression': np.clip(rng.normal(0.0, 1.0, size=(n, 10)), -2.0, 2.0),
    }
    return {k: v.astype(np.float32) for k, v in params.items()}


def _run_smplx(model, params, transl):
    n = params['global_orient'].shape[0]
    t = {k: torch.from_numpy(np.ascontiguousarray(v)).reshape(n, -1) for k, v in params.items()}
    out = model(global_orient=t['global_orient'], body_pose=t['body_pose'],
                left_hand_pose=t['left_hand_pose'], right_hand_pose=t['right_hand_pose'],
                jaw_pose=t['jaw_pose'], betas=t['betas'], expression=t['expression'],
                leye_pose=t['leye_pose'], reye_pose=t['reye_pose'], transl=torch.from_numpy(transl))
    return out.vertices.numpy().astype(np.float64), out.joints.numpy().astype(np.float64)


def pose_people(model, params, rng, img_size, focal, princpt):
    """Place people in front of the camera so each fills a reasonable part of the image.

    One person: height 45–85 % of the image, centre jittered. Two: 35–65 % each, left and right halves.
    Returns (transl (N,3) float32, vertices (N,V,3), joints (N,144,3)) in the camera frame, metres.
    """
    n = params['global_orient'].shape[0]
    height, width = img_size
    rest_v, _ = _run_smplx(model, params, np.zeros((n, 3), dtype=np.float32))
    lo, hi = rest_v.min(axis=1), rest_v.max(axis=1)
    centre, extent = (lo + hi) / 2.0, np.maximum(hi[:, 1] - lo[:, 1], 1e-3)
    if n == 1:
        frac = rng.uniform(0.45, 0.85, size=1)
        u = width / 2.0 + rng.uniform(-0.15, 0.15) * width
        v = height / 2.0 + rng.uniform(-0.08, 0.08) * height
        target = np.array([[u, v]])
    else:
        frac = rng.uniform(0.35, 0.65, size=n)
        xs = (np.arange(n) + 0.5) / n * width + rng.uniform(-0.05, 0.05, size=n) * width
        target = np.stack([xs, height / 2.0 + rng.uniform(-0.08, 0.08, size=n) * height], 1)
    depth = focal[1] * extent / (frac * height)
    wanted = np.concatenate([(target - princpt) / focal * depth[:, None], depth[:, None]], 1)
    transl = (wanted - centre).astype(np.float32)
    verts, joints = _run_smplx(model, params, transl)
    return transl, verts, joints


def random_background(rng, img_size):
    """(H, W, 3) uint8 BGR: a linear gradient between two random colours, a few blobs and pixel noise."""
    height, width = img_size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xs / width + np.sin(angle) * ys / height
    ramp = (ramp - ramp.min()) / max(float(ramp.max() - ramp.min()), 1e-6)
    c0, c1 = rng.uniform(0, 255, size=3), rng.uniform(0, 255, size=3)
    img = c0 + (c1 - c0) * ramp[..., None]
    for _ in range(rng.integers(2, 6)):
        centre = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
        axes = (int(rng.uniform(0.05, 0.3) * width), int(rng.uniform(0.05, 0.3) * height))
        cv2.ellipse(img, centre, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
    img += rng.normal(0.0, rng.uniform(2.0, 12.0), size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def tight_bbox_xywh(points_px):
    """(..., P, 2) pixels → (..., 4) tight x, y, w, h."""
    lo, hi = points_px.min(axis=-2), points_px.max(axis=-2)
    return np.concatenate([lo, hi - lo], axis=-1)


def _pad_bbox(xywh, ratio):
    centre = xywh[..., :2] + xywh[..., 2:] / 2.0
    size = xywh[..., 2:] * ratio
    return np.concatenate([centre - size / 2.0, size], axis=-1)


def _box_conf(xywh, img_size):
    """1 where the box overlaps the image, else 0. (N,4) → (N,1)."""
    height, width = img_size
    x2, y2 = xywh[:, 0] + xywh[:, 2], xywh[:, 1] + xywh[:, 3]
    inside = (x2 > 0) & (y2 > 0) & (xywh[:, 0] < width) & (xywh[:, 1] < height)
    return inside.astype(np.float32)[:, None]


def write_humandata_train_set(data_dir, human_model_path, num_samples=16, seed=0, img_size=(240, 320),
                              two_person_prob=0.3, split='train'):
    """Render ``num_samples`` images with one or two people and write the HumanData ``.npz``.

    Args:
        data_dir: dataset root (the config's ``data_dir``).
        human_model_path: folder holding ``smplx/SMPLX_NEUTRAL.npz`` etc. (synthetic or real).
        num_samples: number of images; the ``.npz`` holds one entry per person (≥ num_samples entries).
        seed: RNG seed; the same seed gives the same files.
        img_size: (H, W) in pixels.
        two_person_prob: probability that an image shows two people.
        split: 'train' writes ``synthetic_train.npz`` and ``images/{k:06d}.jpg``; any other value writes
            ``synthetic_{split}.npz`` and ``images/{split}_{k:06d}.jpg`` (e.g. a HumanData test split).

    Returns:
        Path of the written ``.npz``.
    """
    rng = np.random.default_rng(seed)
    data_dir = Path(data_dir)
    img_dir = data_dir / IMAGE_FOLDER / 'images'
    img_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / 'preprocessed_datasets').mkdir(parents=True, exist_ok=True)
    model = get_smplx(human_model_path)
    hand_ids = load_hand_vertex_ids(human_model_path)
    face_ids = load_face_vertex_ids(human_model_path)
    focal, princpt = synthetic_camera(img_size)
    records = {k: [] for k in ('image_path', 'bbox', 'lhand', 'rhand', 'face', 'kp2d', 'kp3d', 'transl')}
    param_chunks = []
    for k in range(num_samples):
        n = 2 if rng.uniform() < two_person_prob else 1
        params = sample_smplx_params(rng, n)
        transl, verts, joints = pose_people(model, params, rng, img_size, focal, princpt)
        colours = rng.uniform(0.35, 0.95, size=(n, 3))
        img = render_mesh_opencv(random_background(rng, img_size), verts, model.faces, focal, princpt,
                                 color=colours)
        rel_path = f'images/{k:06d}.jpg' if split == 'train' else f'images/{split}_{k:06d}.jpg'
        if not cv2.imwrite(str(data_dir / IMAGE_FOLDER / rel_path), img, [cv2.IMWRITE_JPEG_QUALITY, 95]):
            raise OSError(f'could not write {data_dir / IMAGE_FOLDER / rel_path}')
        verts_px, joints_px = project_points(verts, focal, princpt), project_points(joints, focal, princpt)
        records['image_path'] += [rel_path] * n
        records['bbox'].append(_pad_bbox(tight_bbox_xywh(verts_px), BODY_BOX_PADDING))
        records['lhand'].append(tight_bbox_xywh(verts_px[:, hand_ids['left_hand']]))
        records['rhand'].append(tight_bbox_xywh(verts_px[:, hand_ids['right_hand']]))
        records['face'].append(tight_bbox_xywh(verts_px[:, face_ids]))
        records['kp2d'].append(joints_px)
        records['kp3d'].append(joints)
        records['transl'].append(transl)
        param_chunks.append(params)
    path = data_dir / 'preprocessed_datasets' / (HUMANDATA_FILE if split == 'train' else f'synthetic_{split}.npz')
    _save_humandata(path, records, param_chunks, img_size, focal, princpt)
    logger.info('wrote %d images / %d people to %s', num_samples, len(records['image_path']), path)
    return path


def _save_humandata(path, records, param_chunks, img_size, focal, princpt):
    """Write the mmhuman3d HumanData layout (dict entries are pickled 0-d object arrays)."""
    height, width = img_size
    bbox = np.concatenate(records['bbox'])
    num = bbox.shape[0]

    def with_conf(xywh):
        return np.concatenate([xywh, _box_conf(xywh, img_size)], 1).astype(np.float32)

    kp2d = np.concatenate(records['kp2d'])
    kp3d = np.concatenate(records['kp3d'])
    smplx_dict = {k: np.concatenate([p[k] for p in param_chunks]) for k in param_chunks[0]}
    smplx_dict['transl'] = np.concatenate(records['transl'])
    content = {
        'image_path': np.array(records['image_path']),
        'bbox_xywh': np.concatenate([bbox, np.ones((num, 1))], 1).astype(np.float32),
        'lhand_bbox_xywh': with_conf(np.concatenate(records['lhand'])),
        'rhand_bbox_xywh': with_conf(np.concatenate(records['rhand'])),
        'face_bbox_xywh': with_conf(np.concatenate(records['face'])),
        'keypoints2d_smplx': np.concatenate([kp2d, np.ones((num, kp2d.shape[1], 1))], 2).astype(np.float32),
        'keypoints3d_smplx': np.concatenate([kp3d, np.ones((num, kp3d.shape[1], 1))], 2).astype(np.float32),
        'keypoints2d_smplx_mask': np.ones(kp2d.shape[1], dtype=np.float32),
        'keypoints3d_smplx_mask': np.ones(kp3d.shape[1], dtype=np.float32),
        '__keypoints_compressed__': np.array(False),
        '__data_len__': np.array(num),
        'smplx': smplx_dict,
        'meta': {'height': np.full(num, height, dtype=np.int64), 'width': np.full(num, width, dtype=np.int64),
                 'gender': np.array(['neutral'] * num),
                 'focal_length': np.tile(focal, (num, 1)), 'principal_point': np.tile(princpt, (num, 1))},
    }
    tmp = path.with_name(path.stem + '.tmp.npz')
    np.savez_compressed(tmp, **content)
    tmp.replace(path)
