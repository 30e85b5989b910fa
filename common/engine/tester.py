"""Evaluation loop and result files of ``main/test.py`` (STYLE rule 10).

:func:`inference_on_dataset` runs ``model(inputs, targets, meta_info, 'test')`` over a loader under the
requested precision and feeds each batch to an evaluator (``common.evaluation.evaluators``). Every rank
sees a contiguous, unpadded shard (:class:`InferenceSampler`), so no sample is counted twice and the
per-rank counts sum to the dataset size. The remaining helpers write what a run leaves behind:

* ``result/result.json`` — every number, checkpoint, config, test set, sample counts, timing;
* ``result/result.txt`` — the table the original prints (:func:`format_results`);
* ``vis/smplx/{sample_idx:06d}.npz`` per sample and ``vis/errors.csv`` with ``--vis``;
* a row per metric appended to ``{output_root}/test_results.csv`` (time, checkpoint, dataset, metric,
  value, error).
"""
from __future__ import annotations

import csv
import datetime
import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from common.evaluation.metrics import WHOLE_BODY_METRICS
from common.run_dir import Run
from common.utils import distributed as comm
from common.inference.person import outputs_to_params
from common.utils.precision import autocast, to_device

logger = logging.getLogger(__name__)

__all__ = [
    'InferenceSampler', 'IndexedDataset', 'build_test_loader',
    'inference_on_dataset', 'SmplxNpzWriter', 'format_results', 'write_results', 'write_error_csv',
    'append_result_rows', 'write_run_outputs',
]

class InferenceSampler(Sampler):
    """Contiguous shard ``[start, end)`` of ``range(size)`` for this rank; no padding, no shuffling."""

    def __init__(self, size: int, rank: int | None = None, world_size: int | None = None):
        rank = comm.get_rank() if rank is None else rank
        world_size = comm.get_world_size() if world_size is None else world_size
        per_rank = math.ceil(size / world_size) if size else 0
        self.start = min(size, rank * per_rank)
        self.end = min(size, self.start + per_rank)

    def __iter__(self):
        return iter(range(self.start, self.end))

    def __len__(self) -> int:
        return self.end - self.start


class IndexedDataset(Dataset):
    """Wraps a test dataset so that every item's ``meta_info['sample_idx']`` is its dataset index."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, idx: int):
        inputs, targets, meta_info = self.dataset[idx]
        meta_info = dict(meta_info)
        meta_info.setdefault('sample_idx', idx)
        return inputs, targets, meta_info


def build_test_loader(dataset: Dataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Loader over this rank's shard of ``dataset`` in dataset order (items get ``sample_idx``)."""
    return DataLoader(IndexedDataset(dataset), batch_size=batch_size, sampler=InferenceSampler(len(dataset)),
                      num_workers=num_workers, pin_memory=torch.cuda.is_available(), drop_last=False)


def inference_on_dataset(model: torch.nn.Module, loader: Iterable, evaluator, precision: str = 'fp32',
                         device: str | torch.device | None = None,
                         callbacks: Iterable[Callable[[tuple, dict], None]] = ()) -> dict:
    """Evaluate ``model`` on every batch of ``loader``.

    Args:
        model: called as ``model(inputs, targets, meta_info, 'test')`` and returning the SPEC §1.13 dict.
        loader: yields ``(inputs, targets, meta_info)`` batches (meta_info with ``sample_idx``).
        evaluator: ``reset() / process(batch, outputs) / evaluate()``.
        precision: 'fp32' | 'bf16' | 'fp16' (autocast).
        device: where the batch goes (default: the model's device).
        callbacks: extra ``fn(batch, outputs)`` per batch (e.g. :class:`SmplxNpzWriter`).

    Returns:
        ``evaluator.evaluate()``: ``{dataset: {metric: value}}`` on rank 0, ``{}`` on other ranks.
    """
    from tqdm import tqdm

    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    evaluator.reset()
    was_training = model.training
    model.eval()
    start = time.perf_counter()
    try:
        with torch.no_grad():  # not inference_mode: lazily built body-model layers must stay usable for training
            for batch in tqdm(loader, desc='test', dynamic_ncols=True, disable=not comm.is_main_process()):
                inputs, targets, meta_info = to_device(tuple(batch), device)
                with autocast(precision, device):
                    outputs = model(inputs, targets, meta_info, 'test')
                evaluator.process((inputs, targets, meta_info), outputs)
                for fn in callbacks:
                    fn((inputs, targets, meta_info), outputs)
    finally:
        model.train(was_training)
    logger.info('inference took %.1f s on this rank', time.perf_counter() - start)
    return evaluator.evaluate()


class SmplxNpzWriter:
    """``--vis``: one ``{out_dir}/{sample_idx:06d}.npz`` per sample.

    Keys follow the inference files (``common.inference.person.PARAM_SHAPES``): axis-angle
    ``global_orient (1,3), body_pose (21,3), left/right_hand_pose (15,3)`` (relative to the mean hand),
    ``jaw_pose, leye_pose, reye_pose (1,3)``, ``betas, expression (1,10)``, ``transl (1,3)`` = cam_trans
    (metres); plus ``focal (2,)`` and ``princpt (2,)`` in original-image pixels (from ``bb2img_trans``),
    ``img_path`` and ``sample_idx``.

    Args:
        out_dir: destination folder.
        focal, princpt: virtual camera in ``input_body_shape`` pixels (SPEC §1.1).
        body_to_crop: ``input_img_shape / input_body_shape`` scale (2.0 for the released configs).
    """

    def __init__(self, out_dir: str | Path, focal=(5000.0, 5000.0), princpt=(96.0, 128.0),
                 body_to_crop: float = 2.0):
        self.out_dir = Path(out_dir)
        self.focal = np.asarray(focal, dtype=np.float64) * body_to_crop
        self.princpt = np.asarray(princpt, dtype=np.float64) * body_to_crop

    def __call__(self, batch: tuple, outputs: dict) -> None:
        _, _, meta_info = batch
        self.out_dir.mkdir(parents=True, exist_ok=True)
        people = outputs_to_params(outputs)
        idx = torch.as_tensor(meta_info['sample_idx']).cpu().numpy().reshape(-1)
        paths = meta_info.get('img_path', [''] * len(idx))
        trans = (torch.as_tensor(meta_info['bb2img_trans']).double().cpu().numpy()
                 if 'bb2img_trans' in meta_info else None)
        for b, sample in enumerate(idx):
            arrays = dict(people[b], img_path=np.array(str(paths[b])), sample_idx=np.array(int(sample)))
            if trans is not None:  # crop -> image affine (no rotation at test time)
                t = trans[b]
                arrays['focal'] = self.focal * np.array([t[0, 0], t[1, 1]])
                arrays['princpt'] = t[:, :2] @ self.princpt + t[:, 2]
            np.savez(self.out_dir / f'{int(sample):06d}.npz', **arrays)


_LABELS = {'all': 'All', 'l_hand': 'L-Hands', 'r_hand': 'R-Hands', 'hand': 'Hands', 'face': 'Face',
           'body': 'Body'}
_GROUPS = (('PA MPVPE', 'pa_mpvpe', ('all', 'l_hand', 'r_hand', 'hand', 'face')),
           ('MPVPE', 'mpvpe', ('all', 'l_hand', 'r_hand', 'hand', 'face')),
           ('PA MPJPE', 'pa_mpjpe', ('body', 'l_hand', 'r_hand', 'hand')))


def format_results(testset: str, metrics: dict[str, float], vis_dir: str | None = None) -> str:
    """The table the original prints after a test run (SPEC §4.4), values in mm with 2 decimals.

    Whole-body sets: 5 PA-MPVPE lines, blank, 5 MPVPE lines, blank, 4 PA-MPJPE lines, blank, then a CSV
    line (EHF: the 10 MPVPE-type numbers; other sets: all 14, preceded by the vis dir). 3DPW: MPJPE and
    PA-MPJPE (Body). Anything else: one ``name: value`` line per entry.
    """
    lines = [f'======{testset}======']
    if set(WHOLE_BODY_METRICS) <= set(metrics):
        if testset != 'EHF' and vis_dir is not None:
            lines.append(str(vis_dir))
        for title, prefix, parts in _GROUPS:
            lines += [f'{title} ({_LABELS[p]}): {metrics[f"{prefix}_{p}"]:.2f} mm' for p in parts]
            lines.append('')
        csv_names = WHOLE_BODY_METRICS[:10] if testset == 'EHF' else WHOLE_BODY_METRICS
        lines.append(','.join(f'{metrics[m]:.2f}' for m in csv_names))
    elif {'mpjpe_body', 'pa_mpjpe_body'} <= set(metrics):
        lines += [f'MPJPE (Body): {metrics["mpjpe_body"]:.2f} mm',
                  f'PA MPJPE (Body): {metrics["pa_mpjpe_body"]:.2f} mm']
    else:
        lines += [f'{k}: {v}' for k, v in metrics.items()]
    return '\n'.join(lines) + '\n'


def write_results(result_dir: str | Path, testset: str, results: dict[str, dict[str, float]], *,
                  checkpoint: str, config: str, num_samples: int, rank_counts: list[int] | None = None,
                  vis_dir: str | None = None, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``result.json`` (machine-readable) and ``result.txt`` (the printed table) into ``result_dir``."""
    result_dir = Path(result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    record = {
        'testset': testset, 'checkpoint': str(checkpoint), 'config': str(config),
        'num_samples': int(num_samples), 'rank_counts': list(rank_counts or [num_samples]),
        'unit': 'mm', 'time': datetime.datetime.now().isoformat(timespec='seconds'),
        'metrics': results, **(extra or {}),
    }
    json_path = result_dir / 'result.json'
    json_path.write_text(json.dumps(record, indent=2) + '\n')
    txt_path = result_dir / 'result.txt'
    txt_path.write_text(''.join(format_results(name, m, vis_dir) for name, m in results.items()))
    return json_path, txt_path


def write_error_csv(path: str | Path, samples: list[dict]) -> Path:
    """Per-sample errors (one row per sample: sample_idx, img_path, every metric in mm)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        if samples:
            writer = csv.DictWriter(f, fieldnames=list(samples[0]))
            writer.writeheader()
            for row in samples:
                writer.writerow({k: (f'{v:.4f}' if isinstance(v, float) else v) for k, v in row.items()})
    return path


def append_result_rows(csv_path: str | Path, checkpoint: str, results: dict[str, dict[str, float]],
                       error: str = '') -> Path:
    """Append ``time, checkpoint, dataset, metric, value, error`` rows (one per metric, or one error row)."""
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    new = not csv_path.exists()
    now = datetime.datetime.now().isoformat(timespec='seconds')
    with open(csv_path, 'a', newline='') as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(['time', 'checkpoint', 'dataset', 'metric', 'value', 'error'])
        for dataset, metrics in results.items():
            for name, value in metrics.items():
                writer.writerow([now, checkpoint, dataset, name, f'{value:.4f}', error])
        if error and not results:
            writer.writerow([now, checkpoint, '', '', '', error])
    return csv_path


def write_run_outputs(cfg, run: Run, results: dict[str, dict[str, float]], evaluator, checkpoint,
                      write_vis_csv: bool = False, extra: dict | None = None) -> Path:
    """Everything a finished test run leaves (main rank): ``result/result.json`` and ``result.txt``,
    ``vis/errors.csv`` when ``write_vis_csv``, and rows appended to ``{output_root}/test_results.csv``.

    Folders and test set come from ``run``; ``cfg`` gives ``output_root`` and ``filename``; ``evaluator``
    provides ``num_samples``, ``rank_counts`` and ``samples``. Returns the result.json path.
    """
    extra = dict(extra or {}, config_dump=str(run.config_dump))
    json_path, _ = write_results(run.result_dir, run.testset, results, checkpoint=str(checkpoint),
                                 config=str(cfg.filename), num_samples=evaluator.num_samples,
                                 rank_counts=evaluator.rank_counts, vis_dir=str(run.vis_dir), extra=extra)
    if write_vis_csv:
        write_error_csv(run.vis_dir / 'errors.csv', evaluator.samples)
    append_result_rows(Path(cfg.output_root) / 'test_results.csv', str(checkpoint), results)
    logger.info('results written to %s', json_path)
    return json_path
