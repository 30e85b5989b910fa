"""What an exported SMPLer-X ONNX file says about itself (``metadata_props``), and the check that it fits a config.

Torch-free (only ``onnx`` is imported, lazily), so ``tools/export_onnx.py --help`` and the CLI's checks stay fast.
Keys (all strings; JSON where structured):

    smplerx.format        '1'
    smplerx.variant       config name the graph was exported from (e.g. 'config_smpler_x_s32')
    smplerx.architecture  JSON: every config value the graph bakes in (widths, depth, shapes, camera constants)
    smplerx.input         JSON: {"name": "img", "shape": ["batch"|B, 3, 512, 384], "dtype": "float32",
                          "range": "[0, 1] RGB"}
    smplerx.outputs       JSON: [[name, shape], ...] in graph output order (NETWORK_OUTPUTS)
    smplerx.opset, smplerx.precision ('fp32' | 'fp16'), smplerx.weights (checkpoint file name or 'random')
    smplerx.smplx_layer   'not included: apply SMPL-X after the graph (common.deploy.runtime)'
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

__all__ = ['OnnxFileError', 'NETWORK_OUTPUTS', 'ARCHITECTURE_KEYS', 'FORMAT_VERSION', 'SMPLX_LAYER_NOTE',
           'architecture_of', 'build_metadata', 'read_metadata', 'check_compatible']

FORMAT_VERSION = '1'
SMPLX_LAYER_NOTE = 'not included: apply SMPL-X after the graph (common.deploy.runtime)'

# graph outputs, in order, with their shapes ('B' = batch): SPEC §1.13 network outputs (no mesh, no joints:
# the SMPL-X layer is applied by our code after the graph)
NETWORK_OUTPUTS = (
    ('smplx_root_pose', ('B', 3)), ('smplx_body_pose', ('B', 63)), ('smplx_lhand_pose', ('B', 45)),
    ('smplx_rhand_pose', ('B', 45)), ('smplx_jaw_pose', ('B', 3)), ('smplx_shape', ('B', 10)),
    ('smplx_expr', ('B', 10)), ('cam_trans', ('B', 3)), ('joint_img', ('B', 65, 3)),
    ('lhand_bbox', ('B', 4)), ('rhand_bbox', ('B', 4)), ('face_bbox', ('B', 4)),
)

# config values the exported graph bakes in: a file fits a config only when all of them are equal
ARCHITECTURE_KEYS = ('feat_dim', 'encoder.depth', 'encoder.num_heads', 'encoder.mlp_ratio', 'encoder.patch_size',
                     'encoder.patch_padding', 'encoder.num_task_tokens', 'input_img_shape', 'input_body_shape',
                     'output_hm_shape', 'output_hand_hm_shape', 'input_hand_shape', 'input_face_shape', 'focal',
                     'princpt', 'camera_3d_size', 'upscale')


class OnnxFileError(ValueError):
    """An ONNX file that is missing, unreadable, not a SMPLer-X export, or exported for another architecture."""


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def architecture_of(cfg) -> dict:
    """The ``ARCHITECTURE_KEYS`` values of a config, as plain JSON values (tuples -> lists)."""
    out = {}
    for key in ARCHITECTURE_KEYS:
        value = cfg
        for part in key.split('.'):
            value = value[part]
        out[key] = _plain(value)
    return out


def build_metadata(cfg, *, opset: int, precision: str, weights: str, dynamic_batch: bool,
                   batch: int) -> dict[str, str]:
    """metadata_props of an export of ``cfg``'s network (string values)."""
    H, W = (int(v) for v in cfg.input_img_shape)
    return {
        'smplerx.format': FORMAT_VERSION,
        'smplerx.variant': Path(str(cfg.filename)).stem if getattr(cfg, 'filename', None) else 'unknown',
        'smplerx.architecture': json.dumps(architecture_of(cfg), sort_keys=True),
        'smplerx.input': json.dumps({'name': 'img', 'shape': ['batch' if dynamic_batch else batch, 3, H, W],
                                     'dtype': 'float32', 'range': '[0, 1] RGB'}),
        'smplerx.outputs': json.dumps([[n, list(s)] for n, s in NETWORK_OUTPUTS]),
        'smplerx.opset': str(opset),
        'smplerx.precision': precision,
        'smplerx.weights': weights,
        'smplerx.smplx_layer': SMPLX_LAYER_NOTE,
    }


def read_metadata(path: str | Path) -> dict[str, str]:
    """metadata_props of an ONNX file (weights are not loaded).

    Raises:
        OnnxFileError: the file is missing, not an ONNX model, or has no SMPLer-X metadata.
    """
    import onnx
    path = Path(path)
    if not path.is_file():
        raise OnnxFileError(f'ONNX file {path} not found; export one with python tools/export_onnx.py '
                            f'--pretrained_model NAME --out {path.name}')
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError, onnx its own errors
        raise OnnxFileError(f'{path} is not a readable ONNX model ({type(e).__name__}: {e}); re-export it with '
                            f'tools/export_onnx.py') from e
    meta = {p.key: p.value for p in model.metadata_props}
    if meta.get('smplerx.format') != FORMAT_VERSION:
        raise OnnxFileError(f'{path} is an ONNX model but not a SMPLer-X export of format {FORMAT_VERSION} '
                            f'(no smplerx.* metadata); export it with tools/export_onnx.py')
    return meta


def check_compatible(meta: Mapping[str, str], cfg, path: str | Path) -> None:
    """Raise ``OnnxFileError`` naming every architecture value where the file and the config differ."""
    try:
        arch = json.loads(meta['smplerx.architecture'])
    except (KeyError, ValueError) as e:
        raise OnnxFileError(f'{path}: metadata smplerx.architecture is missing or not JSON; re-export the file') from e
    want = architecture_of(cfg)
    diffs = [f'{k}: file {arch.get(k)!r}, config {want[k]!r}' for k in ARCHITECTURE_KEYS if arch.get(k) != want[k]]
    if diffs:
        raise OnnxFileError(f'{path} was exported from {meta.get("smplerx.variant", "another config")} and does not '
                            f'fit config {Path(str(cfg.filename)).stem}: ' + '; '.join(diffs)
                            + '; pass the config it was exported from (or omit the config to use the file\'s)')
