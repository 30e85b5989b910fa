"""Write synthetic stand-ins for the licensed files (body models, datasets) into OUT_DIR.

    python tools/make_synthetic_assets.py OUT_DIR [--seed 0]

Writes ``OUT_DIR/human_model_files/`` (SMPL-X/SMPL in the real files' names, formats and sizes).
Point the code at it with ``--cfg-options human_model_path=OUT_DIR/human_model_files``.
The numbers inside are synthetic: results obtained with them are pipeline checks, not predictions.
"""
import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data.synthetic.body_model_files import write_body_model_files  # noqa: E402

logger = logging.getLogger("make_synthetic_assets")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (outputs are deterministic per seed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    hm = write_body_model_files(args.out_dir, seed=args.seed)
    logger.info("body model files: %s", hm)


if __name__ == "__main__":
    main()
