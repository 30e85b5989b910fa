"""Estimate SMPL-X for the people in a video, an image folder or one image.

Examples (from the repository root; `cd main && python inference.py ...` works too):

    # a video, every person, meshes, overlay video
    python main/inference.py --video_input in.mp4 --pretrained_model smpler_x_h32 --multi_person \
        --output_folder out/in --video_output out/in.mp4 --save_mesh
    # extracted frames 000001.jpg ... (the original's layout), 100 frames from frame 1
    python main/inference.py --img_path frames/ --start 1 --end 100 --pretrained_model smpler_x_s32 \
        --output_folder out/frames --show_bbox
    # your own boxes (a tracker's output), your own checkpoint, continue an interrupted run
    python main/inference.py --video_input demo/sample.mp4 --bbox_file demo/sample_boxes.json \
        --config config_smpler_x_s32 --ckpt run/snapshot_9.pth.tar --output_folder out/sample --resume

Outputs (README "Inference outputs"): smplx/*.npz, meta/*.json, mesh/*.obj, frames/*.json, run.json,
results.npz, and the overlay (video for video input, img/ for image input). The work is done by the Python API:
`smplerx.load(...)` and `Predictor.run(...)` (smplerx/cli.py maps the flags onto them).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from smplerx.cli import inference_main as main  # noqa: E402

if __name__ == '__main__':
    main()
