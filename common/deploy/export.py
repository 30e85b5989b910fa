"""The SMPLer-X network as an ONNX graph: ``export_onnx(model, cfg, out, ...)``.

The graph is the network only: ``img (B, 3, 512, 384) float32 [0, 1] RGB`` -> the ``NETWORK_OUTPUTS`` of
``common.deploy.metadata`` (axis-angle poses, shape, expression, camera translation, joint heat-map coordinates,
hand/face boxes in crop pixels), exactly ``Model.forward(..., 'test')``'s values. The SMPL-X layer is NOT inside:
its weights are licensed, and a file embedding them would fall under the SMPL-X licence; ``common.deploy.runtime``
applies it after the graph, as ``Model._body_model`` does.

Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript). The TorchScript exporter also maps
``roi_align`` to ``RoiAlign`` but mis-exports roma's batched quaternion selection (``diagonal`` inside an ``If``
whose static shapes break onnxruntime as soon as the batch differs from the traced one). Op mapping, checked by
``tests/test_onnx.py``: torchvision ``roi_align(aligned=False, sampling_ratio=0)`` -> ``RoiAlign``
(``coordinate_transformation_mode='output_half_pixel'``, ``sampling_ratio=0``: ceil(roi_size / output_size)
points per bin, torchvision's adaptive rule), ``F.interpolate(nearest)`` -> ``Resize(nearest, asymmetric, floor)``,
``F.grid_sample(bilinear, zeros, align_corners=True)`` -> ``GridSample``; roma's 6D -> rotation matrix -> axis-angle
is plain arithmetic (norms, cross products, argmax/gather, atan2).

Precision: 'fp32', or 'fp16' = the network traced under ``torch.autocast(float16)``, i.e. torch's own mixed
precision (convolutions, matmuls and attention in fp16; softmax, norms and the rotation conversions as autocast
keeps them), with the weights stored in fp16; input and outputs stay float32.

Graph clean-up: constant folding only (``onnxscript.optimizer.fold_constants``; folds the weights' casts, so an fp16
file stores fp16 weights). The exporter's default optimizer is not used: onnxruntime and TensorRT make its fusions
when they load the file, its pattern rewriter makes exports 15-60 % slower (benchmarks/onnx_export_time.py), and on
fp16 graphs it leaves the weights fp32 behind casts and can write fp32 weights into an fp16 ConvTranspose (its
BatchNorm fusion; onnxruntime refuses such a file).
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from common.deploy.metadata import NETWORK_OUTPUTS, build_metadata
from common.utils.files import atomic_write
from common.utils.precision import autocast

logger = logging.getLogger(__name__)

__all__ = ['NetworkGraph', 'export_onnx', 'trace_network', 'load_network', 'DEFAULT_OPSET', 'PRECISIONS']

DEFAULT_OPSET = 18  # RoiAlign coordinate_transformation_mode needs >= 16; 18 is widely supported (TensorRT 10)
PRECISIONS = ('fp32', 'fp16')  # fp16: autocast mixed precision (module docstring); for GPUs
_OUTPUT_NAMES = tuple(name for name, _ in NETWORK_OUTPUTS)


class NetworkGraph(nn.Module):
    """``Model`` in test mode without the SMPL-X layer: ``img (B, 3, H, W)`` -> tuple of ``NETWORK_OUTPUTS``
    (float32), computed in ``precision`` ('fp32', or 'fp16' / 'bf16' autocast).

    The body model call of ``Model.forward`` is replaced, for this wrapper's forward only, by zeros of its
    shapes; every output taken here is independent of it, so the exporter drops it from the graph.
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32'):
        super().__init__()
        self.model, self.precision = model, precision

    @staticmethod
    def _no_body_model(root_pose, *_):
        B = root_pose.shape[0]
        return root_pose.new_zeros(B, 10475, 3), root_pose.new_zeros(B, 144, 3)

    def forward(self, img: torch.Tensor) -> tuple:
        with _patched(self.model, '_body_model', self._no_body_model), autocast(self.precision, img.device):
            out = self.model({'img': img}, {}, {}, 'test')
        return tuple(out[k].float() for k in _OUTPUT_NAMES)


@contextlib.contextmanager
def _patched(obj, name: str, value):
    setattr(obj, name, value)  # an instance attribute shadows the method
    try:
        yield
    finally:
        delattr(obj, name)


def export_onnx(model: nn.Module, cfg, out: str | Path, *, precision: str = 'fp32', opset: int = DEFAULT_OPSET,
                dynamic_batch: bool = True, batch: int = 1, weights: str = 'random') -> Path:
    """Export ``model`` (``common.model.Model``, any device) to ``out`` (written atomically) and validate it.

    Args:
        cfg: the model's config (architecture metadata, input size).
        precision: 'fp32' or 'fp16' (autocast mixed precision, fp16 weights: for GPU execution providers;
            onnxruntime's CPU provider runs it through inserted casts, slower than the fp32 file).
        opset: ONNX opset (>= 16). dynamic_batch: batch dimension symbolic ('batch'), else fixed to ``batch``.
        weights: what the weights are (checkpoint file name or 'random'), recorded in the metadata.
    Returns:
        ``out`` as a Path. The file holds the weights inline (single file; models < 2 GB).
    """
    import onnx
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {PRECISIONS}, got {precision!r}')
    if opset < 16:
        raise ValueError(f'opset {opset} is too old: RoiAlign with aligned=False semantics needs opset >= 16')
    out = Path(out)
    logger.info('exporting %s to ONNX (opset %d, %s, %s batch)', Path(str(cfg.filename)).stem, opset, precision,
                'dynamic' if dynamic_batch else f'fixed {batch}')
    program = trace_network(model, cfg, precision=precision, opset=opset, dynamic_batch=dynamic_batch, batch=batch)
    proto = program.model_proto
    meta = build_metadata(cfg, opset=opset, precision=precision, weights=weights, dynamic_batch=dynamic_batch,
                          batch=batch)
    del proto.metadata_props[:]
    for key, value in meta.items():
        proto.metadata_props.add(key=key, value=value)
    proto.producer_name = 'smplerx'
    onnx.checker.check_model(proto, full_check=True)
    with atomic_write(out) as tmp:
        onnx.save_model(proto, str(tmp))
    logger.info('wrote %s (%.1f MB)', out, out.stat().st_size / 1e6)
    return out


def trace_network(model: nn.Module, cfg, *, precision: str = 'fp32', opset: int = DEFAULT_OPSET,
                  dynamic_batch: bool = True, batch: int = 1, exporter_optimizer: bool = False):
    """``model``'s ``NetworkGraph`` as a ``torch.onnx.ONNXProgram`` (no metadata, not checked): traced by the dynamo
    exporter, then constant-folded. ``exporter_optimizer``: the exporter's own default optimizer instead of the
    folding (not used for files; ``benchmarks/onnx_export_time.py`` compares the two)."""
    from onnx_ir.passes.common import RemoveUnusedNodesPass
    from onnxscript.optimizer import fold_constants
    model = model.eval()  # the plain model: optimize_for_inference's copy is for torch only
    device = next(model.parameters()).device
    graph = NetworkGraph(model, precision).eval()
    H, W = (int(v) for v in cfg.input_img_shape)
    example = torch.rand(max(batch, 2) if dynamic_batch else batch, 3, H, W, device=device)
    dynamic_shapes = ({0: torch.export.Dim('batch', min=1)},) if dynamic_batch else None
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer chatter (roma's shape asserts, deprecations)
        program = torch.onnx.export(graph, (example,), dynamo=True, opset_version=opset, input_names=['img'],
                                    output_names=list(_OUTPUT_NAMES), dynamic_shapes=dynamic_shapes,
                                    external_data=False, verbose=False, optimize=exporter_optimizer)
    if not exporter_optimizer:
        # no size limits: the casts of the weights (fp16) are folded too
        fold_constants(program.model, input_size_limit=1 << 62, output_size_limit=1 << 62)
        RemoveUnusedNodesPass()(program.model)
    return program


RANDOM_WEIGHTS_SEED = 0  # the seed of smplerx.load(random_weights=True): the same random network


def load_network(config: str | None, *, pretrained_model: str | None = None, ckpt: str | None = None,
                 random_weights: bool = False, cfg_options=None, offline: bool = False, unsafe_load: bool = False):
    """The network to export -> (model (eval, CPU), cfg, weights description). Needs no SMPL-X files.

    ``pretrained_model``: zoo name (config + released weights); else ``config`` with ``ckpt`` or
    ``random_weights`` (seeded as ``smplerx.load(random_weights=True)``).
    """
    from common.checkpoint import load_checkpoint
    from common.config import config_path_for_model, load_config, parse_cfg_options
    from common.model import build_model
    from common.weights import resolve_checkpoint
    overrides = parse_cfg_options(cfg_options) if cfg_options is not None else {}
    cfg = load_config(config_path_for_model(pretrained_model) if pretrained_model else config, overrides)
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            model = build_model(cfg)
        return model.eval(), cfg, 'random'
    weights = resolve_checkpoint(ckpt if ckpt is not None else pretrained_model, cfg.pretrained_model_dir,
                                 download=not offline)
    model = build_model(cfg)
    load_checkpoint(model, weights, strict=True, allow_unsafe=unsafe_load)
    return model.eval(), cfg, Path(weights).name
