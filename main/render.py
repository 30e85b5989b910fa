"""Overlay saved SMPL-X results (ours or the original SMPLer-X layout) on their frames.

Examples (from the repository root):

    # every result folder under out/ (folders holding smplx/), frames found from the saved meta json
    python main/render.py --data_path out/
    # the original's layout: out/seq/{smplx,meta}/ with frames extracted to out/seq/orig_img/%06d.jpg
    python main/render.py --data_path out --seq seq --render_biggest_person False
    # frames elsewhere, OpenCV painter, no video
    python main/render.py --data_path out/seq --image_path frames/ --renderer opencv --no_video

Writes <seq>/smplerx_overlay_img/{frame:06d}.jpg (as the original) and <seq>/smplerx_overlay.mp4.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
PROG = os.path.basename(__file__)  # name in messages, also when run in-process (tests)

import argparse  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

# Argument parsing needs none of the heavy modules (torch, pyrender, smplx): they are imported in main().
from common.utils.cli import ArgumentParser, exit_with_error  # noqa: E402

logger = logging.getLogger('render')


def str2bool(text: str) -> bool:
    """'True'/'1'/'yes' -> True, 'False'/'0'/'no' -> False (the original parsed any non-empty string as True)."""
    low = str(text).strip().lower()
    if low in ('1', 'true', 'yes', 'y', 'on'):
        return True
    if low in ('0', 'false', 'no', 'n', 'off'):
        return False
    raise argparse.ArgumentTypeError(f'expected True or False, got {text!r}')


def parse_args(argv=None) -> argparse.Namespace:
    p = ArgumentParser(prog=PROG, description='Render saved SMPL-X results over their frames.',
                       epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data_path', required=True, help='a result folder or a folder above several')
    p.add_argument('--seq', default='default', help="'default': every folder with smplx/ below --data_path; "
                                                    'otherwise a glob of folders under --data_path')
    p.add_argument('--image_path', default=None, help='frames folder or video (default: <seq>/orig_img/, else '
                                                      'the input recorded in the meta json)')
    p.add_argument('--render_biggest_person', type=str2bool, nargs='?', const=True, default=False,
                   help='only the person with the largest box per frame (default: everybody)')
    p.add_argument('--flat_hand_mean', type=str2bool, nargs='?', const=True, default=False,
                   help='hand poses are absolute (True) or relative to the mean hand (False, SMPLer-X output)')
    p.add_argument('--human_model_path', default=os.path.join(ROOT, 'common', 'utils', 'human_model_files'),
                   help='folder holding smplx/SMPLX_NEUTRAL.npz')
    p.add_argument('--renderer', choices=('auto', 'pyrender', 'opencv'), default='auto',
                   help='auto = pyrender (EGL) if a GL context can be made, else the OpenCV painter')
    p.add_argument('--show_bbox', action='store_true', help='draw the detector boxes')
    p.add_argument('--fps', type=float, default=None, help='video frame rate (default: the input\'s, or 30)')
    p.add_argument('--no_images', action='store_true', help='do not write smplerx_overlay_img/')
    p.add_argument('--no_video', action='store_true', help='do not write smplerx_overlay.mp4')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from common.utils.logs import setup_logging
    setup_logging()
    from common.inference.io import FrameSourceError
    from common.inference.render_results import render_sequence
    from common.inference.result_files import find_sequences
    from common.utils.human_models import SMPLX, BodyModelFileError, BodyModelFilesMissing
    from common.vis.render import make_renderer
    seqs = find_sequences(Path(args.data_path), args.seq)
    if not seqs:
        exit_with_error(f'no result folders (with smplx/) under {args.data_path} matching --seq {args.seq}',
                        prog=PROG)
    try:
        body_model = SMPLX(args.human_model_path, flat_hand_mean=args.flat_hand_mean)
    except (BodyModelFilesMissing, BodyModelFileError) as e:
        exit_with_error(e, prog=PROG)
    renderer = make_renderer(args.renderer)
    logger.info('renderer: %s; %d sequence(s)', renderer.name, len(seqs))
    total = 0
    for seq in seqs:
        try:
            total += render_sequence(seq, body_model, renderer,
                                     None if args.no_images else seq / 'smplerx_overlay_img',
                                     None if args.no_video else seq / 'smplerx_overlay.mp4',
                                     args.image_path, args.render_biggest_person, args.fps, args.show_bbox)
        except FrameSourceError as e:
            logger.error('%s: %s', seq, e)
    return total


if __name__ == '__main__':
    main()
