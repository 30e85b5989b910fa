"""Inference throughput: batched, overlapped pipeline vs a baseline that mimics the original.

Prints one JSON object per measurement, then a summary with the speed-up of each batched run over the baseline:
- ``model``: model-only persons/s on random crops, by batch size and precision;
- ``e2e``: end-to-end frames/s on a video (decode + boxes + crop + estimate + write npz/json + overlay video);
  ``mode: baseline`` runs one person per forward with no overlap between stages (as the original demo),
  ``mode: pipeline`` is main/inference.py's path (``Predictor.run``) with ``--batch_size`` crops per forward.
Weights are random (speed does not depend on them); the body model is the synthetic one unless
``--human_model_path`` points at the real files. Boxes come from the sample's boxes file (no detector).

    python benchmarks/inference_throughput.py                               # S32, CPU or GPU
    python benchmarks/inference_throughput.py --config config_smpler_x_h32 --precisions fp32 bf16 \
        --batch_sizes 1 8 32 --frames 120
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common.utils.precision import PRECISION_NAMES  # noqa: E402


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def bench_model(estimator, batch, iters, device):
    crops = np.random.default_rng(0).uniform(0, 255, (batch, 512, 384, 3)).astype(np.float32)
    estimator(crops)  # warm-up (cudnn autotune, compile)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iters):
        out = estimator(crops)
    sync(device)
    del out
    return batch * iters / (time.perf_counter() - t0)


def run_baseline(source, predictor, write_opts, out_dir, table):
    """One person per forward, stages strictly one after another (the original demo's loop)."""
    from common.inference.output_stage import FrameWriter
    from common.inference.stream import StreamOptions, stream_results
    writer = FrameWriter(out_dir, write_opts, predictor.faces, predictor.body_model, source.fps, source.path)
    opts = StreamOptions(batch_size=1, det_batch_size=1, track=True)
    n = 0
    try:
        for frame in source:  # one frame at a time through the stream: no batching, no overlap across frames
            for result in stream_results([frame], predictor.estimator, predictor.camera, opts, boxes=table):
                writer.write(result)
                n += 1
    finally:
        writer.close()
    return n


def bench_e2e(mode, args, predictor, batch, device):
    from common.inference.detection import BoxTable, load_bbox_file
    from common.inference.io import open_source
    from common.inference.output_stage import WriteOptions
    from common.inference.stream import StreamOptions
    with tempfile.TemporaryDirectory() as tmp:
        write = WriteOptions(video_output=Path(tmp) / 'overlay.mp4', renderer=args.renderer)
        sync(device)
        t0 = time.perf_counter()
        if mode == 'baseline':
            table = BoxTable(load_bbox_file(args.boxes))
            frames = run_baseline(open_source(args.video, 1, args.frames), predictor, write, Path(tmp), table)
        else:
            frames = predictor.run(args.video, Path(tmp) / 'run', args.boxes, start=1, end=args.frames,
                                   stream=StreamOptions(batch_size=batch), write=write, progress=False)['frames']
        sync(device)
        return frames / (time.perf_counter() - t0), frames


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='config_smpler_x_s32')
    p.add_argument('--cfg-options', nargs='+', default=[], help='config overrides (e.g. feat_dim=64 for a tiny run)')
    p.add_argument('--human_model_path', default=None, help='default: the synthetic model in .cache/demo')
    p.add_argument('--video', default=os.path.join(ROOT, 'demo', 'sample.mp4'))
    p.add_argument('--boxes', default=os.path.join(ROOT, 'demo', 'sample_boxes.json'))
    p.add_argument('--frames', type=int, default=30, help='frames of the video to process')
    p.add_argument('--batch_sizes', type=int, nargs='+', default=[1, 8, 32])
    p.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'], choices=PRECISION_NAMES)
    p.add_argument('--model_iters', type=int, default=3)
    p.add_argument('--renderer', default='opencv', choices=('auto', 'pyrender', 'opencv'))
    p.add_argument('--device', default='auto')
    p.add_argument('--skip', nargs='*', default=[], choices=('model', 'e2e'))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import smplerx
    from common.inference.estimator import Estimator
    hmp = args.human_model_path
    if hmp is None:
        sys.argv = sys.argv[:1]
        import importlib.util
        spec = importlib.util.spec_from_file_location('run_demo', os.path.join(ROOT, 'tools', 'run_demo.py'))
        demo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(demo)
        hmp = str(demo.synthetic_body_model())
    predictor = smplerx.load(args.config, random_weights=True, device=args.device, cfg_options=args.cfg_options,
                             human_model_path=hmp)
    device = predictor.device
    env = {'device': torch.cuda.get_device_name(device) if device.type == 'cuda' else f'cpu x{torch.get_num_threads()}',
           'config': args.config, 'cfg_options': args.cfg_options, 'torch': torch.__version__}
    rows = []
    for precision in args.precisions:
        est = Estimator(predictor.model, device, precision)
        predictor.estimator, predictor.precision = est, precision
        if 'model' not in args.skip:
            for b in args.batch_sizes:
                rows.append(dict(env, kind='model', precision=precision, batch=b,
                                 persons_per_s=round(bench_model(est, b, args.model_iters, device), 2)))
                print(json.dumps(rows[-1]), flush=True)
        if 'e2e' not in args.skip:
            fps, n = bench_e2e('baseline', args, predictor, 1, device)
            rows.append(dict(env, kind='e2e', mode='baseline', precision=precision, batch=1, frames=n,
                             frames_per_s=round(fps, 2)))
            print(json.dumps(rows[-1]), flush=True)
            for b in args.batch_sizes:
                fps, n = bench_e2e('pipeline', args, predictor, b, device)
                rows.append(dict(env, kind='e2e', mode='pipeline', precision=precision, batch=b, frames=n,
                                 frames_per_s=round(fps, 2)))
                print(json.dumps(rows[-1]), flush=True)
    base = {r['precision']: r['frames_per_s'] for r in rows if r.get('mode') == 'baseline'}
    fp32_base = base.get('fp32')
    speedups = {f"{r['precision']}_b{r['batch']}": round(r['frames_per_s'] / fp32_base, 2)
                for r in rows if r.get('mode') == 'pipeline' and fp32_base}
    print(json.dumps(dict(env, kind='summary', e2e_speedup_vs_fp32_baseline=speedups)), flush=True)
    return rows


if __name__ == '__main__':
    main()
