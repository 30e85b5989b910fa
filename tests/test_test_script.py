"""main/test.py end to end on the synthetic EHF set: CLI output, result files, GT = 0 mm, bad input."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common.evaluation.metrics import WHOLE_BODY_METRICS

REPO = Path(__file__).resolve().parents[1]
TINY = ['feat_dim=64', 'encoder.depth=2', 'encoder.num_heads=2']


def _load_script():
    spec = importlib.util.spec_from_file_location('smplerx_main_test', REPO / 'main' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def script():
    return _load_script()


@pytest.fixture
def quiet_logging(monkeypatch):
    """run() configures the root logger for a real process; keep pytest's handlers instead."""
    from common.utils import logs
    monkeypatch.setattr(logs, 'setup_logging', lambda *args, **kwargs: None)


@pytest.fixture
def model_factory(monkeypatch):
    """``model_factory(wrap)``: main/test.py's ``build_model`` (looked up in common.model when run() starts)
    returns ``wrap(real_model, cfg)``; the rest of the path (checkpoint load, loader, evaluator) is the real one."""
    import common.model

    real_build = common.model.build_model

    def install(wrap):
        monkeypatch.setattr(common.model, 'build_model',
                            lambda cfg, *a, **k: wrap(real_build(cfg, *a, **k), cfg))

    return install


@pytest.fixture(scope='module')
def tiny_ckpt(tiny_cfg_factory, tmp_path_factory):
    """A randomly initialised tiny S-architecture checkpoint (our save format)."""
    from common.checkpoint import save_checkpoint
    from common.model import build_model
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_s.pth.tar'
    save_checkpoint(path, build_model(tiny_cfg_factory(), 'train'))
    return path


def _argv(ckpt, human_model_path, data_dir, out, *extra, cfg_extra=()):
    return ['--testset', 'EHF', '--ckpt', str(ckpt), '--config', 'config_smpler_x_s32', '--batch_size', '3',
            '--num_workers', '0', *extra, '--cfg-options', *TINY, f'human_model_path={human_model_path}',
            f'data_dir={data_dir}', f'output_root={out}', *cfg_extra]


def _result(out: Path) -> dict:
    (path,) = out.glob('test_EHF_*/result/result.json')
    return json.loads(path.read_text())


def _cli(argv, launcher=(), timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1' if launcher else '2')
    return subprocess.run([sys.executable, *launcher, 'main/test.py', *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def single_process_run(tiny_ckpt, human_model_path, synthetic_data_dir, tmp_path_factory):
    """``python main/test.py --testset EHF --ckpt tiny --cfg-options ...`` once: (process, output_root)."""
    out = tmp_path_factory.mktemp('single') / 'out'
    return _cli(_argv(tiny_ckpt, human_model_path, synthetic_data_dir, out)), out


def test_cli_end_to_end_random_checkpoint(single_process_run, tiny_ckpt):
    proc, out = single_process_run
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == '======EHF======'
    mm_lines = [ln for ln in lines if ln.endswith(' mm')]
    assert len(mm_lines) == 14
    assert mm_lines[0].startswith('PA MPVPE (All): ') and mm_lines[13].startswith('PA MPJPE (Hands): ')
    assert len(lines[-1].split(',')) == 10
    record = _result(out)
    assert record['testset'] == 'EHF' and record['num_samples'] == 4 and record['rank_counts'] == [4]
    assert record['checkpoint'] == str(tiny_ckpt) and record['config'].endswith('config_smpler_x_s32.py')
    metrics = record['metrics']['EHF']
    assert list(metrics) == list(WHOLE_BODY_METRICS)
    assert all(np.isfinite(v) and v > 0 for v in metrics.values())
    # The printed numbers are the JSON numbers.
    assert mm_lines[5] == f'MPVPE (All): {metrics["mpvpe_all"]:.2f} mm'
    txt = next(out.glob('test_EHF_*/result/result.txt')).read_text()
    assert txt.splitlines() == lines[:len(txt.splitlines())]


def test_torchrun_two_ranks_matches_single_process(single_process_run, tiny_ckpt, human_model_path,
                                                   synthetic_data_dir, tmp_path):
    out = tmp_path / 'out'
    launcher = ('-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2')
    proc = _cli(_argv(tiny_ckpt, human_model_path, synthetic_data_dir, out, '--device', 'cpu'), launcher)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.count('======EHF======') == 1                     # only rank 0 reports
    record, single = _result(out), _result(single_process_run[1])
    assert record['world_size'] == 2 and record['rank_counts'] == [2, 2] and record['num_samples'] == 4
    for name, value in single['metrics']['EHF'].items():
        assert record['metrics']['EHF'][name] == pytest.approx(value, rel=1e-5, abs=1e-4), name


def _with_gt_mesh(model, cfg):
    """The real tiny model whose test output mesh is replaced by the GT: sidecar params -> body model."""
    from common.utils.human_models import get_smplx

    body = get_smplx(cfg.human_model_path)
    forward = model.forward

    def gt_forward(inputs, targets, meta_info, mode='test'):
        out = forward(inputs, targets, meta_info, mode)
        files = [Path(p).with_name(Path(p).name.replace('_img.jpg', '_params.npz')) for p in meta_info['img_path']]
        params = [np.load(f) for f in files]
        keys = ('global_orient', 'body_pose', 'left_hand_pose', 'right_hand_pose', 'jaw_pose', 'leye_pose',
                'reye_pose', 'betas', 'expression', 'transl')
        batch = {k: torch.as_tensor(np.stack([p[k].reshape(-1) for p in params]), dtype=torch.float32) for k in keys}
        out['smplx_mesh_cam'] = body(**batch).vertices
        return out

    model.forward = gt_forward
    return model


def test_ground_truth_through_the_same_path_scores_zero(script, quiet_logging, model_factory, tiny_ckpt,
                                                        human_model_path, synthetic_data_dir, tmp_path, capsys):
    out = tmp_path / 'out'
    args = script.parse_args(_argv(tiny_ckpt, human_model_path, synthetic_data_dir, out, '--vis'))
    model_factory(_with_gt_mesh)
    results = script.run(args)
    assert set(results['EHF']) == set(WHOLE_BODY_METRICS)
    for name, value in results['EHF'].items():
        assert value == pytest.approx(0.0, abs=1e-2), name          # < 0.01 mm (PLY text precision)
    printed = capsys.readouterr().out
    assert printed.count(': 0.00 mm') == 14
    run_dir = next(out.glob('test_EHF_*'))
    assert sorted(p.name for p in (run_dir / 'vis' / 'smplx').glob('*.npz')) == [f'{i:06d}.npz' for i in range(4)]
    with np.load(run_dir / 'vis' / 'smplx' / '000002.npz') as npz:
        assert npz['body_pose'].shape == (21, 3) and npz['transl'].shape == (1, 3) and npz['focal'].shape == (2,)
        assert str(npz['img_path']).endswith('03_img.jpg') and int(npz['sample_idx']) == 2
    rows = (run_dir / 'vis' / 'errors.csv').read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith('sample_idx,img_path,pa_mpvpe_all')
    assert rows[1].split(',')[1].endswith('01_img.jpg')


@pytest.mark.parametrize('argv,message', [
    (['--ckpt', 'a.pth.tar', '--pretrained_model', 'smpler_x_s32'], 'exactly one of'),
    ([], 'exactly one of'),
    (['--ckpt', 'a.pth.tar', '--config', 'config_smpler_x_s32', '--ckpt_idx', '3'], '--ckpt_idx only applies'),
    (['--result_path', 'run', '--config', 'config_smpler_x_s32'], '--config conflicts'),
    (['--pretrained_model', 'smpler_x_s32', '--batch_size', '0'], '--batch_size must be'),
    (['--ckpt', 'my_weights.pth.tar'], 'add --config'),
])
def test_conflicting_flags_are_rejected_early(script, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        script.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_zoo_name_implies_config(script):
    args = script.parse_args(['--ckpt', 'somewhere/smpler_x_b32.pth.tar'])
    assert Path(args.config).name == 'config_smpler_x_b32.py'


def _copy_ehf(src: Path, dst: Path) -> Path:
    shutil.copytree(src / 'EHF', dst / 'EHF')
    return dst


def test_bad_inputs_give_clear_messages(script, quiet_logging, tiny_ckpt, human_model_path, synthetic_data_dir,
                                        tmp_path, capsys):
    def fails(data_dir, *cfg_extra, ckpt=tiny_ckpt):
        argv = _argv(ckpt, human_model_path, data_dir, tmp_path / 'out', cfg_extra=cfg_extra)
        with pytest.raises(SystemExit) as exc:
            script.main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith('test.py: error: '), err
        return err

    missing_dir = tmp_path / 'no_such_dataset'
    assert str(missing_dir / 'EHF' / 'data' / 'EHF.json') in fails(missing_dir)

    no_annot = _copy_ehf(synthetic_data_dir, tmp_path / 'no_annot')
    (no_annot / 'EHF' / 'data' / 'EHF.json').unlink()
    assert 'EHF annotation file not found' in fails(no_annot)

    empty = _copy_ehf(synthetic_data_dir, tmp_path / 'empty')
    annot = empty / 'EHF' / 'data' / 'EHF.json'
    annot.write_text(json.dumps({**json.loads(annot.read_text()), 'annotations': []}))
    assert 'has no samples' in fails(empty)

    err = fails(synthetic_data_dir, 'feat_dim=32')                  # checkpoint trained with feat_dim 64
    assert 'does not match the model' in err and 'encoder' in err

    assert 'nope.pth.tar' in fails(synthetic_data_dir, ckpt=tmp_path / 'nope.pth.tar')
    assert not list((tmp_path / 'out').glob('test_EHF_*')), 'no run folder for a run that could not start'


def _with_shifted_pseudo_gt(model, cfg):
    """The real tiny model, its prediction replaced by the GT params' mesh (built here, by hand, from the
    neutral body model), shifted by 1 m: every metric aligns translation, so a correctly wired HumanData
    path (the evaluator building the pseudo-GT mesh) scores 0 mm."""
    from common.utils.human_models import get_smplx

    body = get_smplx(cfg.human_model_path)
    forward = model.forward

    def shifted_pseudo_gt(inputs, targets, meta_info, mode='test'):
        out = forward(inputs, targets, meta_info, mode)
        assert 'smplx_mesh_cam_pseudo_gt' not in out
        p = targets['smplx_pose']
        mesh = body(global_orient=p[:, :3], body_pose=p[:, 3:66], left_hand_pose=p[:, 66:111],
                    right_hand_pose=p[:, 111:156], jaw_pose=p[:, 156:159], betas=targets['smplx_shape'],
                    expression=targets['smplx_expr']).vertices + targets['smplx_cam_trans'][:, None]
        out['smplx_mesh_cam'] = mesh + torch.tensor([1.0, -0.5, 2.0])
        return out

    model.forward = shifted_pseudo_gt
    return model


def test_humandata_test_set_uses_pseudo_gt(script, quiet_logging, model_factory, tiny_ckpt, human_model_path,
                                           synthetic_data_dir, tmp_path, capsys):
    data_dir = tmp_path / 'data'
    (data_dir / 'preprocessed_datasets').mkdir(parents=True)
    (data_dir / 'Synthetic').symlink_to(synthetic_data_dir / 'Synthetic', target_is_directory=True)
    shutil.copy(synthetic_data_dir / 'preprocessed_datasets' / 'synthetic_train.npz',
                data_dir / 'preprocessed_datasets' / 'synthetic_test.npz')
    argv = _argv(tiny_ckpt, human_model_path, data_dir, tmp_path / 'out')
    argv[1] = 'Synthetic'
    model_factory(_with_shifted_pseudo_gt)
    results = script.run(script.parse_args(argv))
    assert all(v == pytest.approx(0.0, abs=1e-3) for v in results['Synthetic'].values()), results
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '======Synthetic======' and lines[1].endswith('vis')      # the original's layout
    assert len([ln for ln in lines if ln.endswith(' mm')]) == 14
    assert lines[-1] == ','.join(['0.00'] * 14)


def test_result_path_reuses_the_run_config(script, quiet_logging, single_process_run, tiny_ckpt, tmp_path,
                                           monkeypatch):
    """--result_path NAME: the run NAME under the output_root given by --cfg-options (not a fixed ROOT/output),
    its code/config.py (tiny sizes, synthetic paths) + model_dump/snapshot_N."""
    out = tmp_path / 'out'
    run_dir = out / 'trained_20240101_000000'
    shutil.copytree(next(single_process_run[1].glob('test_EHF_*')), run_dir)
    (run_dir / 'model_dump' / 'snapshot_1.pth.tar').write_bytes(tiny_ckpt.read_bytes())
    monkeypatch.chdir(tmp_path)  # NAME is no path relative to the working directory
    args = script.parse_args(['--testset', 'EHF', '--result_path', run_dir.name, '--ckpt_idx', '1',
                              '--num_workers', '0', '--cfg-options', f'output_root={out}'])
    results = script.run(args)
    record = _result(out)
    assert record['config'] == str(run_dir / 'code' / 'config.py')
    assert record['checkpoint'] == str(run_dir / 'model_dump' / 'snapshot_1.pth.tar')
    for name, value in _result(single_process_run[1])['metrics']['EHF'].items():
        assert results['EHF'][name] == pytest.approx(value, rel=1e-5, abs=1e-4), name


@pytest.mark.parametrize('device, message', [
    ('tpu', r"argument --device: unknown device 'tpu'; use 'auto'"),
    ('cuda', r'--device cuda: CUDA is not available on this machine'),
])
def test_unusable_device_is_one_line_and_exit_2(script, device, message, tiny_ckpt, human_model_path,
                                                synthetic_data_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)  # the same on a GPU machine
    argv = _argv(tiny_ckpt, human_model_path, synthetic_data_dir, tmp_path / 'out', '--device', device)
    with pytest.raises(SystemExit) as exc:
        script.main(argv)
    assert exc.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('test.py: error: ') and re.search(message, lines[0]), lines
    assert not (tmp_path / 'out').exists()
