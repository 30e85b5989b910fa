"""COCO-WholeBody annotations (used by MSCOCO and UBody) → 134-joint set → 137-joint set.

The 134-joint set: the 17 COCO body keypoints, 6 foot keypoints, a Pelvis (midpoint of the hips, valid
when both are), 21 left-hand and 21 right-hand keypoints (wrist, then thumb, index, middle, ring, pinky,
4 each from the base to the tip), and the 68 face landmarks (iBUG-68 order). The hand wrists have no
137-set counterpart (the body wrists are used), every other joint maps by name.

A COCO-WholeBody annotation has ``keypoints`` (17×3 flat), ``foot_kpts`` (6×3), ``lefthand_kpts`` and
``righthand_kpts`` (21×3), ``face_kpts`` (68×3), ``bbox``, ``lefthand_box``, ``righthand_box``,
``face_box`` (xywh), ``lefthand_valid``, ``righthand_valid``, ``face_valid`` (bool), ``iscrowd``,
``num_keypoints``, ``image_id``, ``id``.

NeuralAnnot SMPL-X pseudo-GT (one entry per annotation id): ``{'smplx_param': {root_pose (3), body_pose
(63), lhand_pose (45), rhand_pose (45), jaw_pose (3), shape (10), expr (10), trans (3)[, lhand_valid,
rhand_valid, face_valid]}, 'cam_param': {'focal': (2,), 'princpt': (2,)}}`` (camera frame, metres).
"""
import numpy as np

from data.annotated import map_to_joint_set

__all__ = ['WHOLEBODY_JOINT_NAMES', 'wholebody_keypoints', 'wholebody_part_boxes', 'neuralannot_smplx',
           'NUM_WHOLEBODY_JOINTS']

_COCO_BODY = ('Nose', 'L_Eye', 'R_Eye', 'L_Ear', 'R_Ear', 'L_Shoulder', 'R_Shoulder', 'L_Elbow', 'R_Elbow',
              'L_Wrist', 'R_Wrist', 'L_Hip', 'R_Hip', 'L_Knee', 'R_Knee', 'L_Ankle', 'R_Ankle')
_FEET = ('L_Big_toe', 'L_Small_toe', 'L_Heel', 'R_Big_toe', 'R_Small_toe', 'R_Heel')
_FINGERS = ('Thumb', 'Index', 'Middle', 'Ring', 'Pinky')


def _hand(side):
    return (f'{side}_Wrist_Hand',) + tuple(f'{side}_{f}_{k}' for f in _FINGERS for k in (1, 2, 3, 4))


# iBUG-68 landmark k → 137-set face name: 17..67 (brows, nose, eyes, mouth) are Face_5..Face_55,
# 0..16 (the jaw contour) are Face_56..Face_72 (SPEC §6.3 face order).
_FACE68 = tuple(f'Face_{k + 56}' if k < 17 else f'Face_{k - 17 + 5}' for k in range(68))
WHOLEBODY_JOINT_NAMES = _COCO_BODY + _FEET + ('Pelvis',) + _hand('L') + _hand('R') + _FACE68
NUM_WHOLEBODY_JOINTS = len(WHOLEBODY_JOINT_NAMES)
assert NUM_WHOLEBODY_JOINTS == 134
_L_HIP, _R_HIP = _COCO_BODY.index('L_Hip'), _COCO_BODY.index('R_Hip')


def wholebody_keypoints(ann):
    """One COCO-WholeBody annotation → (137, 2) pixels and (137,) validity (visibility flag > 0)."""
    def part(key, count):
        values = ann.get(key)
        if values is None:
            return np.zeros((count, 3), np.float32)
        return np.asarray(values, np.float32).reshape(count, 3)

    body, feet = part('keypoints', 17), part('foot_kpts', 6)
    lhand, rhand, face = part('lefthand_kpts', 21), part('righthand_kpts', 21), part('face_kpts', 68)
    hips_ok = body[_L_HIP, 2] > 0 and body[_R_HIP, 2] > 0
    pelvis = np.concatenate([(body[_L_HIP, :2] + body[_R_HIP, :2]) / 2.0, [1.0 if hips_ok else 0.0]])
    kps = np.concatenate([body, feet, pelvis[None].astype(np.float32), lhand, rhand, face])
    xy, valid = map_to_joint_set(WHOLEBODY_JOINT_NAMES, kps[:, :2], (kps[:, 2] > 0).astype(np.float32))
    return xy, valid


def wholebody_part_boxes(ann):
    """Hand/face boxes (xywh) of an annotation, None where the ``*_valid`` flag is false or missing."""
    out = {}
    for part, key in (('lhand', 'lefthand'), ('rhand', 'righthand'), ('face', 'face')):
        box = ann.get(f'{key}_box')
        out[part] = np.asarray(box, np.float32)[:4] if ann.get(f'{key}_valid') and box is not None else None
    return out


_WIDTHS = {'root_pose': 3, 'body_pose': 63, 'lhand_pose': 45, 'rhand_pose': 45, 'jaw_pose': 3, 'shape': 10,
           'expr': 10, 'trans': 3}
_PART_KEYS = {'lhand_valid': ('lefthand_valid', ('lhand_pose',)), 'rhand_valid': ('righthand_valid', ('rhand_pose',)),
              'face_valid': ('face_valid', ('jaw_pose', 'expr'))}


def neuralannot_smplx(entry, ann=None):
    """NeuralAnnot entry → (smplx sample dict, cam dict or None).

    Missing parameters are zeros; a part (hands, face) is valid when its parameters are present and the
    entry's own flag (``lhand_valid`` ...), else the COCO-WholeBody flag of ``ann`` (``lefthand_valid``
    ...), else True, says so. ``root_pose`` and ``body_pose`` are required.
    """
    p = entry.get('smplx_param', entry)
    missing = [k for k in ('root_pose', 'body_pose') if k not in p]
    if missing:
        raise KeyError(f'NeuralAnnot SMPL-X entry lacks {missing} (keys: {sorted(p)})')
    smplx = {k: (np.asarray(p[k], np.float32).reshape(w) if k in p else np.zeros(w, np.float32))
             for k, w in _WIDTHS.items()}
    for flag, (ann_key, needed) in _PART_KEYS.items():
        given = bool(p[flag]) if flag in p else bool((ann or {}).get(ann_key, True))
        smplx[flag] = given and all(k in p for k in needed)
    cam = entry.get('cam_param')
    cam = None if cam is None else {'focal': np.asarray(cam['focal'], np.float32).reshape(2),
                                    'princpt': np.asarray(cam['princpt'], np.float32).reshape(2)}
    return smplx, cam
