"""Write synthetic stand-ins for the licensed files (body models, datasets) into OUT_DIR.

    python tools/make_synthetic_assets.py OUT_DIR [--seed 0] [--train_samples 16] [--test_frames 4]
                                          [--demo-video DIR]

Writes ``OUT_DIR/human_model_files/`` (SMPL-X/SMPL in the real files' names, formats and sizes) and
``OUT_DIR/dataset/`` (a HumanData training set registered as ``Synthetic`` and an EHF-layout test set).
Point the code at them with
``--cfg-options human_model_path=OUT_DIR/human_model_files data_dir=OUT_DIR/dataset``.
The numbers inside are synthetic: results obtained with them are pipeline checks, not predictions.
A mistake in the arguments (OUT_DIR naming a file, a count below 1) ends with one line and exit status 2.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.utils.cli import ArgumentParser, exit_with_error  # noqa: E402
from common.utils.logs import setup_logging  # noqa: E402

PROG = Path(__file__).name
logger = logging.getLogger("make_synthetic_assets")


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing path among ``folder`` and its parents if it is not a folder (None: can be made)."""
    for path in (folder, *folder.parents):
        if path.exists():
            return None if path.is_dir() else path
    return None


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (outputs are deterministic per seed)")
    parser.add_argument("--train_samples", type=int, default=16, help="images in the Synthetic training set (>= 1)")
    parser.add_argument("--test_frames", type=int, default=4, help="frames in the EHF-layout test set (>= 1)")
    parser.add_argument("--demo-video", type=Path, default=None, metavar="DIR",
                        help="also write the demo sample (sample.mp4 + sample_boxes.json) into DIR")
    args = parser.parse_args(argv)
    for flag, value in (("--train_samples", args.train_samples), ("--test_frames", args.test_frames)):
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    for what, folder in (("OUT_DIR", args.out_dir), ("--demo-video", args.demo_video)):
        taken = _file_in_the_way(folder) if folder is not None else None
        if taken is not None:
            parser.error(f"{what} {folder}: {taken} is a file, not a folder; give a folder path")
    return args


def main(argv=None):
    args = parse_args(argv)
    from data.synthetic.body_model_files import write_body_model_files
    from data.synthetic.demo_video import write_demo_video
    from data.synthetic.ehf_set import write_ehf_set
    from data.synthetic.humandata_set import write_humandata_train_set

    setup_logging()
    try:
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
    except OSError as err:  # an unwritable folder, a full disk
        exit_with_error(f"cannot write the synthetic assets: {err}", 1, PROG)


if __name__ == "__main__":
    main()
