"""Persons/s of the onnxruntime backend (fp32 and fp16 files) vs the torch eager backend (fp32 and bf16),
interleaved; prints JSON.

    python benchmarks/onnx_throughput.py                                   # S32 and B32, batch 1 and 8
    python benchmarks/onnx_throughput.py --variants s --batch_sizes 8 --rounds 3 --out bench.json

Each variant (real config, random weights) is exported once per ONNX precision to a temporary file (dynamic batch).
Timed unit: one estimator call on a batch of crops, ``(B, 512, 384, 3) -> OUTPUT_KEYS``, body model included,
exactly what the inference pipeline calls (``common.deploy.runtime.OrtEstimator`` vs
``common.inference.estimator.Estimator``). Rounds interleave the backends (every backend for every batch size
in one round), so load changes on a shared machine hit all of them alike; per configuration the
median over rounds is reported. The JSON also holds the max |delta| of every ORT output vs torch fp32.
torch bf16 on a CPU without fast bf16 (``common.utils.precision.cpu_has_fast_bf16``) is emulated and very slow:
pass --no_bf16 there (the JSON records ``fast_bf16``).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py

CONFIGS = {'s': 'config_smpler_x_s32', 'b': 'config_smpler_x_b32', 'l': 'config_smpler_x_l32',
           'h': 'config_smpler_x_h32'}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variants', default='s,b', help='comma-separated sizes among s,b,l,h (configs *_32)')
    p.add_argument('--batch_sizes', default='1,8', help='comma-separated batch sizes')
    p.add_argument('--rounds', type=int, default=3, help='interleaved rounds (median reported)')
    p.add_argument('--iters', type=int, default=2, help='timed calls per configuration and round')
    p.add_argument('--no_bf16', action='store_true', help='skip torch bf16')
    p.add_argument('--ort_precisions', default='fp32,fp16', help='ONNX files to export and time (fp32, fp16)')
    p.add_argument('--human_model_path', default=None, help='folder with smplx/SMPLX_NEUTRAL.npz (default: the '
                                                            "config's, else a synthetic one in .cache/benchmarks)")
    p.add_argument('--onnx_dir', default=None, help='reuse DIR/{s,b,...}_{fp32,fp16}.onnx when present (exported '
                                                     'from the same seeded random network by an earlier run); kept')
    p.add_argument('--out', default=None, help='also write the JSON here')
    return p.parse_args()


def cpu_name() -> str:
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10).stdout
        return next(line.split(':', 1)[1].strip() for line in out.splitlines() if line.startswith('Model name'))
    except Exception:  # noqa: BLE001 - informational only
        return platform.processor()


def main():
    args = parse_args()
    import numpy as np
    import onnxruntime as ort
    import torch

    from benchmarks.model_throughput import resolve_body_model
    from common.config import load_config
    from common.deploy.export import export_onnx
    from common.deploy.runtime import OrtEstimator
    from common.inference.estimator import Estimator
    from common.model import build_model
    from common.utils.human_models import get_smplx
    from common.utils.precision import cpu_has_fast_bf16
    batches = [int(b) for b in args.batch_sizes.split(',')]
    rng = np.random.default_rng(0)
    crops = rng.uniform(0, 255, (max(batches), 512, 384, 3)).astype(np.float32)
    result = {'machine': {'cpu': cpu_name(), 'cores': torch.get_num_threads(), 'torch': torch.__version__,
                          'onnxruntime': ort.__version__, 'torch_threads': torch.get_num_threads(),
                          'fast_bf16': cpu_has_fast_bf16()},
              'rounds': args.rounds, 'iters': args.iters, 'variants': {}}
    tmp = Path(args.onnx_dir) if args.onnx_dir else Path(tempfile.mkdtemp(prefix='onnx_bench_'))
    for variant in args.variants.split(','):
        cfg = load_config(CONFIGS[variant])
        cfg.human_model_path = resolve_body_model(args.human_model_path, cfg)
        body = get_smplx(cfg.human_model_path)
        files, export_s = {}, {}
        for precision in args.ort_precisions.split(','):
            files[precision] = tmp / f'{variant}_{precision}.onnx'
            if args.onnx_dir is not None and files[precision].is_file():
                export_s[precision] = None  # reused
                continue
            torch.manual_seed(0)
            t = time.perf_counter()
            export_onnx(build_model(cfg).eval(), cfg, files[precision], precision=precision, dynamic_batch=True)
            export_s[precision] = round(time.perf_counter() - t, 1)
        torch.manual_seed(0)
        model = build_model(cfg).eval()  # the torch backend's model, same weights
        estimators = {f'onnxruntime_{precision}': OrtEstimator(path, cfg, body, torch.device('cpu'))
                      for precision, path in files.items()}
        estimators['torch_fp32'] = Estimator(model, torch.device('cpu'), 'fp32')
        if not args.no_bf16:
            torch.manual_seed(0)
            estimators['torch_bf16'] = Estimator(build_model(cfg).eval(), torch.device('cpu'), 'bf16')
        ref = estimators['torch_fp32'](crops[:batches[0]].copy())
        max_delta = {}
        for name in estimators:
            if name.startswith('onnxruntime'):
                got = estimators[name](crops[:batches[0]].copy())
                max_delta[name] = {k: float((ref[k] - got[k]).abs().max()) for k in ref}
        for est in estimators.values():  # warm-up: first calls allocate / pack weights
            for b in batches:
                est(crops[:b].copy())
        times = {(name, b): [] for name in estimators for b in batches}
        for _ in range(args.rounds):
            for b in batches:
                for name, est in estimators.items():
                    t = time.perf_counter()
                    for _ in range(args.iters):
                        est(crops[:b].copy())
                    times[name, b].append((time.perf_counter() - t) / args.iters)
        rows = {}
        for b in batches:
            row = {name: {'seconds_per_call': round(statistics.median(times[name, b]), 4),
                          'persons_per_s': round(b / statistics.median(times[name, b]), 3),
                          'all_seconds': [round(x, 4) for x in times[name, b]]} for name in estimators}
            base = row['torch_fp32']['persons_per_s']
            for name in row:
                row[name]['vs_torch_fp32'] = round(row[name]['persons_per_s'] / base, 3)
            rows[f'batch_{b}'] = row
        result['variants'][CONFIGS[variant]] = {'export_seconds': export_s,
                                                'onnx_bytes': {k: p.stat().st_size for k, p in files.items()},
                                                'max_abs_delta_vs_torch_fp32': max_delta, **rows}
        if args.onnx_dir is None:
            for path in files.values():
                path.unlink()
        print(json.dumps({CONFIGS[variant]: result['variants'][CONFIGS[variant]]}), file=sys.stderr, flush=True)
    result['total_seconds'] = round(time.perf_counter() - T_START, 1)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == '__main__':
    main()
