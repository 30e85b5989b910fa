"""Training targets of one sample (SPEC §4.2): keypoint targets (`process_db_coord`), SMPL-X targets
(`process_human_model_output`) and hand/face box targets (`process_part_boxes`).

All joints are in the 137-joint supervision set (`common.utils.joint_sets`). Heatmap units: x over
``output_hm_shape[2]`` (12), y over ``output_hm_shape[1]`` (16), depth over ``output_hm_shape[0]`` (16).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np
import torch

from common.utils import joint_sets as js
from common.utils.crop import INPUT_IMG_SHAPE, apply_affine
from data.transforms import (OUTPUT_HM_SHAPE, box_to_heatmap_target, crop_to_heatmap, flip_axis_angle_pose,
                             flip_points_x, rotate_root_pose, rotation_z, swap_pairs)

__all__ = ["GeometryConfig", "SmplxParams", "source_joint_img", "process_db_coord", "process_human_model_output",
           "process_part_boxes", "part_rooted", "depth_to_heatmap", "zero_wild_betas", "DUMMY_BOX_XYXY",
           "BETA_LIMIT"]

logger = logging.getLogger(__name__)

BETA_LIMIT = 3.0  # betas with any |beta| above this are treated as a failed fit and zeroed (SPEC §4.2)
DUMMY_BOX_XYXY = np.array([0.0, 0.0, 1.0, 1.0], dtype=np.float32)  # target of an invalid part box
_LH, _RH, _FACE = (slice(*js.JOINT_PARTS[p]) for p in ("lhand", "rhand", "face"))
_BODY = slice(*js.JOINT_PARTS["body"])


@dataclass(frozen=True)
class GeometryConfig:
    """Crop / heatmap geometry (the released values are the defaults; SPEC §1.1)."""

    input_img_shape: tuple = INPUT_IMG_SHAPE  # (H, W) crop pixels
    output_hm_shape: tuple = OUTPUT_HM_SHAPE  # (D, H, W)
    body_3d_size: float = 2.0  # metres covered by the body depth axis
    hand_3d_size: float = 0.3
    face_3d_size: float = 0.3


@dataclass
class SmplxParams:
    """SMPL-X parameters of one person (axis-angle radians, hand poses relative to the mean hand).

    Shapes: root_pose (3,), body_pose (63,), lhand_pose/rhand_pose (45,), jaw_pose (3,), shape (10,),
    expr (10,), trans (3,) metres camera frame. ``*_valid`` say which parts were annotated.
    """

    root_pose: np.ndarray
    body_pose: np.ndarray
    lhand_pose: np.ndarray
    rhand_pose: np.ndarray
    jaw_pose: np.ndarray
    shape: np.ndarray
    expr: np.ndarray
    trans: np.ndarray
    lhand_valid: bool = True
    rhand_valid: bool = True
    face_valid: bool = True
    gender: str = "neutral"

    def pose53(self) -> np.ndarray:
        """(53, 3) rotation-set pose: root, 21 body, 15 left hand, 15 right hand, jaw."""
        return np.concatenate([self.root_pose, self.body_pose, self.lhand_pose, self.rhand_pose,
                               self.jaw_pose]).astype(np.float32).reshape(53, 3)


def depth_to_heatmap(z_rel: np.ndarray, size_m: float, depth_bins: int) -> np.ndarray:
    """Relative depth (metres) -> depth-bin units: ((z / (size/2)) + 1) / 2 * bins."""
    return ((np.asarray(z_rel, np.float32) / (size_m / 2.0) + 1.0) / 2.0 * depth_bins).astype(np.float32)


def part_rooted(joint_cam_rel: np.ndarray) -> np.ndarray:
    """(137, 3) root-relative joints -> hands relative to their wrist, face relative to the neck."""
    out = joint_cam_rel.copy()
    out[_LH] -= joint_cam_rel[js.LWRIST_IDX]
    out[_RH] -= joint_cam_rel[js.RWRIST_IDX]
    out[_FACE] -= joint_cam_rel[js.NECK_IDX]
    return out


def _in_heatmap(joint_img: np.ndarray, hm: Sequence[int]) -> np.ndarray:
    x, y, z = joint_img[:, 0], joint_img[:, 1], joint_img[:, 2]
    return (x >= 0) & (x < hm[2]) & (y >= 0) & (y < hm[1]) & (z >= 0) & (z < hm[0])


def _source_ok(source: np.ndarray) -> np.ndarray:
    """(137,) bool: the original's "source x > 0, y > 0, depth > 0" truncation factors (SPEC §4.2).

    Always evaluated on the source array in its un-flipped joint order: under a flip these factors are
    not exchanged between left and right joints, while validity and coordinates are (as the original).
    """
    return (source > 0).all(axis=1)


def source_joint_img(joint_xy: np.ndarray, joint_cam: np.ndarray | None,
                     geo: GeometryConfig = GeometryConfig()) -> np.ndarray:
    """(137, 3) float32 joint image of the dataset keypoints before augmentation: x, y image pixels and
    the depth bin ((z_root_rel / (body_3d_size / 2)) + 1) / 2 * D of ``joint_cam`` (137, 3) metres, or
    depth 0 when there are no 3D keypoints (``joint_cam`` None)."""
    joint_img = np.zeros((js.NUM_JOINTS, 3), dtype=np.float32)
    joint_img[:, :2] = joint_xy
    if joint_cam is not None:
        z_rel = joint_cam[:, 2] - joint_cam[js.ROOT_IDX, 2]
        joint_img[:, 2] = depth_to_heatmap(z_rel, geo.body_3d_size, geo.output_hm_shape[0])
    return joint_img


def process_db_coord(joint_xy: np.ndarray, joint_cam: np.ndarray | None, joint_valid: np.ndarray,
                     do_flip: bool, img_w: float, img2bb_trans: np.ndarray, rot_deg: float,
                     geo: GeometryConfig = GeometryConfig()) -> dict[str, np.ndarray]:
    """Keypoint targets from dataset keypoints (137 set).

    Args:
        joint_xy: (137, 2) image pixels. joint_cam: (137, 3) metres camera frame, or None (2D-only).
        joint_valid: (137,) 0/1. do_flip, img_w, img2bb_trans (2, 3) image->crop (mirrored image when
        flipping), rot_deg: the augmentation.
    Returns:
        joint_img (137, 3) heatmap units (depth 0 without 3D), joint_cam (137, 3) root-relative,
        joint_cam_ra (137, 3) part-rooted (both rotated/flipped, zeros without 3D), joint_valid and
        joint_trunc (137, 1) float32. A joint is "truncated" (flag 0) when invalid, outside the heatmap
        volume, or when the source x, y or depth at its index is not > 0 (zero-padded / missing; this also
        zeroes every flag of 2D-only samples, whose depth is 0 — the original's rule, SPEC §7.11). Those
        source factors keep the un-flipped joint order (`_source_ok`).
    """
    hm = geo.output_hm_shape
    joint_img = source_joint_img(joint_xy, joint_cam, geo)
    if joint_cam is None:
        cam_rel = np.zeros((js.NUM_JOINTS, 3), dtype=np.float32)
    else:
        cam_rel = (joint_cam - joint_cam[js.ROOT_IDX]).astype(np.float32)
    valid = np.asarray(joint_valid, dtype=np.float32).reshape(-1).copy()
    source_ok = _source_ok(joint_img)

    if do_flip:
        joint_img = flip_points_x(joint_img, img_w)
        cam_rel[:, 0] *= -1.0
        joint_img, cam_rel, valid = (swap_pairs(a, js.FLIP_PAIRS) for a in (joint_img, cam_rel, valid))
    cam_rel = cam_rel @ rotation_z(rot_deg).T
    joint_img[:, :2] = crop_to_heatmap(apply_affine(joint_img[:, :2], img2bb_trans),
                                       geo.input_img_shape, hm)
    trunc = valid * source_ok * _in_heatmap(joint_img, hm)
    return dict(joint_img=joint_img, joint_cam=cam_rel.astype(np.float32),
                joint_cam_ra=part_rooted(cam_rel).astype(np.float32),
                joint_valid=valid.reshape(-1, 1).astype(np.float32),
                joint_trunc=trunc.reshape(-1, 1).astype(np.float32))


def _smplx_joints(body_model: Callable, p: SmplxParams) -> tuple[np.ndarray, np.ndarray | None]:
    """SMPL-X forward of one person -> (137, 3) joints and (V, 3) vertices (None from a joints-only
    model), metres camera frame."""
    t = {k: torch.from_numpy(np.asarray(v, np.float32).reshape(1, -1)) for k, v in dict(
        global_orient=p.root_pose, body_pose=p.body_pose, left_hand_pose=p.lhand_pose,
        right_hand_pose=p.rhand_pose, jaw_pose=p.jaw_pose, betas=p.shape, expression=p.expr,
        transl=p.trans).items()}
    with torch.no_grad():
        out = body_model(**t)
    joints = out.joints[0].numpy()[list(js.SMPLX_TO_JOINT_SET)]
    return joints.astype(np.float32), None if out.vertices is None else out.vertices[0].numpy()


def process_human_model_output(params: SmplxParams, cam: dict | None, do_flip: bool, img_w: float,
                               img2bb_trans: np.ndarray, rot_deg: float, body_model: Callable,
                               joint_img: np.ndarray | None = None,
                               geo: GeometryConfig = GeometryConfig()) -> dict[str, np.ndarray]:
    """SMPL-X targets of one person (SPEC §4.2).

    Args:
        params: the person's parameters. cam: optional dict with ``focal`` (2,), ``princpt`` (2,) pixels
            (joint image by projection) and/or extrinsics ``R`` (3, 3), ``t`` (3,). Without intrinsics
            ``joint_img`` (137, 3), the dataset keypoints' `source_joint_img` (x, y image pixels, depth
            bins, depth 0 without 3D keypoints), gives x, y.
        body_model: `common.utils.human_models.SMPLX`-like callable (gendered or neutral), or the
            joints-only `data.smplx_joints.SmplxJoints`.
    Returns:
        joint_img (137, 3) heatmap units, joint_cam (137, 3) part-rooted metres (after augmentation),
        joint_trunc, joint_valid (137, 1), pose (159,), shape (10,), expr (10,), pose_valid (159,) float32;
        shape_valid, expr_valid scalars; mesh (V, 3) before augmentation, metres camera frame (None
        from a joints-only body model).

    Truncation (SPEC §4.2): besides validity and the heatmap volume, a joint needs source x, y and depth
    > 0 in the joint image as it enters the depth step: the projection (pixels, camera depth) with
    intrinsics, otherwise ``joint_img`` itself, so a 2D-only sample without intrinsics has every
    ``joint_trunc`` 0. The source factors keep the un-flipped joint order.
    """
    cam = cam or {}
    hm = geo.output_hm_shape
    pose = params.pose53()
    if "R" in cam:  # dataset extrinsics: rotate the root orientation into the camera frame
        root_mat, _ = cv2.Rodrigues(pose[0].astype(np.float64).reshape(3, 1))
        root_aa, _ = cv2.Rodrigues(np.asarray(cam["R"], np.float64) @ root_mat)
        pose[0] = root_aa.reshape(3)
        params = SmplxParams(**{**params.__dict__, "root_pose": pose[0].copy()})
    joint_cam, mesh = _smplx_joints(body_model, params)
    if "R" in cam and "t" in cam:
        root = joint_cam[js.ROOT_IDX].copy()
        shift = root @ np.asarray(cam["R"], np.float32).T + np.asarray(cam["t"], np.float32) - root
        joint_cam = joint_cam + shift
        mesh = None if mesh is None else mesh + shift
    if "focal" in cam and "princpt" in cam:
        f, c = np.asarray(cam["focal"], np.float32), np.asarray(cam["princpt"], np.float32)
        source = np.concatenate([joint_cam[:, :2] / joint_cam[:, 2:3] * f + c, joint_cam[:, 2:3]], axis=1)
    elif joint_img is None:
        raise ValueError("process_human_model_output needs camera intrinsics (cam['focal'], "
                         "cam['princpt']) or the dataset's joint image (joint_img)")
    else:
        source = np.asarray(joint_img, np.float32)
    source_ok = _source_ok(source)

    rel = joint_cam - joint_cam[js.ROOT_IDX]
    ra = part_rooted(rel)
    joint_img = np.zeros((js.NUM_JOINTS, 3), dtype=np.float32)
    joint_img[:, :2] = source[:, :2]
    joint_img[_BODY, 2] = depth_to_heatmap(rel[_BODY, 2], geo.body_3d_size, hm[0])
    joint_img[_LH, 2] = depth_to_heatmap(ra[_LH, 2], geo.hand_3d_size, hm[0])
    joint_img[_RH, 2] = depth_to_heatmap(ra[_RH, 2], geo.hand_3d_size, hm[0])
    joint_img[_FACE, 2] = depth_to_heatmap(ra[_FACE, 2], geo.face_3d_size, hm[0])

    joint_valid = np.ones(js.NUM_JOINTS, dtype=np.float32)
    rot_valid = np.ones(js.NUM_ROT_JOINTS, dtype=np.float32)
    for ok, part, rot_part in ((params.lhand_valid, _LH, "lhand"), (params.rhand_valid, _RH, "rhand"),
                               (params.face_valid, _FACE, "face")):
        if not ok:
            joint_valid[part] = 0.0
            rot_valid[slice(*js.ROT_JOINT_PARTS[rot_part])] = 0.0

    if do_flip:
        joint_img = flip_points_x(joint_img, img_w)
        ra[:, 0] *= -1.0
        joint_img, ra, joint_valid = (swap_pairs(a, js.FLIP_PAIRS) for a in (joint_img, ra, joint_valid))
        pose = flip_axis_angle_pose(pose, js.ROT_FLIP_PAIRS)
        rot_valid = swap_pairs(rot_valid, js.ROT_FLIP_PAIRS)
    ra = ra @ rotation_z(rot_deg).T
    pose[0] = rotate_root_pose(pose[0], rot_deg)
    joint_img[:, :2] = crop_to_heatmap(apply_affine(joint_img[:, :2], img2bb_trans),
                                       geo.input_img_shape, hm)
    trunc = joint_valid * source_ok * _in_heatmap(joint_img, hm)

    shape = zero_wild_betas(params.shape)
    # Parts without annotation are zero in the target (their validity is 0 anyway).
    for ok, rot_part in ((rot_valid[22], "lhand"), (rot_valid[37], "rhand"), (rot_valid[52], "face")):
        if not ok:
            pose[slice(*js.ROT_JOINT_PARTS[rot_part])] = 0.0
    expr = np.asarray(params.expr, np.float32) if params.face_valid else np.zeros(10, np.float32)
    return dict(joint_img=joint_img, joint_cam=ra.astype(np.float32),
                joint_trunc=trunc.reshape(-1, 1).astype(np.float32),
                joint_valid=joint_valid.reshape(-1, 1), pose=pose.reshape(-1).astype(np.float32),
                shape=shape, expr=expr.astype(np.float32),
                pose_valid=np.repeat(rot_valid, 3).astype(np.float32),
                shape_valid=np.float32(np.any(shape != 0)), expr_valid=np.float32(params.face_valid),
                mesh=mesh)


def zero_wild_betas(shape: np.ndarray) -> np.ndarray:
    """(10,) float32 copy of ``shape``, all zeros when any |beta| > `BETA_LIMIT` (a failed fit, SPEC §4.2;
    training targets and the test pseudo-GT alike)."""
    shape = np.asarray(shape, np.float32).copy()
    if np.abs(shape).max(initial=0.0) > BETA_LIMIT:
        shape[:] = 0.0
    return shape


def process_part_boxes(boxes_xyxy: dict[str, np.ndarray], valid: dict[str, bool], trans: np.ndarray,
                       do_flip: bool, img_w: float, geo: GeometryConfig = GeometryConfig()
                       ) -> tuple[dict[str, np.ndarray], dict[str, np.float32]]:
    """Hand/face box targets (SPEC §4.2).

    Args:
        boxes_xyxy / valid: per part ``lhand``, ``rhand``, ``face``: (4,) image pixels / bool.
    Returns:
        targets ``{part}_bbox_center`` / ``{part}_bbox_size`` (2,) heatmap units, and
        ``{part}_bbox_valid`` float32 scalars. After a flip the left and right boxes are exchanged;
        an invalid box gets the dummy target centre (0.5, 0.5), size (1, 1).
    """
    targets, valids = {}, {}
    for part in ("lhand", "rhand", "face"):
        ok = bool(valid[part])
        if ok:
            center, size = box_to_heatmap_target(boxes_xyxy[part], trans, do_flip, img_w,
                                                 geo.input_img_shape, geo.output_hm_shape)
        else:
            center = (DUMMY_BOX_XYXY[:2] + DUMMY_BOX_XYXY[2:]) / 2.0
            size = DUMMY_BOX_XYXY[2:] - DUMMY_BOX_XYXY[:2]
        targets[f"{part}_bbox_center"], targets[f"{part}_bbox_size"] = center, size
        valids[f"{part}_bbox_valid"] = np.float32(ok)
    if do_flip:
        for suffix in ("_bbox_center", "_bbox_size"):
            targets["lhand" + suffix], targets["rhand" + suffix] = (targets["rhand" + suffix],
                                                                  targets["lhand" + suffix])
        valids["lhand_bbox_valid"], valids["rhand_bbox_valid"] = (valids["rhand_bbox_valid"],
                                                                  valids["lhand_bbox_valid"])
    return targets, valids
