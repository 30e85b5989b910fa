"""Named index tables for the SMPL-X joint sets used by SMPLer-X (SPEC §6.2-§6.4).

Three sets:
- the 144 joints the ``smplx`` layer returns with ``use_face_contour=True``
  (55 skeleton joints, 5 face keypoints, 6 feet, 10 finger tips, 51 static + 17 contour landmarks);
- the 137-joint *supervision* set (25 body, 20 left hand, 20 right hand, 72 face), selected from the 144;
- the 53-joint *rotation* set (22 body incl. pelvis, 15 left hand, 15 right hand, jaw).

Everything here is a plain constant (tuples of ints / strings); modules that need tensors register
them as buffers.
"""
from __future__ import annotations

__all__ = [
    "SMPLX_SKELETON_NAMES", "SMPLX_PARENTS", "NUM_SMPLX_JOINTS",
    "JOINT_NAMES", "SMPLX_TO_JOINT_SET", "NUM_JOINTS", "JOINT_PARTS", "FLIP_PAIRS",
    "ROOT_IDX", "LWRIST_IDX", "RWRIST_IDX", "NECK_IDX",
    "POS_JOINT_NUM", "POS_JOINT_IDX", "HAND_JOINT_NUM", "HAND_MCP_IDX",
    "ROT_JOINT_NAMES", "NUM_ROT_JOINTS", "ROT_JOINT_PARTS", "ROT_FLIP_PAIRS",
    "FACE_KEYPOINT_IDX", "FEET_IDX", "FINGERTIP_IDX",
]

# --- SMPL-X skeleton (55 joints) and kinematic tree -------------------------------------------------
_FINGERS = ("Index", "Middle", "Pinky", "Ring", "Thumb")  # SMPL-X order within a hand
SMPLX_SKELETON_NAMES: tuple[str, ...] = (
    "Pelvis", "L_Hip", "R_Hip", "Spine_1", "L_Knee", "R_Knee", "Spine_2", "L_Ankle", "R_Ankle",
    "Spine_3", "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder",
    "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "Jaw", "L_Eye", "R_Eye",
) + tuple(f"L_{f}_{k}" for f in _FINGERS for k in (1, 2, 3)) + tuple(
    f"R_{f}_{k}" for f in _FINGERS for k in (1, 2, 3))
NUM_SMPLX_JOINTS = 55


def _hand_parents(wrist: int, first: int) -> tuple[int, ...]:
    parents = []
    for finger in range(5):
        base = first + 3 * finger
        parents += [wrist, base, base + 1]
    return tuple(parents)


SMPLX_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
) + _hand_parents(20, 25) + _hand_parents(21, 40)
assert len(SMPLX_SKELETON_NAMES) == len(SMPLX_PARENTS) == NUM_SMPLX_JOINTS

# Extra joints appended by smplx after the skeleton (indices into the 144-joint output).
FACE_KEYPOINT_IDX = {"Nose": 55, "R_Eye": 56, "L_Eye": 57, "R_Ear": 58, "L_Ear": 59}
FEET_IDX = {"L_Big_toe": 60, "L_Small_toe": 61, "L_Heel": 62,
            "R_Big_toe": 63, "R_Small_toe": 64, "R_Heel": 65}
FINGERTIP_IDX = {"L_Thumb_4": 66, "L_Index_4": 67, "L_Middle_4": 68, "L_Ring_4": 69, "L_Pinky_4": 70,
                 "R_Thumb_4": 71, "R_Index_4": 72, "R_Middle_4": 73, "R_Ring_4": 74, "R_Pinky_4": 75}

# --- 137-joint supervision set -----------------------------------------------------------------------
_BODY_NAMES = (
    "Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck", "L_Shoulder",
    "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Big_toe", "L_Small_toe", "L_Heel",
    "R_Big_toe", "R_Small_toe", "R_Heel", "L_Ear", "R_Ear", "L_Eye", "R_Eye", "Nose",
)
_BODY_SRC = (0, 1, 2, 4, 5, 7, 8, 12, 16, 17, 18, 19, 20, 21, 60, 61, 62, 63, 64, 65, 59, 58, 57, 56, 55)
_HAND_ORDER = ("Thumb", "Index", "Middle", "Ring", "Pinky")
_LHAND_SRC = (37, 38, 39, 66, 25, 26, 27, 67, 28, 29, 30, 68, 34, 35, 36, 69, 31, 32, 33, 70)
_RHAND_SRC = (52, 53, 54, 71, 40, 41, 42, 72, 43, 44, 45, 73, 49, 50, 51, 74, 46, 47, 48, 75)
# Face_1..Face_72: jaw (skeleton 22), head (15), the two eyeball keypoints (57 = L_Eye, 56 = R_Eye face
# keypoints, as the model's table has them; the original HumanData loader swapped this pair, SPEC §6.4 —
# we use this one table everywhere), then the 51 static and 17 contour landmarks (76..143).
_FACE_SRC = (22, 15, 57, 56) + tuple(range(76, 144))

JOINT_NAMES: tuple[str, ...] = (
    _BODY_NAMES
    + tuple(f"L_{f}_{k}" for f in _HAND_ORDER for k in (1, 2, 3, 4))
    + tuple(f"R_{f}_{k}" for f in _HAND_ORDER for k in (1, 2, 3, 4))
    + tuple(f"Face_{k}" for k in range(1, 73))
)
SMPLX_TO_JOINT_SET: tuple[int, ...] = _BODY_SRC + _LHAND_SRC + _RHAND_SRC + _FACE_SRC
NUM_JOINTS = 137
assert len(JOINT_NAMES) == len(SMPLX_TO_JOINT_SET) == NUM_JOINTS

# Half-open [start, stop) ranges of each part in the 137 set.
JOINT_PARTS = {"body": (0, 25), "lhand": (25, 45), "rhand": (45, 65), "hand": (25, 65), "face": (65, 137)}
ROOT_IDX = 0    # Pelvis
LWRIST_IDX = 12
RWRIST_IDX = 13
NECK_IDX = 7

# Position-net set: the first 65 joints of the 137 set (25 body + 20 left + 20 right hand).
POS_JOINT_NUM = 65
POS_JOINT_IDX: tuple[int, ...] = tuple(range(POS_JOINT_NUM))
HAND_JOINT_NUM = 20
HAND_MCP_IDX = (4, 8, 12, 16)  # Index_1, Middle_1, Ring_1, Pinky_1 within a 20-joint hand

_BODY_FLIP = ((1, 2), (3, 4), (5, 6), (8, 9), (10, 11), (12, 13), (14, 17), (15, 18), (16, 19),
              (20, 21), (22, 23))
_HAND_FLIP = tuple((25 + k, 45 + k) for k in range(20))
_FACE_FLIP = (
    (67, 68),  # eyeballs
    (69, 78), (70, 77), (71, 76), (72, 75), (73, 74),  # eyebrows
    (83, 87), (84, 86),  # below nose
    (88, 97), (89, 96), (90, 95), (91, 94), (92, 99), (93, 98),  # eyes
    (100, 106), (101, 105), (102, 104), (107, 111), (108, 110),  # mouth
    (112, 116), (113, 115), (117, 119),  # lips
    (120, 136), (121, 135), (122, 134), (123, 133), (124, 132), (125, 131), (126, 130), (127, 129),
)
FLIP_PAIRS: tuple[tuple[int, int], ...] = _BODY_FLIP + _HAND_FLIP + _FACE_FLIP

# --- 53-joint rotation set ---------------------------------------------------------------------------
_ROT_HAND = tuple(f"{f}_{k}" for f in _FINGERS for k in (1, 2, 3))
ROT_JOINT_NAMES: tuple[str, ...] = (
    SMPLX_SKELETON_NAMES[:22] + tuple(f"L_{n}" for n in _ROT_HAND) + tuple(f"R_{n}" for n in _ROT_HAND)
    + ("Jaw",)
)
NUM_ROT_JOINTS = 53
ROT_JOINT_PARTS = {"body": (0, 22), "lhand": (22, 37), "rhand": (37, 52), "face": (52, 53)}
ROT_FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
) + tuple((22 + k, 37 + k) for k in range(15))
assert len(ROT_JOINT_NAMES) == NUM_ROT_JOINTS
