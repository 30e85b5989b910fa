"""SMPLer-X: expressive whole-body SMPL-X estimation from images and videos.

    import smplerx
    model = smplerx.load('smpler_x_h32', device='cuda', precision='bf16')
    people = model.predict(image_rgb)          # list[smplerx.Person]
    for frame in model.predict_video('in.mp4'):
        ...

See ``smplerx.api`` (``load``, ``Predictor``) and README "Python API". Names are imported on first use, so
``import smplerx`` (and the command-line ``--help``) stays fast.
"""
from __future__ import annotations

import importlib

__version__ = '0.2.0'
__all__ = ['load', 'Predictor', 'Person', 'FrameResult', 'StreamOptions', 'WriteOptions', 'ImageCamera', '__version__']

_LAZY = {
    'load': 'smplerx.api', 'Predictor': 'smplerx.api',
    'Person': 'common.inference.person', 'FrameResult': 'common.inference.person',
    'StreamOptions': 'common.inference.stream', 'WriteOptions': 'common.inference.output_stage',
    'ImageCamera': 'common.utils.scene_camera',
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
