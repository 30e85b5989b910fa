"""Pipeline-check mode: the one rule and wording for `make demo` (tools/run_demo.py) and the web app.

Real mode needs both licensed pieces: the SMPL-X files (``SMPLX_NEUTRAL.npz`` under the default
``human_model_path``) and a released checkpoint in ``pretrained_models/``. Without either, both programs run the
S32 network with random weights on a synthetic body model and say so with ``PIPELINE_CHECK_TEXT``.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

__all__ = ['ROOT', 'REAL_BODY_MODEL', 'ZOO', 'PIPELINE_CHECK_TITLE', 'PIPELINE_CHECK_TEXT', 'terminal_banner',
           'find_checkpoint', 'real_checkpoint', 'synthetic_body_model']

ROOT = Path(__file__).resolve().parents[2]
REAL_BODY_MODEL = ROOT / 'common' / 'utils' / 'human_model_files'
ZOO = ('smpler_x_s32', 'smpler_x_b32', 'smpler_x_l32', 'smpler_x_h32_correct', 'smpler_x_h32')

PIPELINE_CHECK_TITLE = 'PIPELINE CHECK, NOT A PREDICTION'
PIPELINE_CHECK_TEXT = """\
No real SMPL-X model files and/or no SMPLer-X checkpoint were found, so this runs with
a synthetic body model (generated into .cache/demo/) and the S32 network with RANDOM weights.
Person boxes come from a boxes file (the YOLO weights are a download too). The overlay shows
that decoding, cropping, batched estimation, export and rendering work end to end; the
meshes are noise.
For real results:
  1. register at https://smpl-x.is.tue.mpg.de and put SMPLX_NEUTRAL.npz (+ the other files
     listed in README "Body model files") into common/utils/human_model_files/smplx/
  2. put a checkpoint into pretrained_models/ (e.g. smpler_x_s32.pth.tar from
     https://huggingface.co/caizhongang/SMPLer-X), or let main/inference.py download it online
  3. run: python main/inference.py --video_input YOUR.mp4 --pretrained_model smpler_x_s32 \\
         --multi_person --output_folder out/ --video_output out/YOUR_smplx.mp4"""


def terminal_banner() -> str:
    """``PIPELINE_CHECK_TEXT`` framed for a terminal."""
    rule = '=' * 94
    return '\n'.join(['', rule, ' ' + PIPELINE_CHECK_TITLE]
                     + [' ' + line for line in PIPELINE_CHECK_TEXT.splitlines()] + [rule, ''])


def find_checkpoint(pretrained_dir: Path = ROOT / 'pretrained_models') -> str | None:
    """Name of the first released checkpoint of ``ZOO`` present in ``pretrained_dir`` (any weight format)."""
    for name in ZOO:
        for suffix in ('.safetensors', '.pth.tar', '.pth'):
            if (Path(pretrained_dir) / f'{name}{suffix}').is_file():
                return name
    return None


def real_checkpoint(pretrained_dir: Path = ROOT / 'pretrained_models',
                    body_model: Path = REAL_BODY_MODEL) -> str | None:
    """The checkpoint name to run for real, or None: pipeline-check mode (a file of either kind missing)."""
    ckpt = find_checkpoint(pretrained_dir)
    return ckpt if ckpt is not None and (Path(body_model) / 'smplx' / 'SMPLX_NEUTRAL.npz').is_file() else None


def synthetic_body_model(cache_dir: Path = ROOT / '.cache' / 'demo') -> Path:
    """The synthetic SMPL-X files (``human_model_files`` layout), generated into ``cache_dir`` once, keyed by the
    generator's source so a changed generator never leaves a stale model behind."""
    from data.synthetic import body_model_files
    key = hashlib.sha1(Path(body_model_files.__file__).read_bytes()).hexdigest()[:12]
    out = Path(cache_dir) / f'body_{key}'
    done = out / 'human_model_files' / '.complete'
    if not done.is_file():
        logger.info('generating the synthetic body model into %s ...', out)
        body_model_files.write_body_model_files(out, seed=0)
        done.touch()
    return out / 'human_model_files'
