"""Export time: ``common.deploy.export.export_onnx`` (constant folding only) vs the exporter's default optimizer
(``torch.onnx.export(..., optimize=True)``: constant folding + onnxscript's pattern rewriter); prints JSON.

    python benchmarks/onnx_export_time.py                       # S32 widths, 2 encoder blocks, fp32 and fp16
    python benchmarks/onnx_export_time.py --depth 12 --rounds 1 # the real S32

The two pipelines alternate for --rounds; each export also reports whether onnxruntime's CPU provider loads the
file and the largest |delta| of its outputs (batch 1) from the fp32 torch model.
"""
import time

T_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks are entry scripts, like main/*.py


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--depth', type=int, default=2, help='encoder blocks (12 = the real S32)')
    p.add_argument('--precisions', default='fp32,fp16')
    p.add_argument('--rounds', type=int, default=2)
    return p.parse_args()


def check(path, model) -> dict:
    """Whether onnxruntime loads ``path``, and its largest output deviation from the fp32 torch model."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from common.deploy.metadata import NETWORK_OUTPUTS
    try:
        sess = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    except Exception as e:  # noqa: BLE001 - report, do not stop
        return {'loads': False, 'error': str(e).splitlines()[0][:200]}
    img = np.random.default_rng(0).random((1, 3, 512, 384), np.float32)
    got = sess.run(None, {'img': img})
    with torch.inference_mode():
        ref = model({'img': torch.from_numpy(img)}, {}, {}, 'test')
    return {'loads': True, 'max_abs_delta_vs_fp32': max(float(np.abs(g - ref[name].numpy()).max())
                                                        for g, (name, _) in zip(got, NETWORK_OUTPUTS))}


def main():
    args = parse_args()
    import torch

    from benchmarks.model_throughput import resolve_body_model
    from benchmarks.onnx_throughput import cpu_name
    from common.config import load_config
    from common.deploy.export import export_onnx, trace_network
    from common.model import build_model
    cfg = load_config('config_smpler_x_s32', {'encoder.depth': args.depth})
    cfg.human_model_path = resolve_body_model(None, cfg)
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    tmp = Path(tempfile.mkdtemp(prefix='onnx_export_time_'))
    result = {'machine': {'cpu': cpu_name(), 'torch': torch.__version__, 'threads': torch.get_num_threads()},
              'encoder_depth': args.depth, 'runs': []}
    for _ in range(args.rounds):
        for precision in args.precisions.split(','):
            for pipeline in ('export_onnx', 'exporter_optimize'):
                out = tmp / f'{pipeline}_{precision}.onnx'
                t = time.perf_counter()
                if pipeline == 'export_onnx':
                    export_onnx(model, cfg, out, precision=precision)
                else:  # the same trace, the exporter's optimizer instead of the folding; no metadata/check
                    trace_network(model, cfg, precision=precision, exporter_optimizer=True).save(str(out))
                row = {'pipeline': pipeline, 'precision': precision,
                       'seconds': round(time.perf_counter() - t, 1), 'bytes': out.stat().st_size, **check(out, model)}
                result['runs'].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                out.unlink()
    result['total_seconds'] = round(time.perf_counter() - T_START, 1)
    print(json.dumps(result, indent=1))


if __name__ == '__main__':
    main()
