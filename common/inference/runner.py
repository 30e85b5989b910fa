"""An inference run into an output folder: folder ownership, resume, the writer thread, ``results.npz``.

Ownership rule (README "Output folder and --resume"): a folder belongs to the run recorded in its ``run.json``
(input, model, detection and processing settings).
- Without ``--resume``: an empty folder is used; a folder holding results of the *same input* is cleared first
  (a rerun replaces them); a folder holding results of another input (or of an unknown run) is refused unless
  ``--overwrite`` (which clears it).
- With ``--resume``: the recorded settings must equal this run's (else: refused, saying what differs); every
  finished frame is checked file by file, and a frame with missing or unreadable files is recomputed.
So ``results.npz`` and ``main/render.py`` only ever show people of this run.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

from common.inference.detection import Detections
from common.inference.io import FrameSource
from common.inference.output_stage import FrameWriter, WriteOptions
from common.inference.person import FrameResult
from common.inference.result_files import (RUN_FILE, assemble_results, check_finished_frames, clear_outputs,
                                           has_outputs, read_run_info, remove_frames, write_run_info)
from common.utils.crop import xywh_to_xyxy

logger = logging.getLogger(__name__)

__all__ = ['OutputFolderError', 'describe_input', 'provenance_differences', 'claim_folder', 'run_to_folder']

COMPARED = ('input', 'model', 'detection', 'processing')  # run.json blocks that must match for --resume
_END = object()


class OutputFolderError(RuntimeError):
    """The output folder cannot be used for this run (a file, another input's results, a foreign resume)."""


def describe_input(source: FrameSource) -> dict:
    """What identifies an input: resolved path, kind, byte size and frame count (folders: image files)."""
    path = Path(source.path).resolve()
    if path.is_dir():
        size = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    else:
        size = path.stat().st_size
    return {'path': str(path), 'kind': source.kind, 'bytes': int(size), 'frames': int(source.total_frames)}


def provenance_differences(old: Mapping, new: Mapping) -> list[str]:
    """'block.key: OLD (folder) vs NEW (this run)' for every compared setting that differs."""
    diffs = []
    for block in COMPARED:
        a, b = old.get(block) or {}, new.get(block) or {}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                diffs.append(f'{block}.{key}: {a.get(key)!r} (folder) vs {b.get(key)!r} (this run)')
    return diffs


def claim_folder(out: Path, provenance: dict, *, resume: bool, overwrite: bool,
                 mesh_formats: tuple = ()) -> dict[int, dict]:
    """Make ``out`` this run's folder (module docstring); returns the frames to keep {frame: record}.

    Raises:
        OutputFolderError: ``out`` is a file, holds another input's results, or cannot be resumed.
    """
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f'--output_folder {out} is a file; give a folder (it is created if missing)')
    if not has_outputs(out):
        return {}
    if overwrite:
        logger.info('--overwrite: removing the previous results in %s', out)
        clear_outputs(out)
        return {}
    info = read_run_info(out)
    if resume:
        if info is None:
            raise OutputFolderError(
                f'cannot --resume {out}: it holds results without a {RUN_FILE} (an older version or another tool '
                f'wrote them), so what they were made from cannot be checked. Run without --resume and with '
                f'--overwrite to replace them, or choose another --output_folder.')
        diffs = provenance_differences(info, provenance)
        if diffs:
            raise OutputFolderError(f'cannot --resume {out}: it was made from something else: {"; ".join(diffs)}. '
                                    f'Use another --output_folder, or --overwrite to replace its results.')
        finished, damaged = check_finished_frames(out, mesh_formats)
        if damaged:
            examples = '; '.join(f'frame {f}: {r}' for f, r in list(damaged.items())[:3])
            logger.warning('--resume: %d frame(s) in %s have incomplete or unreadable files and are recomputed '
                           '(%s)', len(damaged), out, examples)
            remove_frames(out, damaged)
        logger.info('--resume: %d frame(s) already finished in %s are kept', len(finished), out)
        return finished
    if info is not None and not provenance_differences({'input': info.get('input')}, {'input': provenance['input']}):
        logger.info('%s holds an earlier run of this input: its results are replaced', out)
        clear_outputs(out)
        return {}
    made_from = f'another input ({info["input"]["path"]})' if info else f'an unknown run (no {RUN_FILE})'
    raise OutputFolderError(f'--output_folder {out} already holds results of {made_from}, not of '
                            f'{provenance["input"]["path"]}; pass --overwrite to replace them, or choose another '
                            f'--output_folder')


def _kept_detections(finished: Mapping[int, dict]) -> dict[int, Detections]:
    """Boxes and track ids of kept frames, so tracks continue through them."""
    out = {}
    for frame, rec in finished.items():
        people = rec['people']
        out[frame] = Detections(xywh_to_xyxy(np.reshape([p['bbox_det'] for p in people], (-1, 4))),
                                np.asarray([p['score'] for p in people], np.float32),
                                np.asarray([p['track_id'] for p in people], np.int64))
    return out


def run_to_folder(out_dir: Path, source: FrameSource, make_stream: Callable[[dict], Iterator[FrameResult]],
                  opts: WriteOptions, *, faces: np.ndarray, body_model, provenance: dict, resume: bool = False,
                  overwrite: bool = False, progress: bool = True) -> dict:
    """Run inference over ``source`` into ``out_dir``.

    Args:
        make_stream: ``finished {frame: Detections}`` -> iterator of ``FrameResult`` (``stream_results``).
        opts: what to write; faces, body_model: SMPL-X faces and layer (overlays of kept frames).
        provenance: the run's ``input`` / ``model`` / ``detection`` / ``processing`` blocks (``run.json``).
    Returns:
        summary {frames, skipped, people, seconds, results, video, output_folder}.
    Raises:
        OutputFolderError before anything is written; the first stream or writer error after the finished
        frames and ``results.npz`` are written (KeyboardInterrupt likewise).
    """
    from tqdm import tqdm
    out = Path(out_dir)
    finished = claim_folder(out, provenance, resume=resume, overwrite=overwrite, mesh_formats=opts.mesh_formats)
    out.mkdir(parents=True, exist_ok=True)
    write_run_info(out, {**provenance, 'video': str(opts.video_output) if opts.video_output else None,
                         'fps': source.fps, 'complete': False})
    q: queue.Queue = queue.Queue(maxsize=8)
    stop, errors, holder = threading.Event(), [], {}
    bar = tqdm(total=source.num_frames or None, unit='frame', disable=not progress, desc='inference')

    def write_all():
        writer = FrameWriter(out, opts, faces, body_model, source.fps, source.path)
        holder['writer'] = writer
        try:
            while True:
                item = q.get()
                if item is _END:
                    return
                writer.write(item)
                bar.update(1)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)
            stop.set()
        finally:
            writer.close()

    thread = threading.Thread(target=write_all, name='writer', daemon=True)
    thread.start()
    t0 = time.perf_counter()
    completed = False
    try:
        for result in make_stream(_kept_detections(finished)):
            while not stop.is_set():
                try:
                    q.put(result, timeout=0.1)
                    break
                except queue.Full:
                    pass
            if stop.is_set():
                break
        completed = True
    finally:
        while thread.is_alive():
            try:
                q.put(_END, timeout=0.1)
                break
            except queue.Full:
                if stop.is_set():
                    break
        thread.join()
        bar.close()
        w = holder.get('writer')
        results = assemble_results(out, w.frame_ids if w is not None else set())
        summary = {'frames': getattr(w, 'frames_written', 0), 'skipped': getattr(w, 'frames_skipped', 0),
                   'people': getattr(w, 'people_written', 0), 'seconds': time.perf_counter() - t0,
                   'results': str(results) if results else None, 'output_folder': str(out),
                   'video': str(opts.video_output) if w is not None and w.video is not None and w.video.count
                   else None}
        write_run_info(out, {**provenance, 'video': summary['video'], 'fps': source.fps,
                             'complete': completed and not errors,
                             'summary': {k: summary[k] for k in ('frames', 'skipped', 'people')}})
        logger.info('wrote %d frame(s) (%d kept from an earlier run) with %d people to %s in %.1f s',
                    summary['frames'], summary['skipped'], summary['people'], out, summary['seconds'])
    if errors:
        raise errors[0]
    return summary
