"""The shared pieces of every entry script: one-line argument errors, one logging set-up, one precision rule."""
import argparse
import importlib.util
import logging
from pathlib import Path

import pytest

from common.utils.cli import ArgumentParser, exit_with_error
from common.utils.logs import NOISY_LOGGERS, setup_logging
from common.utils.precision import PRECISION_NAMES, add_precision_argument, check_precision

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    noisy = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, lvl in noisy.items():
        logging.getLogger(name).setLevel(lvl)


def test_parser_errors_are_one_line_with_exit_2(capsys):
    parser = ArgumentParser(prog='x.py')
    parser.add_argument('--n', type=int)
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(['--n', 'many'])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "x.py: error: argument --n: invalid int value: 'many' (see x.py --help)\n"
    with pytest.raises(SystemExit) as exc:
        exit_with_error(ValueError('bad thing'), 1, 'x.py')
    assert exc.value.code == 1 and capsys.readouterr().err == 'x.py: error: bad thing\n'


def test_setup_logging_rank_0_file_and_other_ranks(tmp_path, restore_root_logger, capsys):
    before = list(logging.getLogger().handlers)
    log_file = tmp_path / 'log' / 'run.log'
    setup_logging(0, log_file)
    logging.getLogger('ultralytics').info('per-image chatter')
    logging.getLogger('common.x').info('hello')
    text = log_file.read_text()
    assert 'INFO [rank0] common.x: hello' in text and 'chatter' not in text
    assert 'hello' in capsys.readouterr().err
    setup_logging(1, tmp_path / 'other.log')
    logging.getLogger('common.x').info('quiet')
    logging.getLogger('common.x').warning('loud')
    err = capsys.readouterr().err
    assert 'quiet' not in err and 'WARNING [rank1] common.x: loud' in err
    assert not (tmp_path / 'other.log').exists()
    ours = [h for h in logging.getLogger().handlers if getattr(h, '_smplerx_setup_logging', False)]
    assert len(ours) == 1                                   # replaced, not stacked
    assert any(h in logging.getLogger().handlers for h in before)   # pytest's own handlers are kept


def _parser_of(script):
    spec = importlib.util.spec_from_file_location(f'_plumbing_{script}', REPO / 'main' / f'{script}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args


@pytest.mark.parametrize('script, argv', [('train', ['--config', 'c.py']), ('test', ['--pretrained_model', 'x'])])
def test_every_script_takes_the_shared_precision_choices(script, argv, capsys):
    parse_args = _parser_of(script)
    for name in PRECISION_NAMES:
        assert parse_args(argv + ['--precision', name]).precision == name
    assert parse_args(argv).precision is None              # None: the config's precision key
    with pytest.raises(SystemExit) as exc:
        parse_args(argv + ['--precision', 'fp8'])
    assert exc.value.code == 2 and "invalid choice: 'fp8'" in capsys.readouterr().err


def test_precision_table_and_check():
    from common.utils.precision import PRECISIONS
    import torch
    assert PRECISION_NAMES == ('fp32', 'bf16', 'fp16')
    assert PRECISIONS == {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
    assert check_precision('bf16') == 'bf16'
    with pytest.raises(ValueError, match=r"precision must be one of \['fp32', 'bf16', 'fp16'\], got 'fp8'"):
        check_precision('fp8')
    parser = argparse.ArgumentParser()
    add_precision_argument(parser)
    assert parser.parse_args([]).precision == 'fp32'


def test_cpu_inference_precision_rule():
    """fp16 on the CPU -> bf16 where bf16 is fast, else fp32; bf16 is kept."""
    from common.utils.precision import cpu_inference_precision
    assert cpu_inference_precision('fp32', fast_bf16=False) == ('fp32', None)
    assert cpu_inference_precision('bf16', fast_bf16=True) == ('bf16', None)
    got, warning = cpu_inference_precision('fp16', fast_bf16=True)
    assert got == 'bf16' and 'runs as bf16' in warning
    got, warning = cpu_inference_precision('fp16', fast_bf16=False)
    assert got == 'fp32' and 'runs as fp32' in warning and 'AVX-512' in warning
    assert cpu_inference_precision('bf16', fast_bf16=False) == ('bf16', None)  # optimize_for_inference warns
    with pytest.raises(ValueError, match='fp8'):
        cpu_inference_precision('fp8')


def test_load_applies_the_cpu_precision_rule(monkeypatch, caplog, human_model_path):
    """smplerx.load on the CPU without fast bf16: precision='fp16' becomes fp32 (warning); 'bf16' stays bf16 with
    one warning (none where bf16 is fast)."""
    import smplerx
    from common.utils import precision as precision_module
    from tests.fixtures.inference import TINY_CFG_OPTIONS
    monkeypatch.setattr(precision_module, 'cpu_has_fast_bf16', lambda: False)
    with caplog.at_level('WARNING'):
        predictor = smplerx.load('config_smpler_x_s32', random_weights=True, device='cpu', precision='fp16',
                                 cfg_options=TINY_CFG_OPTIONS, human_model_path=human_model_path)
    assert predictor.precision == 'fp32' and predictor.estimator.precision == 'fp32'
    assert 'runs as fp32' in caplog.text
    caplog.clear()
    with caplog.at_level('WARNING'):  # bf16 is kept, and the inference transform (every entry point) warns
        predictor = smplerx.load('config_smpler_x_s32', random_weights=True, device='cpu', precision='bf16',
                                 cfg_options=TINY_CFG_OPTIONS, human_model_path=human_model_path)
    assert predictor.estimator.precision == 'bf16' and caplog.text.count('bf16 on this CPU is emulated') == 1
    monkeypatch.setattr(precision_module, 'cpu_has_fast_bf16', lambda: True)
    caplog.clear()
    with caplog.at_level('WARNING'):
        smplerx.load('config_smpler_x_s32', random_weights=True, device='cpu', precision='bf16',
                     cfg_options=TINY_CFG_OPTIONS, human_model_path=human_model_path)
    assert 'emulated' not in caplog.text


def test_render_has_no_load_mode_flag(capsys):
    parse_args = _parser_of('render')
    with pytest.raises(SystemExit):
        parse_args(['--data_path', 'x', '--load_mode', 'smplerx'])
    assert 'unrecognized arguments: --load_mode' in capsys.readouterr().err
