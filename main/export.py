"""Export inference results as animation files: BVH and animated glTF (.glb) per tracked person, one scene .glb.

Examples (from the repository root):

    python main/export.py --data_path out/sample --format all          # every track, BVH + glb + scene.glb
    python main/export.py --data_path out/sample --format bvh --track 1 --smooth --unit m
    python main/export.py --data_path out/frames --format glb --fps 25 --out exports/frames

Writes OUT (default DATA_PATH/export): track_K.bvh, track_K.glb, track_K.json (frames, which were estimated),
scene.glb. Axes: Y up, right-handed, the shared image camera at the origin looking down -Z; BVH in cm (--unit),
glTF in metres. FBX: blender -b --python tools/blender_to_fbx.py -- scene.glb scene.fbx (README "Animation export").
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
PROG = os.path.basename(__file__)

import argparse  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

from common.utils.cli import ArgumentParser, exit_with_error  # noqa: E402

logger = logging.getLogger('export')


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog=PROG, description=__doc__.split('\n')[0], epilog=__doc__.split('\n', 2)[2],
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data_path', required=True, help='an inference output folder (holding results.npz)')
    p.add_argument('--format', choices=('bvh', 'glb', 'all'), default='all', help='files to write')
    p.add_argument('--track', type=int, default=None, help='only this track id (default: every track)')
    p.add_argument('--smooth', action='store_true', help='One-Euro smoothing of each track before export')
    p.add_argument('--fps', type=float, default=None, help='frame rate (default: the one recorded in run.json)')
    p.add_argument('--out', default=None, help='output folder (default: DATA_PATH/export)')
    p.add_argument('--body_hands', action='store_true', help='BVH with body and hands only (52 joints, no jaw/eyes)')
    p.add_argument('--unit', choices=('cm', 'm'), default='cm', help='BVH length unit (glTF is always metres)')
    p.add_argument('--human_model_path', default='common/utils/human_model_files',
                   help='folder with smplx/SMPLX_NEUTRAL.npz (relative paths: from the repository root)')
    args = p.parse_args(argv)
    if args.fps is not None and not args.fps > 0:
        p.error(f'--fps must be > 0, got {args.fps}')
    if not Path(args.data_path).is_dir():
        p.error(f'--data_path {args.data_path} is not a folder')
    hm = Path(args.human_model_path).expanduser()
    args.human_model_path = hm if hm.is_absolute() or hm.exists() else Path(ROOT) / hm
    return args


def main(argv=None) -> list:
    args = parse_args(argv)
    from common.utils.logs import setup_logging
    setup_logging()
    from common.export.exporter import ExportInputError, export_results
    from common.export.rig import RigError
    from common.utils.files import FileWriteError
    try:
        paths = export_results(Path(args.data_path), args.format, human_model_path=args.human_model_path,
                               track=args.track, smooth=args.smooth, fps=args.fps,
                               out=Path(args.out) if args.out else None, body_hands=args.body_hands, unit=args.unit)
    except (ExportInputError, RigError) as e:
        exit_with_error(e, 2, PROG)
    except FileWriteError as e:
        exit_with_error(e, 1, PROG)
    for path in paths:
        logger.info('wrote %s', path)
    return paths


if __name__ == '__main__':
    main()
