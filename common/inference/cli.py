"""Argument parser of main/inference.py (kept here so the entry script stays short)."""
from __future__ import annotations

import argparse
from pathlib import Path

from common.checkpoint import add_unsafe_load_argument
from common.config import add_cfg_options_argument
from common.utils.device import add_device_argument

__all__ = ['build_parser', 'parse_args', 'MESH_FORMATS']

MESH_FORMATS = ('obj', 'ply', 'glb')

EPILOG = """examples:
  python main/inference.py --video_input in.mp4 --pretrained_model smpler_x_h32 --output_folder out/in \\
      --video_output out/in.mp4 --multi_person --save_mesh
  python main/inference.py --img_path demo/images/seq --start 1 --end 100 --pretrained_model smpler_x_s32 \\
      --output_folder out/seq --show_bbox --batch_size 32 --precision bf16
  python main/inference.py --video_input demo/sample.mp4 --bbox_file demo/sample_boxes.json \\
      --config config_smpler_x_s32 --ckpt my_run/snapshot_10.pth.tar --output_folder out/sample --resume
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='SMPL-X estimation of the people in a video, image folder or image.',
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group('input')
    src.add_argument('--video_input', help='video file (frames numbered from 1)')
    src.add_argument('--img_path', help='image folder (frames sorted by name; numeric names give the frame '
                                        'numbers) or one image file')
    src.add_argument('--start', type=int, default=None, help='first frame number (as the original; default: first)')
    src.add_argument('--end', type=int, default=None, help='number of frames from --start (a count, as the '
                                                           'original; default: all)')
    m = p.add_argument_group('model')
    m.add_argument('--pretrained_model', default=None, help='model zoo name, e.g. smpler_x_h32 or '
                   'smpler_x_h32_correct: config main/config/config_NAME.py, weights pretrained_models/NAME'
                   '{.safetensors,.pth.tar} (downloaded from Hugging Face when missing and online)')
    m.add_argument('--config', default=None, help='config file or name (with --ckpt, for your own runs)')
    m.add_argument('--ckpt', default=None, help='checkpoint file (default: the --pretrained_model weights)')
    m.add_argument('--random_weights', action='store_true', help='no checkpoint: random weights (pipeline check)')
    m.add_argument('--offline', action='store_true', help='never download weights')
    add_unsafe_load_argument(m)
    add_cfg_options_argument(p)
    d = p.add_argument_group('detection')
    d.add_argument('--detector', default='yolov8x.pt', help='ultralytics YOLO weights (looked up in '
                   'pretrained_models/, downloaded by ultralytics when online) or a model .yaml (untrained)')
    d.add_argument('--bbox_file', default=None, help='JSON boxes per frame instead of the detector: '
                   '{"format": "xywh", "frames": {"1": [[x, y, w, h], ...], ...}}; boxes may be objects '
                   '{"bbox": [...], "score": s, "track_id": k}; used as given (no score/size filter, no NMS)')
    d.add_argument('--multi_person', action='store_true', help='keep every person (greedy NMS), not only the '
                                                               'largest box')
    d.add_argument('--iou_thr', type=float, default=0.5, help='NMS IoU threshold in --multi_person mode')
    d.add_argument('--bbox_thr', type=float, default=50.0, help='size filter as the original: drop boxes '
                                                                'narrower than this or lower than 3x this (pixels)')
    d.add_argument('--score_thr', type=float, default=0.5, help='drop detections with a lower score')
    d.add_argument('--track_iou', type=float, default=0.3, help='IoU to continue a person track across frames')
    o = p.add_argument_group('output')
    o.add_argument('--output_folder', default='output', help='where smplx/ meta/ mesh/ frames/ results.npz go')
    o.add_argument('--video_output', default=None, help='overlay video (.mp4); default for video input: '
                   'OUTPUT_FOLDER/<video name>_smplx.mp4')
    o.add_argument('--no_overlay', action='store_true', help='write no overlay video/images (parameters only)')
    o.add_argument('--save_mesh', action='store_true', help='also write mesh/FRAME_PERSON.obj (as the original)')
    o.add_argument('--mesh_format', nargs='+', choices=MESH_FORMATS, default=None,
                   help='mesh formats for --save_mesh (default obj)')
    o.add_argument('--show_verts', action='store_true', help='overlay projected vertices instead of the mesh')
    o.add_argument('--show_bbox', action='store_true', help='draw the detector boxes on the overlay')
    o.add_argument('--renderer', choices=('auto', 'pyrender', 'opencv'), default='auto',
                   help='overlay renderer; auto = pyrender (EGL) if a GL context can be made, else OpenCV')
    o.add_argument('--smooth', action='store_true', help='One-Euro smoothing of each track\'s parameters')
    o.add_argument('--smooth_min_cutoff', type=float, default=1.0, help='One-Euro min cutoff (Hz)')
    o.add_argument('--smooth_beta', type=float, default=0.5, help='One-Euro speed coefficient')
    o.add_argument('--resume', action='store_true', help='skip frames already finished in OUTPUT_FOLDER')
    o.add_argument('--no_progress', action='store_true', help='no progress bar')
    r = p.add_argument_group('speed')
    r.add_argument('--batch_size', type=int, default=16, help='person crops per model call (across frames)')
    r.add_argument('--det_batch_size', type=int, default=8, help='frames per detector call')
    r.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), default='fp32', help='autocast precision')
    r.add_argument('--compile', action='store_true', help='torch.compile the model')
    add_device_argument(r)
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check flag combinations before any heavy work (``parser.error`` exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.video_input) == bool(args.img_path):
        parser.error('give exactly one of --video_input FILE or --img_path DIR|IMAGE')
    if not args.pretrained_model and not args.config:
        parser.error('give --pretrained_model NAME, or --config FILE with --ckpt PATH (or --random_weights)')
    if args.config and not args.ckpt and not args.random_weights and not args.pretrained_model:
        parser.error('--config needs --ckpt PATH (or --random_weights)')
    if args.ckpt and args.random_weights:
        parser.error('--ckpt and --random_weights exclude each other')
    if args.batch_size < 1 or args.det_batch_size < 1:
        parser.error('--batch_size and --det_batch_size must be >= 1')
    if args.mesh_format and not args.save_mesh:
        args.save_mesh = True
    if args.video_output and not args.video_output.lower().endswith('.mp4'):
        parser.error(f'--video_output must end with .mp4, got {args.video_output}')
    if args.video_input and args.video_output is None and not args.no_overlay:
        args.video_output = str(Path(args.output_folder) / f'{Path(args.video_input).stem}_smplx.mp4')
    if args.no_overlay:
        args.video_output = None
    return args
