"""``smplerx.load(...)`` -> ``Predictor``: the one inference path of the project.

    import smplerx
    model = smplerx.load('smpler_x_h32', device='cuda', precision='bf16')
    people = model.predict(image)                      # (H, W, 3) uint8 RGB array or a path; list -> list of lists
    for frame in model.predict_video('in.mp4', batch_size=16, track=True):
        print(frame.frame, [p.track_id for p in frame.people])
    model.run('in.mp4', 'out/in')                      # every output file of main/inference.py

``predict``, ``predict_video`` and ``run`` (which ``main/inference.py``, the web app and the corpus runner use)
all go through ``common.inference.stream.stream_results``: one code path, batched across people and frames.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import numpy as np

from common.inference.detection import BoxFileError, BoxTable, load_bbox_file, parse_boxes
from common.inference.estimator import CropCamera, Estimator
from common.inference.io import Frame, open_source
from common.inference.output_stage import WriteOptions
from common.inference.person import FrameResult, Person
from common.inference.runner import describe_input, run_to_folder
from common.inference.stream import StreamOptions, stream_results
from common.utils.image_io import read_image
from common.utils.scene_camera import ImageCamera, attach_image_camera

logger = logging.getLogger(__name__)

__all__ = ['load', 'Predictor', 'BACKENDS']

BACKENDS = ('torch', 'onnxruntime')

_CONFIG_KEYS_NOT_HASHED = ('root_dir', 'data_dir', 'output_root', 'pretrained_model_dir', 'filename')
RANDOM_WEIGHTS_SEED = 0  # random_weights=True builds the same network every time (reproducible pipeline checks)


def _is_config_name(name: str) -> bool:
    """A config file or config name (``config_*.py``) rather than a model-zoo name (``smpler_x_h32``)."""
    p = Path(name)
    return p.is_file() or p.suffix == '.py' or p.name.startswith('config_')


def load(name_or_config: str | Path | None = None, *, ckpt: str | Path | None = None, random_weights: bool = False,
         device: str = 'auto', precision: str = 'fp32', human_model_path: str | Path | None = None,
         cfg_options: Mapping | Sequence[str] | None = None, detector='yolov8x.pt', compile: bool = False,
         offline: bool = False, unsafe_load: bool = False, backend: str = 'torch',
         onnx: str | Path | None = None) -> 'Predictor':
    """Build a ready-to-run SMPLer-X predictor, resolving weights exactly as ``main/inference.py`` does.

    Args:
        name_or_config: a model-zoo name (``'smpler_x_h32'``, ``'smpler_x_h32_correct'``, ...: config
            ``main/config/config_NAME.py`` and weights ``pretrained_models/NAME{.safetensors,.pth.tar}``,
            downloaded from Hugging Face when missing and online), or a config file/name (``config_smpler_x_s32``,
            ``path/config.py``) with ``ckpt`` or ``random_weights``. None: the config a ``ckpt`` implies (its
            run's ``code/config.py``, or its zoo file name).
        ckpt: checkpoint file (``.pth.tar``, ``.pth``, ``.safetensors``); loaded strictly and safely.
        random_weights: no checkpoint: a seeded random network (a pipeline check, not predictions).
        device: 'auto' | 'cpu' | 'cuda' | 'cuda:N'. precision: 'fp32' | 'bf16' | 'fp16' (autocast; on the CPU
            ``common.utils.precision.cpu_inference_precision`` decides, with a warning: fp16 runs as bf16, or as fp32
            where the CPU has no fast bf16; bf16 on such a CPU is kept but warned about).
        human_model_path: folder holding ``smplx/SMPLX_NEUTRAL.npz`` (default: the config's).
        cfg_options: config overrides, ``{'key': value}`` or ``['key=value', ...]``.
        detector: YOLO weights name/path (``'yolov8x.pt'``, looked up in ``pretrained_models/``), a model
            ``.yaml`` (untrained: pipeline checks), or a callable ``frames_bgr -> [Detections]``; built on first
            use, so predictions with given boxes need no detector.
        compile: ``torch.compile`` the network (see README "Speed").
        offline: never download weights. unsafe_load: allow checkpoints that need full unpickling (trusted
            files only).
        backend: 'torch' (default) or 'onnxruntime': the network is the exported ``onnx`` file
            (``tools/export_onnx.py``; its weights are inside, so no ``ckpt``/``random_weights``; precision is the
            file's); the config (default: the one the file was exported from) gives the crop camera and body
            model, and must fit the file's architecture (``OnnxFileError`` otherwise).
    Raises:
        ValueError (bad arguments), ConfigError, WeightsNotFoundError, CheckpointError, BodyModelFilesMissing,
        DeviceError: each with a message naming the file/key and the fix.
    """
    import torch

    from common.checkpoint import load_checkpoint
    from common.config import config_path_for_model
    from common.model import build_model
    from common.utils.device import select_device
    from common.utils.human_models import get_smplx
    from common.utils.precision import PRECISIONS, cpu_inference_precision
    from common.weights import resolve_checkpoint

    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {list(PRECISIONS)}, got {precision!r}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {list(BACKENDS)}, got {backend!r}')
    if backend == 'onnxruntime':
        return _load_onnxruntime(name_or_config, onnx, ckpt=ckpt, random_weights=random_weights, device=device,
                                 precision=precision, human_model_path=human_model_path, cfg_options=cfg_options,
                                 detector=detector, compile=compile)
    if onnx is not None:
        raise ValueError('onnx=FILE needs backend="onnxruntime"')
    if ckpt is not None and random_weights:
        raise ValueError('give ckpt=PATH or random_weights=True, not both')
    weights_name = None
    if name_or_config is None:
        if ckpt is None:
            raise ValueError('smplerx.load needs a model name (e.g. "smpler_x_h32"), a config with ckpt=PATH or '
                             'random_weights=True, or a ckpt=PATH whose config can be found')
        from common.run_dir import config_for_checkpoint
        config = config_for_checkpoint(ckpt)
        if config is None:
            raise ValueError(f'cannot tell the config of {ckpt} from its name or run folder; pass the config too: '
                             f'smplerx.load("config_smpler_x_s32", ckpt=...)')
    elif _is_config_name(str(name_or_config)):
        config = name_or_config
        if ckpt is None and not random_weights:
            raise ValueError(f'{name_or_config} is a config: give its weights with ckpt=PATH (or random_weights=True '
                             f'for a pipeline check); released models load by name, e.g. smplerx.load("smpler_x_h32")')
    else:
        config = config_path_for_model(str(name_or_config))
        weights_name = str(name_or_config)
    cfg = _load_cfg(config, cfg_options, human_model_path)
    torch_device = select_device(device)
    if torch_device.type == 'cpu':
        precision, warning = cpu_inference_precision(precision)
        if warning:
            logger.warning(warning)
    body_model = get_smplx(cfg.human_model_path)  # fail fast when the SMPL-X files are missing
    if random_weights:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            model = build_model(cfg)
        weights = None
        logger.warning('random weights: outputs are a pipeline check, not predictions')
    else:
        weights = resolve_checkpoint(ckpt if ckpt is not None else weights_name, cfg.pretrained_model_dir,
                                     download=not offline)
        model = build_model(cfg)
        load_checkpoint(model, weights, strict=True, allow_unsafe=unsafe_load)
        logger.info('loaded weights %s', weights)
    model.eval().to(torch_device)
    if compile:
        from common.model import compile_for_inference
        model = compile_for_inference(model, torch_device)
    return Predictor(cfg, model, Estimator(model, torch_device, precision), body_model, torch_device, precision,
                     weights, detector, name=weights_name)


def _load_cfg(config, cfg_options, human_model_path):
    """The config ``load`` resolved, with ``cfg_options`` (dict or ``['k=v', ...]``) and ``human_model_path``."""
    from common.config import load_config, parse_cfg_options
    overrides = parse_cfg_options(cfg_options) if not isinstance(cfg_options, Mapping) else dict(cfg_options)
    if human_model_path is not None:
        overrides['human_model_path'] = str(human_model_path)
    return load_config(config, overrides)


def _load_onnxruntime(name_or_config, onnx, *, ckpt, random_weights, device, precision, human_model_path,
                      cfg_options, detector, compile) -> 'Predictor':
    """``load(..., backend='onnxruntime', onnx=FILE)``: no torch network is built."""
    from common.config import config_path_for_model
    from common.deploy.metadata import OnnxFileError, read_metadata
    from common.deploy.runtime import OrtEstimator
    from common.utils.device import select_device
    from common.utils.human_models import get_smplx
    if onnx is None:
        raise ValueError('backend="onnxruntime" needs onnx=FILE (export one with tools/export_onnx.py)')
    if ckpt is not None or random_weights:
        raise ValueError('backend="onnxruntime" takes its weights from the ONNX file: drop ckpt / random_weights')
    if compile:
        raise ValueError('compile=True applies to the torch backend only')
    meta = read_metadata(onnx)
    if precision != 'fp32' and precision != meta.get('smplerx.precision'):
        raise ValueError(f'{onnx} computes in {meta.get("smplerx.precision")}: its precision is fixed at export '
                         f'(tools/export_onnx.py --precision); drop precision={precision!r}')
    if name_or_config is None:
        config = meta.get('smplerx.variant', '')
        if not (Path(__file__).resolve().parents[1] / 'main' / 'config' / f'{config}.py').is_file():
            raise OnnxFileError(f'{onnx} was exported from config {config!r}, which is not in main/config/; pass '
                                f'the config file it was exported from')
    elif _is_config_name(str(name_or_config)):
        config = name_or_config
    else:
        config = config_path_for_model(str(name_or_config))
    cfg = _load_cfg(config, cfg_options, human_model_path)
    torch_device = select_device(device)
    body_model = get_smplx(cfg.human_model_path)  # fail fast when the SMPL-X files are missing
    estimator = OrtEstimator(onnx, cfg, body_model, torch_device)
    logger.info('onnxruntime backend: %s (%s, %s)', onnx, estimator.session.get_providers()[0],
                estimator.precision)
    if estimator.random_weights:
        logger.warning('random weights (exported from a random network): outputs are a pipeline check, not '
                       'predictions')
    return Predictor(cfg, None, estimator, body_model, torch_device, estimator.precision, None, detector,
                     backend='onnxruntime', onnx=Path(onnx))


class Predictor:
    """A loaded SMPLer-X model with its body model and (lazily) its person detector.

    Attributes:
        cfg: the resolved config; model: the network (eval mode); estimator: crops -> outputs (batched);
        body_model: the SMPL-X layer (``faces`` (20908, 3)); camera: crop geometry (``CropCamera``);
        device, precision; weights: checkpoint path (None with random weights); backend: 'torch' |
        'onnxruntime' (then ``model`` is None and ``onnx`` the graph file).
    """

    def __init__(self, cfg, model, estimator, body_model, device, precision: str, weights: Path | None,
                 detector='yolov8x.pt', name: str | None = None, backend: str = 'torch', onnx: Path | None = None):
        self.backend, self.onnx = backend, onnx
        self.cfg, self.model, self.estimator, self.body_model = cfg, model, estimator, body_model
        self.device, self.precision, self.weights, self.name = device, precision, weights, name
        self.camera = CropCamera.from_config(cfg)
        self._detector_spec, self._detector = detector, None

    @property
    def faces(self) -> np.ndarray:
        """(20908, 3) int64 SMPL-X triangles."""
        return self.body_model.faces

    @property
    def random_weights(self) -> bool:
        if self.onnx is not None:
            return bool(getattr(self.estimator, 'random_weights', False))
        return self.weights is None

    @property
    def detector(self):
        """The person detector (built on first use): frames_bgr -> [Detections]."""
        if self._detector is None:
            spec = self._detector_spec
            if callable(spec):
                self._detector = spec
            else:
                from common.inference.detection import YoloPersonDetector
                from common.weights import load_yolo
                if str(spec).endswith(('.yaml', '.yml')):
                    logger.warning('detector %s is an architecture file: an UNTRAINED detector whose boxes are '
                                   'meaningless (pipeline checks only); use yolov8x.pt for real detections', spec)
                half = self.device.type == 'cuda' and self.precision == 'fp16'
                self._detector = YoloPersonDetector(load_yolo(str(spec), Path(self.cfg.pretrained_model_dir)),
                                                    device=str(self.device), half=half)
        return self._detector

    # ------------------------------------------------------------------------------------------ the one path
    def stream(self, frames, boxes=None, options: StreamOptions | None = None,
               finished: Mapping | None = None, image_camera: ImageCamera | None = None) -> Iterator[FrameResult]:
        """Estimate every person of ``frames`` (iterable of ``common.inference.io.Frame``), in frame order.

        Args:
            boxes: None (detect with YOLO), a boxes JSON file, or ``{frame: [box, ...]}`` (``BOX_FILE_HELP``).
            options: ``StreamOptions`` (batching, person rules, tracking, smoothing).
            finished: frames done by an earlier run ({frame: Detections}), see ``stream_results``.
            image_camera: the shared camera of each frame (``ImageCamera(focal=|fov=)``; default: the image
                diagonal as focal), which fills every person's ``transl_image_camera`` / ``image_focal``.
        """
        from common.inference.detection import YoloPersonDetector
        opts = options or StreamOptions()
        table = _box_table(boxes)
        detector = None
        if table is None:
            detector = self.detector
            if isinstance(detector, YoloPersonDetector):  # YOLO's own floor = the score filter
                detector = functools.partial(detector, conf=max(opts.score_thr, 1e-6))
        try:
            for result in stream_results(frames, self.estimator, self.camera, opts, detector=detector, boxes=table,
                                         body_model=self.body_model, finished=finished):
                attach_image_camera(result, image_camera or ImageCamera())
                yield result
        finally:
            if table is not None and table.unused():
                logger.warning('%s: %d frame key(s) matched no frame of the input, e.g. %s', table.where,
                               len(table.unused()), table.unused()[:5])

    def predict(self, images, boxes=None, *, multi_person: bool = True, batch_size: int = 16,
                score_thr: float = 0.5, iou_thr: float = 0.5, bbox_thr: float = 50.0,
                image_camera: ImageCamera | None = None):
        """SMPL-X of the people in one image or a list of images.

        Args:
            images: an (H, W, 3) uint8 **RGB** array or an image path; or a list of them.
            boxes: person boxes instead of the detector: for one image a list of xywh boxes (pixels) or box
                objects ``{"bbox": [x, y, w, h], "score": s, "track_id": k}``; for a list of images a list of
                such lists. Given boxes are used as they are (no score/size filter, no NMS).
            multi_person: every person (greedy NMS, ``iou_thr``) or only the largest box.
            batch_size: person crops per model call; score_thr, bbox_thr: detector score and size filters.
            image_camera: the shared camera (``ImageCamera(focal=|fov=)``, default from the image size).
        Returns:
            ``list[Person]`` (largest box first) for one image; ``list[list[Person]]`` for a list.
        """
        single = not isinstance(images, (list, tuple))
        items = [images] if single else list(images)
        if boxes is not None:
            per_image = [boxes] if single else list(boxes)
            if len(per_image) != len(items):
                raise ValueError(f'boxes: {len(per_image)} box list(s) for {len(items)} image(s); give one list per '
                                 f'image')
            boxes = {str(i + 1): b for i, b in enumerate(per_image)}
        frames = [Frame(i + 1, f'{i + 1:06d}.jpg', _as_bgr(img, i)) for i, img in enumerate(items)]
        opts = StreamOptions(batch_size=batch_size, multi_person=multi_person, iou_thr=iou_thr, min_size=bbox_thr,
                             score_thr=score_thr, track=False)
        people = [r.people for r in self.stream(frames, boxes, opts, image_camera=image_camera)]
        return people[0] if single else people

    def predict_video(self, path, boxes=None, *, batch_size: int = 16, track: bool = True, smooth: bool = False,
                      start: int = 1, end: int | None = None, multi_person: bool = True, score_thr: float = 0.5,
                      iou_thr: float = 0.5, bbox_thr: float = 50.0,
                      image_camera: ImageCamera | None = None) -> Iterator[FrameResult]:
        """Yield one ``FrameResult`` per frame of a video, an image folder or one image.

        Args:
            path: video file, image folder (frames sorted by name; numeric names are the frame numbers) or image.
            boxes: None (detector), a boxes JSON file, or ``{frame: [box, ...]}`` (see ``predict``).
            track: IoU track ids across frames (ids given with the boxes are kept); smooth: One-Euro smoothing
                of each track's parameters (meshes re-posed from them).
            start: first frame number; end: number of frames from ``start`` (as ``--end``; None: to the end).
        """
        source = open_source(path, start, end)
        opts = StreamOptions(batch_size=batch_size, multi_person=multi_person, iou_thr=iou_thr, min_size=bbox_thr,
                             score_thr=score_thr, track=track or smooth, smooth=smooth, fps=source.fps)
        yield from self.stream(source, boxes, opts, image_camera=image_camera)

    def run(self, path, output_folder, boxes=None, *, start: int | None = None, end: int | None = None,
            stream: StreamOptions | None = None, write: WriteOptions | None = None, resume: bool = False,
            overwrite: bool = False, progress: bool = True, image_camera: ImageCamera | None = None) -> dict:
        """Everything ``main/inference.py`` writes, for one input: per-person npz/json(/meshes), frame records,
        ``results.npz``, ``run.json`` and the overlay (README "Inference outputs", "Output folder and --resume").

        Args:
            path: video, image folder or image; boxes: as in ``predict_video``.
            stream: ``StreamOptions`` (default: the CLI's: single person, tracking on).
            write: ``WriteOptions`` (default: parameters only, no meshes or overlay).
            resume: keep the finished frames of an earlier run of the same input and settings.
            overwrite: replace the results of another input found in ``output_folder``.
            image_camera: the shared camera (``ImageCamera(focal=|fov=)``, default from the image size;
                recorded in ``run.json``: --resume refuses a folder made with another one).
        Returns:
            summary {frames, skipped, people, seconds, results, video, output_folder}.
        Raises:
            FrameSourceError, BoxFileError, OutputFolderError before anything is written.
        """
        source = open_source(path, start, end)
        opts = dataclasses.replace(stream or StreamOptions(multi_person=False), fps=source.fps, track=True)
        table = _box_table(boxes)
        image_camera = image_camera or ImageCamera()
        provenance = {'input': describe_input(source), 'model': self.provenance(),
                      'detection': _detection_provenance(boxes, table, opts, self._detector_spec),
                      'processing': {'smooth': opts.smooth, 'track_iou': opts.track_iou,
                                     'image_camera': image_camera.describe(),
                                     **({'smooth_min_cutoff': opts.smooth_min_cutoff, 'smooth_beta': opts.smooth_beta}
                                        if opts.smooth else {})}}
        return run_to_folder(Path(output_folder), source,
                             lambda finished: self.stream(source, table, opts, finished=finished,
                                                          image_camera=image_camera),
                             write or WriteOptions(), faces=self.faces, body_model=self.body_model,
                             provenance=provenance, resume=resume, overwrite=overwrite, progress=progress)

    def provenance(self) -> dict:
        """What identifies this model's outputs (recorded in ``run.json``): config, its hash, weights, precision."""
        cfg = {k: v for k, v in self.cfg.to_dict().items() if k not in _CONFIG_KEYS_NOT_HASHED}
        digest = hashlib.sha1(json.dumps(cfg, sort_keys=True, default=str).encode()).hexdigest()[:16]
        weights = 'random' if self.weights is None else str(Path(self.weights).resolve())
        size = None if self.weights is None else Path(self.weights).stat().st_size
        info = {'config': str(self.cfg.filename), 'config_hash': digest, 'weights': weights, 'weights_bytes': size,
                'precision': self.precision}
        if self.onnx is not None:
            meta = self.estimator.metadata
            info.update(backend=self.backend, onnx=str(Path(self.onnx).resolve()), onnx_bytes=self.onnx.stat().st_size,
                        weights=meta.get('smplerx.weights'), weights_bytes=None)
        return info


def _box_table(boxes) -> BoxTable | None:
    if boxes is None or isinstance(boxes, BoxTable):
        return boxes
    if isinstance(boxes, (str, Path)):
        return BoxTable(load_bbox_file(boxes), f'--bbox_file {boxes}')
    if isinstance(boxes, Mapping):
        return BoxTable(parse_boxes(boxes), 'boxes')
    raise BoxFileError(f'boxes must be a JSON file path or a {{frame: [box, ...]}} mapping, got {type(boxes).__name__}')


def _detection_provenance(boxes, table: BoxTable | None, opts: StreamOptions, detector) -> dict:
    if table is None:
        name = detector if isinstance(detector, (str, Path)) else type(detector).__name__
        return {'detector': str(name), 'multi_person': opts.multi_person, 'score_thr': opts.score_thr,
                'iou_thr': opts.iou_thr, 'bbox_thr': opts.min_size}
    if isinstance(boxes, (str, Path)):
        return {'boxes': str(Path(boxes).resolve()), 'boxes_sha1': hashlib.sha1(Path(boxes).read_bytes()).hexdigest()}
    text = json.dumps({k: [d.boxes.tolist(), d.scores.tolist()] for k, d in table.table.items()}, sort_keys=True)
    return {'boxes': 'given', 'boxes_sha1': hashlib.sha1(text.encode()).hexdigest()}


def _as_bgr(image, index: int) -> np.ndarray:
    """An API image (RGB uint8 array or a path) -> (H, W, 3) uint8 BGR."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f'images[{index}]: expected an (H, W, 3) uint8 RGB array or a path, got an array of shape '
                         f'{arr.shape} and dtype {arr.dtype}')
    return np.ascontiguousarray(arr[:, :, ::-1])
