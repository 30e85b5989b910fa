"""The web demo's command line (``main/app.py``): flags -> ``smplerx.load`` -> the Gradio page -> launch.

Without model flags it follows ``make demo``'s rule (``common.app.demo_mode``): a released checkpoint and the
real SMPL-X files when both are there, otherwise the pipeline check (random S32 weights, synthetic body model)
with its banner in the page.
"""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from common.config import add_cfg_options_argument
from common.utils.device import add_device_argument

logger = logging.getLogger('app')

__all__ = ['build_parser', 'parse_args', 'app_main']

EPILOG = """examples:
  python main/app.py                                         # real files if present, else the pipeline check
  python main/app.py --pretrained_model smpler_x_h32 --device cuda --precision bf16
  python main/app.py --config config_smpler_x_s32 --ckpt run/snapshot_9.pth.tar --port 8080
  python main/app.py --host 0.0.0.0 --auth me:secret         # reachable from the network, with a login
Open the printed URL in a browser. README "Web demo" has the details.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description='SMPLer-X web demo (Gradio): upload a photo or video, see the overlay, '
                                            'download the SMPL-X results.', epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    m = p.add_argument_group('model (default: a released checkpoint found in pretrained_models/, else the pipeline '
                             'check)')
    m.add_argument('--pretrained_model', default=None, help='model zoo name, e.g. smpler_x_h32')
    m.add_argument('--config', default=None, help='config file or name (with --ckpt or --random_weights)')
    m.add_argument('--ckpt', default=None, help='checkpoint file')
    m.add_argument('--random_weights', action='store_true', help='random weights (pipeline check; banner shown)')
    m.add_argument('--detector', default='yolov8x.pt', help='YOLO weights for uploads without a boxes file')
    add_cfg_options_argument(p)
    r = p.add_argument_group('speed')
    r.add_argument('--batch_size', type=int, default=16, help='person crops per model call')
    r.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'), default='fp32', help='autocast precision')
    r.add_argument('--renderer', choices=('auto', 'pyrender', 'opencv'), default='auto', help='overlay renderer')
    add_device_argument(r)
    s = p.add_argument_group('server')
    s.add_argument('--host', default='127.0.0.1', help='address to listen on (0.0.0.0: every interface, reachable '
                                                       'from other machines; see README "Web demo")')
    s.add_argument('--port', type=int, default=7860, help='port')
    s.add_argument('--jobs_dir', default=os.path.join('output', 'app_jobs'),
                   help='root of the per-job output folders (and of Gradio\'s upload cache)')
    s.add_argument('--keep_hours', type=float, default=24.0, help='job folders older than this are deleted')
    s.add_argument('--max_queue', type=int, default=16, help='jobs that may wait in the queue (more are refused)')
    s.add_argument('--auth', default=None, metavar='USER:PASSWORD', help='ask for this login (Gradio auth)')
    s.add_argument('--share', action='store_true', help='also open a temporary public gradio.live link '
                                                        '(needs internet; anyone with the link can use the app)')
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """Parse and check flag combinations before any heavy work."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pretrained_model and (args.config or args.ckpt):
        parser.error('--pretrained_model selects config and weights: give it alone, or --config with --ckpt')
    if args.config and not (args.ckpt or args.random_weights):
        parser.error('--config needs --ckpt PATH (or --random_weights)')
    if args.ckpt and args.random_weights:
        parser.error('--ckpt and --random_weights exclude each other')
    if args.random_weights and not (args.config or args.pretrained_model):
        parser.error('--random_weights needs the architecture: add --config FILE (or --pretrained_model NAME)')
    if args.batch_size < 1 or args.max_queue < 1:
        parser.error('--batch_size and --max_queue must be >= 1')
    if not args.keep_hours > 0:
        parser.error(f'--keep_hours must be > 0, got {args.keep_hours}')
    if args.auth is not None and ':' not in args.auth:
        parser.error('--auth takes USER:PASSWORD')
    if not 0 < args.port < 65536:
        parser.error(f'--port must be 1..65535, got {args.port}')
    return args


def _load(args):
    """(predictor, pipeline_check) for the flags, or by ``make demo``'s rule when no model flag is given."""
    import smplerx

    from common.app.demo_mode import real_checkpoint, synthetic_body_model
    common = dict(device=args.device, precision=args.precision, cfg_options=args.cfg_options,
                  detector=args.detector)
    if args.pretrained_model or args.config:
        predictor = smplerx.load(args.pretrained_model or args.config, ckpt=args.ckpt,
                                 random_weights=args.random_weights, **common)
    elif (name := real_checkpoint()) is not None:
        logger.info('using the real SMPL-X files and the %s checkpoint', name)
        predictor = smplerx.load(name, offline=True, **common)
    else:
        logger.warning('no real SMPL-X files and/or checkpoint: pipeline check with random weights')
        predictor = smplerx.load('config_smpler_x_s32', random_weights=True, human_model_path=synthetic_body_model(),
                                 **common)
    return predictor, predictor.random_weights


def app_main(argv=None):
    """``main/app.py``: parse, load the model, build the page, serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s',
                        datefmt='%H:%M:%S')
    jobs_dir = Path(args.jobs_dir).resolve()
    # Gradio's uploads and output copies go under the jobs root too, so one folder holds all the app writes
    os.environ.setdefault('GRADIO_TEMP_DIR', str(jobs_dir / 'gradio_cache'))
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    from common.app.jobs import JobFolders
    from common.app.ui import build_app, launch_options
    from common.checkpoint import CheckpointError
    from common.config import ConfigError
    from common.utils.device import DeviceError
    from common.utils.human_models import BodyModelFilesMissing
    from common.weights import WeightsNotFoundError
    try:
        predictor, pipeline_check = _load(args)
    except (ConfigError, CheckpointError, WeightsNotFoundError, BodyModelFilesMissing, DeviceError, ValueError) as e:
        logger.error('%s', e)
        raise SystemExit(2) from e
    label = (f'model: {predictor.name or Path(str(predictor.cfg.filename)).stem}, weights: '
             f'{"RANDOM" if predictor.random_weights else Path(predictor.weights).name}, device: {predictor.device}, '
             f'precision: {predictor.precision}')
    jobs = JobFolders(jobs_dir, args.keep_hours * 3600)
    jobs.cleanup()
    demo = build_app(predictor, jobs, pipeline_check=pipeline_check, model_label=label, batch_size=args.batch_size,
                     renderer=args.renderer)
    demo.queue(default_concurrency_limit=1, max_size=args.max_queue)
    auth = tuple(args.auth.split(':', 1)) if args.auth else None
    logger.info('%s; job folders in %s (kept %.1f h)', label, jobs_dir, args.keep_hours)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, auth=auth, show_error=True,
                allowed_paths=[str(jobs_dir)], **launch_options())
