"""Trainer tests on a stub model (SMPLer-X module names, linear regression losses) and CPU data.

The loop must not care what the model is: the stub returns a dict of loss tensors like the real model.
"""
import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from common.engine.optim import (FINE_TUNE_FROZEN, apply_fine_tune, build_optimizer_from_args,
                                 build_scheduler_from_args)
from common.engine.snapshots import TrainState, resume_from, save_snapshot, seed_everything
from common.run_dir import list_snapshots
from common.engine.train_log import TrainLogger
from common.engine.trainer import LoopSettings, check_finite, reduce_losses, train_loop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_DIM, OUT_DIM = 8, 3


class StubModel(nn.Module):
    """Linear regression behind the real top-level module names; dropout exercises the torch RNG."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(IN_DIM, 16), nn.Dropout(0.1))
        self.box_net = nn.Linear(16, 16)
        self.hand_roi_net = nn.Linear(16, 16)
        self.body_position_net = nn.Linear(16, OUT_DIM)
        self.body_regressor = nn.Linear(16, OUT_DIM)
        self.hand_position_net = nn.Linear(16, 2)
        self.hand_regressor = nn.Linear(16, 2)
        self.face_regressor = nn.Linear(16, 1)

    def forward(self, inputs, targets, meta_info, mode):
        assert mode == 'train'
        feat = self.encoder(inputs['x'])
        neck = self.box_net(feat) + self.hand_roi_net(feat)
        pred = self.body_position_net(feat) + self.body_regressor(neck)
        return {'regression': (pred - targets['y']).abs() * meta_info['valid'],
                'hand': 0.01 * (self.hand_position_net(neck) + self.hand_regressor(feat)).pow(2),
                'face': 0.01 * self.face_regressor(feat).pow(2)}


class RegressionSet(Dataset):
    """y = x @ W_true with per-item noise drawn from numpy's global RNG (an 'augmentation')."""

    def __init__(self, n=64):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, IN_DIM, generator=gen)
        self.y = self.x @ torch.randn(IN_DIM, OUT_DIM, generator=gen)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        noise = torch.from_numpy(np.random.normal(0, 0.01, IN_DIM).astype(np.float32))
        return {'x': self.x[i] + noise}, {'y': self.y[i]}, {'valid': torch.ones(OUT_DIM)}


def make_run(lr=1e-2, precision='fp32', end_epoch=2, batch=8, n=64):
    """Fresh seeded model/optimizer/scheduler/scaler/loader, as run_training builds them."""
    seed_everything(2023)
    model = StubModel()
    optimizer = build_optimizer_from_args(model, lr)
    loader = DataLoader(RegressionSet(n), batch_size=batch,
                        sampler=DistributedSampler(RegressionSet(n), num_replicas=1, rank=0, seed=2023),
                        drop_last=True)
    iters = len(loader)
    scheduler = build_scheduler_from_args(optimizer, end_epoch * iters, 'cos', min_lr=1e-4)
    scaler = torch.amp.GradScaler('cpu', enabled=precision == 'fp16')
    settings = LoopSettings(end_epoch=end_epoch, iters_per_epoch=iters, precision=precision, print_iters=4)
    return model, optimizer, scheduler, scaler, loader, settings


def run(parts, state=None, **kw):
    model, optimizer, scheduler, scaler, loader, settings = parts
    return train_loop(model, optimizer, scheduler, loader, settings=settings, state=state or TrainState(),
                      device=torch.device('cpu'), scaler=scaler, set_epoch=loader.sampler.set_epoch, **kw)


def test_reduce_losses_means_each_term_then_sums():
    losses = {'a': torch.tensor([[1., 2.], [3., 4.]]), 'b': torch.tensor([10.]), 'c': torch.zeros(3, 5)}
    assert reduce_losses(losses).item() == pytest.approx(2.5 + 10.0 + 0.0)


def test_check_finite_names_every_term():
    losses = {'joint_cam': torch.tensor([float('nan')]), 'smplx_pose': torch.tensor([0.5])}
    with pytest.raises(FloatingPointError, match=r'joint_cam.*nan.*smplx_pose.*0\.5'):
        check_finite(reduce_losses(losses), losses, TrainState(epoch=3, iteration=7))


def test_loop_stops_on_non_finite_loss():
    parts = make_run()
    parts[0].face_regressor.bias.data.fill_(float('inf'))
    with pytest.raises(FloatingPointError, match='face'):
        run(parts)


@pytest.mark.parametrize('mode', list(FINE_TUNE_FROZEN))
def test_fine_tune_freezes_the_named_modules(mode):
    model = StubModel()
    frozen = apply_fine_tune(model, mode)
    optimizer = build_optimizer_from_args(model, 1e-3, lr_mult=5.0)
    in_optimizer = {id(p) for g in optimizer.param_groups for p in g['params']}
    for name, module in model.named_children():
        expect_frozen = name in FINE_TUNE_FROZEN[mode]
        for p in module.parameters():
            assert p.requires_grad is not expect_frozen, (mode, name)
            assert (id(p) in in_optimizer) is not expect_frozen, (mode, name)
    assert sorted(frozen) == sorted(FINE_TUNE_FROZEN[mode])
    expected = {'backbone': {'encoder'}, 'neck_and_head': set(), 'head': {'body_position_net'}, None: set()}
    assert expected[mode] <= {n for n, m in model.named_children() if next(m.parameters()).requires_grad}


def test_fine_tune_rejects_unknown_mode():
    with pytest.raises(ValueError, match='fine_tune'):
        apply_fine_tune(StubModel(), 'neck')


def test_optimizer_has_two_groups_with_lr_mult():
    model = StubModel()
    optimizer = build_optimizer_from_args(model, 1e-3, lr_mult=10.0, special_modules=('face_regressor',))
    assert [g['lr'] for g in optimizer.param_groups] == [1e-3, pytest.approx(1e-2)]
    assert len(optimizer.param_groups[1]['params']) == 2
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.param_groups[0]['weight_decay'] == 0
    with pytest.raises(ValueError, match=r"\['hand_head'\].*top-level modules"):
        build_optimizer_from_args(model, 1e-3, lr_mult=10.0, special_modules=('hand_head',))


def test_lr_mult_applies_to_lr_mult_modules_and_is_refused_without_them(tiny_cfg):
    from common.config import ConfigError
    from common.engine.optim import build_optimizer
    model = StubModel()
    default = build_optimizer(tiny_cfg, model)  # the original: an empty "special" group
    assert [len(g['params']) for g in default.param_groups] == [16, 0]
    cfg = tiny_cfg.copy()
    cfg.lr_mult = 10.0
    with pytest.raises(ConfigError, match='lr_mult=10.0.*lr_mult_modules.*change nothing'):
        build_optimizer(cfg, model)
    cfg.lr_mult_modules = ('encoder', 'face_regressor')
    optimizer = build_optimizer(cfg, model)
    special = {id(p) for p in optimizer.param_groups[1]['params']}
    expected = {id(p) for m in (model.encoder, model.face_regressor) for p in m.parameters()}
    assert special == expected and optimizer.param_groups[1]['lr'] == pytest.approx(10 * cfg.lr)


def test_cosine_schedule_values():
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = build_scheduler_from_args(opt, total_iters=100, kind='cos', min_lr=1e-5)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-3)
    assert lrs[50] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    assert lrs[25] == pytest.approx(1e-5 + (1e-3 - 1e-5) * (1 + math.cos(math.pi / 4)) / 2)
    assert opt.param_groups[0]['lr'] == pytest.approx(1e-5)


def test_step_schedule_counts_iterations():
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler_from_args(opt, total_iters=100, kind='step', step_size=10, gamma=0.5)
    for _ in range(25):
        opt.step()
        sched.step()
    assert opt.param_groups[0]['lr'] == pytest.approx(0.25)
    with pytest.raises(ValueError, match='step_size'):
        build_scheduler_from_args(opt, 100, kind='step')


def test_total_loss_falls_by_half():
    """Learning: the stub regression's loss over the last epoch is < half of the first iterations'."""
    parts = make_run(lr=1e-2, end_epoch=40)   # 40 epochs x 8 iterations = 320 CPU iterations
    model, optimizer, scheduler, scaler, loader, settings = parts
    losses = []
    orig_forward = model.forward

    def recording_forward(*args):
        out = orig_forward(*args)
        losses.append(reduce_losses(out).item())
        return out
    model.forward = recording_forward
    run(parts)
    first, last = np.mean(losses[:8]), np.mean(losses[-8:])
    assert last < 0.5 * first, (first, last)


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_mixed_precision_runs_and_updates(precision):
    parts = make_run(precision=precision, end_epoch=3)
    before = parts[0].body_position_net.weight.detach().clone()
    state = run(parts)
    assert state.iteration == 24
    assert parts[2].get_last_lr()[0] == pytest.approx(1e-4)
    assert not torch.equal(before, parts[0].body_position_net.weight)
    assert parts[3].is_enabled() is (precision == 'fp16')


def test_grad_clipping_bounds_the_gradient_norm():
    parts = make_run(lr=1e-2)
    parts[5].grad_clip_norm = 1e-3
    run(parts)
    grads = [p.grad for p in parts[0].parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    assert norm <= 1e-3 * (1 + 1e-4)


def test_tensorboard_has_every_loss_term(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    parts = make_run(end_epoch=1)
    reporter = TrainLogger(str(tmp_path), total_iters=8, show_bar=False)
    run(parts, reporter=reporter)
    reporter.close()
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'loss/regression', 'loss/hand', 'loss/face', 'loss/total', 'lr',
            'throughput/samples_per_sec'} <= tags
    assert [e.step for e in acc.Scalars('loss/total')] == [4, 8]
    lr_at_8 = acc.Scalars('lr')[-1].value
    assert lr_at_8 == pytest.approx(parts[1].param_groups[0]['lr'], rel=1e-5)


def _snapshot_saver(model_dir, parts, keep_last=0):
    model, optimizer, scheduler, scaler = parts[:4]
    return lambda st: save_snapshot(str(model_dir), model, optimizer, scheduler, scaler, st, 'cfg',
                                    keep_last=keep_last)


def _newest_first(model_dir):
    return [p for _, p in list_snapshots(model_dir)]


def test_resume_is_bitwise_and_ignores_a_wrong_config_lr(tmp_path):
    """Uninterrupted 2 epochs == 1 epoch, 'kill', rebuild with a wrong lr, resume 1 epoch."""
    full = make_run(end_epoch=2)
    run(full)

    first = make_run(end_epoch=2)
    first[5].end_epoch = 1                                   # stop after epoch 0 (a killed run)
    run(first, save=_snapshot_saver(tmp_path, first))
    assert [e for e, _ in list_snapshots(str(tmp_path))] == [0]
    np.random.normal(size=100), torch.rand(100)              # the new process's RNG is elsewhere

    resumed = make_run(lr=0.5, end_epoch=2)                  # wrong lr in the "config"
    state, path = resume_from(_newest_first(tmp_path), *resumed[:4])
    assert path.name == 'snapshot_0.pth.tar'
    assert (state.epoch, state.iteration) == (1, 8)
    assert resumed[2].last_epoch == 8 and resumed[2].base_lrs == [1e-2, 1e-2]
    assert resumed[1].param_groups[0]['lr'] == first[1].param_groups[0]['lr']
    run(resumed, state=state)
    for (name, a), b in zip(full[0].state_dict().items(), resumed[0].state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed[1].param_groups[0]['lr'] == full[1].param_groups[0]['lr']
    assert resumed[2].state_dict() == full[2].state_dict()


def test_keep_last_k_snapshots(tmp_path):
    parts = make_run(end_epoch=4)
    run(parts, save=_snapshot_saver(tmp_path, parts, keep_last=2))
    assert [e for e, _ in list_snapshots(str(tmp_path))] == [3, 2]


def test_resume_skips_a_torn_snapshot(tmp_path):
    parts = make_run(end_epoch=1)
    run(parts, save=_snapshot_saver(tmp_path, parts))
    good = (tmp_path / 'snapshot_0.pth.tar').read_bytes()
    (tmp_path / 'snapshot_1.pth.tar').write_bytes(good[: len(good) // 2])
    state, path = resume_from(_newest_first(tmp_path), *make_run(end_epoch=2)[:4])
    assert path.name == 'snapshot_0.pth.tar' and state.epoch == 1


KILL_DURING_SAVE = textwrap.dedent('''
    import io, os, signal, sys, torch
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
    from test_trainer import make_run, run, _snapshot_saver
    parts = make_run(end_epoch=2)
    real_save = torch.save
    calls = []
    def dying_save(obj, f, *a, **k):
        calls.append(f)
        if len(calls) == 2:                 # the second snapshot: write half a file, then get killed
            buf = io.BytesIO()
            real_save(obj, buf, *a, **k)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, f, *a, **k)
    torch.save = dying_save
    run(parts, save=_snapshot_saver({model_dir!r}, parts))
''')


def test_kill_during_save_keeps_previous_snapshot(tmp_path):
    script = KILL_DURING_SAVE.format(repo=REPO, tests=os.path.join(REPO, 'tests'), model_dir=str(tmp_path))
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [e for e, _ in list_snapshots(str(tmp_path))] == [0]       # the torn write is not a snapshot
    state, path = resume_from(_newest_first(tmp_path), *make_run(end_epoch=2)[:4])
    assert path.name == 'snapshot_0.pth.tar' and (state.epoch, state.iteration) == (1, 8)
