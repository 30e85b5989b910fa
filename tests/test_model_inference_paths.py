"""The inference transform (`optimize_for_inference`: BN-folded deconvolutions, gather-based point sampling,
1x1-convolution linears, pre-cast weights) against the plain model, and `compile_for_inference`."""
import os

import pytest
import torch
import torch.nn.functional as F

from common.model import Model, build_model, optimize_for_inference
from common.nets.inference_transform import (ConvGemmLinear, FoldedDeconvStack, GatherJointSampler,
                                             sample_points_gather)
from common.nets.layers import make_deconv_layers


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
    sample = GatherJointSampler()
    out = sample(feat.bfloat16(), xy)
    assert out.dtype == torch.bfloat16  # no autocast: the features' dtype, like grid_sample
    assert out[0, 0].abs().max() == 0
    torch.testing.assert_close(out[0, 1].float(), _grid_sample_points(feat, xy)[0, 1], rtol=2e-2, atol=2e-2)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert sample(feat.bfloat16(), xy).dtype == torch.float32


@pytest.fixture
def model(tiny_cfg):
    torch.manual_seed(0)
    m = build_model(tiny_cfg, 'train').eval()
    for mod in m.modules():  # non-trivial BN statistics so BN folding matters
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 2.0)
    return m


def _forward(model, img, dtype=None):
    with torch.inference_mode(), torch.autocast('cpu', dtype=dtype or torch.float32, enabled=dtype is not None):
        return model({'img': img}, {}, {}, 'test')


def _assert_close_all(out, ref, rel, what):
    """Every output key agrees within `rel` of that key's magnitude."""
    assert out.keys() == ref.keys()
    for k, v in ref.items():
        assert out[k].shape == v.shape and out[k].dtype == v.dtype, k
        scale = v.abs().max().item() + 1e-3
        err = (out[k] - v).abs().max().item()
        assert err <= rel * scale, f'{what}: {k} differs by {err:.3g} (scale {scale:.3g})'


def test_optimized_model_matches_plain_fp32_and_bf16(model):
    """optimize_for_inference: same test-mode outputs (every key) as the plain model, fp32 within 1e-4 and
    bf16 within bf16 rounding; the plain model and its state_dict are untouched.

    fp32 runs a batch of 2 (batch indexing in the gather sampling and the folded stacks); bf16 runs the first
    image alone: the bf16 copy is the same modules with pre-cast weights, and a bf16 ConvTranspose2d costs
    seconds per image on CPUs without native bf16 (aten::slow_conv_transpose2d)."""
    img = torch.rand(2, 3, 512, 384, generator=torch.Generator().manual_seed(2))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    ref32, ref16 = _forward(model, img), _forward(model, img[:1], torch.bfloat16)
    fast32 = optimize_for_inference(model, 'cpu')
    fast16 = optimize_for_inference(model, torch.device('cpu'), torch.bfloat16)
    assert isinstance(fast32, Model) and not fast32.training
    # the swaps really happened: folded deconvolutions (no BatchNorm), gather sampling, 1x1-conv linears
    for fast in (fast32, fast16):
        assert isinstance(fast.box_net.deconv, FoldedDeconvStack) and isinstance(fast.hand_roi_net.deconv,
                                                                                 FoldedDeconvStack)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.box_net.deconv.modules())
        assert isinstance(fast.box_net.sample, GatherJointSampler)
        assert isinstance(fast.hand_regressor.sample, GatherJointSampler)
        assert isinstance(fast.encoder.blocks[0].mlp.fc1, ConvGemmLinear)
    assert fast32.encoder.blocks[0].attn.qkv.weight is model.encoder.blocks[0].attn.qkv.weight  # shared
    assert fast16.encoder.blocks[0].attn.qkv.weight.dtype == torch.bfloat16  # pre-cast
    assert fast16.box_net.deconv[0].weight.dtype == torch.bfloat16
    assert fast32.body_position_net is model.body_position_net  # untouched modules are shared, not copied
    _assert_close_all(_forward(fast32, img), ref32, 1e-4, 'fp32')
    out16 = _forward(fast16, img[:1], torch.bfloat16)
    _assert_close_all(out16, ref16, 5e-2, 'bf16')
    _assert_close_all(out16, {k: v[:1] for k, v in ref32.items()}, 5e-2, 'bf16 vs fp32')
    # the plain model is what it was: same modules, same state_dict, same outputs
    assert type(model.box_net.deconv) is torch.nn.Sequential and isinstance(model.box_net.deconv[1], torch.nn.BatchNorm2d)
    assert type(model.encoder.blocks[0].mlp.fc1) is torch.nn.Linear
    assert list(model.state_dict()) == list(state)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    again = _forward(model, img)
    assert all(torch.equal(again[k], v) for k, v in ref32.items())


def test_optimized_model_is_for_inference_only(model, tiny_cfg):
    fast = optimize_for_inference(model, 'cpu', torch.bfloat16)
    with pytest.raises(RuntimeError, match='optimize_for_inference'):
        fast.train()
    assert not model.training and not model.box_net.training  # refused before touching shared modules
    fast.eval()  # eval is fine
    with pytest.raises(RuntimeError, match='Missing key|Unexpected key'):
        fast.load_state_dict(model.state_dict())  # the folded stacks have no BatchNorm entries
    with pytest.raises(ValueError, match='already transformed'):
        optimize_for_inference(fast, 'cpu')
    with pytest.raises(ValueError, match='model.eval'):
        optimize_for_inference(build_model(tiny_cfg, 'train'), 'cpu')
    with pytest.raises(ValueError, match='move it first'):
        optimize_for_inference(model, 'cuda')
    # the plain model still trains as before: batch-statistics BatchNorm, gradients into its own weights
    model.train()
    bn = model.box_net.deconv[1]
    mean = bn.running_mean.clone()
    feat, hm = torch.randn(2, tiny_cfg.feat_dim, 16, 12), torch.rand(2, 25, 16, 16, 12)
    sum(o.float().sum() for o in model.box_net(feat, hm)).backward()
    assert not torch.equal(bn.running_mean, mean) and model.box_net.deconv[0].weight.grad is not None


@pytest.mark.parametrize('fast_bf16', [False, True])
def test_deconv_layout_follows_the_cpus_bf16_kernels(model, monkeypatch, caplog, fast_bf16):
    """bf16 on a CPU without oneDNN bf16 kernels: contiguous deconvolutions (torch's reference kernel is several
    times slower on channels_last) and one warning; with the kernels, or in fp32, channels_last and no warning."""
    from common.utils import precision as precision_rules
    monkeypatch.setattr(precision_rules, 'cpu_has_fast_bf16', lambda: fast_bf16)
    with caplog.at_level('WARNING'):
        bf16 = optimize_for_inference(model, 'cpu', torch.bfloat16)
    assert bf16.box_net.deconv.channels_last is fast_bf16 and bf16.hand_roi_net.deconv.channels_last is fast_bf16
    assert bf16.box_net.deconv[0].weight.is_contiguous(memory_format=torch.channels_last) is fast_bf16
    assert ('emulated' in caplog.text) is not fast_bf16
    assert optimize_for_inference(model, 'cpu').box_net.deconv.channels_last


def test_deconv_folding_and_conv_gemm_units():
    """The swapped modules alone: folded stack == Sequential(ConvT, BN, ReLU, ...) in eval; ConvGemmLinear
    == F.linear."""
    torch.manual_seed(0)
    stack = make_deconv_layers([24, 16, 8])
    for m in stack:
        if isinstance(m, torch.nn.BatchNorm2d):  # non-trivial running statistics and affine
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    stack.eval()
    x = torch.randn(2, 24, 6, 5)
    with torch.no_grad():
        fused, plain = FoldedDeconvStack.from_stack(stack)(x), stack(x)
    assert fused.shape == (2, 8, 24, 20) and fused.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-5)
    # the contiguous variant (bf16 on CPUs without oneDNN bf16 kernels): same values, no layout change
    flat = FoldedDeconvStack.from_stack(stack, torch.bfloat16, channels_last=False)
    assert not flat.channels_last and flat[0].weight.is_contiguous() and flat[0].weight.dtype == torch.bfloat16
    with torch.no_grad(), torch.autocast('cpu', torch.bfloat16):
        out = flat(x.bfloat16())
    assert out.is_contiguous() and not out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out.float(), plain, rtol=5e-2, atol=5e-2)
    lin = torch.nn.Linear(12, 20)
    x = torch.randn(3, 7, 12)
    with torch.no_grad():
        torch.testing.assert_close(ConvGemmLinear.from_linear(lin)(x), lin(x), rtol=1e-5, atol=1e-5)


def _cxx_compiler():
    import shutil
    return shutil.which(os.environ.get('CXX', 'g++')) or shutil.which('c++')


@pytest.mark.skipif(not _cxx_compiler(), reason='torch.compile on the CPU needs a C++ compiler (apt install g++)')
def test_compile_for_inference_matches_eager_on_cpu(model, monkeypatch, tmp_path):
    """inference.py --compile: inductor with freezing (weights pre-packed) on the optimize_for_inference copy
    (as the Estimator does for a compiled model) gives the plain eager outputs, for a symbolic batch size too
    (one graph for every batch, as inference's partial batches need)."""
    import torch._dynamo
    import torch._inductor.config as inductor_config
    from common.model import compile_for_inference
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))
    monkeypatch.setattr(inductor_config, 'freezing', False)  # restored after the test
    gen = torch.Generator().manual_seed(4)
    imgs = [torch.rand(b, 3, 512, 384, generator=gen) for b in (2, 3)]
    torch._dynamo.mark_dynamic(imgs[0], 0)  # compile for any batch size at once
    plain_compiled = compile_for_inference(model, torch.device('cpu'))
    assert inductor_config.freezing and plain_compiled._orig_mod is model
    compiled = optimize_for_inference(plain_compiled, 'cpu')  # unwrapped, transformed, compiled again
    assert isinstance(compiled._orig_mod.box_net.deconv, FoldedDeconvStack)
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
