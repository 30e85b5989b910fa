"""`make demo`: run inference end to end on the committed sample video and write the overlay video.

With the real SMPL-X files (common/utils/human_model_files/smplx/SMPLX_NEUTRAL.npz) and a released checkpoint in
pretrained_models/ it uses them. Without them it generates the synthetic body model into .cache/demo/ and runs
the S32 architecture with random weights: a check that the pipeline runs, not a prediction. The sample's boxes
file replaces the detector either way, so the demo needs no network.

    python tools/run_demo.py                 # writes demo/results/sample_smplx.mp4
    python tools/run_demo.py --out /tmp/demo --renderer opencv
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402

# the pipeline-check rule and banner are shared with the web app (main/app.py)
from common.app.demo_mode import (REAL_BODY_MODEL, real_checkpoint, synthetic_body_model,  # noqa: E402
                                  terminal_banner)

DEMO_DIR = Path(ROOT) / 'demo'


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', default=str(DEMO_DIR / 'results'), help='output folder')
    p.add_argument('--renderer', default='auto', choices=('auto', 'pyrender', 'opencv'))
    p.add_argument('--synthetic', action='store_true', help='use the synthetic pipeline check even when real '
                                                            'files are present')
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: %(message)s',
                        datefmt='%H:%M:%S')
    import smplerx
    video, boxes = DEMO_DIR / 'sample.mp4', DEMO_DIR / 'sample_boxes.json'
    ckpt = None if args.synthetic else real_checkpoint()
    real = ckpt is not None
    if real:
        print(f'Using the real SMPL-X files and the {ckpt} checkpoint.', flush=True)
        model = smplerx.load(ckpt, offline=True)
    else:
        print(terminal_banner(), flush=True)
        model = smplerx.load('config_smpler_x_s32', random_weights=True, human_model_path=synthetic_body_model())
    if not video.is_file() or not boxes.is_file():  # a trimmed checkout: rebuild the sample
        from data.synthetic.demo_video import write_demo_video
        write_demo_video(DEMO_DIR, REAL_BODY_MODEL if real else synthetic_body_model(), num_frames=30, fps=10.0)
    out = Path(args.out)
    summary = model.run(video, out, boxes, stream=smplerx.StreamOptions(batch_size=16, multi_person=False),
                        write=smplerx.WriteOptions(video_output=out / 'sample_smplx.mp4', show_bbox=True,
                                                   renderer=args.renderer))
    print(f"\ndemo done: overlay video {summary['video']}, parameters in {out}/smplx, results {summary['results']}"
          + ('' if real else '\n(pipeline check with random weights: see the banner above)'), flush=True)
    return summary


if __name__ == '__main__':
    main()
