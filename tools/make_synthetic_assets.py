"""Write synthetic stand-ins for the licensed files (body models, datasets) into OUT_DIR.

    python tools/make_synthetic_assets.py OUT_DIR [--seed 0] [--train_samples 16] [--test_frames 4]
                                          [--demo-video DIR]

Writes ``OUT_DIR/human_model_files/`` (SMPL-X/SMPL in the real files' names, formats and sizes) and
``OUT_DIR/dataset/`` (a HumanData training set registered as ``Synthetic`` and an EHF-layout test set).
Point the code at them with
``--cfg-options human_model_path=OUT_DIR/human_model_files data_dir=OUT_DIR/dataset``.
The numbers inside are synthetic: results obtained with them are pipeline checks, not predictions.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.synthetic.body_model_files import write_body_model_files  # noqa: E402
from data.synthetic.demo_video import write_demo_video  # noqa: E402
from data.synthetic.ehf_set import write_ehf_set  # noqa: E402
from data.synthetic.humandata_set import write_humandata_train_set  # noqa: E402

logger = logging.getLogger("make_synthetic_assets")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (outputs are deterministic per seed)")
    parser.add_argument("--train_samples", type=int, default=16, help="images in the Synthetic training set")
    parser.add_argument("--test_frames", type=int, default=4, help="frames in the EHF-layout test set")
    parser.add_argument("--demo-video", type=Path, default=None, metavar="DIR",
                        help="also write the demo sample (sample.mp4 + sample_boxes.json) into DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    hm = write_body_model_files(args.out_dir, seed=args.seed)
    logger.info("body model files: %s", hm)
    data_dir = args.out_dir / "dataset"
    npz = write_humandata_train_set(data_dir, hm, num_samples=args.train_samples, seed=args.seed)
    logger.info("Synthetic training set: %s", npz)
    ehf = write_ehf_set(data_dir, hm, num_frames=args.test_frames, seed=args.seed + 1)
    logger.info("EHF-layout test set: %s", ehf)
    if args.demo_video is not None:
        video, boxes = write_demo_video(args.demo_video, hm, num_frames=30, fps=10.0)
        logger.info("demo video: %s, boxes: %s", video, boxes)


if __name__ == "__main__":
    main()
