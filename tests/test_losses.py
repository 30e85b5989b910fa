"""`compute_losses` on batches built by hand (SPEC §3.2): the one hand gate, which box terms exist, the
face alignment gate and the optional smplx_orient term. Expected values are worked out in the comments."""
import pytest
import torch

from common.nets.losses import LossWeights, compute_losses

J = 137
KW = dict(body_px_to_hm=(12 / 192, 16 / 256), hand_hm_shape=(16, 16, 16), body_hm_depth=16)
LBOX = [48.0, 64.0, 112.0, 128.0]  # xyxy body-input px -> body heatmap x0 = 3, y0 = 4, w = h = 4 (x 16/4 = 4)
RBOX = [96.0, 64.0, 160.0, 128.0]  # -> x0 = 6, y0 = 4, w = h = 4


def batch(lhand_valid=0.0, rhand_valid=1.0, face_valid=0.0):
    """One sample; every target and prediction zero except the joints and boxes set below."""
    z = torch.zeros
    parts = ('lhand', 'rhand', 'face')
    pred = dict(pose=z(1, 159), shape=z(1, 10), expr=z(1, 10), joint_cam_wo_ra=z(1, J, 3),
                joint_cam_ra=z(1, J, 3), joint_proj=z(1, J, 2), joint_img=z(1, 65, 3),
                lhand_bbox=torch.tensor([LBOX]), rhand_bbox=torch.tensor([RBOX]),
                **{f'{p}_bbox_{q}': z(1, 2, requires_grad=True) for p in parts for q in ('center', 'size')})
    joint_img, trunc = z(1, J, 3), z(1, J, 1)
    for j, xyz in ((25, (4.0, 5.0, 8.0)), (26, (3.5, 6.0, 4.0)), (27, (10.0, 10.0, 8.0)),  # left hand
                   (45, (7.0, 5.0, 8.0)),  # right hand
                   (70, (6.0, 8.0, 0.0))):  # face
        joint_img[0, j] = torch.tensor(xyz)
        trunc[0, j] = 1.0
    for j, xy in ((25, (3.25, 4.25)), (26, (3.5, 4.5)), (45, (6.5, 4.5)), (70, (5.0, 7.0))):
        pred['joint_proj'][0, j] = torch.tensor(xy)
    targets = dict(joint_img=joint_img, smplx_joint_img=joint_img.clone(), joint_cam=z(1, J, 3),
                   smplx_joint_cam=z(1, J, 3), smplx_pose=z(1, 159), smplx_shape=z(1, 10), smplx_expr=z(1, 10),
                   **{f'{p}_bbox_{q}': z(1, 2) for p in parts for q in ('center', 'size')})
    targets['rhand_bbox_center'] = torch.tensor([[1.0, 2.0]])
    targets['rhand_bbox_size'] = torch.tensor([[3.0, 4.0]])
    ones = torch.ones
    meta = dict(joint_valid=ones(1, J, 1), joint_trunc=trunc, smplx_joint_valid=ones(1, J, 1),
                smplx_joint_trunc=trunc.clone(), smplx_pose_valid=ones(1, 159), smplx_shape_valid=ones(1),
                smplx_expr_valid=ones(1), is_3D=ones(1), lhand_bbox_valid=torch.tensor([lhand_valid]),
                rhand_bbox_valid=torch.tensor([rhand_valid]), face_bbox_valid=torch.tensor([face_valid]))
    return pred, targets, meta


def test_no_valid_left_box_still_reexpresses_the_left_hand_in_its_predicted_box():
    pred, targets, meta = batch(lhand_valid=0.0, rhand_valid=1.0)
    losses = compute_losses(pred, targets, meta, LossWeights(), **KW)
    # joint 25 (4, 5, 8) -> ((4-3)*4, (5-4)*4, 8*16/16) = (4, 4, 8); joint 26 (3.5, 6, 4) -> (2, 8, 4);
    # joint 27 (10, 10) -> x' = 28, outside the 16 x 16 box frame: truncated. Predictions are 0, is_3D = 1.
    for key in ('joint_img', 'smplx_joint_img'):
        torch.testing.assert_close(losses[key][0, 25], torch.tensor([4.0, 4.0, 8.0]))
        torch.testing.assert_close(losses[key][0, 26], torch.tensor([2.0, 8.0, 4.0]))
        assert losses[key][0, 27].abs().sum() == 0
        # right hand joint 45 (7, 5, 8) in its own box: ((7-6)*4, (5-4)*4, 8) = (4, 4, 8)
        torch.testing.assert_close(losses[key][0, 45], torch.tensor([4.0, 4.0, 8.0]))
    # projections: joint 25 (3.25, 4.25) -> (1, 1), joint 26 (3.5, 4.5) -> (2, 2); left-hand mean offset over
    # the valid joints 25, 26: ((4-1 + 2-2)/2, (4-1 + 8-2)/2) = (1.5, 4.5) -> (2.5, 5.5) vs (4, 4) and
    # (3.5, 6.5) vs (2, 8): |error| 1.5 everywhere. Right hand: one valid joint, aligned exactly.
    jp = losses['joint_proj'][0]
    torch.testing.assert_close(jp[25], torch.tensor([1.5, 1.5]))
    torch.testing.assert_close(jp[26], torch.tensor([1.5, 1.5]))
    assert jp[45].abs().max() < 1e-6
    # no valid face box: the face is not aligned, joint 70 keeps |(5, 7) - (6, 8)| = (1, 1)
    torch.testing.assert_close(jp[70], torch.tensor([1.0, 1.0]))


def test_without_any_valid_hand_box_neither_hand_is_reexpressed():
    pred, targets, meta = batch(lhand_valid=0.0, rhand_valid=0.0)
    losses = compute_losses(pred, targets, meta, LossWeights(), **KW)
    torch.testing.assert_close(losses['joint_img'][0, 25], torch.tensor([4.0, 5.0, 8.0]))  # body-heatmap units
    torch.testing.assert_close(losses['joint_img'][0, 27], torch.tensor([10.0, 10.0, 8.0]))  # not truncated
    torch.testing.assert_close(losses['joint_proj'][0, 25], torch.tensor([0.75, 0.75]))  # no alignment either


def test_box_terms_exist_only_for_kinds_with_a_valid_box_and_the_face_gate():
    pred, targets, meta = batch(lhand_valid=0.0, rhand_valid=1.0, face_valid=0.0)
    losses = compute_losses(pred, targets, meta, LossWeights(), **KW)
    assert 'rhand_bbox' in losses and 'lhand_bbox' not in losses and 'face_bbox' not in losses
    torch.testing.assert_close(losses['rhand_bbox'], torch.tensor([[1.0 + 3.0, 2.0 + 4.0]]))  # centre + size L1
    total = sum(v.mean() for v in losses.values())
    total.backward()
    for p in ('lhand', 'face'):  # an absent term contributes neither to the total nor to any gradient
        assert pred[f'{p}_bbox_center'].grad is None and pred[f'{p}_bbox_size'].grad is None
    assert pred['rhand_bbox_center'].grad.abs().sum() > 0
    # a valid face box turns on the face translation alignment: the single valid face joint is aligned away
    pred, targets, meta = batch(face_valid=1.0)
    losses = compute_losses(pred, targets, meta, LossWeights(), **KW)
    assert 'face_bbox' in losses and losses['joint_proj'][0, 70].abs().max() < 1e-6


def test_smplx_orient_term_only_when_its_weight_is_set():
    pred, targets, meta = batch()
    pred['pose'] = torch.zeros(1, 159)
    pred['pose'][0, :4] = torch.tensor([0.5, -1.0, 2.0, 3.0])
    meta['smplx_pose_valid'][0, 1] = 0.0
    assert 'smplx_orient' not in compute_losses(pred, targets, meta, LossWeights(), **KW)
    losses = compute_losses(pred, targets, meta, LossWeights(smplx_orient=2.0), **KW)
    # 2 * |root pose - 0| * validity, the 3 root values only
    torch.testing.assert_close(losses['smplx_orient'], torch.tensor([[1.0, 0.0, 4.0]]))
    # the root stays in smplx_pose too (agora_fix_global_orient_transl=True), weight 10
    torch.testing.assert_close(losses['smplx_pose'][0, :4], torch.tensor([5.0, 0.0, 20.0, 30.0]))


@pytest.mark.parametrize('supervise_root', [True, False])
def test_root_dropped_from_smplx_pose_without_supervise_root_pose(supervise_root):
    pred, targets, meta = batch()
    losses = compute_losses(pred, targets, meta, LossWeights(), supervise_root_pose=supervise_root, **KW)
    assert losses['smplx_pose'].shape == (1, 159 if supervise_root else 156)
