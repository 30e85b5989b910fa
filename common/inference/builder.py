"""Turn the inference CLI arguments into the pipeline's parts (the one place the config is read)."""
from __future__ import annotations

import logging
from pathlib import Path

import torch

from common.inference.detection import YoloPersonDetector, load_bbox_file
from common.inference.estimator import CropCamera, Estimator

logger = logging.getLogger(__name__)

__all__ = ['build_config', 'build_estimator', 'build_detector', 'crop_camera']


def build_config(args):
    """Config from ``--config FILE`` or from ``--pretrained_model NAME`` (+ ``--cfg-options``)."""
    from common.config import config_path_for_model, load_config
    path = args.config or config_path_for_model(args.pretrained_model)
    return load_config(path, list(args.cfg_options or []))


def crop_camera(cfg) -> CropCamera:
    return CropCamera(tuple(cfg.input_img_shape), tuple(cfg.input_body_shape), tuple(cfg.focal),
                      tuple(cfg.princpt), float(cfg.inference_bbox_ratio))


def build_estimator(args, cfg, device: torch.device) -> Estimator:
    """Model from the config, weights from ``--ckpt``/``--pretrained_model`` (strict load) unless
    ``--random_weights``; eval mode, on ``device``, optionally ``torch.compile``d."""
    from common.model import build_model
    model = build_model(cfg)
    if args.random_weights:
        logger.warning('--random_weights: the model keeps its random initialisation; outputs are a pipeline '
                       'check, not predictions')
    else:
        from common.checkpoint import load_checkpoint
        from common.weights import resolve_checkpoint
        path = resolve_checkpoint(args.ckpt or args.pretrained_model, cfg.pretrained_model_dir,
                                  download=not args.offline)
        load_checkpoint(model, path, strict=True, allow_unsafe=args.unsafe_load)
        logger.info('loaded weights %s', path)
    model.eval().to(device)
    if args.compile:
        from common.model import compile_for_inference
        model = compile_for_inference(model, device)
    return Estimator(model, device, args.precision)


def build_detector(args, cfg, device: torch.device):
    """(detector, boxes_table): ``--bbox_file`` gives (None, table); otherwise a YOLO person detector.

    ``--detector`` is a weights file name (``yolov8x.pt``, resolved/downloaded by ``common.weights.load_yolo``
    under ``pretrained_model_dir``) or a model ``.yaml`` (an untrained detector, for pipeline tests).
    """
    if args.bbox_file:
        return None, load_bbox_file(args.bbox_file)
    from common.weights import load_yolo
    yolo = load_yolo(args.detector, Path(cfg.pretrained_model_dir))
    half = device.type == 'cuda' and args.precision == 'fp16'
    return YoloPersonDetector(yolo, conf=max(args.score_thr, 1e-6), device=str(device), half=half), None
