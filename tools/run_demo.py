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

DEMO_DIR = Path(ROOT) / 'demo'
REAL_BODY_MODEL = Path(ROOT) / 'common' / 'utils' / 'human_model_files'
ZOO = ('smpler_x_s32', 'smpler_x_b32', 'smpler_x_l32', 'smpler_x_h32_correct', 'smpler_x_h32')

SYNTHETIC_BANNER = """
==============================================================================================
 PIPELINE CHECK, NOT A PREDICTION
 No real SMPL-X model files and/or no SMPLer-X checkpoint were found, so this demo runs with
 a synthetic body model (generated into .cache/demo/), the S32 network with RANDOM weights and
 the sample's boxes file instead of the YOLO detector. The overlay shows that decoding,
 cropping, batched estimation, export and rendering work end to end; the meshes are noise.
 For real results:
   1. register at https://smpl-x.is.tue.mpg.de and put SMPLX_NEUTRAL.npz (+ the other files
      listed in README "Body model files") into common/utils/human_model_files/smplx/
   2. put a checkpoint into pretrained_models/ (e.g. smpler_x_s32.pth.tar from
      https://huggingface.co/caizhongang/SMPLer-X), or let main/inference.py download it online
   3. run: python main/inference.py --video_input YOUR.mp4 --pretrained_model smpler_x_s32 \\
          --multi_person --output_folder out/ --video_output out/YOUR_smplx.mp4
==============================================================================================
"""


def find_checkpoint() -> str | None:
    for name in ZOO:
        for suffix in ('.safetensors', '.pth.tar', '.pth'):
            if (Path(ROOT) / 'pretrained_models' / f'{name}{suffix}').is_file():
                return name
    return None


def synthetic_body_model() -> Path:
    import hashlib

    from data.synthetic import body_model_files
    from data.synthetic.body_model_files import write_body_model_files
    # keyed by the generator's source, so a changed generator never leaves a stale model behind
    key = hashlib.sha1(Path(body_model_files.__file__).read_bytes()).hexdigest()[:12]
    out = Path(ROOT) / '.cache' / 'demo' / f'body_{key}'
    done = out / 'human_model_files' / '.complete'
    if not done.is_file():
        print(f'generating the synthetic body model into {out} ...', flush=True)
        write_body_model_files(out, seed=0)
        done.touch()
    return out / 'human_model_files'


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
    ckpt = None if args.synthetic else find_checkpoint()
    real = ckpt is not None and (REAL_BODY_MODEL / 'smplx' / 'SMPLX_NEUTRAL.npz').is_file()
    if real:
        print(f'Using the real SMPL-X files and the {ckpt} checkpoint.', flush=True)
        model = smplerx.load(ckpt, offline=True)
    else:
        print(SYNTHETIC_BANNER, flush=True)
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
