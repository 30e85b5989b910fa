"""The inference command line (``main/inference.py``, console script ``smplerx-infer``): flags -> ``smplerx.load``
-> ``Predictor.run``; many inputs (``--input_list``, a folder of videos or of image folders) go through
``common.inference.corpus.run_corpus``, which calls the same ``Predictor.run`` once per input. Parsing imports
nothing heavy, so ``--help`` answers at once."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from common.config import add_cfg_options_argument
from common.utils.cli import ArgumentParser
from common.utils.device import add_device_argument
from common.utils.precision import add_precision_argument
from common.weights import add_unsafe_load_argument

logger = logging.getLogger('inference')

__all__ = ['build_parser', 'parse_args', 'load_model', 'run', 'run_corpus', 'corpus_inputs', 'inference_main',
           'MESH_FORMATS']

MESH_FORMATS = ('obj', 'ply', 'glb')

EPILOG = """examples:
  python main/inference.py --video_input in.mp4 --pretrained_model smpler_x_h32 --output_folder out/in \\
      --video_output out/in.mp4 --multi_person --save_mesh
  python main/inference.py --img_path demo/images/seq --start 1 --end 100 --pretrained_model smpler_x_s32 \\
      --output_folder out/seq --show_bbox --batch_size 32 --precision bf16
  python main/inference.py --video_input demo/sample.mp4 --bbox_file demo/sample_boxes.json \\
      --config config_smpler_x_s32 --ckpt my_run/snapshot_10.pth.tar --output_folder out/sample --resume
  # a corpus (one output folder per input + manifest.jsonl); on N GPUs: torchrun --nproc_per_node N main/inference.py
  python main/inference.py --input_list videos.txt --pretrained_model smpler_x_h32 --output_folder out/corpus \
      --multi_person --no_overlay --resume
"""


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(description='SMPL-X estimation of the people in a video, image folder or image.',
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group('input')
    src.add_argument('--video_input', help='video file (frames numbered from 1); a folder: every video in it, '
                                           'each one input of a corpus')
    src.add_argument('--img_path', help='image folder (frames sorted by name; numeric names give the frame '
                                        'numbers) or one image file; a folder holding no image but sub-folders: '
                                        'each sub-folder one input of a corpus')
    src.add_argument('--input_list', help='text file, one input per line (videos, image folders, images; '
                                          '"#" comments, relative paths from the current directory): a corpus')
    src.add_argument('--start', type=int, default=None, help='first frame number (as the original; default: first)')
    src.add_argument('--end', type=int, default=None, help='number of frames from --start (a count, as the '
                                                           'original; default: all)')
    m = p.add_argument_group('model')
    m.add_argument('--pretrained_model', default=None, help='model zoo name, e.g. smpler_x_h32 or '
                   'smpler_x_h32_correct: config main/config/config_NAME.py, weights pretrained_models/NAME'
                   '{.safetensors,.pth.tar} (downloaded from Hugging Face when missing and online); '
                   'with --random_weights only the config is used')
    m.add_argument('--config', default=None, help='config file or name (with --ckpt, for your own runs)')
    m.add_argument('--ckpt', default=None, help='checkpoint file (default: the --pretrained_model weights)')
    m.add_argument('--random_weights', action='store_true', help='no checkpoint: random weights (pipeline check)')
    m.add_argument('--offline', action='store_true', help='never download weights')
    m.add_argument('--backend', choices=('torch', 'onnxruntime'), default='torch',
                   help='torch (default) or onnxruntime: run the network exported by tools/export_onnx.py '
                        '(--onnx FILE; weights and precision come from the file; --config/--pretrained_model '
                        'optional: default the config the file was exported from)')
    m.add_argument('--onnx', default=None, help='ONNX file for --backend onnxruntime')
    add_unsafe_load_argument(m)
    add_cfg_options_argument(p)
    d = p.add_argument_group('detection')
    d.add_argument('--detector', default='yolov8x.pt', help='ultralytics YOLO weights (looked up in '
                   'pretrained_models/, downloaded by ultralytics when online) or a model .yaml (untrained)')
    d.add_argument('--bbox_file', default=None, help='JSON boxes per frame instead of the detector: '
                   '{"format": "xywh", "frames": {"1": [[x, y, w, h], ...], ...}}; boxes may be objects '
                   '{"bbox": [...], "score": s, "track_id": k}; used as given (no score/size filter, no NMS, '
                   'every box of a frame: --multi_person does not apply)')
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
    o.add_argument('--resume', action='store_true', help='keep the frames an earlier run of the same input and '
                   'settings finished in OUTPUT_FOLDER (checked file by file; a damaged frame is recomputed)')
    o.add_argument('--overwrite', action='store_true', help='replace results of another input found in '
                   'OUTPUT_FOLDER (without it such a folder is refused)')
    o.add_argument('--no_progress', action='store_true', help='no progress bar')
    cam = o.add_mutually_exclusive_group()
    cam.add_argument('--focal', type=float, default=None, help='focal length (pixels) of the shared image camera '
                     'all people of a frame are placed in (transl_image_camera); default: the image diagonal')
    cam.add_argument('--fov', type=float, default=None, help='the shared image camera as a field of view (degrees '
                     'across the larger image side) instead of --focal')
    o.add_argument('--export', choices=('bvh', 'glb', 'all'), default=None, help='after inference, write '
                   'animation files per track into OUTPUT_FOLDER/export (as main/export.py --format)')
    r = p.add_argument_group('speed')
    r.add_argument('--batch_size', type=int, default=16, help='person crops per model call (across frames)')
    r.add_argument('--det_batch_size', type=int, default=8, help='frames per detector call')
    add_precision_argument(r, extra_help=' (fp16 on the CPU runs as bf16, or fp32 on CPUs without fast bf16)')
    r.add_argument('--compile', action='store_true', help='torch.compile the model')
    add_device_argument(r)
    c = p.add_argument_group('corpus (many inputs; README "Inference over a corpus")')
    c.add_argument('--rank_timeout', type=float, default=300.0, help='seconds without a heartbeat after which rank 0 '
                   'takes another rank as dead and writes the manifest without waiting for it')
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check flag combinations before any heavy work (``parser.error`` exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if sum(bool(x) for x in (args.video_input, args.img_path, args.input_list)) != 1:
        parser.error('give exactly one of --video_input FILE|DIR, --img_path DIR|IMAGE or --input_list FILE')
    args.corpus = _corpus_mode(parser, args)
    if args.backend == 'onnxruntime' or args.onnx:
        _check_onnx_flags(parser, args)
    elif args.pretrained_model and (args.config or args.ckpt):
        parser.error('--pretrained_model selects both config and weights: give it alone, or --config FILE with '
                     '--ckpt PATH (or --random_weights)')
    if args.backend == 'torch' and not args.pretrained_model and not args.config:
        parser.error('--random_weights needs the architecture: add --config FILE (or --pretrained_model NAME)'
                     if args.random_weights else
                     'give --pretrained_model NAME, or --config FILE with --ckpt PATH (or with --random_weights)')
    if args.backend == 'torch' and args.config and not args.ckpt and not args.random_weights:
        parser.error('--config needs --ckpt PATH (or --random_weights)')
    if args.ckpt and args.random_weights:
        parser.error('--ckpt and --random_weights exclude each other')
    if args.resume and args.overwrite:
        parser.error('--resume keeps the finished frames, --overwrite removes them: give one')
    if args.batch_size < 1 or args.det_batch_size < 1:
        parser.error('--batch_size and --det_batch_size must be >= 1')
    for flag, value in (('--start', args.start), ('--end', args.end)):
        if value is not None and value < 1:
            parser.error(f'{flag} must be >= 1 (frames are numbered from 1; --end is a number of frames), got {value}')
    for flag, value, low_open in (('--iou_thr', args.iou_thr, True), ('--track_iou', args.track_iou, True),
                                  ('--score_thr', args.score_thr, False)):
        if not (0 < value <= 1 if low_open else 0 <= value <= 1):
            parser.error(f'{flag} must be in {"(0, 1]" if low_open else "[0, 1]"}, got {value}')
    if args.focal is not None and not args.focal > 0:
        parser.error(f'--focal is a focal length in pixels and must be > 0, got {args.focal}')
    if args.fov is not None and not 0 < args.fov < 180:
        parser.error(f'--fov is in degrees and must be in (0, 180), got {args.fov}')
    if args.bbox_thr < 0:
        parser.error(f'--bbox_thr is a size in pixels and must be >= 0, got {args.bbox_thr}')
    if args.mesh_format and not args.save_mesh:
        args.save_mesh = True
    if args.video_output and not args.video_output.lower().endswith('.mp4'):
        parser.error(f'--video_output must end with .mp4, got {args.video_output}')
    if args.rank_timeout <= 0:
        parser.error(f'--rank_timeout must be > 0 seconds, got {args.rank_timeout}')
    if args.video_input and args.video_output is None and not args.no_overlay and not args.corpus:
        args.video_output = str(Path(args.output_folder) / f'{Path(args.video_input).stem}_smplx.mp4')
    if args.no_overlay:
        args.video_output = None
    return args


def _check_onnx_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--backend onnxruntime needs --onnx and excludes the torch-only model flags."""
    if args.backend != 'onnxruntime':
        parser.error('--onnx needs --backend onnxruntime')
    if not args.onnx:
        parser.error('--backend onnxruntime needs --onnx FILE (export one with tools/export_onnx.py)')
    for flag, given in (('--ckpt', args.ckpt), ('--random_weights', args.random_weights),
                        ('--compile', args.compile), ('--unsafe_load', args.unsafe_load)):
        if given:
            parser.error(f'{flag} applies to --backend torch; with onnxruntime the weights are in --onnx {args.onnx}')
    if args.pretrained_model and args.config:
        parser.error('give --pretrained_model or --config, not both')


def _corpus_mode(parser: argparse.ArgumentParser, args: argparse.Namespace) -> bool:
    """Whether the input flags name many inputs: --input_list, --video_input DIR, or --img_path DIR that holds no
    image file directly but sub-folders (each one input). A folder with images (or empty) stays one input."""
    if args.input_list:
        if not Path(args.input_list).is_file():
            parser.error(f'--input_list {args.input_list} is not a file; give a text file with one input per line')
        corpus = True
    elif args.video_input:
        corpus = Path(args.video_input).is_dir()
    else:
        from common.inference.corpus import is_folder_of_inputs
        corpus = Path(args.img_path).is_dir() and is_folder_of_inputs(Path(args.img_path))
    if corpus and args.video_output:
        parser.error('--video_output names one file: with many inputs each overlay video goes into its input\'s '
                     'folder (OUTPUT_FOLDER/NAME/NAME_smplx.mp4); drop --video_output')
    return corpus


def load_model(args: argparse.Namespace, device: str | None = None):
    """``smplerx.load`` with the flags' model, precision and detector (the detector built now, so a missing one
    fails before any output is written)."""
    import smplerx
    model = smplerx.load(args.pretrained_model or args.config, ckpt=args.ckpt, random_weights=args.random_weights,
                         device=device or args.device, precision=args.precision, cfg_options=args.cfg_options,
                         detector=args.detector, compile=args.compile, offline=args.offline,
                         unsafe_load=args.unsafe_load, backend=args.backend, onnx=args.onnx)
    if not args.bbox_file:
        model.detector  # noqa: B018 - build it now: a missing detector fails before any output is written
    return model


def run(args: argparse.Namespace, model=None) -> dict:
    """Run the model the flags name (loaded unless given) over the one input; returns the run summary."""
    from common.inference.io import open_source
    from common.inference.output_stage import WriteOptions
    from common.inference.stream import StreamOptions

    open_source(args.video_input or args.img_path, args.start, args.end,  # fail fast on a bad input
                expect='video' if args.video_input else 'images')
    if model is None:
        model = load_model(args)
    stream = StreamOptions(batch_size=args.batch_size, det_batch_size=args.det_batch_size,
                           multi_person=args.multi_person, iou_thr=args.iou_thr, min_size=args.bbox_thr,
                           score_thr=args.score_thr, track_iou=args.track_iou, smooth=args.smooth,
                           smooth_min_cutoff=args.smooth_min_cutoff, smooth_beta=args.smooth_beta)
    is_video = bool(args.video_input)
    write = WriteOptions(mesh_formats=tuple(args.mesh_format or ('obj',)) if args.save_mesh else (),
                         show_verts=args.show_verts, show_bbox=args.show_bbox,
                         save_images=not is_video and not args.no_overlay,
                         video_output=Path(args.video_output) if args.video_output else None, renderer=args.renderer)
    logger.info('input %s, device %s, precision %s, batch %d, backend %s', args.video_input or args.img_path,
                model.device, model.precision, args.batch_size, args.backend)
    from common.utils.scene_camera import ImageCamera
    summary = model.run(args.video_input or args.img_path, args.output_folder, args.bbox_file, start=args.start,
                        end=args.end, stream=stream, write=write, resume=args.resume, overwrite=args.overwrite,
                        progress=not args.no_progress, image_camera=ImageCamera(args.focal, args.fov))
    if args.export and summary['frames'] + summary['skipped'] > 0:
        from common.export.exporter import export_results
        summary['export'] = [str(p) for p in export_results(Path(args.output_folder), args.export,
                                                            body_model=model.body_model)]
    return summary


# flags that do not change what an input's folder holds (everything else is hashed into the manifest records)
_NOT_SETTINGS = ('video_input', 'img_path', 'input_list', 'output_folder', 'video_output', 'resume', 'overwrite',
                 'no_progress', 'batch_size', 'det_batch_size', 'device', 'compile', 'rank_timeout', 'corpus',
                 'offline', 'unsafe_load', 'pretrained_model', 'config', 'ckpt', 'random_weights')


def corpus_inputs(args: argparse.Namespace) -> list[Path]:
    """The inputs the corpus flags name (``common.inference.corpus``; the output folder is never an input)."""
    from common.inference import corpus
    out = Path(args.output_folder).resolve()
    if args.input_list:
        return corpus.read_input_list(Path(args.input_list))
    if args.video_input:
        return corpus.list_video_folder(Path(args.video_input), exclude=out)
    return corpus.list_image_folders(Path(args.img_path), exclude=out)


def run_corpus(args: argparse.Namespace) -> dict:
    """Many inputs: each rank loads the model once and runs ``run`` (-> ``Predictor.run``) on its share."""
    from common.inference.corpus import run_corpus as corpus_run
    from common.inference.io import IMAGE_EXTENSIONS

    def run_one(model, inp, folder: Path, resume: bool) -> dict:
        path = Path(inp.path)
        is_video = path.is_file() and path.suffix.lower() not in IMAGE_EXTENSIONS
        one = argparse.Namespace(**vars(args))
        one.video_input, one.img_path, one.input_list = (inp.path, None, None) if is_video else (None, inp.path, None)
        one.output_folder, one.resume, one.corpus = str(folder), resume, False
        one.video_output = str(folder / f'{path.stem}_smplx.mp4') if is_video and not args.no_overlay else None
        summary = run(one, model)
        if summary['frames'] + summary['skipped'] == 0:
            raise RuntimeError(f'no frame of {inp.path} could be read (see the warnings above)')
        return summary

    def settings(model) -> dict:
        return {'model': model.provenance(),
                'flags': {k: v for k, v in sorted(vars(args).items()) if k not in _NOT_SETTINGS}}

    return corpus_run(Path(args.output_folder), corpus_inputs(args), load=lambda device: load_model(args, device),
                      run_one=run_one, settings=settings, resume=args.resume, start=args.start, end=args.end,
                      device=args.device, rank_timeout=args.rank_timeout)


def _launch_world() -> int:
    """The number of ranks torchrun or srun started (1 without a launcher)."""
    if os.environ.get('WORLD_SIZE', '').isdigit():
        return int(os.environ['WORLD_SIZE'])
    if 'SLURM_PROCID' in os.environ and os.environ.get('SLURM_NTASKS', '').isdigit():
        return int(os.environ['SLURM_NTASKS'])
    return 1


def _launch_rank() -> int:
    """This process's rank as torchrun or srun set it (0 without a launcher), for logging before any set-up."""
    for name in ('RANK', 'SLURM_PROCID'):
        if os.environ.get(name, '').isdigit():
            return int(os.environ[name])
    return 0


def inference_main(argv=None) -> dict:
    """``main/inference.py``: parse, run, and turn every user mistake into one line and exit code 2."""
    args = parse_args(argv)
    if not args.corpus and _launch_world() > 1:
        from common.utils.cli import exit_with_error
        exit_with_error(f'{_launch_world()} ranks were started for one input ({args.video_input or args.img_path}); '
                        f'one input runs in one process: start one process, or give many inputs (--input_list FILE, '
                        f'--video_input DIR, --img_path DIR_OF_FOLDERS) to shard them over the ranks')
    from common.utils.logs import setup_logging
    rank = _launch_rank() if args.corpus else 0
    setup_logging(rank)
    if rank > 0:
        args.no_progress = True
    from common.checkpoint import CheckpointError
    from common.config import ConfigError
    from common.inference.corpus import CorpusError
    from common.deploy.metadata import OnnxFileError
    from common.inference.detection import BoxFileError
    from common.inference.io import FrameSourceError
    from common.inference.runner import OutputFolderError
    from common.utils.device import DeviceError
    from common.utils.files import FileWriteError
    from common.utils.human_models import BodyModelError
    from common.weights import WeightsNotFoundError
    from common.export.rig import RigError  # noqa: I001 - export errors (--export)
    from common.export.tracks import ExportInputError
    try:
        summary = run_corpus(args) if args.corpus else run(args)
    except (FrameSourceError, BoxFileError, ConfigError, BodyModelError, WeightsNotFoundError,
            CheckpointError, DeviceError, OutputFolderError, CorpusError, ExportInputError, RigError,
            OnnxFileError) as e:
        logger.error('%s', e)
        raise SystemExit(2) from e
    except FileWriteError as e:
        logger.error('%s', e)
        raise SystemExit(1) from e
    if args.corpus:
        if rank == 0 and not summary['complete']:
            raise SystemExit(1)  # the summary line and the manifest say which inputs failed or are missing
        return summary
    if summary['frames'] + summary['skipped'] == 0:
        logger.error('no frame of %s could be read (see the warnings above): nothing was written',
                     args.video_input or args.img_path)
        raise SystemExit(1)
    logger.info('done: %s', summary)
    return summary
