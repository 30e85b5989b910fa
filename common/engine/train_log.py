"""What a training run reports: a tqdm bar, TensorBoard scalars and log lines (``common.utils.logs`` sets up
logging, with ``{run}/log/train.log``).

Only rank 0 writes (bar, TensorBoard); other ranks log at WARNING to stderr.
TensorBoard tags: ``loss/{name}`` for every loss term (mean over ranks), ``loss/total``, ``lr``,
``throughput/samples_per_sec`` (all ranks together) — in ``{run}/log/``; text goes to ``{run}/log/train.log``.
"""
from __future__ import annotations

import logging
import time

from tqdm import tqdm

__all__ = ['TrainLogger']

logger = logging.getLogger(__name__)


class TrainLogger:
    """Progress reporting for the loop; a silent object on ranks > 0 or with ``enabled=False``.

    Args:
        log_dir: TensorBoard directory (None: no TensorBoard).
        total_iters: iterations of the whole run (the bar's length).
        start_iter: iterations already done (resume).
        enabled: write anything at all (True on rank 0 only).
        show_bar: draw the tqdm bar (rank 0, interactive use).
    """

    def __init__(self, log_dir: str | None, total_iters: int, start_iter: int = 0, enabled: bool = True,
                 show_bar: bool = True):
        self.enabled = enabled
        self.writer = None
        self.bar = None
        if not enabled:
            return
        if log_dir:
            from torch.utils.tensorboard import SummaryWriter  # heavy import, rank 0 only
            self.writer = SummaryWriter(log_dir=log_dir)
        if show_bar:
            self.bar = tqdm(total=total_iters, initial=start_iter, dynamic_ncols=True, desc='train')
        self._t0 = time.perf_counter()
        self._samples = 0

    def tick(self, samples: int) -> None:
        """Count ``samples`` (global, all ranks) done in this iteration."""
        if self.enabled:
            self._samples += samples
            if self.bar is not None:
                self.bar.update(1)

    def write(self, iteration: int, epoch: int, losses: dict[str, float], total: float, lr: float) -> float:
        """Emit scalars and a log line for ``iteration``; returns samples/s since the previous call."""
        if not self.enabled:
            return 0.0
        now = time.perf_counter()
        rate = self._samples / max(now - self._t0, 1e-9)
        self._t0, self._samples = now, 0
        if self.writer is not None:
            for name, value in losses.items():
                self.writer.add_scalar(f'loss/{name}', value, iteration)
            self.writer.add_scalar('loss/total', total, iteration)
            self.writer.add_scalar('lr', lr, iteration)
            self.writer.add_scalar('throughput/samples_per_sec', rate, iteration)
            self.writer.flush()
        if self.bar is not None:
            self.bar.set_postfix(loss=f'{total:.4g}', lr=f'{lr:.3g}', sps=f'{rate:.1f}', refresh=False)
        terms = ' '.join(f'{k}={v:.4g}' for k, v in losses.items())
        logger.info('epoch %d iter %d lr %.4g total %.5g | %s | %.1f samples/s',
                    epoch, iteration, lr, total, terms, rate)
        return rate

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.writer is not None:
            self.writer.close()
