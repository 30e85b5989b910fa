"""Where weights come from: the SMPLer-X model zoo (Hugging Face) and the YOLO person detector (ultralytics).

`resolve_checkpoint` turns a path or a zoo name into a local file, downloading a released checkpoint with
huggingface_hub when allowed; `resolve_yolo` / `load_yolo` do the same for the detector through ultralytics'
own download. Offline or failed downloads raise `WeightsNotFoundError` with one message saying which file to
put where and where to get it.
"""
import logging
import os
from pathlib import Path
from typing import Optional, Union

logger = logging.getLogger(__name__)

__all__ = ['WeightsNotFoundError', 'ZOO_NAMES', 'DEFAULT_REPO_ID', 'CHECKPOINT_SUFFIXES', 'zoo_name',
           'resolve_checkpoint', 'resolve_yolo', 'load_yolo', 'add_unsafe_load_argument']

DEFAULT_REPO_ID = 'caizhongang/SMPLer-X'
# Released checkpoints (SPEC §8.1); h32_correct is the 2024-03-29 camera-fix H32 (same config as h32).
ZOO_NAMES = ('smpler_x_s32', 'smpler_x_b32', 'smpler_x_l32', 'smpler_x_h32', 'smpler_x_h32_correct')
# Searched in this order; safetensors first (no pickle, faster to open).
CHECKPOINT_SUFFIXES = ('.safetensors', '.pth.tar', '.pth')
ORIGINAL_README = 'https://github.com/caizhongang/SMPLer-X (README, Pretrained Models)'
_TRUE = {'1', 'true', 'yes', 'on', 'y', 't'}


def add_unsafe_load_argument(parser) -> None:
    """Add ``--unsafe_load`` (→ ``args.unsafe_load``, passed as ``allow_unsafe`` to common.checkpoint) to an
    entry script's parser. Without it every checkpoint is read with ``torch.load(weights_only=True)``."""
    parser.add_argument('--unsafe_load', action='store_true',
                        help='allow full unpickling of checkpoint files that safe loading (weights_only) refuses; '
                             'this can run arbitrary code: use only for files you trust')


class WeightsNotFoundError(FileNotFoundError):
    """A weights file is not on disk and could not be downloaded."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, '').strip().lower() in _TRUE


def zoo_name(name_or_path: Union[str, Path]) -> str:
    """`'pretrained_models/smpler_x_h32.pth.tar'` -> `'smpler_x_h32'` (the file name without checkpoint suffix)."""
    name = Path(name_or_path).name
    for suffix in CHECKPOINT_SUFFIXES:
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def _checkpoint_help(name: str, directory: Path, repo_id: str, reason: str) -> str:
    file = f'{name}.pth.tar'
    if name not in ZOO_NAMES:
        return (f"Checkpoint '{name}' not found ({reason}): looked for {name}{{{','.join(CHECKPOINT_SUFFIXES)}}} "
                f"in {directory}. It is not a released model (those are {', '.join(ZOO_NAMES)}); pass the path "
                f"of your own snapshot (e.g. output/<run>/model_dump/snapshot_N.pth.tar).")
    return (f"Checkpoint {file} is not in {directory} and could not be downloaded ({reason}). Put it there: "
            f"`hf download {repo_id} {file} --local-dir {directory}` on a machine with internet, or download "
            f"https://huggingface.co/{repo_id}/resolve/main/{file} "
            f"(the original README also links it: {ORIGINAL_README}). "
            f"See pretrained_models/README.md.")


def resolve_checkpoint(name_or_path: Union[str, Path], pretrained_model_dir: Union[str, Path],
                       repo_id: str = DEFAULT_REPO_ID, download: bool = True) -> Path:
    """Local checkpoint file for a path or a model-zoo name.

    Order: an existing file `name_or_path`; `pretrained_model_dir/NAME{.safetensors,.pth.tar,.pth}`; for a zoo
    name (`smpler_x_{s32,b32,l32,h32,h32_correct}`), a download of `NAME.pth.tar` from the Hugging Face repo
    `repo_id` into `pretrained_model_dir` (huggingface's progress bar), unless `download` is False or
    `HF_HUB_OFFLINE` is set. A path that does not exist is reduced to its file name (searched and downloaded
    in `pretrained_model_dir`).

    Raises:
        WeightsNotFoundError: naming the file, the folder to put it in and where to get it.
    """
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    directory = Path(pretrained_model_dir).expanduser()
    name = zoo_name(path)
    candidates = ([directory / path.name] if path.name != name else []) + \
        [directory / f'{name}{suffix}' for suffix in CHECKPOINT_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if name not in ZOO_NAMES:
        raise WeightsNotFoundError(_checkpoint_help(name, directory, repo_id, f'{path} does not exist'))
    if not download:
        raise WeightsNotFoundError(_checkpoint_help(name, directory, repo_id, 'downloading disabled'))
    if _env_flag('HF_HUB_OFFLINE'):
        raise WeightsNotFoundError(_checkpoint_help(name, directory, repo_id, 'HF_HUB_OFFLINE is set'))
    import huggingface_hub
    file = f'{name}.pth.tar'
    logger.info('Downloading %s from huggingface.co/%s into %s', file, repo_id, directory)
    try:
        local = huggingface_hub.hf_hub_download(repo_id, file, local_dir=directory)
    except Exception as e:  # noqa: BLE001 - offline, HTTP, missing repo/file: all end in the same advice
        reason = f'{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else "download failed"}'
        raise WeightsNotFoundError(_checkpoint_help(name, directory, repo_id, reason)) from e
    return Path(local)


def _yolo_help(name: str, weights_dir: Optional[Path], reason: str) -> str:
    where = weights_dir if weights_dir is not None else Path.cwd()
    return (f"YOLO weights {name} are not available ({reason}). Put {name} in {where} (or pass its path with "
            f"--detector): ultralytics downloads it automatically when online, or get it from "
            f"https://github.com/ultralytics/assets/releases (file {name}). See pretrained_models/README.md.")


def resolve_yolo(name: str = 'yolov8x.pt', weights_dir: Union[str, Path, None] = None) -> str:
    """What to pass to `ultralytics.YOLO`: a local weights file if one exists, else a name ultralytics fetches.

    `*.yaml` names (e.g. `yolov8n.yaml`) are returned unchanged: ultralytics builds an untrained model (tests).
    A missing file resolves to `weights_dir/name` (ultralytics downloads to that path) or to `name`.
    """
    if str(name).endswith(('.yaml', '.yml')):
        return str(name)
    path = Path(name).expanduser()
    weights_dir = Path(weights_dir).expanduser() if weights_dir is not None else None
    candidates = [path] + ([weights_dir / path.name] if weights_dir is not None else [])
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    if path.parent != Path('.'):  # an explicit path that does not exist: nothing to download
        raise WeightsNotFoundError(_yolo_help(path.name, weights_dir, f'{path} does not exist'))
    return str(weights_dir / path.name) if weights_dir is not None else str(name)


def load_yolo(name: str = 'yolov8x.pt', weights_dir: Union[str, Path, None] = None):
    """`ultralytics.YOLO` for `resolve_yolo(name, weights_dir)`; a missing file offline gives WeightsNotFoundError."""
    source = resolve_yolo(name, weights_dir)
    needs_download = not source.endswith(('.yaml', '.yml')) and not Path(source).is_file()
    wdir = Path(weights_dir) if weights_dir is not None else None
    if needs_download and _env_flag('YOLO_OFFLINE'):
        raise WeightsNotFoundError(_yolo_help(Path(source).name, wdir, 'YOLO_OFFLINE is set'))
    from ultralytics import YOLO
    if needs_download:
        logger.info('Downloading %s through ultralytics to %s', Path(source).name, source)
    try:
        return YOLO(source)
    except (ConnectionError, FileNotFoundError, OSError) as e:
        if not needs_download:
            raise
        raise WeightsNotFoundError(_yolo_help(Path(source).name, wdir, f'{type(e).__name__}: {e}')) from e
