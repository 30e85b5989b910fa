"""Throughput of the whole SMPLer-X test-mode forward (SMPL-X layer included); prints JSON.

Examples:
    python benchmarks/model_throughput.py --variant s --batch_sizes 1,8 --precision fp32
    python benchmarks/model_throughput.py --variant b --batch_sizes 1,8,32 --precision bf16 --device cpu
    python benchmarks/model_throughput.py --variant h --batch_sizes 64 --precision bf16 --device cuda --compile
    python benchmarks/model_throughput.py --variant s --batch_sizes 8 --precision bf16 --ab  # transform vs plain
    python benchmarks/model_throughput.py --variant s --batch_sizes 8 --precision bf16 --compile --ab  # vs eager

The timed model is `optimize_for_inference(model, device, dtype)` (what the Estimator runs: BN-folded
deconvolutions, gather sampling, 1x1-conv linears on the CPU, pre-cast weights); `--plain` times the
plain model (the modules as the checkpoint describes them) instead, `--ab` both, interleaved.

Weights are random (speed does not depend on them). Without `--human_model_path` the config's
path is used when it holds SMPL-X files, otherwise a synthetic body model is generated once into
`.cache/benchmarks/` (same file formats and sizes as the real one).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py

import torch  # noqa: E402

from common.utils.precision import PRECISIONS  # noqa: E402



def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variant', choices=['s', 'b', 'l', 'h'], default='s', help='model size (config *_32)')
    p.add_argument('--batch_sizes', default='1,8', help='comma-separated batch sizes')
    p.add_argument('--precision', choices=list(PRECISIONS), default='fp32', help='autocast dtype (fp32 = off)')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', help='cpu or cuda')
    p.add_argument('--compile', action='store_true',
                   help='compile the model first (common.model.compile_for_inference, as inference.py --compile)')
    p.add_argument('--channels_last', action='store_true', help='convert conv weights to channels_last')
    p.add_argument('--plain', action='store_true',
                   help='time the plain model (no optimize_for_inference: module stacks as in the checkpoint, '
                        'BatchNorm after each deconvolution, grid_sample, BLAS linears, autocast casts)')
    p.add_argument('--ab', action='store_true',
                   help='time a reference interleaved in the same run and report both and their ratio '
                        '(robust to load changes on a shared machine): the plain model, or with '
                        '--compile the eager optimize_for_inference model')
    p.add_argument('--iters', type=int, default=5, help='timed iterations per batch size (minimum)')
    p.add_argument('--min_seconds', type=float, default=3.0, help='keep timing at least this long')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    p.add_argument('--human_model_path', default=None, help='folder with smplx/SMPLX_NEUTRAL.npz ...')
    args = p.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda requested but CUDA is not available')
    if args.plain and (args.ab or args.compile):
        p.error('--plain is a path of the eager model: give it without --ab and --compile')
    if args.precision == 'fp16' and args.device == 'cpu':
        p.error('--precision fp16 is not supported on the CPU; use bf16')
    return args


def resolve_body_model(path, cfg) -> str:
    if path:
        return path
    if (Path(cfg.human_model_path) / 'smplx' / 'SMPLX_NEUTRAL.npz').exists():
        return str(cfg.human_model_path)
    from data.synthetic.body_model_files import write_body_model_files
    out = ROOT / '.cache' / 'benchmarks' / 'body_model'
    if not (out / 'human_model_files' / '.complete').exists():
        write_body_model_files(out, seed=0)
        (out / 'human_model_files' / '.complete').touch()
    return str(out / 'human_model_files')


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    import os
    load_avg = os.getloadavg()[0]
    from common.config import load_config
    from common.model import build_model, compile_for_inference, optimize_for_inference
    t_import = time.perf_counter() - t0
    cfg = load_config(f'config_smpler_x_{args.variant}32.py')
    hmp = resolve_body_model(args.human_model_path, cfg)
    cfg.human_model_path = hmp
    t0 = time.perf_counter()
    model = build_model(cfg, 'test').eval()
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    from common.utils.human_models import get_smplx
    get_smplx(hmp)
    t_smplx = time.perf_counter() - t0
    t_ready = time.perf_counter() - T_START  # cold start: interpreter + imports + build + SMPL-X load
    device = torch.device(args.device)
    model.to(device)
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    dtype = PRECISIONS[args.precision]
    t0 = time.perf_counter()
    fast = optimize_for_inference(model, device, dtype)
    t_transform = time.perf_counter() - t0
    # timed variants: name -> module; the second one (with --ab) is the reference
    variants = {'compiled': compile_for_inference(fast, device)} if args.compile else \
        {'plain': model} if args.plain else {'fast': fast}
    if args.ab:
        variants.update({'eager': fast} if args.compile else {'plain': model})
    paths = list(variants)
    rows = []
    for bs in [int(b) for b in args.batch_sizes.split(',')]:
        img = torch.rand(bs, 3, 512, 384, device=device)
        if device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats()

        def step(name):
            fwd = variants[name]
            with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32,
                                                         enabled=dtype is not None):
                out = fwd({'img': img}, {}, {}, 'test')
            if device.type == 'cuda':
                torch.cuda.synchronize()
            return out

        times = {p: [] for p in paths}
        cpu_times = {p: [] for p in paths}  # process CPU time: load-robust with --threads 1
        for p in paths:  # warm-up (and compilation)
            step(p)
            step(p)
        t_all = time.perf_counter()
        while min(len(v) for v in times.values()) < args.iters or time.perf_counter() - t_all < args.min_seconds:
            for p in paths:  # interleaved, so load changes hit every path alike
                t, c = time.perf_counter(), time.process_time()
                step(p)
                times[p].append(time.perf_counter() - t)
                cpu_times[p].append(time.process_time() - c)
        row = dict(batch_size=bs)
        for p, ts in times.items():
            ts.sort()
            med = ts[len(ts) // 2]
            key = '' if len(paths) == 1 else f'{p}_'
            row.update({f'{key}ms_per_batch': round(med * 1000, 2), f'{key}ms_min': round(ts[0] * 1000, 2),
                        f'{key}persons_per_s': round(bs / med, 2),
                        f'{key}persons_per_s_best': round(bs / ts[0], 2),
                        f'{key}cpu_ms_per_batch_min': round(min(cpu_times[p]) * 1000, 2)})
        if args.ab:  # how much faster the first variant is than the reference
            first, ref = paths
            row['speedup_median'] = round(row[f'{ref}_ms_per_batch'] / row[f'{first}_ms_per_batch'], 2)
            row['speedup_best'] = round(row[f'{ref}_ms_min'] / row[f'{first}_ms_min'], 2)
        row.update(iters=len(ts), peak_rss_mb=round(peak_rss_mb(), 1))
        if device.type == 'cuda':
            row['peak_cuda_mb'] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
        rows.append(row)
    result = dict(
        variant=args.variant, paths=paths,
        precision=args.precision, device=args.device, compile=args.compile,
        channels_last=args.channels_last, transform_s=round(t_transform, 3),
        threads=torch.get_num_threads(),
        device_name=torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu',
        torch=torch.__version__, import_s=round(t_import, 2), build_s=round(t_build, 2),
        smplx_load_s=round(t_smplx, 2), process_to_ready_s=round(t_ready, 2),
        load_avg_start=round(load_avg, 2), load_avg_end=round(os.getloadavg()[0], 2),
        body_model=hmp, results=rows)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
