"""Where the model's time goes, against what the machine can do; prints JSON.

Measures (1) this machine's dense GEMM peak on several problem shapes, through `torch.matmul` (MKL/BLAS)
and through a 1x1 convolution (oneDNN); (2) the FLOPs of one person crop by module (torch's
FlopCounterMode, plus the attention matmuls of the fused kernel, which it does not count); (3) the time of
each part of the test-mode forward at one batch size (forward hooks), as ms per forward and GFLOP/s. The
ceiling `peak / FLOPs per person` (peak: the fastest rate seen, in the GEMM probes or in a part of the
forward at that precision) is about the most persons/s any implementation of this network reaches here.

    python benchmarks/model_roofline.py --variant s --batch_size 8 --precision fp32
    python benchmarks/model_roofline.py --variant s --batch_size 8 --precision bf16 --threads 1
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.model_throughput import resolve_body_model  # noqa: E402
from common.utils.precision import PRECISIONS  # noqa: E402

GEMM_SHAPES = [(1784, 384, 1536), (2048, 2048, 2048), (4096, 1024, 4096)]  # first: S32 fc1 at batch 8

# forward-hook groups: module-name suffix -> group; nested groups are subtracted (see timed_groups)
GROUPS = {
    'attn.qkv': 'vit linears', 'attn.proj': 'vit linears', 'mlp.fc1': 'vit linears', 'mlp.fc2': 'vit linears',
    'mlp.act': 'vit gelu', 'norm1': 'vit layernorm', 'norm2': 'vit layernorm', 'last_norm': 'vit layernorm',
    'attn': 'vit attention core (fused sdpa)', 'patch_embed': 'vit patch embedding',
    'box_net': 'box_net', 'hand_roi_net': 'hand_roi_net', 'hand_position_net': 'hand_position_net',
    'hand_regressor': 'hand_regressor', 'body_position_net': 'body_position_net',
    'body_regressor': 'body_regressor', 'face_regressor': 'face_regressor',
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--variant', choices=['s', 'b', 'l', 'h'], default='s')
    p.add_argument('--batch_size', type=int, default=8)
    p.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32', help='autocast dtype of the forward')
    p.add_argument('--iters', type=int, default=4, help='timed forwards')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0 = default)')
    return p.parse_args()


def best_seconds(fn, iters):
    """Fastest of `iters` calls after two warm-ups (a peak is what the machine can do at best)."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def gemm_peak() -> dict:
    """Best GFLOP/s of an (M,K)x(K,N) product per dtype, through matmul and through a 1x1 convolution."""
    out = {}
    for name, dtype in (('fp32', torch.float32), ('bf16', torch.bfloat16)):
        rows = {}
        for m, k, n in GEMM_SHAPES:
            a, w = torch.randn(m, k, dtype=dtype), torch.randn(n, k, dtype=dtype)
            x = a.t().reshape(1, k, m, 1).contiguous(memory_format=torch.channels_last)
            w4 = w.reshape(n, k, 1, 1)
            flop = 2 * m * k * n
            with torch.inference_mode():
                rows[f'{m}x{k}x{n}'] = {
                    'matmul': round(flop / best_seconds(lambda: a @ w.t(), 10) / 1e9, 1),
                    'conv1x1': round(flop / best_seconds(lambda: F.conv2d(x, w4), 10) / 1e9, 1)}
        best = max(v for r in rows.values() for v in r.values())
        out[name] = dict(shapes=rows, best=best)
    return out


def group_of(name: str):
    for suffix, group in GROUPS.items():
        if name == suffix or name.endswith('.' + suffix):
            return group
    return None


def attention_flops(model, img) -> dict:
    """Matmul FLOPs inside the fused attention kernel (QK^T and AV: 4 * B * N^2 * C per block)."""
    per_module = {}

    def hook(mod, args, out, name):
        b, n, c = args[0].shape
        per_module[name] = 4 * b * n * n * c

    hs = [m.register_forward_hook(lambda mod, a, o, name=name: hook(mod, a, o, name))
          for name, m in model.named_modules() if group_of(name) == GROUPS['attn']]
    with torch.inference_mode():
        model({'img': img}, {}, {}, 'test')
    for h in hs:
        h.remove()
    return per_module


def module_flops(model, img) -> dict:
    from torch.utils.flop_counter import FlopCounterMode
    counter = FlopCounterMode(display=False, depth=None)
    with torch.inference_mode(), counter:
        model({'img': img}, {}, {}, 'test')
    flops = {}
    for qual, counts in counter.get_flop_counts().items():
        name = qual.split('.', 1)[1] if '.' in qual else ''
        flops[name] = sum(counts.values())
    return flops, counter.get_total_flops()


def timed_groups(model, step, iters) -> tuple:
    """Seconds per forward in each hooked module; nested hooked children are subtracted from parents."""
    spent, starts = defaultdict(float), {}
    names = {m: n for n, m in model.named_modules() if group_of(n)}
    children = {n: [c for c in names.values() if c.startswith(n + '.')] for n in names.values()}

    def pre(mod, args):
        starts[mod] = time.perf_counter()

    def post(mod, args, out):
        spent[names[mod]] += time.perf_counter() - starts.pop(mod)

    hs = [m.register_forward_pre_hook(pre) for m in names] + [m.register_forward_hook(post) for m in names]
    step()
    spent.clear()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    total = (time.perf_counter() - t) / iters
    for h in hs:
        h.remove()
    own = {n: spent[n] / iters - sum(spent[c] / iters for c in children[n]) for n in names.values()}
    return own, total


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from common.config import load_config
    from common.model import build_model, optimize_for_inference
    cfg = load_config(f'config_smpler_x_{args.variant}32.py')
    cfg.human_model_path = resolve_body_model(None, cfg)
    model = build_model(cfg, 'test').eval()
    dtype = PRECISIONS[args.precision]
    img = torch.rand(args.batch_size, 3, 512, 384)

    flops, flops_total = module_flops(model, img[:1])  # FLOPs of the network as the checkpoint describes it
    attn = attention_flops(model, img[:1])
    model = optimize_for_inference(model, 'cpu', dtype)  # timed: what inference runs (same module names)
    per_person = (flops_total + sum(attn.values())) / 1e9

    def step():
        with torch.inference_mode(), torch.autocast('cpu', dtype=dtype or torch.float32, enabled=dtype is not None):
            model({'img': img}, {}, {}, 'test')

    own, total = timed_groups(model, step, args.iters)
    rows = defaultdict(lambda: [0.0, 0.0])  # group -> [seconds, GFLOP] per forward
    for name, sec in own.items():
        group = group_of(name)
        child_flops = sum(v for n, v in flops.items() if n.startswith(name + '.') and group_of(n))
        own_flops = attn.get(name, 0) if group == GROUPS['attn'] else flops.get(name, 0) - child_flops
        rows[group][0] += sec
        rows[group][1] += own_flops * args.batch_size / 1e9
    timed = sum(r[0] for r in rows.values())
    rows['rest (SMPL-X layer, glue)'] = [total - timed, 0.0]
    peak = gemm_peak()
    fastest_part = max(f / s for s, f in rows.values() if f and s > 0)
    # a ceiling from the fastest rate seen anywhere: the GEMM probes or a part of this forward
    peak[args.precision]['best'] = round(max(peak[args.precision]['best'], fastest_part), 1)
    result = dict(
        variant=args.variant, batch_size=args.batch_size, precision=args.precision,
        threads=torch.get_num_threads(), torch=torch.__version__,
        gemm_peak_gflops=peak,
        gflop_per_person=round(per_person, 2),
        gflop_per_person_by_module={k: round(v / 1e9, 3) for k, v in flops.items()
                                    if k and '.' not in k and v > 1e6},
        attention_gflop_per_person=round(sum(attn.values()) / 1e9, 3),
        ceiling_persons_per_s={k: round(v['best'] / per_person, 2) for k, v in peak.items()},
        forward_ms=round(total * 1000, 1), persons_per_s=round(args.batch_size / total, 2),
        parts=[dict(part=g, ms=round(s * 1000, 1), share=round(s / total, 3), gflop=round(f, 2),
                    gflops_per_s=round(f / s, 1) if f and s > 0 else None)
               for g, (s, f) in sorted(rows.items(), key=lambda kv: -kv[1][0])])
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
