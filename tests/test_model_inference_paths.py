"""Inference fast paths: gather-based point sampling, `Model.prepare_for_inference` weight caches and
`compile_for_inference`."""
import os

import pytest
import torch
import torch.nn.functional as F

from common.model import build_model
from common.nets.layers import sample_joint_features, sample_points_gather


def _grid_sample_points(feat, xy):
    """Reference: F.grid_sample (bilinear, zeros, align_corners=True) at cell coordinates."""
    B, C, H, W = feat.shape
    grid = (xy * xy.new_tensor([2.0 / (W - 1), 2.0 / (H - 1)]) - 1.0)[:, :, None, :]
    out = F.grid_sample(feat, grid, mode='bilinear', padding_mode='zeros', align_corners=True)
    return out[..., 0].transpose(1, 2)


@pytest.mark.parametrize('channels_last', [False, True])
def test_gather_sampling_equals_grid_sample(channels_last):
    gen = torch.Generator().manual_seed(0)
    feat = torch.randn(3, 5, 7, 9, generator=gen, dtype=torch.float64)
    if channels_last:
        feat = feat.contiguous(memory_format=torch.channels_last)
    inside = torch.rand(3, 6, 2, generator=gen, dtype=torch.float64) * torch.tensor([8.0, 6.0]).double()
    edges = torch.tensor([[0.0, 0.0], [8.0, 6.0], [-0.5, 3.0], [8.7, 2.2], [4.0, -0.99], [-3.0, 50.0],
                          [2.0, 3.0], [7.5, 5.5]], dtype=torch.float64).expand(3, -1, -1)
    xy = torch.cat((inside, edges), dim=1).requires_grad_(True)
    feat.requires_grad_(True)
    ours = sample_points_gather(feat, xy)
    ref = _grid_sample_points(feat, xy)
    assert ours.shape == (3, 14, 5) and ours.dtype == torch.float32
    torch.testing.assert_close(ours.double(), ref, rtol=1e-5, atol=1e-6)
    assert ours[:, 11].abs().max() == 0  # far outside -> zeros
    # gradients w.r.t. the features (the box-size loss path) and the coordinates
    w = torch.randn(3, 14, 5, generator=gen, dtype=torch.float64)
    g_ours = torch.autograd.grad((ours.double() * w).sum(), (feat, xy))
    g_ref = torch.autograd.grad((ref * w).sum(), (feat, xy))
    torch.testing.assert_close(g_ours[0], g_ref[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_ours[1][:, :6], g_ref[1][:, :6], rtol=1e-4, atol=1e-5)


def test_gather_sampling_nan_is_zero_and_dtype_follows():
    feat = torch.randn(1, 4, 6, 6)
    xy = torch.tensor([[[float('nan'), 2.0], [2.5, 1.5]]])
    out = sample_joint_features(feat.bfloat16(), xy, fast=True)
    assert out.dtype == torch.bfloat16  # no autocast: the features' dtype, like grid_sample
    assert out[0, 0].abs().max() == 0
    torch.testing.assert_close(out[0, 1].float(), _grid_sample_points(feat, xy)[0, 1], rtol=2e-2, atol=2e-2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert sample_joint_features(feat.bfloat16(), xy, fast=True).dtype == torch.float32


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    m = build_model(tiny_cfg, 'train').eval()
    for mod in m.modules():  # non-trivial BN statistics so BN folding matters
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    return m


def _set_fast_sample(model, on):
    for m in model.modules():
        if hasattr(m, 'fast_sample'):
            m.fast_sample = on


def test_fast_sampling_in_model_matches_grid_sample(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg, 'test').eval()  # PyTorch default init: outputs depend on the samples
    img = torch.rand(2, 3, 512, 384, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        _set_fast_sample(model, False)
        ref = model({'img': img}, {}, {}, 'test')
        _set_fast_sample(model, True)
        out = model({'img': img}, {}, {}, 'test')
    for k in ('lhand_bbox', 'rhand_bbox', 'face_bbox', 'smplx_lhand_pose', 'smplx_rhand_pose',
              'smplx_mesh_cam'):
        torch.testing.assert_close(out[k], ref[k], rtol=1e-4, atol=1e-4, msg=k)


def _bf16_forward(model, img):
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16):
        return model({'img': img}, {}, {}, 'test')


def test_prepare_for_inference_is_exact_and_invisible(model):
    img = torch.rand(2, 3, 512, 384, generator=torch.Generator().manual_seed(2))
    keys = {k: (v.shape, v.dtype) for k, v in model.state_dict().items()}
    ref = _bf16_forward(model, img)
    assert model.prepare_for_inference(torch.bfloat16) is model and not model.training
    for _ in range(2):  # cache built, then reused
        out = _bf16_forward(model, img)
        for k, v in ref.items():
            assert torch.equal(out[k], v), k  # the cached copies are exactly autocast's casts
    assert model.encoder.blocks[0].mlp.fc1._inference_cache  # the cache is really used
    assert {k: (v.shape, v.dtype) for k, v in model.state_dict().items()} == keys
    # fp32 (no autocast) ignores the cache
    with torch.no_grad():
        fp32 = model({'img': img}, {}, {}, 'test')
    assert fp32['smplx_mesh_cam'].dtype == torch.float32
    assert (fp32['smplx_mesh_cam'] - ref['smplx_mesh_cam']).abs().max() > 0


def test_prepared_cache_follows_weight_changes(model, tiny_cfg):
    img = torch.rand(1, 3, 512, 384, generator=torch.Generator().manual_seed(3))
    model.prepare_for_inference(torch.bfloat16)
    _bf16_forward(model, img)  # fill the cache
    torch.manual_seed(5)
    other = build_model(tiny_cfg, 'train').eval()
    model.load_state_dict(other.state_dict())
    expected = _bf16_forward(other, img)
    got = _bf16_forward(model, img)
    for k in ('smplx_mesh_cam', 'lhand_bbox', 'face_bbox', 'joint_img'):
        assert torch.equal(got[k], expected[k]), k
    # in-place edit of a deconv-folded BN statistic is seen too
    with torch.no_grad():
        model.box_net.deconv[1].running_var.mul_(2.0)
        other.box_net.deconv[1].running_var.mul_(2.0)
    assert torch.equal(_bf16_forward(model, img)['lhand_bbox'], _bf16_forward(other, img)['lhand_bbox'])


def test_prepared_model_still_trains(model):
    model.prepare_for_inference(torch.bfloat16)
    _bf16_forward(model, torch.rand(1, 3, 512, 384))
    model.train()
    lin = model.encoder.blocks[0].mlp.fc1
    x = torch.randn(2, 5, lin.in_features)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        y = lin(x)
    y.float().sum().backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0
    model.prepare_for_inference(None)
    assert not lin.__dict__.get('_inference_cache')


def _cxx_compiler():
    import shutil
    return shutil.which(os.environ.get('CXX', 'g++')) or shutil.which('c++')


@pytest.mark.skipif(not _cxx_compiler(), reason='torch.compile on the CPU needs a C++ compiler (apt install g++)')
def test_compile_for_inference_matches_eager_on_cpu(model, monkeypatch, tmp_path):
    """inference.py --compile: inductor with freezing (BN folded into the deconvolutions, weights
    pre-packed) gives the eager outputs, for a symbolic batch size too (one graph for every batch,
    as inference's partial batches need); the compiled module wraps the same network."""
    import torch._dynamo
    import torch._inductor.config as inductor_config
    from common.model import compile_for_inference
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))
    monkeypatch.setattr(inductor_config, 'freezing', False)  # restored after the test
    gen = torch.Generator().manual_seed(4)
    imgs = [torch.rand(b, 3, 512, 384, generator=gen) for b in (2, 3)]
    torch._dynamo.mark_dynamic(imgs[0], 0)  # compile for any batch size at once
    compiled = compile_for_inference(model, torch.device('cpu'))
    assert inductor_config.freezing and compiled._orig_mod is model
    try:
        with torch.inference_mode():
            for img in imgs:
                ref = model({'img': img}, {}, {}, 'test')
                out = compiled({'img': img}, {}, {}, 'test')
                assert out.keys() == ref.keys()
                for k, v in ref.items():
                    scale = v.abs().max().item() + 1.0
                    torch.testing.assert_close(out[k], v, rtol=0, atol=1e-4 * scale, msg=k)
    finally:
        torch._dynamo.reset()
    # freezing is a CPU choice: other devices keep inductor's default
    monkeypatch.setattr(inductor_config, 'freezing', False)
    compile_for_inference(model, torch.device('cuda'))  # lazy: nothing runs, no GPU needed
    assert not inductor_config.freezing
