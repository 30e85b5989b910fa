"""Test-mode forward of the tiny model on the synthetic body model (SPEC §1.12-§1.13)."""
import pytest
import torch
import torch.nn.functional as F

from common.model import build_model
from common.nets.box_net import restore_bbox
from common.nets.hand_roi import HandRoI
from common.nets.vit import ViTEncoder

C = 64  # tiny_cfg feat_dim


def expected_shapes(B):
    return {
        'img': (B, 3, 512, 384), 'joint_img': (B, 65, 3), 'smplx_joint_proj': (B, 137, 2),
        'smplx_mesh_cam': (B, 10475, 3), 'smplx_joint_cam': (B, 144, 3), 'smplx_root_pose': (B, 3),
        'smplx_body_pose': (B, 63),
        'smplx_lhand_pose': (B, 45), 'smplx_rhand_pose': (B, 45), 'smplx_jaw_pose': (B, 3),
        'smplx_shape': (B, 10), 'smplx_expr': (B, 10), 'cam_trans': (B, 3),
        'lhand_bbox': (B, 4), 'rhand_bbox': (B, 4), 'face_bbox': (B, 4),
    }


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    return build_model(tiny_cfg, 'train').eval()


@pytest.mark.parametrize('B', [1, 3])
def test_test_mode_outputs(model, B):
    img = torch.rand(B, 3, 512, 384)
    img_copy = img.clone()
    with torch.no_grad():
        out = model({'img': img}, {}, {}, 'test')
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(B)
    for k, v in out.items():
        assert v.dtype == torch.float32 and torch.isfinite(v).all(), k
    assert torch.equal(img, img_copy)
    # mesh = vertices + cam_trans; depth of the virtual camera is k * sigmoid in (0, 56.38) m
    assert ((out['cam_trans'][:, 2] > 0) & (out['cam_trans'][:, 2] < 56.39)).all()
    # boxes are squared (aspect 1) in the 384x512 crop after the x2 rescale
    for part in ('lhand_bbox', 'rhand_bbox', 'face_bbox'):
        box = out[part]
        torch.testing.assert_close(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1], rtol=1e-4, atol=1e-3)


def test_batch_rows_are_independent(model):
    """Eval-mode BN: a sample's outputs do not depend on the other samples of the batch."""
    img = torch.rand(3, 3, 512, 384)
    with torch.no_grad():
        full = model({'img': img}, {}, {}, 'test')
        one = model({'img': img[1:2]}, {}, {}, 'test')
    for k in ('smplx_mesh_cam', 'joint_img', 'smplx_lhand_pose', 'lhand_bbox'):
        torch.testing.assert_close(full[k][1:2], one[k], rtol=1e-4, atol=1e-4)


def test_echoes_and_no_pseudo_gt(model):
    B = 2
    pose = torch.zeros(B, 159)
    targets = {'smplx_pose': pose, 'smplx_shape': torch.zeros(B, 10), 'smplx_expr': torch.zeros(B, 10),
               'smplx_cam_trans': torch.tensor([[0.0, 0.0, 10.0]] * B), 'smplx_mesh_cam': torch.ones(B, 10475, 3)}
    meta = {'bb2img_trans': torch.zeros(B, 2, 3), 'img_path': ['a.jpg', 'b.jpg']}
    with torch.no_grad():
        out = model({'img': torch.rand(B, 3, 512, 384)}, targets, meta, 'test')
    assert 'smplx_mesh_cam_pseudo_gt' not in out  # the evaluator builds it (evaluators.pseudo_gt_mesh)
    assert out['smplx_shape_target'] is targets['smplx_shape'] and out['img_path'] == meta['img_path']
    assert out['smplx_mesh_cam_target'] is targets['smplx_mesh_cam'] and 'smpl_mesh_cam_target' not in out


def test_bf16_autocast_forward_is_finite(model):
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = model({'img': torch.rand(2, 3, 512, 384)}, {}, {}, 'test')
    for k, v in out.items():
        assert torch.isfinite(v.float()).all(), k
    assert out['smplx_mesh_cam'].dtype == torch.float32  # SMPL-X evaluated in fp32


def test_left_hand_unflip(model):
    """If the (already mirrored) left RoI features equal the right ones, the left outputs must be the
    mirror of the right: x -> 15 - x for joints, (x, -y, -z) for every axis-angle."""
    torch.manual_seed(1)
    B = 2

    class SameFeatures(torch.nn.Module):
        def forward(self, img_feat, lbox, rbox):
            f = torch.randn(B, C, 16, 16, generator=torch.Generator().manual_seed(3))
            return torch.cat((f, f), dim=0)

    model.hand_roi_net = SameFeatures()
    with torch.no_grad():
        lj, rj, lp, rp = model.hand_branch(torch.zeros(B, C, 16, 12), torch.zeros(B, 4), torch.zeros(B, 4))
    torch.testing.assert_close(lj[..., 0], 15 - rj[..., 0])
    torch.testing.assert_close(lj[..., 1:], rj[..., 1:])
    torch.testing.assert_close(lp.reshape(B, 15, 3), rp.reshape(B, 15, 3) * torch.tensor([1.0, -1.0, -1.0]))
    assert rp.abs().sum() > 0


def test_hand_roi_mirrors_left_crops():
    """A mirror-symmetric feature map with mirrored boxes gives identical left (flipped) and right crops."""
    torch.manual_seed(0)
    roi = HandRoI(feat_dim=16).eval()
    roi.deconv = torch.nn.Identity()  # feed the 64x48 upsampled map directly (C/4 = 4 channels)
    half = torch.randn(2, 4, 64, 24)
    feat = torch.cat((half, half.flip(3)), dim=3)  # symmetric about the map's vertical axis
    rbox = torch.tensor([[100.0, 40.0, 150.0, 90.0], [120.0, 100.0, 170.0, 180.0]])
    # map x' = x / 4; the mirror of coordinate u on a 48-wide map is 47 - u, i.e. x -> 188 - x pixels
    lbox = torch.stack((188 - rbox[:, 2], rbox[:, 1], 188 - rbox[:, 0], rbox[:, 3]), dim=1)
    with torch.no_grad():
        out = roi(feat, lbox, rbox)
    assert out.shape == (4, 16, 16, 16)
    torch.testing.assert_close(out[:2], out[2:], rtol=1e-5, atol=1e-5)


def test_restore_bbox_squares_and_extends():
    center = torch.tensor([[6.0, 8.0], [3.0, 4.0]])  # body-heatmap units
    size = torch.tensor([[1.0, 2.0], [4.0, 1.0]])
    box = restore_bbox(center, size, aspect_ratio=1.0, extension=2.0)
    # (96, 128) px centre; 16x32 px -> 32x32 -> x2 = 64x64.  (48, 64) px centre; 64x16 -> 64x64 -> 128
    expected = torch.tensor([[64.0, 96.0, 128.0, 160.0], [-16.0, 0.0, 112.0, 128.0]])
    torch.testing.assert_close(box, expected)


def test_vit_matches_explicit_reference():
    """Encoder semantics: padded patch grid, cls slot added to every patch, task tokens prepended
    without positional embedding, pre-norm blocks, LayerNorm eps 1e-6."""
    torch.manual_seed(0)
    enc = ViTEncoder(embed_dim=32, depth=1, num_heads=2, num_task_tokens=31).eval()
    enc.init_weights()
    x = torch.rand(2, 3, 256, 192)
    with torch.no_grad():
        feat, tokens = enc(x)
        p = F.conv2d(F.pad(x, (2, 2, 2, 2)), enc.patch_embed.proj.weight, enc.patch_embed.proj.bias, stride=16)
        assert p.shape == (2, 32, 16, 12)
        t = p.flatten(2).transpose(1, 2) + enc.pos_embed[:, 1:] + enc.pos_embed[:, 0:1]
        t = torch.cat((enc.task_tokens.expand(2, -1, -1), t), dim=1)
        blk = enc.blocks[0]
        h = F.layer_norm(t, (32,), blk.norm1.weight, blk.norm1.bias, eps=1e-6)
        q, k, v = F.linear(h, blk.attn.qkv.weight, blk.attn.qkv.bias).reshape(2, 223, 3, 2, 16).permute(2, 0, 3, 1, 4)
        a = torch.softmax((q * 16 ** -0.5) @ k.transpose(-1, -2), dim=-1) @ v
        t = t + F.linear(a.transpose(1, 2).reshape(2, 223, 32), blk.attn.proj.weight, blk.attn.proj.bias)
        h = F.layer_norm(t, (32,), blk.norm2.weight, blk.norm2.bias, eps=1e-6)
        t = t + F.linear(F.gelu(F.linear(h, blk.mlp.fc1.weight, blk.mlp.fc1.bias)), blk.mlp.fc2.weight, blk.mlp.fc2.bias)
        t = F.layer_norm(t, (32,), enc.last_norm.weight, enc.last_norm.bias, eps=1e-6)
    torch.testing.assert_close(tokens, t[:, :31], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(feat, t[:, 31:].transpose(1, 2).reshape(2, 32, 16, 12), rtol=1e-4, atol=1e-5)


def test_test_mode_joints_do_not_depend_on_the_test_set(tiny_cfg):
    """build_model ignores cfg.testset: 137 projected joints (SPEC §1.13) and all 144 camera-frame joints
    (the AGORA writer projects those itself)."""
    cfg = tiny_cfg.copy()
    cfg.testset = 'AGORA'
    model = build_model(cfg, 'train').eval()
    with torch.no_grad():
        out = model({'img': torch.rand(1, 3, 512, 384)}, {}, {}, 'test')
    assert out['smplx_joint_proj'].shape == (1, 137, 2) and out['smplx_joint_cam'].shape == (1, 144, 3)
