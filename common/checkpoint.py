"""Checkpoint I/O: the released SMPLer-X files, safetensors, our snapshots, ViTPose init weights.

Formats read (SPEC §2.1):
- `.pth.tar` / `.pth`: `torch.save` of `{'epoch': int, 'network': state dict, 'optimizer': ...}`; keys with or
  without the DDP `module.` prefix and with the legacy names `backbone` / `body_rotation_net` /
  `hand_rotation_net`. Our snapshots add entries (scheduler, scaler, iteration, rng, config).
- `.safetensors`: weights only (written by `tools/convert_checkpoint.py`).
- ViTPose `vitpose_*.pth`: `{'state_dict': {'backbone.*', 'keypoint_head.*'}, 'meta': ...}`.

Loading is safe by default (`torch.load(weights_only=True, mmap=True)`); a file that needs full unpickling is
refused unless `allow_unsafe=True`. Strict loading raises one readable report of every missing, unexpected
and shape-mismatched key, grouped by top-level module. Saving is atomic (`common.utils.files.atomic_open`:
temp file + fsync + rename; a full disk gives "no space left on device while writing FILE").
"""
import logging
import re
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import torch
from torch import nn

from common.utils.files import atomic_open
from common.weights import add_unsafe_load_argument  # noqa: F401 - re-exported for existing callers

logger = logging.getLogger(__name__)

__all__ = ['CheckpointError', 'CheckpointNotFoundError', 'UnsafeCheckpointError', 'CheckpointMismatchError',
           'KeyReport', 'PretrainedLoadReport', 'LEGACY_RENAMES', 'normalize_key', 'normalize_state_dict',
           'read_checkpoint_file', 'split_checkpoint', 'compare_state_dict', 'load_checkpoint',
           'load_state_from', 'save_checkpoint', 'unwrap_model', 'load_vitpose_encoder',
           'add_unsafe_load_argument']

# Top-level module names of older releases -> ours (the original's loader applies the same renames).
LEGACY_RENAMES = {'backbone': 'encoder', 'body_rotation_net': 'body_regressor',
                  'hand_rotation_net': 'hand_regressor'}
# Buffers of the body model held by the original network; never part of a checkpoint.
SKIPPED_SUBSTRING = 'smplx_layer'
_WRAPPER_PREFIXES = ('module.', '_orig_mod.')  # DDP / DataParallel, torch.compile
_HELP = ("See pretrained_models/README.md for where to get the released weights "
         "(e.g. `hf download caizhongang/SMPLer-X smpler_x_s32.pth.tar --local-dir pretrained_models`).")


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used (unreadable, wrong layout)."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist."""


class UnsafeCheckpointError(CheckpointError):
    """The file needs full unpickling (arbitrary code execution) and `allow_unsafe` was not given."""


class CheckpointMismatchError(CheckpointError):
    """The checkpoint's keys or shapes do not match the model."""


def normalize_key(key: str) -> Optional[str]:
    """Map a checkpoint key to our model's name; None for keys that are never loaded (`smplx_layer`).

    Strips any leading `module.` / `_orig_mod.` wrappers, then renames a legacy top-level module
    (`backbone.x` -> `encoder.x`, `body_rotation_net` -> `body_regressor`, `hand_rotation_net` -> `hand_regressor`).
    """
    if SKIPPED_SUBSTRING in key:
        return None
    while key.startswith(_WRAPPER_PREFIXES):
        key = key.split('.', 1)[1]
    top, dot, rest = key.partition('.')
    return LEGACY_RENAMES.get(top, top) + dot + rest


def normalize_state_dict(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Apply `normalize_key` to every key (order kept); two keys landing on one name is an error."""
    out, source = OrderedDict(), {}
    for key, value in state_dict.items():
        new = normalize_key(key)
        if new is None:
            continue
        if new in out:
            raise CheckpointError(f"Checkpoint keys {source[new]!r} and {key!r} both map to {new!r}; "
                                  "the file mixes prefixed/unprefixed or legacy/new names. Fix the file.")
        out[new], source[new] = value, key
    return out


def _torch_load(path: Path, weights_only: bool):
    try:
        return torch.load(path, map_location='cpu', weights_only=weights_only, mmap=True)
    except RuntimeError as e:
        if 'mmap can only be used' not in str(e):
            raise
        logger.debug('%s uses the legacy (non-zip) format; loading without mmap', path)
        return torch.load(path, map_location='cpu', weights_only=weights_only)


def read_checkpoint_file(path, allow_unsafe: bool = False) -> dict:
    """Read a checkpoint file into a dict on the CPU (tensors memory-mapped when the format allows).

    `.safetensors` files give `{'network': tensors, **metadata}` (metadata strings; `epoch` as int).
    Raises CheckpointNotFoundError, UnsafeCheckpointError (needs full unpickling and not `allow_unsafe`),
    CheckpointError (corrupt or truncated file).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise CheckpointNotFoundError(f"Checkpoint file not found: {path}. {_HELP}")
    if path.suffix == '.safetensors':
        from safetensors import SafetensorError, safe_open
        try:
            with safe_open(str(path), framework='pt', device='cpu') as f:
                meta = dict(f.metadata() or {})
                tensors = OrderedDict((k, f.get_tensor(k)) for k in f.keys())
        except SafetensorError as e:
            raise CheckpointError(f"Cannot read {path}: {e}. Re-create it with tools/convert_checkpoint.py.") from e
        if meta.get('epoch', '').isdigit():
            meta['epoch'] = int(meta['epoch'])
        return {'network': tensors, **meta}
    try:
        return _torch_load(path, weights_only=True)
    except Exception as e:  # noqa: BLE001 - every failure becomes one actionable message
        text = str(e)
        if not text.startswith('Weights only load failed'):
            raise CheckpointError(f"Cannot read checkpoint {path} ({type(e).__name__}: {text[:200]}). The file "
                                  f"is corrupt, truncated or not a torch checkpoint; download it again.") from e
        if not allow_unsafe:
            found = re.findall(r'(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)', text)
            detail = f" It references {', '.join(found)}." if found else ''
            raise UnsafeCheckpointError(
                f"{path} cannot be loaded with torch.load(weights_only=True): it holds Python objects other than "
                f"tensors and plain values.{detail} Fully unpickling it can run arbitrary code, so it is refused. "
                f"Only if you trust the file's source, pass --unsafe_load (allow_unsafe=True in Python); or "
                f"convert it once to safetensors with `python tools/convert_checkpoint.py {path} OUT.safetensors "
                f"--unsafe_load`.") from None
    logger.warning('Loading %s with full unpickling (allow_unsafe=True): only do this for trusted files.', path)
    return _torch_load(path, weights_only=False)


def split_checkpoint(ckpt, path='checkpoint') -> Tuple[Dict[str, torch.Tensor], dict]:
    """Split a loaded checkpoint into (raw state dict, other entries).

    Accepts `{'network': sd, ...}` (SMPLer-X), `{'state_dict': sd, ...}` (mmcv/ViTPose) or a bare state dict.
    """
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint dict.")
    for weights_key in ('network', 'state_dict'):
        if isinstance(ckpt.get(weights_key), dict):
            return ckpt[weights_key], {k: v for k, v in ckpt.items() if k != weights_key}
    if ckpt and all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt, {}
    raise CheckpointError(f"{path} has no 'network' or 'state_dict' entry (top-level keys: {sorted(ckpt)[:10]}); "
                          "it is not a SMPLer-X or ViTPose checkpoint.")


@dataclass
class KeyReport:
    """Differences between a model's state dict and a checkpoint's (normalised names)."""
    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, ckpt shape, model shape)
    # transformer block indices per module prefix, e.g. {'encoder': ({0..31}, {0..11})} (checkpoint, model);
    # only prefixes whose index sets differ
    block_sets: Dict[str, Tuple[Set[int], Set[int]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def looks_like_other_size(self) -> bool:
        """Shapes differ, or the checkpoint has other transformer blocks than the model (another S/B/L/H)."""
        return bool(self.mismatched or self.block_sets)

    def format(self, title: str, max_names: int = 6) -> str:
        """One message, one line per top-level module: `encoder: 3 missing (blocks.11.attn.qkv.weight, ...)`."""
        groups = defaultdict(lambda: defaultdict(list))
        for kind, items in (('missing', self.missing), ('unexpected', self.unexpected)):
            for key in items:
                top, _, rest = key.partition('.')
                groups[top][kind].append(rest or key)
        for key, ck, md in self.mismatched:
            top, _, rest = key.partition('.')
            groups[top]['shape mismatch'].append(f"{rest or key}: checkpoint {tuple(ck)} vs model {tuple(md)}")
        lines = [title + ':']
        for top, kinds in groups.items():
            parts = []
            for kind, names in kinds.items():
                shown = ', '.join(names[:max_names]) + (f', ... {len(names) - max_names} more'
                                                        if len(names) > max_names else '')
                parts.append(f"{len(names)} {kind} ({shown})")
            lines.append(f"  {top}: " + '; '.join(parts))
        for prefix, (ck, md) in self.block_sets.items():
            lines.append(f"  {prefix}: the checkpoint has {len(ck)} blocks, the model {len(md)}")
        if self.looks_like_other_size:
            lines.append("  Hint: the checkpoint looks like another model size (S/B/L/H); use the config that "
                         "matches it (e.g. --pretrained_model smpler_x_h32 selects both).")
        return '\n'.join(lines)


_BLOCK_RE = re.compile(r'^(.*?)\.?blocks\.(\d+)\.')


def _block_indices(keys) -> Dict[str, Set[int]]:
    """`{'encoder': {0, 1, ...}}`: the `blocks.N` indices found under each module prefix."""
    found = defaultdict(set)
    for key in keys:
        m = _BLOCK_RE.match(key)
        if m:
            found[m.group(1)].add(int(m.group(2)))
    return found


def compare_state_dict(expected: Dict[str, torch.Tensor], given: Dict[str, torch.Tensor]) -> KeyReport:
    """Compare model tensors (`expected`) with checkpoint tensors (`given`) by name and shape."""
    report = KeyReport(missing=[k for k in expected if k not in given],
                       unexpected=[k for k in given if k not in expected])
    report.mismatched = [(k, tuple(v.shape), tuple(expected[k].shape)) for k, v in given.items()
                         if k in expected and tuple(v.shape) != tuple(expected[k].shape)]
    model_blocks, ckpt_blocks = _block_indices(expected), _block_indices(given)
    report.block_sets = {p: (ckpt_blocks.get(p, set()), model_blocks.get(p, set()))
                         for p in sorted(set(model_blocks) | set(ckpt_blocks))
                         if ckpt_blocks.get(p, set()) != model_blocks.get(p, set())}
    return report


def unwrap_model(model: nn.Module) -> nn.Module:
    """The bare network under DataParallel/DDP (`.module`) and torch.compile (`._orig_mod`) wrappers."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, '_orig_mod', None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _model_tensors(model: nn.Module) -> Dict[str, torch.Tensor]:
    return OrderedDict((k, v) for k, v in unwrap_model(model).state_dict().items() if SKIPPED_SUBSTRING not in k)


def _load_matching(model: nn.Module, tensors: Dict[str, torch.Tensor], report: KeyReport) -> int:
    """Copy the name- and shape-matching tensors into the model; returns how many were loaded."""
    bad = {k for k, _, _ in report.mismatched}
    expected = _model_tensors(model)
    subset = {k: v for k, v in tensors.items() if k in expected and k not in bad}
    result = unwrap_model(model).load_state_dict(subset, strict=False)
    assert not result.unexpected_keys, f"internal: filtered keys still unexpected: {result.unexpected_keys}"
    return len(subset)


def load_checkpoint(model: nn.Module, path, strict: bool = True, allow_unsafe: bool = False) -> dict:
    """Load weights from a `.pth.tar` / `.pth` / `.safetensors` file into `model` (DDP/compiled ok).

    Args:
        model: the network; `smplx_layer` buffers (if any) are neither expected nor loaded.
        path: checkpoint file.
        strict: raise CheckpointMismatchError listing every missing/unexpected/mis-shaped key; with False
            the same report is logged at WARNING and only the matching tensors are loaded (still an error
            when not a single tensor matches).
        allow_unsafe: permit full unpickling for files that need it (trusted files only).
    Returns:
        The checkpoint's other entries (`epoch`, `optimizer`, scheduler, ...); `{}`-like for bare weights.
    """
    return load_state_from(model, read_checkpoint_file(path, allow_unsafe=allow_unsafe), path, strict)


def load_state_from(model: nn.Module, ckpt: dict, path, strict: bool = True) -> dict:
    """`load_checkpoint` for a checkpoint already read by `read_checkpoint_file(path)` (no second read)."""
    raw, meta = split_checkpoint(ckpt, path)
    tensors = normalize_state_dict(raw)
    report = compare_state_dict(_model_tensors(model), tensors)
    if not report.ok:
        text = report.format(f"Checkpoint {path} does not match the model")
        if strict:
            raise CheckpointMismatchError(text + "\n  Nothing was loaded (strict=True).")
        if len(report.missing) + len(report.mismatched) == len(_model_tensors(model)):
            raise CheckpointMismatchError(text + "\n  No tensor of the file fits the model: it is not a "
                                                 "checkpoint of this network.")
        logger.warning('%s\n  Loading only the matching tensors (strict=False).', text)
    n = _load_matching(model, tensors, report)
    logger.info('Loaded %d tensors from %s (epoch %s)', n, path, meta.get('epoch', '?'))
    return meta


_SAFE_LEAF_TYPES = {int, float, bool, str, bytes, bytearray, complex, type(None), torch.dtype, torch.device,
                    torch.Size}
_SAFE_CONTAINERS = {dict, OrderedDict, Counter, list, tuple, set}


def _check_weights_only_safe(value, where: str) -> None:
    """Raise TypeError if `value` holds anything `torch.load(weights_only=True)` would refuse."""
    if isinstance(value, torch.Tensor) or type(value) in _SAFE_LEAF_TYPES:
        return
    if type(value) not in _SAFE_CONTAINERS:
        raise TypeError(f"Checkpoint entry {where} is a {type(value).__module__}.{type(value).__qualname__}, which "
                        "safe loading (weights_only=True) refuses; store tensors, numbers, strings, lists or dicts "
                        "(e.g. torch.as_tensor(array), dict(config), str(config)).")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_weights_only_safe(k, f"{where} key {k!r}")
            _check_weights_only_safe(v, f"{where}[{k!r}]")
    else:
        for i, v in enumerate(value):
            _check_weights_only_safe(v, f"{where}[{i}]")


def save_checkpoint(path, model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None,
                    epoch: int = 0, **extra) -> Path:
    """Write the original's format atomically: `{'epoch', 'network' ('module.'-prefixed), 'optimizer', **extra}`.

    `extra` entries (scheduler/scaler state, iteration, rng, config, ...) must hold only tensors and plain
    values so the file stays loadable with weights_only=True; a TypeError names the offending entry.
    Raises common.utils.files.FileWriteError (e.g. disk full) with the previous file at `path` unchanged.
    """
    network = OrderedDict(('module.' + k, v) for k, v in _model_tensors(model).items())
    ckpt = {'epoch': int(epoch), 'network': network}
    if optimizer is not None:
        ckpt['optimizer'] = optimizer.state_dict()
    clash = set(ckpt) & set(extra)
    if clash:
        raise ValueError(f"save_checkpoint: extra entries {sorted(clash)} clash with the standard ones")
    ckpt.update(extra)
    for key, value in ckpt.items():
        if key != 'network':
            _check_weights_only_safe(value, repr(key))
    path = Path(path)
    with atomic_open(path) as f:
        torch.save(ckpt, f)
    logger.info('Saved checkpoint %s (epoch %d, %d tensors)', path, ckpt['epoch'], len(network))
    return path


@dataclass
class PretrainedLoadReport:
    """What `load_vitpose_encoder` did. Names are relative to the encoder."""
    path: str
    loaded: List[str]
    missing: List[str]       # encoder tensors left at their init (expected: task_tokens)
    unexpected: List[str]    # checkpoint tensors with no place in the encoder
    mismatched: List[Tuple[str, tuple, tuple]]
    ignored: List[str]       # keypoint_head.* (ViTPose's heatmap head, not used)

    def summary(self) -> str:
        return (f"{self.path}: loaded {len(self.loaded)} encoder tensors; missing {self.missing or 'none'}; "
                f"unexpected {self.unexpected or 'none'}; shape mismatch {self.mismatched or 'none'}; "
                f"ignored {len(self.ignored)} keypoint_head tensors")


def load_vitpose_encoder(encoder: nn.Module, path, allow_unsafe: bool = False) -> PretrainedLoadReport:
    """Initialise the encoder from ViTPose weights (`backbone.*` keys; `keypoint_head.*` ignored).

    Loads non-strictly and reports. A SMPLer-X checkpoint's `encoder.*` keys are accepted too.
    Raises CheckpointMismatchError when no tensor fits (wrong file or wrong model size).
    """
    raw, _ = split_checkpoint(read_checkpoint_file(path, allow_unsafe=allow_unsafe), path)
    tensors, ignored, unexpected = OrderedDict(), [], []
    for key, value in normalize_state_dict(raw).items():  # backbone.* -> encoder.*
        top, _, rest = key.partition('.')
        if top == 'encoder':
            tensors[rest] = value
        elif top == 'keypoint_head':
            ignored.append(key)
        else:
            unexpected.append(key)
    expected = _model_tensors(encoder)
    diff = compare_state_dict(expected, tensors)
    mismatched = {k for k, _, _ in diff.mismatched}
    loaded = [k for k in tensors if k in expected and k not in mismatched]
    if not loaded:
        raise CheckpointMismatchError(
            diff.format(f"No tensor of {path} fits the encoder (is it the ViTPose file for this model size: "
                        "vitpose_small/base/large/huge for S/B/L/H?)"))
    _load_matching(encoder, tensors, diff)
    report = PretrainedLoadReport(str(path), loaded, diff.missing, unexpected + diff.unexpected,
                                  diff.mismatched, ignored)
    surprising = report.unexpected or report.mismatched or set(report.missing) - {'task_tokens'}
    (logger.warning if surprising else logger.info)('ViTPose init %s', report.summary())
    return report
