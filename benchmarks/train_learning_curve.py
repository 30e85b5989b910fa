"""Learning check: train a tiny SMPLer-X on a small synthetic HumanData set and print the loss curve (JSON).

    python benchmarks/train_learning_curve.py --iters 300 --lr 1e-4

Runs ``main/train.py`` (the real path: data pipeline, model, losses, loop, TensorBoard) on the CPU with a
tiny encoder (feat_dim 64, 2 blocks) and no augmentation (``--aug`` keeps it), then reads ``loss/total``
back from the run's TensorBoard log and reports the mean of the first and last ``--window`` logged values
and their ratio (goal: < 0.5).
Too slow for the test suite (seconds per iteration on a laptop CPU); the result goes into BENCHMARKS.md.
"""
import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py

from benchmarks.train_throughput import synthetic_assets  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--iters', type=int, default=300, help='optimiser steps (rounded up to whole epochs)')
    p.add_argument('--batch_size', type=int, default=2, help='samples per step')
    p.add_argument('--lr', type=float, default=1e-4, help='Adam lr (cosine to min_lr 1e-6)')
    p.add_argument('--print_iters', type=int, default=1, help='logging period (iterations)')
    p.add_argument('--window', type=int, default=10, help='logged points averaged at each end')
    p.add_argument('--aug', action='store_true', help='keep the training augmentation (default: no_aug=True)')
    p.add_argument('--output_root', default=None, help='where the run goes (default: a temp dir)')
    args = p.parse_args()

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    hmp, data_dir = synthetic_assets(None)
    out = Path(args.output_root or tempfile.mkdtemp(prefix='learning_curve_'))
    samples = 11  # person crops in the 8 synthetic images written by synthetic_assets
    cmd = [sys.executable, str(ROOT / 'main' / 'train.py'), '--config', 'config_smpler_x_s32.py',
           '--exp_name', 'curve', '--device', 'cpu', '--num_workers', '0', '--no_bar', '--cfg-options',
           'feat_dim=64', 'encoder.depth=2', 'encoder.num_heads=2', 'encoder.drop_path_rate=0.0',
           'random_init=True', 'total_data_len=auto', 'trainset_3d=[]', 'trainset_2d=[]',
           "trainset_humandata=['Synthetic']", f'data_dir={data_dir}', f'human_model_path={hmp}',
           f'output_root={out}', f'lr={args.lr}', f'train_batch_size={args.batch_size}',
           f'end_epoch={math.ceil(args.iters / max(1, samples // args.batch_size))}',
           f'print_iters={args.print_iters}', 'save_epoch=100000', 'keep_last_ckpts=1',
           f'no_aug={not args.aug}']
    subprocess.run(cmd, check=True, cwd=ROOT)
    run_dir = sorted(out.glob('curve_*'))[-1]
    acc = EventAccumulator(str(run_dir / 'log'))
    acc.Reload()
    curve = [(e.step, round(e.value, 4)) for e in acc.Scalars('loss/total')]
    first = sum(v for _, v in curve[:args.window]) / args.window
    last = sum(v for _, v in curve[-args.window:]) / args.window
    print(json.dumps({'benchmark': 'train_learning_curve', 'lr': args.lr, 'batch_size': args.batch_size,
                      'augmentation': args.aug,
                      'iterations': curve[-1][0], 'first_mean': round(first, 4), 'last_mean': round(last, 4),
                      'ratio': round(last / first, 4), 'halved': last < 0.5 * first, 'curve': curve,
                      'run_dir': str(run_dir)}))


if __name__ == '__main__':
    main()
