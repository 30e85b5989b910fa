"""Load SMPLer-X config files (mmengine `Config`) and apply checked overrides.

Config files are plain Python assignments under `main/config/` composed with mmengine `_base_`
inheritance. There is no global config object: entry scripts call `load_config` once and pass the
result down; nothing changes it afterwards (values derived at run time, such as the run folder or the world
size, live in `common.run_dir.Run`). mmengine is imported on first load, so argument parsing stays fast.

Errors: every problem with a config name, an override or a value raises `ConfigError`, a subclass of
`ValueError` (the message names the key, what was expected and close matches).
"""
from __future__ import annotations

import argparse
import ast
import difflib
import functools
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Optional, Sequence, Union

from common.utils.precision import PRECISION_NAMES

if TYPE_CHECKING:
    from mmengine import Config

__all__ = [
    'BASE_DIR', 'CONFIG_DIR', 'REPO_ROOT', 'RUNTIME_PATH_DEFAULTS', 'ConfigError', 'add_cfg_options_argument',
    'apply_overrides', 'available_configs', 'config_path_for_model', 'known_keys', 'load_config',
    'parse_cfg_options', 'runtime_paths',
]

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / 'main' / 'config'
BASE_DIR = CONFIG_DIR / '_base_'  # default.py and the model/dataset bases: every key the code knows
# Runtime path keys and their defaults, relative to root_dir (absolute values are kept as they are).
RUNTIME_PATH_DEFAULTS = {
    'human_model_path': 'common/utils/human_model_files',
    'data_dir': 'dataset',
    'pretrained_model_dir': 'pretrained_models',
    'output_root': 'output',
}
# Model files whose relative values are file names under pretrained_model_dir.
_MODEL_FILE_KEYS = ('encoder_pretrained_model_path', 'pretrained_model_path')
# Types a key accepts besides the type of its current value (keys whose value is None accept anything).
_EXTRA_TYPES = {
    'total_data_len': (str,),  # 'auto' = sum of the dataset lengths
    'pretrained_model_path': (type(None),),
    'encoder_pretrained_model_path': (type(None),),
}
# Keys with a closed set of values, checked after loading and overriding.
_CHOICES = {
    'precision': PRECISION_NAMES,
    'scheduler': ('cos', 'step'),
    'fine_tune': (None, 'backbone', 'neck_and_head', 'head'),
    'data_strategy': ('balance', 'concat', None),
}
# Keys the original's configs carry that change nothing here (informational, or a feature the SPEC does
# not describe): accepted only at the value below, any other value is refused with the reason.
_FIXED_VALUES = {
    'hand_pos_joint_num': (20, 'informational: the hand branch always has 20 joints'),
    'face_pos_joint_num': (72, 'informational: the face part of the joint set always has 72 joints'),
    'output_face_hm_shape': ((8, 8, 8), 'informational: the model has no face heatmap (the original neither)'),
    'num_noise_sample': (0, 'unused by the original as well'),
    'vis': (False, 'use `main/test.py --vis` to write per-sample results and errors'),
    'egobody_fix_betas': (False, "the original's EgoBody 'fix betas' variant is not described in the SPEC "
                                 'and not implemented; point humandata_files at the annotation files to use'),
    'shapy_eval_split': (None, 'SHAPY (HBW) evaluation is not implemented'),
}
_CHECKPOINT_SUFFIXES = ('.pth.tar', '.pth', '.pt', '.safetensors')


class ConfigError(ValueError):
    """A config name, override or value is wrong; the message says which and what to do."""


def available_configs() -> list:
    """Names (without `.py`) of the config files in `main/config/`, sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob('config_*.py'))


def config_path_for_model(name: str) -> Path:
    """Config file for a config or model-zoo name.

    Accepts `config_smpler_x_h32.py`, `config_smpler_x_h32`, `smpler_x_h32`, a checkpoint file name
    (`smpler_x_h32.pth.tar`) and `smpler_x_h32_correct` (the H32* camera-fix release, same config as H32).
    Raises ConfigError listing close matches when no such config exists.
    """
    stem = os.path.basename(str(name))
    for suffix in _CHECKPOINT_SUFFIXES + ('.py',):
        if stem.endswith(suffix):
            stem = stem[:-len(suffix)]
            break
    if stem.endswith('_correct'):
        stem = stem[:-len('_correct')]
    if not stem.startswith('config_'):
        stem = 'config_' + stem
    path = CONFIG_DIR / f'{stem}.py'
    if not path.is_file():
        names = available_configs()
        close = difflib.get_close_matches(stem, names, n=3, cutoff=0.5)
        raise ConfigError(f'no config for {name!r}: {path} does not exist. Closest: {close or "none"}; '
                          f'available in {CONFIG_DIR}: {", ".join(names)}')
    return path


def _resolve_config_file(path: Union[str, Path]) -> Path:
    """A config argument as a file path: an existing file, else a name under main/config/."""
    p = Path(path).expanduser()
    if p.is_file():
        return p.resolve()
    if p.parent != Path('.') or str(path).startswith('.'):
        raise ConfigError(f'config file {str(path)!r} does not exist (give an existing .py file, or a name '
                          f'such as config_smpler_x_h32 / smpler_x_h32 from {CONFIG_DIR})')
    return config_path_for_model(str(path))


def load_config(path: Union[str, Path],
                overrides: Optional[Union[Mapping[str, Any], Sequence[str]]] = None) -> Config:
    """Load a config file, fill the runtime keys, apply overrides and resolve paths.

    Args:
        path: a config file path, or a name under `main/config/` (see `config_path_for_model`).
        overrides: a dict `{key: value}` (dotted keys such as `'encoder.depth'` allowed) or a list of
            `'key=value'` strings as given to `--cfg-options`. Keys must exist; types must match.

    Returns:
        The mmengine Config. `root_dir` is the absolute repository root unless set (a relative value is
        taken relative to the current directory); `human_model_path`,
        `data_dir`, `pretrained_model_dir`, `output_root` are absolute (relative values are taken
        relative to `root_dir`, after overrides); relative `encoder_pretrained_model_path` and
        `pretrained_model_path` are file names under `pretrained_model_dir`.
    """
    from mmengine import Config

    file = _resolve_config_file(path)
    try:
        cfg = Config.fromfile(str(file), lazy_import=False)
    except Exception as exc:  # a syntax error or a bad _base_ in the file: name the file
        raise ConfigError(f'cannot load config file {file}: {type(exc).__name__}: {exc}') from exc
    _warn_unknown_keys(cfg, file)
    if cfg.get('root_dir') is None:
        cfg.root_dir = None  # make sure the key exists for configs that do not inherit _base_/default.py
    for key, default in RUNTIME_PATH_DEFAULTS.items():
        if key not in cfg:
            cfg[key] = default
    if overrides:
        apply_overrides(cfg, overrides)
    _check_choices(cfg, file)
    _resolve_paths(cfg)
    logger.info('loaded config %s (%d keys)', file, len(cfg.keys()))
    return cfg


@functools.lru_cache(maxsize=None)
def known_keys() -> frozenset:
    """Top-level keys assigned in `main/config/_base_/*.py` (default.py and the model/dataset bases).

    Read with `ast` (the files are not executed): every key the code reads has its value there.
    """
    keys = set()
    for base in sorted(BASE_DIR.glob('*.py')):
        for node in ast.parse(base.read_text(encoding='utf-8'), str(base)).body:
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            keys.update(t.id for t in targets if isinstance(t, ast.Name) and not t.id.startswith('_'))
    return frozenset(keys)


def _warn_unknown_keys(cfg: Config, file: Path) -> None:
    """Warn about keys the config file (or its _base_ files) defines that no code reads (typos, old keys)."""
    known = known_keys()
    for key in sorted(k for k in cfg.keys() if k not in known and not k.startswith('_')):
        close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
        hint = f'did you mean {", ".join(close)}?' if close else 'no similar key exists.'
        logger.warning('config file %s defines unknown key %r: %s It is not read by the code; every key is '
                       'listed with its default in %s.', file, key, hint, BASE_DIR / 'default.py')


def _check_choices(cfg: Config, file: Path) -> None:
    for key, choices in _CHOICES.items():
        if key in cfg and cfg[key] not in choices:
            raise ConfigError(f'config key {key!r} = {cfg[key]!r} (from {file} or an override) must be one of '
                              f'{choices}')
    for key, (value, reason) in _FIXED_VALUES.items():
        got = cfg[key] if key in cfg else value
        if (tuple(got) if isinstance(got, list) else got) != value:
            raise ConfigError(f'config key {key!r} = {got!r} (from {file} or an override) is not supported: '
                              f'{reason}. Remove the setting (the only accepted value is {value!r}).')


def _absolute_runtime_paths(values: Mapping[str, Any]) -> dict:
    """`root_dir` and the RUNTIME_PATH_DEFAULTS keys of `values` as absolute paths (others relative to root)."""
    root = REPO_ROOT if values.get('root_dir') is None else Path(str(values['root_dir'])).expanduser()
    out = {'root_dir': str(root.resolve())}
    for key in RUNTIME_PATH_DEFAULTS:
        value = Path(str(values[key])).expanduser()
        out[key] = str(value if value.is_absolute() else Path(out['root_dir']) / value)
    return out


def runtime_paths(overrides: Optional[Mapping[str, Any]] = None) -> dict:
    """The runtime paths (`root_dir`, `output_root`, ...) any config gets from its defaults and `overrides`,
    without loading a config file (e.g. to find a run folder before its own config is known)."""
    values = dict(RUNTIME_PATH_DEFAULTS, root_dir=None)
    values.update({k: v for k, v in (overrides or {}).items() if k in values})
    return _absolute_runtime_paths(values)


def _resolve_paths(cfg: Config) -> None:
    """Make the runtime paths absolute: root_dir first, then the others relative to it."""
    for key, value in _absolute_runtime_paths(cfg).items():
        cfg[key] = value
    for key in _MODEL_FILE_KEYS:
        value = cfg.get(key)
        if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
            cfg[key] = os.path.join(cfg.pretrained_model_dir, value)


# ---------------------------------------------------------------------------------------------- overrides
def _parse_value(text: str) -> Any:
    """A command-line value: a Python literal when possible (`1e-4`, `['A', 'B']`, `True`, `None`),
    `[a, b]` with bare words as a list of strings, otherwise the string itself."""
    text = text.strip()
    lowered = {'true': True, 'false': False, 'none': None, 'null': None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    for open_, close, kind in (('[', ']', list), ('(', ')', tuple)):
        if text.startswith(open_) and text.endswith(close):
            inner = text[1:-1].strip()
            items = [_parse_value(item) for item in inner.split(',')] if inner else []
            return kind(items)
    return text


def parse_cfg_options(options: Optional[Iterable[str]]) -> dict:
    """`['lr=1e-4', 'encoder.depth=2', "trainset_humandata=['Synthetic']"]` -> `{key: value}` (dotted keys kept).

    Raises ConfigError for an item without `=` or with an empty key.
    """
    result = {}
    for item in options or []:
        key, sep, value = str(item).partition('=')
        if not sep or not key.strip():
            raise ConfigError(f'bad --cfg-options item {item!r}: expected KEY=VALUE, e.g. lr=1e-4 or '
                              f'encoder.depth=2')
        result[key.strip()] = _parse_value(value)
    return result


def add_cfg_options_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--cfg-options KEY=VALUE [KEY=VALUE ...]` (stored as a list of strings in `args.cfg_options`)."""
    parser.add_argument(
        '--cfg-options', nargs='+', default=None, metavar='KEY=VALUE',
        help='override config keys, e.g. --cfg-options lr=1e-4 train_batch_size=8 encoder.depth=2 '
             "\"trainset_humandata=['BEDLAM']\". Values are Python literals (else strings); dotted keys "
             'reach into dicts; the key must exist in the config and the type must match.')


def _flat_keys(d: Mapping, prefix: str = '') -> list:
    keys = []
    for k, v in d.items():
        keys.append(prefix + str(k))
        if isinstance(v, Mapping):
            keys.extend(_flat_keys(v, f'{prefix}{k}.'))
    return keys


def _type_name(types: tuple) -> str:
    return ' or '.join(sorted({'dict' if issubclass(t, Mapping) else t.__name__ for t in types}))


def _coerce(key: str, current: Any, value: Any) -> Any:
    """Check `value` against the current value's type; return it converted (int->float, list<->tuple)."""
    if current is None:
        return value
    extra = _EXTRA_TYPES.get(key.rsplit('.', 1)[-1], ())
    if extra and isinstance(value, extra) and not isinstance(value, bool):
        return value
    if value is None and type(None) in extra:
        return value
    if isinstance(current, bool):
        ok = isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(current, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(current, (list, tuple)):
        ok = isinstance(value, (list, tuple))
        value = type(current)(value) if ok else value
    elif isinstance(current, str):
        ok = isinstance(value, str)
    else:
        ok = isinstance(value, type(current))
    if not ok:
        expected = _type_name((type(current),) + tuple(extra))
        raise ConfigError(f'config key {key!r} expects {expected} (current value {current!r}), '
                          f'got {type(value).__name__} {value!r}')
    return value


def _set(cfg_node: Any, key: str, value: Any, all_keys: list) -> None:
    """Set dotted `key` under `cfg_node`, merging dict values into existing dicts key by key."""
    parts = key.split('.')
    node = cfg_node
    for depth, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            close = difflib.get_close_matches(key, all_keys, n=3, cutoff=0.6)
            hint = f'did you mean {", ".join(close)}?' if close else 'no similar key exists.'
            raise ConfigError(f'unknown config key {key!r}: {hint} Only keys present in the config file (or '
                              f'its _base_ files) can be overridden; add new keys to the config file.')
        if depth < len(parts) - 1:
            node = node[part]
    last = parts[-1]
    current = node[last]
    if isinstance(value, Mapping) and isinstance(current, Mapping):
        for sub_key, sub_value in value.items():
            _set(cfg_node, f'{key}.{sub_key}', sub_value, all_keys)
        return
    node[last] = _coerce(key, current, value)


def apply_overrides(cfg: Config, overrides: Union[Mapping[str, Any], Sequence[str]]) -> Config:
    """Apply checked overrides in place (see `load_config`) and return `cfg`.

    Unknown keys and wrong types raise ConfigError. Paths are not re-resolved here; use `load_config`
    to override runtime paths.
    """
    if isinstance(overrides, (str, bytes)):
        raise ConfigError(f'overrides must be a dict or a list of KEY=VALUE strings, got the string '
                          f'{overrides!r}')
    if not isinstance(overrides, Mapping):
        overrides = parse_cfg_options(overrides)
    all_keys = _flat_keys(cfg._cfg_dict)
    for key, value in overrides.items():
        _set(cfg._cfg_dict, str(key), value, all_keys)
        logger.info('config override: %s = %r', key, value)
    return cfg
