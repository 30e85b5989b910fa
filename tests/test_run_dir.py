"""common.run_dir: run folders are created in one place, --resume and --result_path are resolved in one place,
and the config is never modified (derived values live in the frozen Run)."""
import dataclasses
from pathlib import Path

import pytest

from common.config import load_config
from common.run_dir import (RUN_SUBDIRS, ResumePlan, RunDirError, config_for_checkpoint, create_run_dir,
                            find_latest_run, find_run_files, list_snapshots, plan_resume, setup_run)

REPO = Path(__file__).resolve().parents[1]


def _snapshots(model_dir: Path, *epochs):
    model_dir.mkdir(parents=True, exist_ok=True)
    for n in epochs:
        (model_dir / f'snapshot_{n}.pth.tar').write_bytes(b'')
    return model_dir


def test_create_run_dir_dumps_a_reloadable_config_and_leaves_cfg_alone(tmp_path):
    cfg = load_config('smpler_x_s5', {'output_root': str(tmp_path), 'encoder.depth': 2, 'lr': 3e-4})
    before = cfg.to_dict()
    out = create_run_dir(cfg, 'exp', timestamp='20240101_000000')
    assert out == tmp_path / 'exp_20240101_000000'
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_SUBDIRS) == \
        ['code', 'log', 'model_dump', 'result', 'vis']
    assert cfg.to_dict() == before
    reloaded = load_config(out / 'code' / 'config.py')
    assert reloaded.to_dict() == cfg.to_dict()
    assert reloaded.encoder.depth == 2 and reloaded.lr == 3e-4 and 'output_dir' not in reloaded
    with pytest.raises(RunDirError, match='already exists; use --resume'):
        create_run_dir(cfg, 'exp', timestamp='20240101_000000')
    with pytest.raises(RunDirError, match='non-empty name'):
        create_run_dir(cfg, ' ')


def test_setup_run_new_and_resumed(tmp_path):
    cfg = load_config('smpler_x_s5', {'output_root': str(tmp_path)})
    run = setup_run(cfg, 'a/b', testset='EHF')                  # single process: world of 1
    assert run.output_dir.parent == tmp_path / 'a' and run.output_dir.name.startswith('b_')
    assert (run.exp_name, run.world_size, run.testset) == ('a/b', 1, 'EHF')
    assert (run.model_dir, run.log_dir, run.config_dump) == (run.output_dir / 'model_dump', run.output_dir / 'log',
                                                             run.output_dir / 'code' / 'config.py')
    assert run.config_dump.is_file()
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.output_dir = tmp_path
    old = tmp_path / 'old_20240101_000000'
    snap = _snapshots(old / 'model_dump', 3) / 'snapshot_3.pth.tar'
    resumed = setup_run(cfg, 'old', ResumePlan(old, (snap,)))
    assert resumed.output_dir == old
    assert sorted(p.name for p in old.iterdir()) == sorted(RUN_SUBDIRS)   # missing folders made
    assert not (old / 'code' / 'config.py').exists()                      # nothing rewritten


def test_list_snapshots_newest_first_ignores_temp_files(tmp_path):
    _snapshots(tmp_path, 0, 10, 2)
    (tmp_path / 'snapshot_11.pth.tar.tmp').write_bytes(b'')
    (tmp_path / 'snapshot_x.pth.tar').write_bytes(b'')
    assert [e for e, _ in list_snapshots(tmp_path)] == [10, 2, 0]
    assert list_snapshots(tmp_path / 'missing') == []


def test_find_latest_run_matches_only_this_experiment(tmp_path):
    for name in ('s32_20240101_000000', 's32_20240102_000000', 's32_ft_20250101_000000', 's32_20240103_000000'):
        (tmp_path / name / 'model_dump').mkdir(parents=True)
    for name in ('s32_20240101_000000', 's32_20240102_000000', 's32_ft_20250101_000000'):
        _snapshots(tmp_path / name / 'model_dump', 0)
    assert find_latest_run(tmp_path, 's32') == tmp_path / 's32_20240102_000000'  # 0103 has none
    assert find_latest_run(tmp_path, 's32_ft') == tmp_path / 's32_ft_20250101_000000'
    assert find_latest_run(tmp_path, 'b32') is None


def test_plan_resume_targets(tmp_path):
    run = tmp_path / 's32_20240101_000000'
    dump = _snapshots(run / 'model_dump', 0, 1)
    newest_first = (dump / 'snapshot_1.pth.tar', dump / 'snapshot_0.pth.tar')
    assert plan_resume(None, tmp_path, 's32') is None
    assert plan_resume('', tmp_path, 's32') == ResumePlan(run, newest_first)
    assert plan_resume(str(run), tmp_path, 'x') == ResumePlan(run, newest_first)
    assert plan_resume(str(dump), tmp_path, 'x') == ResumePlan(run, newest_first)
    assert plan_resume(str(dump / 'snapshot_0.pth.tar'), tmp_path, 'x') == ResumePlan(run, (newest_first[1],))
    loose = tmp_path / 'weights.pth.tar'
    loose.write_bytes(b'')
    assert plan_resume(str(loose), tmp_path, 'x') == ResumePlan(None, (loose,))  # continued in a new run folder


@pytest.mark.parametrize('resume, message', [
    ('', r"--resume: no run of --exp_name 'nothing' with a snapshot under"),
    ('/nonexistent/run', r'--resume /nonexistent/run: no such file or directory'),
    ('EMPTY', r'no snapshot_\*\.pth\.tar in it or in its model_dump/'),
    (None, r'output directory .*/nothing already exists; continue it with --resume'),
])
def test_plan_resume_errors(tmp_path, resume, message):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'nothing' / 'model_dump').mkdir(parents=True)  # the original's layout, without a timestamp
    with pytest.raises(RunDirError, match=message):
        plan_resume(str(tmp_path / 'empty') if resume == 'EMPTY' else resume, tmp_path, 'nothing')


def test_result_path_finds_run_config_and_snapshot(tmp_path):
    run = tmp_path / 'output' / 's32_20240101_000000'
    (run / 'code').mkdir(parents=True)
    (run / 'code' / 'config.py').write_text('feat_dim = 64\n')
    _snapshots(run / 'model_dump', 0, 2, 10)
    config, ckpt = find_run_files('s32_20240101_000000', None, tmp_path / 'output')
    assert config == run / 'code' / 'config.py' and ckpt.name == 'snapshot_10.pth.tar'
    assert find_run_files(run, 2, tmp_path / 'elsewhere')[1].name == 'snapshot_2.pth.tar'
    with pytest.raises(RunDirError, match=r'available --ckpt_idx values: \[0, 2, 10\]'):
        find_run_files(run, 5, tmp_path)
    with pytest.raises(RunDirError, match='no such run folder'):
        find_run_files('s32_20240101_000000', 0, tmp_path / 'elsewhere')   # the name is looked up under output_root
    (run / 'code' / 'config.py').unlink()
    with pytest.raises(RunDirError, match='no config snapshot config.py or config_base.py'):
        find_run_files(run, 0, tmp_path)


def test_config_for_checkpoint(tmp_path):
    run = tmp_path / 'r'
    (run / 'code').mkdir(parents=True)
    (run / 'code' / 'config_base.py').write_text('')  # the original's name
    assert config_for_checkpoint(run / 'model_dump' / 'snapshot_3.pth.tar') == run / 'code' / 'config_base.py'
    assert config_for_checkpoint('x/smpler_x_b32.pth.tar') == REPO / 'main' / 'config' / 'config_smpler_x_b32.py'
    assert config_for_checkpoint('x/my_weights.pth.tar') is None


def test_entry_scripts_and_engine_never_assign_to_the_config():
    """Derived values go into Run, not into the config: no `cfg.key = ...` / `cfg[key] = ...` after loading."""
    import re
    files = [*(REPO / 'main').glob('*.py'), *(REPO / 'common' / 'engine').glob('*.py'),
             REPO / 'common' / 'run_dir.py', *(REPO / 'tools').glob('*.py')]
    pattern = re.compile(r'\bcfg(\.\w+|\[[^\]]+\])\s+(=|\+=|-=)\s')
    offenders = [f'{p.relative_to(REPO)}:{i}' for p in files
                 for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, f'config modified after loading: {offenders}'
