"""Checkpoint I/O: original-format round trip, strict mismatch reports, legacy names, safe loading,
atomic saving, safetensors conversion and ViTPose encoder init."""
import errno
import importlib.util
import logging
import os
import stat
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from common.checkpoint import (CheckpointError, CheckpointMismatchError, CheckpointNotFoundError,
                               UnsafeCheckpointError, load_checkpoint, load_vitpose_encoder, normalize_key,
                               save_checkpoint)
from common.utils.files import FileWriteError

ROOT = Path(__file__).resolve().parents[1]


class _Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(c, 3 * c)
        self.norm1 = nn.LayerNorm(c)


class _Encoder(nn.Module):
    def __init__(self, c, depth):
        super().__init__()
        self.task_tokens = nn.Parameter(torch.randn(1, 31, c))
        self.pos_embed = nn.Parameter(torch.randn(1, 193, c))
        self.blocks = nn.ModuleList(_Block(c) for _ in range(depth))
        self.last_norm = nn.LayerNorm(c)


class StandIn(nn.Module):
    """Same kind of key structure as SMPLer-X: encoder.*, heads, BatchNorm buffers, an smplx_layer buffer."""

    def __init__(self, c=8, depth=2, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.encoder = _Encoder(c, depth)
        self.body_regressor = nn.Sequential(nn.Linear(c, 6))
        self.hand_regressor = nn.Sequential(nn.Conv2d(c, 4, 1), nn.BatchNorm2d(4))
        self.box_net = nn.Sequential(nn.ConvTranspose2d(c, 4, 4, bias=False), nn.BatchNorm2d(4))
        self.smplx_layer = nn.Module()
        self.smplx_layer.register_buffer('v_template', torch.randn(5, 3))  # persistent, as in the original
        for m in self.modules():  # make BN buffers non-trivial
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2)
                m.num_batches_tracked.fill_(7 + seed)


class Custom:  # a class the safe unpickler does not know
    def __init__(self):
        self.value = 3


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items() if 'smplx_layer' not in k}


def _write_original(path, model, epoch=3, transform=lambda k: 'module.' + k, drop=None, **extra):
    """Write a checkpoint the way the original train.py does (independent of save_checkpoint)."""
    network = OrderedDict((transform(k), v) for k, v in model.state_dict().items()
                          if 'smplx_layer' not in k and k != drop)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    torch.save({'epoch': epoch, 'network': network, 'optimizer': opt.state_dict(), **extra}, path)
    return path


def _assert_equal(model, reference):
    got = _weights(model)
    assert got.keys() == reference.keys()
    for k, v in reference.items():
        assert got[k].dtype == v.dtype, k
        assert torch.equal(got[k], v), k


def test_original_format_round_trip(tmp_path):
    src = StandIn(seed=0)
    path = _write_original(tmp_path / 'smpler_x_s32.pth.tar', src)
    dst = StandIn(seed=1)
    meta = load_checkpoint(dst, path, strict=True)
    _assert_equal(dst, _weights(src))
    assert meta['epoch'] == 3 and 'optimizer' in meta and 'network' not in meta


@pytest.mark.parametrize('edit, names', [
    ('rename', ['missing (blocks.1.attn.qkv.weight', 'unexpected (blocks.1.attn.qkv_renamed.weight']),
    ('remove', ['encoder: 1 missing (blocks.1.attn.qkv.weight)']),
    ('reshape', ['blocks.1.attn.qkv.weight: checkpoint (24, 9) vs model (24, 8)']),
])
def test_strict_mismatch_names_the_key(tmp_path, edit, names):
    src = StandIn(seed=0)
    key = 'module.encoder.blocks.1.attn.qkv.weight'
    network = OrderedDict(('module.' + k, v) for k, v in _weights(src).items())
    if edit == 'rename':
        network[key.replace('qkv.', 'qkv_renamed.')] = network.pop(key)
    elif edit == 'remove':
        del network[key]
    else:
        network[key] = torch.zeros(24, 9)
    path = tmp_path / 'bad.pth.tar'
    torch.save({'epoch': 1, 'network': network}, path)
    dst = StandIn(seed=1)
    before = _weights(dst)
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(dst, path, strict=True)
    for text in names:
        assert text in str(info.value)
    assert str(path) in str(info.value)
    _assert_equal(dst, before)  # nothing loaded


@pytest.mark.parametrize('checkpoint_depth, edit, hint', [
    (2, 'remove one key', False),          # a damaged file, not another model size
    (2, 'rename one key', False),
    (2, 'reshape one key', True),          # shapes say so
    (4, None, True),                       # a deeper encoder: the block counts say so
    (1, None, True),
])
def test_model_size_hint_only_when_shapes_or_block_counts_differ(tmp_path, checkpoint_depth, edit, hint):
    network = OrderedDict(('module.' + k, v) for k, v in _weights(StandIn(depth=checkpoint_depth)).items())
    key = 'module.encoder.blocks.1.attn.qkv.weight'
    if edit == 'remove one key':
        del network[key]
    elif edit == 'rename one key':
        network[key.replace('qkv.', 'qkv2.')] = network.pop(key)
    elif edit == 'reshape one key':
        network[key] = torch.zeros(24, 9)
    path = tmp_path / 'ckpt.pth.tar'
    torch.save({'network': network}, path)
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(StandIn(depth=2), path)
    assert ('another model size' in str(info.value)) == hint, str(info.value)
    if edit is None:
        assert f'encoder: the checkpoint has {checkpoint_depth} blocks, the model 2' in str(info.value)


def test_non_strict_loads_the_rest_and_warns(tmp_path, caplog):
    src = StandIn(seed=0)
    path = _write_original(tmp_path / 'partial.pth.tar', src, drop='body_regressor.0.bias')
    dst = StandIn(seed=1)
    kept_bias = dst.body_regressor[0].bias.detach().clone()
    with caplog.at_level(logging.WARNING, logger='common.checkpoint'):
        load_checkpoint(dst, path, strict=False)
    assert 'body_regressor: 1 missing (0.bias)' in caplog.text
    assert torch.equal(dst.body_regressor[0].bias, kept_bias)
    assert torch.equal(dst.body_regressor[0].weight, src.body_regressor[0].weight)
    assert torch.equal(dst.encoder.pos_embed, src.encoder.pos_embed)


def test_non_strict_refuses_a_file_of_which_nothing_fits(tmp_path):
    """Fine-tuning loads non-strictly; a file that matches no tensor at all is another network, not a partial fit."""
    path = tmp_path / 'other.pth.tar'
    torch.save({'network': {'roi_head.fc.weight': torch.zeros(3, 3)}}, path)
    dst = StandIn(seed=1)
    before = _weights(dst)
    with pytest.raises(CheckpointMismatchError, match='No tensor of the file fits the model'):
        load_checkpoint(dst, path, strict=False)
    _assert_equal(dst, before)


LEGACY = {'encoder': 'backbone', 'body_regressor': 'body_rotation_net', 'hand_regressor': 'hand_rotation_net'}


@pytest.mark.parametrize('form', ['legacy_prefixed', 'legacy_unprefixed', 'unprefixed', 'bare_state_dict'])
def test_legacy_and_unprefixed_names_load(tmp_path, form):
    src = StandIn(seed=0)

    def legacy(k):
        top, rest = k.split('.', 1)
        return LEGACY.get(top, top) + '.' + rest

    path = tmp_path / f'{form}.pth.tar'
    if form == 'legacy_prefixed':
        _write_original(path, src, transform=lambda k: 'module.' + legacy(k))
    elif form == 'legacy_unprefixed':
        _write_original(path, src, transform=legacy)
    elif form == 'unprefixed':
        _write_original(path, src, transform=lambda k: k)
    else:
        torch.save(_weights(src), path)
    dst = StandIn(seed=1)
    load_checkpoint(dst, path, strict=True)
    _assert_equal(dst, _weights(src))


def test_normalize_key_examples():
    assert normalize_key('module.backbone.blocks.0.attn.qkv.weight') == 'encoder.blocks.0.attn.qkv.weight'
    assert normalize_key('module.body_rotation_net.root_pose_out.0.bias') == 'body_regressor.root_pose_out.0.bias'
    assert normalize_key('hand_rotation_net.hand_conv.1.num_batches_tracked') == \
        'hand_regressor.hand_conv.1.num_batches_tracked'
    assert normalize_key('_orig_mod.module.box_net.deconv.0.weight') == 'box_net.deconv.0.weight'
    assert normalize_key('module.smplx_layer.shapedirs') is None
    # only the top-level module is renamed
    assert normalize_key('module.encoder.backbone_like.x') == 'encoder.backbone_like.x'


def test_smplx_layer_keys_in_file_are_ignored(tmp_path):
    src = StandIn(seed=0)
    path = tmp_path / 'with_smplx.pth.tar'
    _write_original(path, src, transform=lambda k: 'module.' + k)
    ckpt = torch.load(path, weights_only=True)
    ckpt['network']['module.smplx_layer.shapedirs'] = torch.zeros(3)
    torch.save(ckpt, path)
    dst = StandIn(seed=1)
    load_checkpoint(dst, path, strict=True)
    _assert_equal(dst, _weights(src))


def test_duplicate_names_after_normalisation_are_refused(tmp_path):
    src = StandIn(seed=0)
    sd = {'module.' + k: v for k, v in _weights(src).items()}
    sd['backbone.pos_embed'] = sd['module.encoder.pos_embed']
    torch.save({'network': sd}, tmp_path / 'dup.pth')
    with pytest.raises(CheckpointError, match='both map to'):
        load_checkpoint(StandIn(), tmp_path / 'dup.pth')


def test_save_checkpoint_writes_original_format(tmp_path):
    model = StandIn(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    wrapped = torch.compile(nn.DataParallel(model))  # unwrapped before saving; compile is lazy (no tracing here)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4])
    path = save_checkpoint(tmp_path / 'snapshot_5.pth.tar', wrapped, opt, epoch=5, scheduler=sched.state_dict(),
                           iteration=123, rng={'torch': torch.get_rng_state()}, config='feat_dim = 8\n')
    raw = torch.load(path, map_location='cpu', weights_only=True)
    assert raw['epoch'] == 5 and raw['iteration'] == 123 and raw['config'] == 'feat_dim = 8\n'
    assert set(raw['network']) == {'module.' + k for k in _weights(model)}
    assert not any('smplx_layer' in k for k in raw['network'])
    assert raw['optimizer']['param_groups'][0]['lr'] == 1e-3
    assert raw['scheduler']['milestones'] == {2: 1, 4: 1}
    assert not list(tmp_path.glob('*.tmp'))
    dst = StandIn(seed=1)
    meta = load_checkpoint(dst, path, strict=True)
    _assert_equal(dst, _weights(model))
    assert meta['iteration'] == 123 and torch.equal(meta['rng']['torch'], raw['rng']['torch'])


def test_save_refuses_entries_that_safe_loading_would_refuse(tmp_path):
    with pytest.raises(TypeError, match=r"'rng'\['numpy'\].*numpy.ndarray"):
        save_checkpoint(tmp_path / 's.pth.tar', StandIn(), rng={'numpy': np.zeros(3)})
    assert not list(tmp_path.iterdir())


def test_full_disk_keeps_existing_file_and_says_so(tmp_path, full_disk):
    """torch.save on a full disk raises 'RuntimeError: [enforce fail at inline_container.cc] unexpected pos';
    save_checkpoint reports the real cause, keeps the previous file and removes its temp file."""
    path = tmp_path / 'snapshot_1.pth.tar'
    first = StandIn(seed=0)
    save_checkpoint(path, first, epoch=1)
    full_disk(limit=20_000)
    with pytest.raises(FileWriteError) as info:  # the failing write is the 400 kB tensor's (unbuffered)
        save_checkpoint(path, StandIn(seed=1), epoch=2, big=torch.zeros(100_000))
    assert str(info.value).startswith(f'no space left on device while writing {path}')
    assert info.value.errno == errno.ENOSPC and 'enforce fail' not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['snapshot_1.pth.tar']
    dst = StandIn(seed=2)
    assert load_checkpoint(dst, path)['epoch'] == 1
    _assert_equal(dst, _weights(first))


def test_unsafe_pickle_refused_by_default_and_loads_when_allowed(tmp_path):
    src = StandIn(seed=0)
    path = _write_original(tmp_path / 'unsafe.pth.tar', src, extra_object=Custom())
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(StandIn(seed=1), path)
    text = str(info.value)
    assert 'arbitrary code' in text and '--unsafe_load' in text and 'allow_unsafe=True' in text
    assert 'Custom' in text and str(path) in text
    dst = StandIn(seed=1)
    meta = load_checkpoint(dst, path, allow_unsafe=True)
    assert isinstance(meta['extra_object'], Custom)
    _assert_equal(dst, _weights(src))


def test_legacy_non_zip_format_loads(tmp_path):
    src = StandIn(seed=0)
    path = tmp_path / 'old.pth.tar'
    torch.save({'epoch': 0, 'network': {'module.' + k: v for k, v in _weights(src).items()}}, path,
               _use_new_zipfile_serialization=False)
    dst = StandIn(seed=1)
    load_checkpoint(dst, path)
    _assert_equal(dst, _weights(src))


def test_missing_and_corrupt_files_give_clear_errors(tmp_path):
    missing = tmp_path / 'smpler_x_h32.pth.tar'
    with pytest.raises(CheckpointNotFoundError) as info:
        load_checkpoint(StandIn(), missing)
    assert str(missing) in str(info.value) and 'pretrained_models/README.md' in str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    good = _write_original(tmp_path / 'good.pth.tar', StandIn())
    truncated = tmp_path / 'truncated.pth.tar'
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match='corrupt, truncated') as info:
        load_checkpoint(StandIn(), truncated)
    assert str(truncated) in str(info.value)


def _convert(src, dst, *flags):
    from tools.convert_checkpoint import main
    return main([str(src), str(dst), *flags])


@pytest.mark.parametrize('dtype, torch_dtype', [('fp32', torch.float32), ('fp16', torch.float16),
                                                ('bf16', torch.bfloat16)])
def test_safetensors_round_trip_via_converter(tmp_path, dtype, torch_dtype):
    from safetensors import safe_open
    src = StandIn(seed=0)
    legacy = lambda k: 'module.' + ('backbone.' + k[len('encoder.'):] if k.startswith('encoder.') else k)  # noqa
    pth = _write_original(tmp_path / 'smpler_x_s32.pth.tar', src, epoch=9, transform=legacy)
    out = tmp_path / 'smpler_x_s32.safetensors'
    assert _convert(pth, out, '--dtype', dtype) == 0
    with safe_open(str(out), framework='pt') as f:
        keys, meta = set(f.keys()), f.metadata()
        assert f.get_tensor('encoder.pos_embed').dtype == torch_dtype
        assert f.get_tensor('box_net.1.num_batches_tracked').dtype == torch.int64
    assert keys == set(_weights(src)) and meta['epoch'] == '9'
    dst = StandIn(seed=1)
    assert load_checkpoint(dst, out, strict=True)['epoch'] == 9
    expected = {k: (v.to(torch_dtype).float() if v.is_floating_point() else v) for k, v in _weights(src).items()}
    _assert_equal(dst, expected)


def test_converted_safetensors_file_gets_umask_permissions(tmp_path):
    """safetensors writes 0o600 files; ours get 0o666 minus the umask, like any other output."""
    pth = _write_original(tmp_path / 'm.pth.tar', StandIn())
    out = tmp_path / 'm.safetensors'
    old = os.umask(0o002)
    try:
        assert _convert(pth, out) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o664


def test_converter_refuses_unsafe_input_unless_flagged(tmp_path):
    pth = _write_original(tmp_path / 'u.pth.tar', StandIn(), extra_object=Custom())
    out = tmp_path / 'u.safetensors'
    assert _convert(pth, out) == 2 and not out.exists()
    assert _convert(pth, out, '--unsafe_load') == 0 and out.exists()


def test_converter_cli_runs_as_script(tmp_path):
    pth = _write_original(tmp_path / 'm.pth.tar', StandIn())
    out = tmp_path / 'm.safetensors'
    run = subprocess.run([sys.executable, str(ROOT / 'tools' / 'convert_checkpoint.py'), str(pth), str(out),
                          '--dtype', 'fp16'], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    assert out.exists()
    from tools.convert_checkpoint import parse_args
    with pytest.raises(SystemExit) as info:
        parse_args([str(pth), 'x.pt'])
    assert info.value.code == 2


def _vitpose_state_dict(seed=0, c=384, depth=12):
    """ViTPose-S weights with the backbone names/shapes of SPEC §2.2 (`backbone.*`) plus a keypoint head."""
    gen = torch.Generator().manual_seed(seed)
    shapes = {'pos_embed': (1, 193, c), 'patch_embed.proj.weight': (c, 3, 16, 16), 'patch_embed.proj.bias': (c,)}
    for i in range(depth):
        for name, shape in (('norm1.weight', (c,)), ('norm1.bias', (c,)), ('attn.qkv.weight', (3 * c, c)),
                            ('attn.qkv.bias', (3 * c,)), ('attn.proj.weight', (c, c)), ('attn.proj.bias', (c,)),
                            ('norm2.weight', (c,)), ('norm2.bias', (c,)), ('mlp.fc1.weight', (4 * c, c)),
                            ('mlp.fc1.bias', (4 * c,)), ('mlp.fc2.weight', (c, 4 * c)), ('mlp.fc2.bias', (c,))):
            shapes[f'blocks.{i}.{name}'] = shape
    shapes.update({'last_norm.weight': (c,), 'last_norm.bias': (c,)})
    sd = OrderedDict(('backbone.' + k, torch.randn(shape, generator=gen)) for k, shape in shapes.items())
    sd['keypoint_head.deconv_layers.0.weight'] = torch.randn(c, 256, 4, 4, generator=gen)
    sd['keypoint_head.final_layer.weight'] = torch.randn(17, 256, 1, 1, generator=gen)
    return sd


def test_vitpose_init_reports_missing_task_tokens_and_ignored_head(tmp_path):
    from common.nets.vit import ViTEncoder
    sd = _vitpose_state_dict()
    path = tmp_path / 'vitpose_small.pth'
    torch.save({'meta': {'mmcv_version': '1.3.9', 'epoch': 210}, 'state_dict': sd}, path)
    encoder = ViTEncoder(embed_dim=384, depth=12, num_heads=12)
    tokens_before = encoder.task_tokens.detach().clone()
    report = load_vitpose_encoder(encoder, path)
    assert report.missing == ['task_tokens']
    assert report.unexpected == [] and report.mismatched == []
    assert sorted(report.ignored) == ['keypoint_head.deconv_layers.0.weight', 'keypoint_head.final_layer.weight']
    assert len(report.loaded) == 12 * 12 + 5
    state = encoder.state_dict()
    for key, value in sd.items():
        if key.startswith('backbone.'):
            assert torch.equal(state[key[len('backbone.'):]], value), key
    assert torch.equal(encoder.task_tokens, tokens_before)


def test_vitpose_wrong_file_is_refused(tmp_path):
    from common.nets.vit import ViTEncoder
    path = tmp_path / 'vitpose_small.pth'
    torch.save({'state_dict': _vitpose_state_dict()}, path)
    with pytest.raises(CheckpointMismatchError, match='vitpose_small/base/large/huge'):
        load_vitpose_encoder(ViTEncoder(embed_dim=64, depth=2, num_heads=2), path)
    other = tmp_path / 'not_vitpose.pth'
    torch.save({'state_dict': {'roi_head.fc.weight': torch.zeros(3, 3)}}, other)
    with pytest.raises(CheckpointMismatchError):
        load_vitpose_encoder(ViTEncoder(embed_dim=64, depth=2, num_heads=2), other)


@pytest.mark.skipif(importlib.util.find_spec('common.model') is None, reason='common.model not written yet')
def test_real_model_round_trip(tmp_path, request):
    from common.model import build_model
    cfg = request.getfixturevalue('tiny_cfg')
    src = build_model(cfg, mode='train')
    with torch.no_grad():
        for p in src.parameters():
            p.normal_()
    path = save_checkpoint(tmp_path / 'snapshot_0.pth.tar', src, torch.optim.Adam(src.parameters()), epoch=0)
    dst = build_model(cfg, mode='test')
    load_checkpoint(dst, path, strict=True)
    _assert_equal(dst, _weights(src))
    out = tmp_path / 'tiny.safetensors'
    assert _convert(path, out) == 0
    dst2 = build_model(cfg, mode='test')
    load_checkpoint(dst2, out, strict=True)
    _assert_equal(dst2, _weights(src))
