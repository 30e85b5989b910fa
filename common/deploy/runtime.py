"""onnxruntime backend: an exported SMPLer-X graph with the torch ``Estimator``'s interface.

``OrtEstimator(path, body_model, device)(crops)`` takes ``(B, 512, 384, 3) float32 RGB [0, 255]`` crops and
returns the ``OUTPUT_KEYS`` dict of torch tensors, like ``common.inference.estimator.Estimator``: the graph gives
the network outputs, then the SMPL-X layer (not in the graph: licensed weights) is applied here exactly as
``Model._body_model`` does (neutral SMPL-X, float32, zero eye poses, no translation): ``smplx_mesh_cam =
vertices + cam_trans``, ``smplx_joint_cam = joints (144) + cam_trans``. Everything downstream (detection, crops,
outputs, files) is the torch backend's pipeline.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from common.inference.estimator import OUTPUT_KEYS
from common.deploy.metadata import NETWORK_OUTPUTS, OnnxFileError, check_compatible, read_metadata

logger = logging.getLogger(__name__)

__all__ = ['OrtEstimator', 'open_session', 'apply_body_model', 'providers_for']

_NAMES = [name for name, _ in NETWORK_OUTPUTS]


def providers_for(device: torch.device) -> list[str]:
    """onnxruntime execution providers for a torch device: CUDA (with CPU fallback) on 'cuda' when this
    onnxruntime build has it, else the CPU provider."""
    import onnxruntime as ort
    available = ort.get_available_providers()
    if device.type == 'cuda':
        if 'CUDAExecutionProvider' in available:
            return ['CUDAExecutionProvider', 'CPUExecutionProvider']
        logger.warning('device %s: this onnxruntime build has no CUDAExecutionProvider (install onnxruntime-gpu); '
                       'running the graph on the CPU', device)
    return ['CPUExecutionProvider']


def open_session(path: str | Path, device: torch.device, threads: int | None = None):
    """An ``onnxruntime.InferenceSession`` for ``path`` on ``device``'s provider.

    Raises:
        OnnxFileError: onnxruntime cannot load the file (corrupt, truncated, unsupported op).
    """
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only
    # no busy-waiting between runs: the pipeline's reader/detector threads and the torch body model share the
    # cores (with spinning on, a 2-core machine spends most of its time in idle ORT workers)
    opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    if threads:
        opts.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers_for(device))
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise OnnxFileError(f'onnxruntime cannot load {path}: {str(e).splitlines()[0][:300]}; re-export it with '
                            f'tools/export_onnx.py') from e


def apply_body_model(body_model, net: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``Model._body_model`` after the graph -> (smplx_mesh_cam (B, 10475, 3), smplx_joint_cam (B, 144, 3)) metres,
    camera frame (neutral SMPL-X in float32, zero eyes, no translation; ``cam_trans`` added)."""
    from common.utils.human_models import pose_smplx
    out = pose_smplx(body_model, *(net[k] for k in ('smplx_root_pose', 'smplx_body_pose', 'smplx_lhand_pose',
                                                    'smplx_rhand_pose', 'smplx_jaw_pose', 'smplx_shape', 'smplx_expr')))
    cam = net['cam_trans'].float()[:, None, :]
    return out.vertices + cam, out.joints + cam


class OrtEstimator:
    """Batched onnxruntime call: ``(B, 512, 384, 3) float32 RGB [0, 255]`` crops -> ``OUTPUT_KEYS`` tensors.

    Args:
        path: exported ONNX file (``tools/export_onnx.py``); its metadata must fit ``cfg`` (``check_compatible``).
        cfg: the config giving the crop camera and the body model.
        body_model: SMPL-X layer (``common.utils.human_models.get_smplx``); runs on ``device`` with torch.
        device: torch device: picks the execution provider and where the returned tensors live.
    Attributes:
        metadata (the file's ``smplerx.*`` entries), precision, random_weights, path.
    """

    def __init__(self, path: str | Path, cfg, body_model, device: torch.device, threads: int | None = None):
        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        check_compatible(self.metadata, cfg, self.path)
        self.device = torch.device(device)
        self.session = open_session(self.path, self.device, threads)
        self.body_model = body_model
        self.precision = self.metadata.get('smplerx.precision', 'fp32')
        self.random_weights = self.metadata.get('smplerx.weights') == 'random'
        shape = json.loads(self.metadata['smplerx.input'])['shape']
        self.fixed_batch = shape[0] if isinstance(shape[0], int) else None
        if self.precision == 'fp16' and self.session.get_providers()[0] == 'CPUExecutionProvider':
            logger.warning('%s is an fp16 export: onnxruntime\'s CPU provider runs it through inserted casts, '
                           'slower than an fp32 export (tools/export_onnx.py --precision fp32 for the CPU)', self.path)
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs[:len(_NAMES)] != _NAMES:
            raise OnnxFileError(f'{self.path}: graph outputs {outputs} are not the expected {_NAMES}; re-export it')

    def run_network(self, img: np.ndarray) -> dict[str, np.ndarray]:
        """The graph alone: ``img (B, 3, H, W) float32 [0, 1]`` -> ``NETWORK_OUTPUTS`` arrays."""
        if self.fixed_batch is not None and img.shape[0] != self.fixed_batch:
            return self._run_fixed(img)
        return dict(zip(_NAMES, self.session.run(_NAMES, {'img': np.ascontiguousarray(img, np.float32)})))

    def _run_fixed(self, img: np.ndarray) -> dict[str, np.ndarray]:
        """A fixed-batch file: run in chunks of its batch, padding the last one."""
        n, B = img.shape[0], self.fixed_batch
        parts = []
        for i in range(0, n, B):
            chunk = img[i:i + B]
            pad = B - chunk.shape[0]
            if pad:
                chunk = np.concatenate((chunk, np.zeros((pad, *chunk.shape[1:]), chunk.dtype)))
            outs = self.session.run(_NAMES, {'img': np.ascontiguousarray(chunk, np.float32)})
            parts.append([o[:B - pad] for o in outs])
        return {name: np.concatenate([p[k] for p in parts]) for k, name in enumerate(_NAMES)}

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray) -> dict[str, torch.Tensor]:
        img = np.ascontiguousarray(np.asarray(crops, np.float32).transpose(0, 3, 1, 2)) / np.float32(255.0)
        net = {k: torch.from_numpy(v).to(self.device) for k, v in self.run_network(img).items()}
        mesh_cam, joint_cam = apply_body_model(self.body_model, net)
        out = {**net, 'smplx_mesh_cam': mesh_cam, 'smplx_joint_cam': joint_cam}
        return {k: out[k] for k in OUTPUT_KEYS}
