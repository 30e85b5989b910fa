"""Typed inference results: one ``Person`` per estimated person, one ``FrameResult`` per frame.

Units and frames (SPEC §1.10, §5.1): every 3D quantity is in metres in the person's *crop camera*, whose
intrinsics in original-image pixels are ``focal``/``princpt``; projecting ``vertices``/``joints`` with them gives
image pixels. Boxes are ``xywh`` in original-image pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ['PARAM_SHAPES', 'Person', 'FrameResult', 'outputs_to_params']

PARAM_SHAPES = {  # npz key -> shape per person (SPEC §5.1)
    'global_orient': (1, 3), 'body_pose': (21, 3), 'left_hand_pose': (15, 3), 'right_hand_pose': (15, 3),
    'jaw_pose': (1, 3), 'leye_pose': (1, 3), 'reye_pose': (1, 3), 'betas': (1, 10), 'expression': (1, 10),
    'transl': (1, 3),
}


def _numpy(value) -> np.ndarray:
    if hasattr(value, 'detach'):  # a torch tensor on any device
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, np.float32)


def outputs_to_params(out) -> list[dict]:
    """Model test outputs (SPEC §1.13: ``smplx_root_pose (B,3)`` ... ``cam_trans (B,3)``; tensors on any device
    or arrays) -> per person {npz key: float32 array of ``PARAM_SHAPES``}; eye poses are zeros."""
    o = {k: _numpy(out[k]) for k in ('smplx_root_pose', 'smplx_body_pose', 'smplx_lhand_pose', 'smplx_rhand_pose',
                                      'smplx_jaw_pose', 'smplx_shape', 'smplx_expr', 'cam_trans')}
    zeros = np.zeros((1, 3), np.float32)
    return [{
        'global_orient': o['smplx_root_pose'][i].reshape(1, 3),
        'body_pose': o['smplx_body_pose'][i].reshape(21, 3),
        'left_hand_pose': o['smplx_lhand_pose'][i].reshape(15, 3),
        'right_hand_pose': o['smplx_rhand_pose'][i].reshape(15, 3),
        'jaw_pose': o['smplx_jaw_pose'][i].reshape(1, 3),
        'leye_pose': zeros, 'reye_pose': zeros,
        'betas': o['smplx_shape'][i].reshape(1, 10),
        'expression': o['smplx_expr'][i].reshape(1, 10),
        'transl': o['cam_trans'][i].reshape(1, 3),
    } for i in range(len(o['cam_trans']))]


@dataclass
class Person:
    """One estimated person.

    Attributes:
        params: SMPL-X parameters as in ``smplx/*.npz`` (``PARAM_SHAPES``): axis-angle radians, hand poses
            relative to the mean hand (``flat_hand_mean=False``), eye poses zero, ``transl`` (1, 3) metres.
            Posing the neutral SMPL-X with all of them reproduces ``vertices``.
        vertices: (10475, 3) float32 metres, camera frame (``transl`` included).
        joints: (144, 3) float32 metres, camera frame: the SMPL-X joints (55 skeleton joints, then face, feet,
            fingertips and landmarks; SPEC §6.2).
        bbox: (4,) processed crop box xywh (the ``bbox`` of the meta json), image pixels.
        bbox_det: (4,) the detector's (or the given) box xywh, image pixels.
        focal, princpt: (2,) crop-camera intrinsics (fx, fy), (cx, cy) in image pixels.
        score: detection score (1.0 for given boxes without one).
        track_id: identity across frames (``predict_video(track=True)`` or a boxes file), else None.
        transl_image_camera: (3,) metres, ``transl`` moved into the frame's shared image camera
            (``common.utils.scene_camera``: same pelvis pixel, depth scaled by the focal ratio), whose intrinsics
            are ``image_focal``/``image_princpt`` (2,) pixels; None until set (``attach_image_camera``).
    """
    params: dict
    vertices: np.ndarray
    joints: np.ndarray
    bbox: np.ndarray
    bbox_det: np.ndarray
    focal: np.ndarray
    princpt: np.ndarray
    score: float = 1.0
    track_id: int | None = None
    transl_image_camera: np.ndarray | None = None
    image_focal: np.ndarray | None = None
    image_princpt: np.ndarray | None = None

    def project(self, points: np.ndarray | None = None) -> np.ndarray:
        """(N, 3) camera-frame points (default: ``joints``) -> (N, 2) image pixels through this camera."""
        p = np.asarray(self.joints if points is None else points, np.float64)
        z = np.maximum(p[:, 2:3], 1e-6)
        return (p[:, :2] / z * np.asarray(self.focal) + np.asarray(self.princpt)).astype(np.float32)


@dataclass
class FrameResult:
    """Everything estimated in one frame.

    Attributes:
        frame: frame number (videos: 1-based decode index; folders: the file number or position).
        name: output image name of the frame (``{frame:06d}.jpg`` for videos, the file name for images).
        image_bgr: (H, W, 3) uint8 BGR frame (``image`` gives the RGB view).
        people: the people of this frame, largest box first.
        finished: the frame was completed by an earlier run of the same output folder (resume); then
            ``people`` is empty and the results are read from disk.
    """
    frame: int
    name: str
    image_bgr: np.ndarray = field(repr=False)
    people: list = field(default_factory=list)
    finished: bool = False

    @property
    def image(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB view of the frame."""
        return self.image_bgr[:, :, ::-1]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image_bgr.shape[1]), int(self.image_bgr.shape[0])
