"""Estimate SMPL-X for the people in a video, an image folder or one image.

Examples (from the repository root):

    # a video, every person, meshes, overlay video
    python main/inference.py --video_input in.mp4 --pretrained_model smpler_x_h32 --multi_person \
        --output_folder out/in --video_output out/in.mp4 --save_mesh
    # extracted frames 000001.jpg ... (the original's layout), 100 frames from frame 1
    python main/inference.py --img_path frames/ --start 1 --end 100 --pretrained_model smpler_x_s32 \
        --output_folder out/frames --show_bbox
    # your own boxes (a tracker's output), your own checkpoint, continue an interrupted run
    python main/inference.py --video_input demo/sample.mp4 --bbox_file demo/sample_boxes.json \
        --config config_smpler_x_s32 --ckpt run/snapshot_9.pth.tar --output_folder out/sample --resume

Outputs (see README "Inference outputs"): smplx/*.npz, meta/*.json, mesh/*.obj, frames/*.json,
results.npz, and the overlay (video for video input, img/ for image input).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import logging  # noqa: E402
from pathlib import Path  # noqa: E402

logger = logging.getLogger('inference')


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s',
                        datefmt='%H:%M:%S')
    for noisy in ('ultralytics', 'trimesh', 'PIL', 'matplotlib'):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(args) -> dict:
    """Build everything from parsed arguments and run the pipeline; returns the pipeline summary."""
    from common.inference.builder import build_config, build_detector, build_estimator, crop_camera
    from common.utils.device import select_device
    from common.inference.io import open_source
    from common.inference.pipeline import PipelineOptions, run_pipeline
    from common.utils.human_models import get_smplx

    source = open_source(args.video_input or args.img_path, args.start, args.end)  # fail fast on bad input
    cfg = build_config(args)
    body_model = get_smplx(cfg.human_model_path)  # fail fast when the SMPL-X files are missing
    device = select_device(args.device)
    detector, boxes_table = build_detector(args, cfg, device)
    estimator = build_estimator(args, cfg, device)
    logger.info('input %s (%s, %d frame(s)), device %s, precision %s, batch %d', source.path, source.kind,
                source.num_frames, device, args.precision, args.batch_size)
    opts = PipelineOptions(
        output_folder=Path(args.output_folder), batch_size=args.batch_size, det_batch_size=args.det_batch_size,
        multi_person=args.multi_person, iou_thr=args.iou_thr, min_size=args.bbox_thr, score_thr=args.score_thr,
        mesh_formats=tuple(args.mesh_format or ('obj',)) if args.save_mesh else (),
        show_verts=args.show_verts, show_bbox=args.show_bbox,
        save_images=source.kind != 'video' and not args.no_overlay,
        video_output=Path(args.video_output) if args.video_output else None, renderer=args.renderer,
        resume=args.resume, smooth=args.smooth, smooth_min_cutoff=args.smooth_min_cutoff,
        smooth_beta=args.smooth_beta, track_iou=args.track_iou, progress=not args.no_progress,
        camera=crop_camera(cfg))
    return run_pipeline(source, estimator, body_model.faces, body_model, opts, detector, boxes_table)


def main(argv=None) -> dict:
    from common.inference.cli import parse_args
    args = parse_args(argv)
    setup_logging()
    from common.checkpoint import CheckpointError
    from common.config import ConfigError
    from common.inference.detection import BoxFileError
    from common.inference.io import FrameSourceError
    from common.utils.device import DeviceError
    from common.utils.human_models import BodyModelFilesMissing
    from common.weights import WeightsNotFoundError
    try:
        summary = run(args)
    except (FrameSourceError, BoxFileError, ConfigError, BodyModelFilesMissing, WeightsNotFoundError,
            CheckpointError, DeviceError) as e:
        logger.error('%s', e)
        raise SystemExit(2) from e
    logger.info('done: %s', summary)
    return summary


if __name__ == '__main__':
    main()
