"""main/train.py end to end on the synthetic HumanData set with a tiny encoder (overrides, same code path).

Covers: input validation before any work, a 2-rank torchrun (gloo, CPU) run, kill-and-resume through the
CLI reproducing the uninterrupted run bit for bit, and main/slurm_train.sh with a fake ``srun``.
"""
import importlib.util
import logging
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
TRAIN = REPO / 'main' / 'train.py'
LAUNCH_VARS = ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT', 'SLURM_PROCID', 'SLURM_NTASKS')


@pytest.fixture(autouse=True)
def restore_root_logger():
    """main() configures the root logger (as an entry script should); undo that for the rest of the session."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _load_train_module():
    spec = importlib.util.spec_from_file_location('train_entry', TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_args(data_dir, human_model_path, output_root, *options):
    """CLI arguments of a tiny CPU run on the synthetic set (extra ``key=value`` options appended)."""
    return ['--config', 'config_smpler_x_s32.py', '--device', 'cpu', '--num_workers', '0', '--no_bar',
            '--cfg-options', 'feat_dim=64', 'encoder.depth=2', 'encoder.num_heads=2', 'encoder.drop_path_rate=0.0',
            'random_init=True', 'total_data_len=auto', 'trainset_3d=[]', 'trainset_2d=[]',
            "trainset_humandata=['Synthetic']", f'data_dir={data_dir}', f'human_model_path={human_model_path}',
            f'output_root={output_root}', *options]


def _env():
    env = {k: v for k, v in os.environ.items() if k not in LAUNCH_VARS}
    env.update(OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    return env


def _run(cmd, timeout=300):
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f'{cmd}\nSTDOUT:\n{proc.stdout[-3000:]}\nSTDERR:\n{proc.stderr[-6000:]}'
    return proc


def _only_run_dir(output_root: Path, exp_name: str) -> Path:
    runs = sorted(output_root.glob(f'{exp_name}_*'))
    assert len(runs) == 1, runs
    return runs[0]


def test_help_has_examples_and_every_flag(capsys):
    module = _load_train_module()
    with pytest.raises(SystemExit) as exc:
        module.main(['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in ('torchrun --nproc_per_node', 'slurm_train.sh', '--resume', '--cfg-options', '--precision',
                 '--device', '--num_workers', '--exp_name'):
        assert text in out


@pytest.mark.parametrize('case, options, message', [
    ('unknown dataset', ["trainset_humandata=['Synthetc']"], r"Synthetc.*Did you mean 'Synthetic'"),
    ('missing data dir', ['data_dir=/nonexistent/dataset'], r'data_dir /nonexistent/dataset does not exist'),
    ('missing ViTPose', ['random_init=False', 'encoder_pretrained_model_path=/nope/vitpose_small.pth'],
     r'vitpose_small\.pth.*random_init=True'),
])
def test_bad_inputs_fail_before_any_work(case, options, message, tmp_path, synthetic_data_dir,
                                         human_model_path, capsys, monkeypatch):
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    module = _load_train_module()
    argv = tiny_args(synthetic_data_dir, human_model_path, tmp_path / 'out', *options) + ['--exp_name', 'bad']
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    assert exc.value.code == 2, case
    assert re.search(message, capsys.readouterr().err, re.S), case
    assert not (tmp_path / 'out').exists()                      # nothing was created
    assert not torch.distributed.is_initialized()


@pytest.mark.parametrize('resume, message', [
    ('', r"no run of --exp_name 'nothing'"),
    ('/nonexistent/run', r'--resume /nonexistent/run: no such file'),
])
def test_resume_without_a_snapshot_is_an_input_error(resume, message, tmp_path, synthetic_data_dir,
                                                     human_model_path, capsys):
    module = _load_train_module()
    argv = tiny_args(synthetic_data_dir, human_model_path, tmp_path / 'out') + ['--exp_name', 'nothing',
                                                                              '--resume', resume]
    with pytest.raises(SystemExit) as exc:
        module.main([a for a in argv if a != ''])
    assert exc.value.code == 2
    assert re.search(message, capsys.readouterr().err)


def test_existing_output_dir_needs_resume(tmp_path, synthetic_data_dir, human_model_path, capsys):
    (tmp_path / 'out' / 'taken' / 'model_dump').mkdir(parents=True)
    module = _load_train_module()
    with pytest.raises(SystemExit) as exc:
        module.main(tiny_args(synthetic_data_dir, human_model_path, tmp_path / 'out') + ['--exp_name', 'taken'])
    assert exc.value.code == 2
    assert '--resume' in capsys.readouterr().err


@pytest.mark.parametrize('workers', ['0', '1'])
def test_cli_kill_and_resume_reproduces_uninterrupted_run(tmp_path, synthetic_data_dir, human_model_path, workers):
    """2 epochs straight; then drop the last snapshot (a run killed during epoch 1) and --resume with a wrong
    lr: the rebuilt snapshot equals the uninterrupted one bit for bit (weights, Adam state, lr, counters).
    Augmentation streams are seeded per epoch: from the epoch index in the main process (0 workers) and from
    the restored torch RNG in loader workers. A --resume of the finished run does nothing (checked once, with
    0 workers: the loader is not involved)."""
    out = tmp_path / 'out'
    args = tiny_args(synthetic_data_dir, human_model_path, out, 'train_batch_size=2', 'end_epoch=2',
                     'print_iters=1', 'keep_last_ckpts=2', 'total_data_len=4')  # 2 iterations per epoch
    args[args.index('--num_workers') + 1] = workers
    _run([sys.executable, str(TRAIN), *args, '--exp_name', 'rs'])
    run_dir = _only_run_dir(out, 'rs')
    dump = run_dir / 'model_dump'
    assert sorted(p.name for p in dump.glob('snapshot_*')) == ['snapshot_0.pth.tar', 'snapshot_1.pth.tar']
    reference = torch.load(dump / 'snapshot_1.pth.tar', map_location='cpu', weights_only=True)
    if workers == '0':  # the finished run exits before building a loader: once is enough
        finished = _run([sys.executable, str(TRAIN), *args, '--exp_name', 'rs', '--resume'])  # nothing left to do
        assert 'the run is finished: 2 of 2 epochs done' in finished.stderr and 'epochs 2..1' not in finished.stderr
        assert 'training:' not in finished.stderr and 'Saved checkpoint' not in finished.stderr
        assert torch.load(dump / 'snapshot_1.pth.tar', weights_only=True)['iteration'] == reference['iteration']
    (dump / 'snapshot_1.pth.tar').unlink()

    _run([sys.executable, str(TRAIN), *args, 'lr=0.5', '--exp_name', 'rs', '--resume'])  # newest 'rs' run
    assert _only_run_dir(out, 'rs') == run_dir                 # resumed in place, no new run dir
    resumed = torch.load(dump / 'snapshot_1.pth.tar', map_location='cpu', weights_only=True)
    assert (resumed['epoch'], resumed['iteration']) == (reference['epoch'], reference['iteration'])
    assert resumed['network'].keys() == reference['network'].keys()
    for key, value in reference['network'].items():
        assert torch.equal(value, resumed['network'][key]), key
    assert resumed['scheduler'] == reference['scheduler']
    assert resumed['optimizer']['param_groups'] == reference['optimizer']['param_groups']
    for idx, st in reference['optimizer']['state'].items():
        for name, value in st.items():
            assert torch.equal(value, resumed['optimizer']['state'][idx][name]), (idx, name)
    assert 'lr = 1e-05' in reference['config'] or 'lr=1e-05' in reference['config'].replace(' ', '')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_torchrun_two_ranks_on_cpu(tmp_path, synthetic_data_dir, human_model_path, tiny_cfg_factory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from common.checkpoint import load_checkpoint
    from common.model import build_model

    out = tmp_path / 'out'
    args = tiny_args(synthetic_data_dir, human_model_path, out, 'train_batch_size=2', 'end_epoch=1',
                     'print_iters=1', 'total_data_len=8')  # 8 samples / 2 ranks / batch 2 = 2 iterations
    _run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
          '--master_port', str(_free_port()), str(TRAIN), *args, '--exp_name', 'ddp'])
    run_dir = _only_run_dir(out, 'ddp')
    log = (run_dir / 'log' / 'train.log').read_text()
    found = re.search(r'training: (\d+) samples, (\d+) ranks x batch 2, (\d+) iterations/epoch', log)
    assert found, log[-2000:]
    samples, ranks, iters = map(int, found.groups())
    assert ranks == 2 and iters == -(-samples // 2) // 2            # each rank saw half the data

    snaps = sorted((run_dir / 'model_dump').glob('snapshot_*.pth.tar'))
    assert [p.name for p in snaps] == ['snapshot_0.pth.tar']
    model = build_model(tiny_cfg_factory(human_model_path=str(human_model_path)), 'test')
    meta = load_checkpoint(model, snaps[0], strict=True)
    assert meta['iteration'] == iters
    assert len(meta['rng']) == 2                                    # both ranks joined the gather ...
    assert not torch.equal(meta['rng'][0]['torch'], meta['rng'][1]['torch'])   # ... with their own seeds

    acc = EventAccumulator(str(run_dir / 'log'))
    acc.Reload()
    tags = set(acc.Tags()['scalars'])
    assert {'loss/total', 'loss/smplx_pose', 'loss/joint_cam', 'lr', 'throughput/samples_per_sec'} <= tags
    assert [e.step for e in acc.Scalars('loss/total')] == list(range(1, iters + 1))


FAKE_SRUN = '#!/bin/sh\nprintf "%s\\n" "$@" > "$SRUN_LOG"\n'


def test_slurm_script_without_editing(tmp_path):
    fake_bin = tmp_path / 'bin'
    fake_bin.mkdir()
    (fake_bin / 'srun').write_text(FAKE_SRUN)
    (fake_bin / 'srun').chmod(0o755)
    log = tmp_path / 'srun_args.txt'
    env = dict(_env(), PATH=f'{fake_bin}:{os.environ["PATH"]}', SRUN_LOG=str(log))
    env.pop('PARTITION', None)
    script = str(REPO / 'main' / 'slurm_train.sh')
    subprocess.run(['sh', script, 'job1', '16', 'config_smpler_x_h32.py', '--precision', 'bf16'],
                   env=env, check=True, timeout=30)
    args = log.read_text().splitlines()
    assert not any(a.startswith('--partition') for a in args)
    for expected in ('--job-name=job1', '--ntasks=16', '--ntasks-per-node=8', '--gres=gpu:8'):
        assert expected in args
    tail = args[args.index(str(REPO / 'main' / 'train.py')):]
    assert tail[1:] == ['--config', 'config_smpler_x_h32.py', '--exp_name', 'job1', '--no_bar',
                        '--precision', 'bf16']

    env.update(PARTITION='gpu-a100', GPUS_PER_NODE='4')
    subprocess.run(['sh', script, 'job2', '4', 'config_smpler_x_s32.py'], env=env, check=True, timeout=30)
    args = log.read_text().splitlines()
    assert '--partition=gpu-a100' in args and '--gres=gpu:4' in args
    bad = subprocess.run(['sh', script, 'job3', 'two', 'c.py'], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and 'NUM_GPU' in bad.stderr


@pytest.mark.parametrize('device, message', [
    ('tpu', r"argument --device: unknown device 'tpu'; use 'auto'"),
    ('cuda', r'--device cuda: CUDA is not available on this machine'),
    ('cuda:3', r'--device cuda:3: CUDA is not available on this machine'),
])
def test_unusable_device_is_one_line_and_exit_2(device, message, tmp_path, synthetic_data_dir, human_model_path,
                                                capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # the same on a GPU machine
    module = _load_train_module()
    argv = tiny_args(synthetic_data_dir, human_model_path, tmp_path / 'out') + ['--exp_name', 'dev']
    argv[argv.index('--device') + 1] = device
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    assert exc.value.code == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ' INFO ' not in ln]
    assert len(lines) == 1 and lines[0].startswith('train.py: error: ') and re.search(message, lines[0]), lines
    assert not (tmp_path / 'out').exists()


def test_full_disk_while_saving_a_snapshot(tmp_path, synthetic_data_dir, human_model_path, capsys, full_disk):
    """One line naming the snapshot (not torch's '[enforce fail at inline_container.cc] unexpected pos'), exit 1,
    no temp file left."""
    module = _load_train_module()
    out = tmp_path / 'out'
    argv = tiny_args(synthetic_data_dir, human_model_path, out, 'train_batch_size=4', 'end_epoch=1',
                     'total_data_len=4') + ['--exp_name', 'full']
    full_disk(limit=100_000)  # far less than a snapshot of the tiny model
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    assert exc.value.code == 1
    dump = _only_run_dir(out, 'full') / 'model_dump'
    err = capsys.readouterr().err
    assert f'train.py: error: no space left on device while writing {dump / "snapshot_0.pth.tar"}' in err
    assert 'enforce fail' not in err and 'Traceback' not in err
    assert list(dump.iterdir()) == []
