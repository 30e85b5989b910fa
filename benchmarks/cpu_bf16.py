"""bf16 on this CPU: is it fast, and does loading onnxruntime change it? Prints JSON.

    python benchmarks/cpu_bf16.py                 # ops, then the network (S32 widths, 2 encoder blocks, batch 1)
    python benchmarks/cpu_bf16.py --no_model

1. Ops: a ViT-S token linear (1536 x 384 -> 1536) and a BoxNet-sized ConvTranspose2d (256 -> 256, 4x4, stride 2),
   fp32 and bf16 autocast, each timed in a fresh process: plain torch, or after an onnxruntime CPU session was
   created and run in that process; the two kinds of process alternate for --rounds (median per cell).
2. Network: one test-mode forward of the plain model and of ``optimize_for_inference``'s copy, fp32 and bf16,
   and the aten op with the most self CPU time in the copy's bf16 forward (torch.profiler). On a CPU without
   fast bf16 also the copy as a fast-bf16 CPU gets it (channels_last deconvolutions), for comparison.
``fast_bf16`` is ``common.utils.precision.cpu_has_fast_bf16()`` (oneDNN has bf16 kernels: AVX-512 or AMX).
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--rounds', type=int, default=3, help='alternating rounds of the op timings (median reported)')
    p.add_argument('--no_model', action='store_true', help='only the op timings')
    p.add_argument('--child', choices=('plain', 'onnxruntime'), help=argparse.SUPPRESS)
    p.add_argument('--human_model_path', default=None, help='folder with smplx/SMPLX_NEUTRAL.npz (default: a '
                                                            'synthetic one in .cache/benchmarks)')
    return p.parse_args()


def _ms(fn, iters: int = 3) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t) / iters * 1000


def op_times(torch) -> dict:
    torch.manual_seed(0)
    linear, tokens = torch.nn.Linear(384, 1536), torch.randn(8 * 192, 384)
    deconv, feat = torch.nn.ConvTranspose2d(256, 256, 4, 2, 1), torch.randn(8, 256, 16, 12)
    out = {}
    with torch.inference_mode():
        for name, dtype in (('fp32', None), ('bf16', torch.bfloat16)):
            with torch.autocast('cpu', torch.bfloat16, enabled=dtype is not None):
                out[f'linear_{name}_ms'] = _ms(lambda: linear(tokens))
                out[f'deconv_{name}_ms'] = _ms(lambda: deconv(feat))
    return out


def run_onnxruntime_session() -> None:
    """Create and run a small onnxruntime CPU session (as the onnxruntime backend does: no spinning)."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper
    vi = helper.make_tensor_value_info
    graph = helper.make_graph([helper.make_node('MatMul', ['a', 'b'], ['y'])], 'g',
                              [vi('a', TensorProto.FLOAT, [64, 64]), vi('b', TensorProto.FLOAT, [64, 64])],
                              [vi('y', TensorProto.FLOAT, None)])
    opts = ort.SessionOptions()
    opts.add_session_config_entry('session.intra_op.allow_spinning', '0')
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)], ir_version=9)
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=['CPUExecutionProvider'])
    sess.run(None, {'a': np.ones((64, 64), np.float32), 'b': np.ones((64, 64), np.float32)})


def model_times(torch, human_model_path) -> dict:
    from torch.profiler import profile

    from benchmarks.model_throughput import resolve_body_model
    from common.config import load_config
    from common.model import build_model
    from common.nets.inference_transform import optimize_for_inference
    cfg = load_config('config_smpler_x_s32', {'encoder.depth': 2})
    cfg.human_model_path = resolve_body_model(human_model_path, cfg)
    torch.manual_seed(0)
    plain = build_model(cfg).eval()
    img = torch.rand(1, 3, 512, 384)
    out = {}
    from common.utils import precision as precision_rules
    real_check = precision_rules.cpu_has_fast_bf16
    precision_rules.cpu_has_fast_bf16 = lambda: True  # the transform as on a CPU with bf16 kernels
    try:
        channels_last_bf16 = optimize_for_inference(plain, 'cpu', torch.bfloat16)
    finally:
        precision_rules.cpu_has_fast_bf16 = real_check
    for precision, dtype in (('fp32', None), ('bf16', torch.bfloat16)):
        fast = optimize_for_inference(plain, 'cpu', dtype)
        models = [('plain', plain), ('optimized', fast)]
        if dtype is not None and not real_check():
            models.append(('optimized_channels_last', channels_last_bf16))
        for name, model in models:
            with torch.inference_mode(), torch.autocast('cpu', torch.bfloat16, enabled=dtype is not None):
                out[f'{name}_{precision}_s'] = round(_ms(lambda: model({'img': img}, {}, {}, 'test'), 1) / 1000, 3)
    with torch.inference_mode(), torch.autocast('cpu', torch.bfloat16), profile() as prof:
        fast({'img': img}, {}, {}, 'test')
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    out['optimized_bf16_top_op'] = {'name': events[0].key, 'share': round(events[0].self_cpu_time_total / total, 3)}
    return out


def main():
    args = parse_args()
    import torch
    if args.child:  # one process of the op comparison
        if args.child == 'onnxruntime':
            run_onnxruntime_session()
        print(json.dumps(op_times(torch)))
        return

    from benchmarks.onnx_throughput import cpu_name
    from common.utils.precision import cpu_has_fast_bf16
    result = {'machine': {'cpu': cpu_name(), 'torch': torch.__version__, 'threads': torch.get_num_threads(),
                          'fast_bf16': cpu_has_fast_bf16()}}
    runs = {'plain': [], 'onnxruntime': []}
    for _ in range(args.rounds):
        for kind in runs:
            child = subprocess.run([sys.executable, __file__, '--child', kind], capture_output=True, text=True,
                                   check=True)
            runs[kind].append(json.loads(child.stdout))
    for kind, rows in runs.items():
        result[f'ops_ms_{kind}'] = {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]}
    if not args.no_model:
        result['network_s32_2_blocks_batch_1'] = model_times(torch, args.human_model_path)
    result['total_seconds'] = round(time.perf_counter() - T_START, 1)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
