"""No entry point runs the code hidden in a pickle (issue #12 item 1).

Each case hands an entry script a checkpoint whose unpickling would run ``os.mkdir(MARKER)`` (a ``__reduce__``
payload), through every flag that reads a checkpoint: ``train.py --resume`` (bare, with the file as the newest
snapshot of the newest run, and ``--resume FILE``), ViTPose init (``encoder_pretrained_model_path``), fine-tuning
(``pretrained_model_path``), ``test.py --ckpt`` and ``--result_path``, ``inference.py --ckpt`` and
``tools/convert_checkpoint.py``. Without ``--unsafe_load`` the script refuses the file (exit status 2, the safe
loader's message) and the marker never appears; with ``--unsafe_load`` the payload does run, which shows the
payload is live and that the flag is the only way to run it.
"""
import logging
import os

import pytest
import torch

from tests.fixtures.inference import load_entry
from tests.test_train_script import LAUNCH_VARS, tiny_args

REFUSED = 'cannot be loaded with torch.load(weights_only=True)'


class Payload:
    """Unpickling this calls ``os.mkdir(marker)``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


@pytest.fixture(autouse=True)
def clean_process_state(monkeypatch):
    """Entry scripts configure the root logger; launch variables would make train.py start a process group."""
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def evil(tmp_path):
    """(write(path) -> path, marker): ``write`` saves a checkpoint-shaped file carrying the payload."""
    marker = tmp_path / 'PAYLOAD_RAN'

    def write(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({'epoch': 0, 'network': {}, 'extra': Payload(marker)}, path)
        return path

    return write, marker


def test_the_payload_is_live(tmp_path, evil):
    """Sanity check of the fixture: a plain full unpickle runs it."""
    write, marker = evil
    torch.load(write(tmp_path / 'x.pth.tar'), weights_only=False)
    assert marker.is_dir()


def _exits(main, argv, capsys, code=2) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == code
    return capsys.readouterr().err


def _check(main, argv, marker, capsys, caplog=None, retry=()):
    """Refused without --unsafe_load (marker absent), run with it (marker present); ``retry``: extra arguments
    of the second run (another --exp_name, so that its new run folder cannot clash with the first one's)."""
    err = _exits(main, argv, capsys) + (caplog.text if caplog is not None else '')
    assert REFUSED in err and 'mkdir' in err and '--unsafe_load' in err, err[-3000:]
    assert not marker.exists(), 'the payload ran without --unsafe_load'
    _exits(main, argv + ['--unsafe_load', *retry], capsys)  # the file is no usable checkpoint either way
    assert marker.is_dir(), 'the payload did not run with --unsafe_load'


@pytest.fixture(scope='module')
def train_main():
    return load_entry('train').main


@pytest.mark.parametrize('flag', ['--resume', '--resume FILE', 'encoder_pretrained_model_path',
                                  'pretrained_model_path'])
def test_train(flag, train_main, evil, tmp_path, synthetic_data_dir, human_model_path, capsys):
    write, marker = evil
    out = tmp_path / 'out'
    options, extra = ['train_batch_size=2', 'end_epoch=1'], []
    if flag == '--resume':  # the newest run of --exp_name holds the file as its newest snapshot
        write(out / 'evil_20990101_000000' / 'model_dump' / 'snapshot_3.pth.tar')
        extra = ['--resume']
    elif flag == '--resume FILE':
        extra = ['--resume', str(write(tmp_path / 'snapshot_3.pth.tar'))]
    elif flag == 'encoder_pretrained_model_path':
        options += ['random_init=False', f'encoder_pretrained_model_path={write(tmp_path / "vitpose_small.pth")}']
    else:
        options += ['continue_train=True', f'pretrained_model_path={write(tmp_path / "smpler_x_s32.pth.tar")}']
    argv = tiny_args(synthetic_data_dir, human_model_path, out, *options) + ['--exp_name', 'evil', *extra]
    _check(train_main, argv, marker, capsys, retry=() if flag == '--resume' else ('--exp_name', 'evil_again'))


@pytest.fixture(scope='module')
def test_main():
    return load_entry('test').main


@pytest.mark.parametrize('flag', ['--ckpt', '--result_path'])
def test_evaluate(flag, test_main, evil, tmp_path, tiny_cfg_factory, synthetic_data_dir, human_model_path,
                  capsys, monkeypatch):
    from common.run_dir import create_run_dir
    from common.utils import logs
    monkeypatch.setattr(logs, 'setup_logging', lambda *a, **k: None)
    write, marker = evil
    out = tmp_path / 'out'
    common = ['--testset', 'EHF', '--num_workers', '0', '--device', 'cpu']
    if flag == '--ckpt':
        argv = common + ['--ckpt', str(write(tmp_path / 'evil.pth.tar')), '--config', 'config_smpler_x_s32',
                         '--cfg-options', 'feat_dim=64', 'encoder.depth=2', 'encoder.num_heads=2',
                         f'human_model_path={human_model_path}', f'data_dir={synthetic_data_dir}',
                         f'output_root={out}']
    else:  # a training run folder whose newest snapshot is the file
        cfg = tiny_cfg_factory(data_dir=str(synthetic_data_dir), output_root=str(out))
        run_dir = create_run_dir(cfg, 'trained', timestamp='20240101_000000')
        write(run_dir / 'model_dump' / 'snapshot_9.pth.tar')
        argv = common + ['--result_path', 'trained_20240101_000000', '--cfg-options', f'output_root={out}']
    _check(test_main, argv, marker, capsys, retry=('--exp_name', 'again'))


def test_inference(evil, tmp_path, two_person_video, model_args, offline_env, capsys, caplog):
    write, marker = evil
    video, boxes = two_person_video
    args = list(model_args)
    args[args.index('--ckpt') + 1] = str(write(tmp_path / 'evil.pth.tar'))
    argv = ['--video_input', str(video), '--bbox_file', str(boxes), '--output_folder', str(tmp_path / 'o'), *args]
    _check(load_entry('inference').main, argv, marker, capsys, caplog)


def test_convert_checkpoint(evil, tmp_path, capsys):
    from tools.convert_checkpoint import main
    write, marker = evil
    src, dst = write(tmp_path / 'evil.pth.tar'), tmp_path / 'out.safetensors'
    assert main([str(src), str(dst)]) == 2
    assert REFUSED in capsys.readouterr().err and not marker.exists() and not dst.exists()
    main([str(src), str(dst), '--unsafe_load'])
    assert marker.is_dir()
