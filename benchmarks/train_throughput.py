"""Training throughput (forward + loss + backward + Adam step) of one process; prints JSON.

Examples:
    python benchmarks/train_throughput.py --variant tiny --batch_size 4 --device cpu
    python benchmarks/train_throughput.py --variant s --batch_size 2 --precision bf16 --device cpu
    python benchmarks/train_throughput.py --variant h --batch_size 16 --precision bf16 --device cuda

The timed loop is ``common.engine.trainer.train_loop`` itself, fed one real training batch (built by the
data pipeline from a synthetic HumanData set) over and over, so data loading is excluded: the number is
samples/s per device for the model step. Weights are random. Without ``--human_model_path`` a synthetic
body model and data set are generated once into ``.cache/benchmarks/``.
"""
import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py

import torch  # noqa: E402

from common.utils.precision import add_precision_argument  # noqa: E402

TINY = {'feat_dim': 64, 'encoder.depth': 2, 'encoder.num_heads': 2}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variant', choices=['tiny', 's', 'b', 'l', 'h'], default='tiny',
                   help='model size: the *_32 config, or tiny = S with feat_dim 64 and 2 blocks')
    p.add_argument('--batch_size', type=int, default=4, help='samples per step')
    add_precision_argument(p, default='fp32')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='cpu or cuda')
    p.add_argument('--warmup', type=int, default=2, help='untimed steps first')
    p.add_argument('--iters', type=int, default=5, help='timed steps')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    p.add_argument('--human_model_path', default=None, help='folder with smplx/SMPLX_NEUTRAL.npz (default: synthetic)')
    args = p.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda requested but CUDA is not available')
    return args


def synthetic_assets(human_model_path):
    """(human_model_path, data_dir) of the cached synthetic body model and HumanData set."""
    from data.synthetic.body_model_files import write_body_model_files
    from data.synthetic.humandata_set import write_humandata_train_set
    cache = ROOT / '.cache' / 'benchmarks'
    if human_model_path is None:
        human_model_path = cache / 'body_model' / 'human_model_files'
        if not (human_model_path / '.complete').exists():
            write_body_model_files(cache / 'body_model', seed=0)
            (human_model_path / '.complete').touch()
    data_dir = cache / 'train_data'
    if not (data_dir / '.complete').exists():
        write_humandata_train_set(data_dir, str(human_model_path), num_samples=8, seed=0)
        (data_dir / '.complete').touch()
    return str(human_model_path), str(data_dir)


def one_batch(cfg, batch_size):
    from torch.utils.data import default_collate

    from data.registry import build_train_dataset
    dataset = build_train_dataset(cfg)
    return default_collate([dataset[i % len(dataset)] for i in range(batch_size)])


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from common.config import load_config
    from common.engine.optim import build_optimizer
    from common.engine.optim import build_scheduler_from_args
    from common.engine.snapshots import TrainState
    from common.engine.trainer import LoopSettings, train_loop
    from common.model import build_model

    hmp, data_dir = synthetic_assets(args.human_model_path)
    name = 's' if args.variant == 'tiny' else args.variant
    overrides = dict(TINY if args.variant == 'tiny' else {}, human_model_path=hmp, data_dir=data_dir,
                     trainset_3d=[], trainset_2d=[], trainset_humandata=['Synthetic'], total_data_len='auto')
    cfg = load_config(f'config_smpler_x_{name}32.py', overrides)
    device = torch.device(args.device)
    batch = one_batch(cfg, args.batch_size)
    model = build_model(cfg, 'train').to(device)
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler_from_args(optimizer, 10**6)
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == 'fp16')

    def steps(n):
        settings = LoopSettings(end_epoch=1, iters_per_epoch=n, precision=args.precision, print_iters=10**9)
        train_loop(model, optimizer, scheduler, itertools.repeat(batch), settings=settings, state=TrainState(),
                   device=device, scaler=scaler)
        if device.type == 'cuda':
            torch.cuda.synchronize()

    steps(args.warmup)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    steps(args.iters)
    elapsed = time.perf_counter() - t0
    result = {
        'benchmark': 'train_throughput', 'variant': args.variant, 'batch_size': args.batch_size,
        'precision': args.precision, 'device': str(device),
        'device_name': torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu',
        'threads': torch.get_num_threads(), 'iters': args.iters,
        'sec_per_iter': round(elapsed / args.iters, 4),
        'samples_per_sec': round(args.batch_size * args.iters / elapsed, 3),
        'params_M': round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        'peak_gpu_mem_GB': round(torch.cuda.max_memory_allocated(device) / 2**30, 2) if device.type == 'cuda' else None,
        'torch': torch.__version__,
    }
    print(json.dumps(result))


if __name__ == '__main__':
    main()
