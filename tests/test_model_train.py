"""Train-mode forward: every SPEC §3.2 loss term, finite, and gradients reach every parameter."""
import pytest
import torch

from common.model import build_model
from common.nets.losses import coord_loss, hand_box_frame

LOSS_SHAPES = {
    'smplx_pose': (159,), 'smplx_shape': (10,), 'smplx_expr': (10,), 'joint_cam': (137, 3),
    'smplx_joint_cam': (137, 3), 'lhand_bbox': (2,), 'rhand_bbox': (2,), 'face_bbox': (2,),
    'joint_proj': (137, 2), 'joint_img': (65, 3), 'smplx_joint_img': (65, 3),
}


def make_targets(B, gen, lbox, rbox):
    """Random but valid SPEC §4.2 targets; hand joints placed inside the predicted hand boxes
    (`lbox`, `rbox` (B, 4) xyxy body-input px) so the hand image losses are not all truncated."""
    def r(*shape, scale=1.0):
        return torch.rand(*shape, generator=gen) * scale
    joint_img = torch.cat((r(B, 137, 1, scale=12), r(B, 137, 1, scale=16), r(B, 137, 1, scale=16)), dim=2)
    for box, (s, e) in ((lbox, (25, 45)), (rbox, (45, 65))):
        lo, hi = box[:, None, :2] / 16, box[:, None, 2:] / 16  # body-heatmap units
        u = 0.25 + 0.5 * r(B, e - s, 2)
        joint_img[:, s:e, :2] = lo + u * (hi - lo)
    targets = {
        'joint_img': joint_img, 'smplx_joint_img': joint_img.clone(),
        'joint_cam': r(B, 137, 3) - 0.5, 'smplx_joint_cam': r(B, 137, 3) - 0.5,
        'smplx_pose': r(B, 159) - 0.5, 'smplx_shape': r(B, 10) - 0.5, 'smplx_expr': r(B, 10) - 0.5,
    }
    for part in ('lhand', 'rhand', 'face'):
        targets[f'{part}_bbox_center'] = r(B, 2, scale=10)
        targets[f'{part}_bbox_size'] = r(B, 2, scale=3)
    ones = torch.ones
    meta = {
        'joint_valid': ones(B, 137, 1), 'joint_trunc': ones(B, 137, 1),
        'smplx_joint_valid': ones(B, 137, 1), 'smplx_joint_trunc': ones(B, 137, 1),
        'smplx_pose_valid': ones(B, 159), 'smplx_shape_valid': ones(B), 'smplx_expr_valid': ones(B),
        'is_3D': ones(B), 'lhand_bbox_valid': ones(B), 'rhand_bbox_valid': ones(B), 'face_bbox_valid': ones(B),
    }
    return targets, meta


@pytest.fixture
def train_setup(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg, 'train').train()
    B = 2
    img = torch.rand(B, 3, 512, 384)
    boxes = {}
    hook = model.hand_roi_net.register_forward_hook(
        lambda mod, args, out: boxes.update(l=args[1].detach().clone(), r=args[2].detach().clone()))
    with torch.no_grad():  # a first pass to learn where the predicted hand boxes are
        model({'img': img}, *make_targets(B, torch.Generator().manual_seed(0), torch.zeros(B, 4),
                                          torch.zeros(B, 4)), 'train')
    hook.remove()
    targets, meta = make_targets(B, torch.Generator().manual_seed(1), boxes['l'], boxes['r'])
    return model, img, targets, meta


def test_train_losses_and_gradients(train_setup):
    model, img, targets, meta = train_setup
    snapshot = {k: v.clone() for k, v in {**targets, **meta}.items()}
    losses = model({'img': img}, targets, meta, 'train')
    assert {k: tuple(v.shape[1:]) for k, v in losses.items()} == LOSS_SHAPES
    for k, v in losses.items():
        assert v.shape[0] == 2 and torch.isfinite(v).all(), k
    # the hand image losses are not all masked (targets were placed inside the predicted boxes)
    assert losses['joint_img'][:, 25:65].abs().sum() > 0
    total = sum(v.mean() for v in losses.values())
    total.backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not no_grad, f'parameters without gradient: {no_grad}'
    # task tokens 4-5 (hand tokens) are never read by a head, but they still receive gradients
    # through self-attention (other tokens attend to them), so no row is exempt here.
    assert (model.encoder.task_tokens.grad[0].abs().sum(1) > 0).all()
    for k, v in snapshot.items():
        assert torch.equal(v, {**targets, **meta}[k]), f'{k} was modified in place'


def test_box_terms_are_absent_without_valid_boxes(train_setup):
    model, img, targets, meta = train_setup
    meta = dict(meta, lhand_bbox_valid=torch.zeros(2), rhand_bbox_valid=torch.zeros(2),
                face_bbox_valid=torch.zeros(2))
    with torch.no_grad():
        losses = model({'img': img}, targets, meta, 'train')
    # the original adds a box term only when some sample has a valid box of that kind (SPEC §3.2)
    assert set(LOSS_SHAPES) - set(losses) == {'lhand_bbox', 'rhand_bbox', 'face_bbox'}
    assert all(torch.isfinite(v).all() for v in losses.values())


def test_train_weights_scale_terms(tiny_cfg, train_setup):
    _, img, targets, meta = train_setup
    torch.manual_seed(0)
    m1 = build_model(tiny_cfg, 'train').eval()
    cfg2 = tiny_cfg.copy()
    cfg2.smplx_pose_weight = 2 * tiny_cfg.smplx_pose_weight
    cfg2.smplx_orient_weight = 3.0
    m2 = build_model(cfg2, 'train').eval()
    m2.load_state_dict(m1.state_dict())
    with torch.no_grad():
        l1 = m1({'img': img}, targets, meta, 'train')
        l2 = m2({'img': img}, targets, meta, 'train')
    torch.testing.assert_close(l2['smplx_pose'], 2 * l1['smplx_pose'])
    torch.testing.assert_close(l2['joint_cam'], l1['joint_cam'])
    # smplx_orient_weight adds the root-orientation term: 3 x the unweighted root part of smplx_pose
    assert 'smplx_orient' not in l1
    torch.testing.assert_close(l2['smplx_orient'], l1['smplx_pose'][:, :3] / tiny_cfg.smplx_pose_weight * 3.0)


def test_hand_box_frame_and_coord_loss_by_hand():
    box = torch.tensor([[48.0, 64.0, 96.0, 128.0]])  # px -> heatmap x0 = 3, y0 = 4, w = 3, h = 4
    xy = torch.tensor([[[4.5, 6.0], [3.0, 4.0]]])
    out = hand_box_frame(xy, box, (12 / 192, 16 / 256), (16, 16))
    torch.testing.assert_close(out, torch.tensor([[[8.0, 8.0], [0.0, 0.0]]]))
    loss = coord_loss(torch.ones(2, 1, 3), torch.zeros(2, 1, 3), torch.ones(2, 1, 1), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(loss, torch.tensor([[[1.0, 1.0, 1.0]], [[1.0, 1.0, 0.0]]]))


def test_projection_alignment_per_part():
    """joint_proj: hands are re-expressed in the predicted hand boxes and, like the face, shifted by the
    mean target offset; the body is not shifted. Constructed so that only the body keeps an error."""
    from common.nets.losses import LossWeights, compute_losses
    B, J = 1, 137
    torch.manual_seed(0)
    s = (12 / 192, 16 / 256)  # body-input px -> body-heatmap units
    lbox = torch.tensor([[32.0, 48.0, 80.0, 96.0]])  # xyxy body-input px
    rbox = torch.tensor([[112.0, 64.0, 176.0, 128.0]])
    shift = torch.tensor([1.5, -2.0])
    proj = torch.rand(B, J, 2) * torch.tensor([12.0, 16.0])
    target_xy = proj + shift  # body and face: the projection shifted (body-heatmap units)
    for box, (a, b) in ((lbox, (25, 45)), (rbox, (45, 65))):
        x0y0 = box[:, None, :2] * torch.tensor(s)
        wh = (box[:, None, 2:] - box[:, None, :2]) * torch.tensor(s)
        u = 3 + 9 * torch.rand(B, b - a, 2)  # hand-box frame coordinates, target u + shift stays inside
        proj[:, a:b] = x0y0 + u * wh / 16
        target_xy[:, a:b] = x0y0 + (u + shift) * wh / 16
    joint_img = torch.cat((target_xy, torch.full((B, J, 1), 8.0)), dim=2)

    def zeros(*shape):
        return torch.zeros(*shape)
    boxes = {f'{p}_bbox_{q}': zeros(B, 2) for p in ('lhand', 'rhand', 'face') for q in ('center', 'size')}
    pred = dict(pose=zeros(B, 159), shape=zeros(B, 10), expr=zeros(B, 10), joint_cam_wo_ra=zeros(B, J, 3),
                joint_cam_ra=zeros(B, J, 3), joint_proj=proj, joint_img=zeros(B, 65, 3),
                lhand_bbox=lbox, rhand_bbox=rbox, **boxes)
    targets = dict(joint_img=joint_img, smplx_joint_img=joint_img, joint_cam=zeros(B, J, 3),
                   smplx_joint_cam=zeros(B, J, 3), smplx_pose=zeros(B, 159), smplx_shape=zeros(B, 10),
                   smplx_expr=zeros(B, 10), **boxes)
    ones = torch.ones
    meta = dict(joint_valid=ones(B, J, 1), joint_trunc=ones(B, J, 1), smplx_joint_valid=ones(B, J, 1),
                smplx_joint_trunc=ones(B, J, 1), smplx_pose_valid=ones(B, 159), smplx_shape_valid=ones(B),
                smplx_expr_valid=ones(B), is_3D=ones(B), lhand_bbox_valid=ones(B), rhand_bbox_valid=ones(B),
                face_bbox_valid=ones(B))
    kwargs = dict(body_px_to_hm=s, hand_hm_shape=(16, 16, 16), body_hm_depth=16)
    losses = compute_losses(pred, targets, meta, LossWeights(), **kwargs)
    jp = losses['joint_proj'][0]
    torch.testing.assert_close(jp[:25], shift.abs().expand(25, 2))  # body: not aligned
    assert jp[25:].abs().max() < 1e-4  # hands (in their box frames) and face: aligned away
    # the hand targets stayed inside their boxes (not truncated): the position-net loss sees them
    assert (losses['joint_img'][0, 25:65, :2] > 0).all()
    # one gate for both hands: without any valid right-hand box (a left one valid) both are still
    # re-expressed and aligned; without any valid hand box neither is
    meta_r = dict(meta, rhand_bbox_valid=torch.zeros(B))
    jp_r = compute_losses(pred, targets, meta_r, LossWeights(), **kwargs)['joint_proj'][0]
    assert jp_r[25:65].abs().max() < 1e-4
    meta_none = dict(meta_r, lhand_bbox_valid=torch.zeros(B))
    jp_none = compute_losses(pred, targets, meta_none, LossWeights(), **kwargs)['joint_proj'][0]
    assert jp_none[25:65].abs().min() > 0.01
