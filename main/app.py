"""Web demo (Gradio): upload a photo or a video, see the SMPL-X overlay, download the results.

Examples (from the repository root; `make app` installs the app requirements and runs the first one):

    python main/app.py                                  # real files if present, else a pipeline check
    python main/app.py --pretrained_model smpler_x_h32 --device cuda --precision bf16
    python main/app.py --config config_smpler_x_s32 --ckpt run/snapshot_9.pth.tar --port 8080
    python main/app.py --host 0.0.0.0 --auth me:secret  # reachable from other machines, with a login

Then open http://127.0.0.1:7860 (the URL printed). README "Web demo" describes the page, the job folders and the
options; the work is done by the Python API (`smplerx.load`, `Predictor.run`) through common/app/.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from common.app.cli import app_main as main  # noqa: E402

if __name__ == '__main__':
    main()
