"""Inference over a corpus (many videos / image folders / images): sharded over ranks, resumable, one manifest.

Layout under the output root (README "Inference over a corpus"):
- ``NAME/``: one folder per input with exactly the layout one input gets (``run_to_folder``). ``NAME`` is the
  input's stem (file name without suffix; a folder's name); inputs whose stems clash (case-insensitively) get
  ``STEM-HASH8`` (sha1 of the resolved path), and an input keeps the folder an earlier manifest gave it, so
  names are the same on every rerun of the same list.
- ``manifest.rank{R}.jsonl``: what rank R did, one JSON line per event, appended and fsynced as it happens
  (``running`` when an input starts, then ``done`` / ``failed`` / ``skipped``). Never rewritten: the ground
  truth that ``--resume`` reads back.
- ``manifest.jsonl``: rank 0's merge at the end: one line per input of this run, in input order (the latest
  record of this run per input; ``unfinished`` when its rank stopped before finishing it, ``pending`` when it
  was never started). Written atomically.
- ``.corpus/rank{R}.json``: heartbeats (each rank rewrites its own every few seconds while it works).

Sharding: inputs still to do are weighted by their frame count (after --start/--end; an unreadable input
weighs 1) and dealt greedily longest first (ties by path) to the least-loaded rank (ties: the lowest rank).
Any number of ranks can resume a corpus: only the inputs still missing are sharded.

Ranks and failure: ``torch.distributed`` (gloo, even on GPUs: no tensor is exchanged) is used only at the
start, while every rank is alive: gathering every rank's model-load status and broadcasting rank 0's plan.
The group is then destroyed; no rank waits on a collective later. At the end rank 0 waits for the others
through their heartbeat files (on the shared output folder): a rank that finished says so; a rank whose
heartbeat has not changed for ``rank_timeout`` seconds is taken as dead, so a dead rank (even a lost node)
delays rank 0 by at most that long. Its unfinished inputs show as ``unfinished``/``pending`` and ``--resume``
finishes them. Ranks > 0 exit 0 (torchrun stops all workers as soon as one exits non-zero); rank 0 exits 1
when any input failed or is unfinished.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from common.inference.io import IMAGE_EXTENSIONS

logger = logging.getLogger(__name__)

__all__ = ['VIDEO_EXTENSIONS', 'CorpusError', 'CorpusInput', 'read_input_list', 'list_video_folder',
           'list_image_folders', 'has_images', 'is_folder_of_inputs', 'folder_names', 'shard_inputs',
           'read_records', 'latest_records',
           'folder_complete', 'settings_digest', 'run_corpus', 'MANIFEST', 'FINAL_STATUSES']

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v', '.mpg', '.mpeg', '.wmv', '.flv', '.ts',
                    '.mts', '.3gp')
MANIFEST = 'manifest.jsonl'
FINAL_STATUSES = ('done', 'failed', 'skipped')
_HEARTBEAT_DIR = '.corpus'
_PART_RE = re.compile(r'^manifest\.rank(\d+)\.jsonl$')
_UNSAFE_NAME = re.compile(r'[^\w.\-+=@,]')


class CorpusError(ValueError):
    """The corpus cannot be listed (missing or empty input list, a folder without inputs)."""


@dataclass
class CorpusInput:
    """One input of a corpus: resolved ``path``, output folder ``name`` (under the root), ``frames`` (weight)."""
    path: str
    name: str
    frames: int = 0


# ------------------------------------------------------------------------------------------ listing inputs
def has_images(folder: Path) -> bool:
    """Whether ``folder`` directly holds an image file (then ``--img_path folder`` is one input)."""
    return any(p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS for p in Path(folder).iterdir())


def is_folder_of_inputs(folder: Path) -> bool:
    """Whether ``--img_path folder`` names a corpus: no image file directly in it, and at least one (non-hidden)
    sub-folder. A folder with images, or an empty folder, stays one input (today's meaning and errors)."""
    entries = list(Path(folder).iterdir())
    return not has_images(folder) and any(p.is_dir() and not p.name.startswith('.') for p in entries)


def _visible(entries: Iterable[Path], exclude: Path | None) -> list[Path]:
    out = []
    for p in sorted(entries):
        if p.name.startswith('.'):
            continue
        if exclude is not None and (p.resolve() == exclude or exclude.is_relative_to(p.resolve())):
            continue  # the output folder itself (or a folder holding it) is never an input
        out.append(p)
    return out


def list_video_folder(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The video files (``VIDEO_EXTENSIONS``) directly in ``folder``, sorted by name (``--video_input DIR``)."""
    entries = _visible(Path(folder).iterdir(), exclude)
    videos = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    if not videos:
        raise CorpusError(f'--video_input {folder} is a folder without video files ({" ".join(VIDEO_EXTENSIONS)}); '
                          f'give image folders with --img_path, or any mix of inputs with --input_list FILE')
    if len(videos) < len(entries):
        logger.info('%s: %d entries that are not video files are ignored', folder, len(entries) - len(videos))
    return videos


def list_image_folders(folder: Path, exclude: Path | None = None) -> list[Path]:
    """The sub-folders of ``folder`` (each one image-folder input), sorted (``--img_path DIR_OF_FOLDERS``)."""
    subs = [p for p in _visible(Path(folder).iterdir(), exclude) if p.is_dir()]
    if not subs:
        raise CorpusError(f'--img_path {folder} holds neither image files nor sub-folders of images; give one image '
                          f'folder, a folder of image folders, or a list of inputs with --input_list FILE')
    return subs


def read_input_list(path: Path) -> list[Path]:
    """Paths of an ``--input_list`` file: one per line; blank lines and lines starting with ``#`` are skipped;
    relative paths are taken from the current directory."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f'--input_list {path}: cannot read it ({e}); give a text file with one input path per '
                          f'line') from e
    items = [Path(line.strip()) for line in lines if line.strip() and not line.strip().startswith('#')]
    if not items:
        raise CorpusError(f'--input_list {path} names no input (one video, image folder or image path per line; '
                          f'"#" starts a comment)')
    return items


def _dedupe(paths: Sequence[Path]) -> list[str]:
    seen, out = set(), []
    for p in paths:
        r = str(Path(p).expanduser().resolve())
        if r in seen:
            logger.warning('input %s is listed more than once: processed once', p)
            continue
        seen.add(r)
        out.append(r)
    return out


def folder_names(paths: Sequence[str], previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """{resolved path: output folder name} (module docstring): stems, ``STEM-HASH8`` where stems clash, and the
    name an earlier manifest recorded for a path kept."""
    previous = previous or {}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for p in paths:                               # names given by an earlier run stay
        old = previous.get(p)
        if old and old.lower() not in taken:
            names[p] = old
            taken.add(old.lower())
    stems = {}
    for p in paths:
        q = Path(p)
        stem = q.name if q.is_dir() or not q.suffix else q.stem
        stem = _UNSAFE_NAME.sub('_', stem) or 'input'
        stems[p] = '_' + stem if stem.startswith('.') else stem
    count: dict[str, int] = {}
    for p in paths:
        count[stems[p].lower()] = count.get(stems[p].lower(), 0) + 1
    for p in paths:
        if p in names:
            continue
        stem = stems[p]
        name = stem if count[stem.lower()] == 1 and stem.lower() not in taken else \
            f'{stem}-{hashlib.sha1(p.encode()).hexdigest()[:8]}'
        names[p] = name
        taken.add(name.lower())
    return names


def shard_inputs(weights: Sequence[tuple[str, int]], world_size: int) -> list[list[int]]:
    """Deal inputs to ranks: greedy longest first (weight = max(frames, 1); ties by path) onto the least-loaded
    rank (ties: the lowest rank). Returns per rank the input indices in processing order."""
    order = sorted(range(len(weights)), key=lambda i: (-max(int(weights[i][1]), 1), weights[i][0]))
    loads, shards = [0] * world_size, [[] for _ in range(world_size)]
    for i in order:
        r = min(range(world_size), key=lambda k: (loads[k], k))
        shards[r].append(i)
        loads[r] += max(int(weights[i][1]), 1)
    return shards


# ------------------------------------------------------------------------------------------ manifest
def _part_file(root: Path, rank: int) -> Path:
    return Path(root) / f'manifest.rank{rank}.jsonl'


def _read_jsonl(path: Path) -> list[dict]:
    out = []
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue                                # a line torn by a kill
        if isinstance(rec, dict):
            out.append(rec)
    return out


def read_records(root: Path) -> list[dict]:
    """Every record of every rank's part file and of ``manifest.jsonl`` (in file order)."""
    root = Path(root)
    records = _read_jsonl(root / MANIFEST)
    if root.is_dir():
        for p in sorted(root.iterdir(), key=lambda q: q.name):
            if _PART_RE.match(p.name):
                records.extend(_read_jsonl(p))
    return records


def latest_records(records: Iterable[dict], run: str | None = None) -> dict[str, dict]:
    """{input path: its latest record} (by record time; later lines win ties), optionally of one run only."""
    best: dict[str, dict] = {}
    for rec in records:
        if 'input' not in rec or 'status' not in rec or (run is not None and rec.get('run') != run):
            continue
        old = best.get(rec['input'])
        if old is None or float(rec.get('time') or 0) >= float(old.get('time') or 0):
            best[rec['input']] = rec
    return best


class _PartWriter:
    """Appends records to ``manifest.rank{R}.jsonl``, each line flushed and fsynced before returning."""

    def __init__(self, root: Path, rank: int, run: str):
        self.path, self.rank, self.run = _part_file(root, rank), rank, run
        self._lock = threading.Lock()

    def write(self, record: dict) -> dict:
        rec = {**record, 'rank': self.rank, 'run': self.run, 'time': time.time()}
        line = json.dumps(rec, default=str) + '\n'
        with self._lock, open(self.path, 'a', encoding='utf-8') as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return rec


def settings_digest(settings: Mapping) -> str:
    """A short hash of everything that shapes an input's outputs (model provenance + output-affecting flags)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def folder_complete(folder: Path, input_path: str) -> bool:
    """Whether ``folder`` holds a completed run of ``input_path`` (``run.json`` complete, ``results.npz``)."""
    from common.inference.result_files import read_run_info
    info = read_run_info(folder)
    return bool(info and info.get('complete') and (info.get('input') or {}).get('path') == input_path
                and (Path(folder) / 'results.npz').is_file())


# ------------------------------------------------------------------------------------------ heartbeats
class _Heartbeat:
    """A daemon thread rewriting ``.corpus/rank{R}.json`` {run, rank, beat, state} every ``interval`` s."""

    def __init__(self, root: Path, rank: int, run: str, interval: float):
        self.path = Path(root) / _HEARTBEAT_DIR / f'rank{rank}.json'
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rank, self.run, self.interval, self.beat = rank, run, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name='heartbeat', daemon=True)

    def _write(self, state: str) -> None:
        from common.utils.files import atomic_write
        self.beat += 1
        try:
            with atomic_write(self.path, fsync=False) as tmp:
                tmp.write_text(json.dumps({'run': self.run, 'rank': self.rank, 'beat': self.beat, 'state': state}))
        except OSError as e:
            logger.warning('heartbeat %s: %s', self.path, e)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._write('running')

    def start(self) -> '_Heartbeat':
        self._write('running')
        self._thread.start()
        return self

    def finish(self) -> None:
        self._stop.set()
        self._thread.join()
        self._write('finished')


def _wait_for_ranks(root: Path, run: str, world_size: int, timeout: float, poll: float = 0.5) -> list[int]:
    """Rank 0: wait until every other rank's heartbeat says finished, or has not changed for ``timeout`` s.
    Returns the ranks taken as dead."""
    last: dict[int, tuple] = {}
    changed = {r: time.monotonic() for r in range(1, world_size)}
    waiting = set(changed)
    dead: list[int] = []
    reported = False
    while waiting:
        for r in sorted(waiting):
            try:
                beat = json.loads((Path(root) / _HEARTBEAT_DIR / f'rank{r}.json').read_text())
            except (OSError, ValueError):
                beat = {}
            state = (beat.get('run'), beat.get('beat'), beat.get('state'))
            if beat.get('run') == run and beat.get('state') == 'finished':
                waiting.discard(r)
                continue
            if state != last.get(r):
                last[r], changed[r] = state, time.monotonic()
            elif time.monotonic() - changed[r] > timeout:
                logger.warning('rank %d: no heartbeat for %.0f s: taken as dead (its unfinished inputs are left '
                               'for --resume)', r, timeout)
                waiting.discard(r)
                dead.append(r)
        if waiting:
            if not reported:
                logger.info('waiting for rank(s) %s to finish', sorted(waiting))
                reported = True
            time.sleep(poll)
    return dead


# ------------------------------------------------------------------------------------------ the run
@dataclass
class _Plan:
    run: str
    inputs: list[CorpusInput]
    shards: list[list[int]]
    skipped: list[int] = field(default_factory=list)
    error: str | None = None


def _count_frames(path: str, start, end) -> int:
    from common.inference.io import open_source
    try:
        return int(open_source(path, start, end).num_frames)
    except Exception:  # noqa: BLE001 - an unreadable input fails later, with its reason, when it is run
        return 0


def _make_plan(root: Path, paths: list[str], world_size: int, *, resume: bool, digest: str, start, end) -> _Plan:
    records = latest_records(read_records(root)) if root.is_dir() else {}
    names = folder_names(paths, {p: r['output'] for p, r in records.items() if r.get('output')})
    inputs, todo, skipped = [], [], []
    for i, p in enumerate(paths):
        inp = CorpusInput(p, names[p])
        rec = records.get(p)
        if (resume and rec and rec.get('status') in ('done', 'skipped') and rec.get('settings') == digest
                and rec.get('output') == inp.name and folder_complete(root / inp.name, p)):
            inp.frames = int(rec.get('frames') or 0)
            skipped.append(i)
        else:
            inp.frames = _count_frames(p, start, end)
            todo.append(i)
        inputs.append(inp)
    shards = [[todo[j] for j in s] for s in shard_inputs([(paths[i], inputs[i].frames) for i in todo], world_size)]
    return _Plan(uuid.uuid4().hex[:12], inputs, shards, skipped)


def _record(inp: CorpusInput, status: str, digest: str, **extra) -> dict:
    return {'input': inp.path, 'output': inp.name, 'status': status, 'settings': digest, **extra}


def _sigterm_to_exit(signum, frame):  # noqa: ARG001 - signal handler signature
    raise SystemExit(128 + signum)


def run_corpus(root: Path, paths: Sequence[Path], *, load: Callable[[str], object],
               run_one: Callable[[object, CorpusInput, Path, bool], dict], settings: Callable[[object], dict],
               resume: bool = False, start=None, end=None, device: str = 'auto', rank_timeout: float = 300.0) -> dict:
    """Run every input of a corpus on this rank's share; rank 0 merges the manifest.

    Args:
        root: output root; paths: the inputs (any order; duplicates dropped).
        load: device string -> model (called once per rank, e.g. ``smplerx.load``).
        run_one: (model, input, output folder, resume) -> the summary of ``Predictor.run`` (one input's path).
        settings: model -> dict of what shapes the outputs (hashed into each record; ``--resume`` skips a done
            input only when it matches).
        resume: skip done inputs and resume partial ones; start, end: as ``--start``/``--end`` (frame counts).
        device: ``--device``; each rank takes ``cuda:LOCAL_RANK`` on GPUs.
        rank_timeout: seconds without a heartbeat after which rank 0 takes a rank as dead.
    Returns:
        summary {inputs, done, skipped, failed, unfinished, frames, people, seconds, manifest, rank, world_size,
        complete (rank 0: every input has a final status and none failed; other ranks: their share)}.
    """
    from common.utils import distributed as du
    from common.utils.device import select_device
    root = Path(root)
    plist = _dedupe(paths)
    info = du.init_from_env('cpu')          # gloo for the start-up exchange only (module docstring)
    rank, world = info.rank, info.world_size
    t0 = time.perf_counter()
    model, load_error = None, None
    try:
        torch_device = select_device(device, info.local_rank)
        if torch_device.type == 'cuda':
            import torch
            torch.cuda.set_device(torch_device)  # libraries that use the current device stay on this rank's GPU
        model = load(str(torch_device))
    except Exception as e:  # noqa: BLE001 - reported on every rank below, then re-raised here
        load_error = e
    errors = du.all_gather(None if load_error is None else f'rank {rank}: {type(load_error).__name__}: {load_error}')
    if load_error is not None:
        du.destroy()
        raise load_error
    if any(errors):
        du.destroy()
        raise CorpusError('another rank could not load the model: ' + '; '.join(e for e in errors if e))
    digest = settings_digest(settings(model))
    plan = None
    if rank == 0:
        try:
            root.mkdir(parents=True, exist_ok=True)
            plan = _make_plan(root, plist, world, resume=resume, digest=digest, start=start, end=end)
        except Exception as e:  # noqa: BLE001 - every rank must leave the broadcast
            plan = _Plan('', [], [], error=f'{type(e).__name__}: {e}')
    plan = du.broadcast_object(plan)
    du.destroy()                             # from here on no rank waits on another through a collective
    if plan.error:
        raise CorpusError(f'planning the corpus failed on rank 0: {plan.error}')
    part = _PartWriter(root, rank, plan.run)
    heartbeat = _Heartbeat(root, rank, plan.run, interval=max(0.2, min(10.0, rank_timeout / 5))).start()
    main_thread = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _sigterm_to_exit) if main_thread else None  # finish the frame, then stop
    mine = plan.shards[rank]
    if rank == 0:
        logger.info('corpus: %d input(s) over %d rank(s) (%d already done are skipped); this rank: %d input(s), '
                    '%d frame(s)', len(plan.inputs), world, len(plan.skipped), len(mine),
                    sum(plan.inputs[i].frames for i in mine))
        records = latest_records(read_records(root))
        for i in plan.skipped:
            old = records[plan.inputs[i].path]
            part.write(_record(plan.inputs[i], 'skipped', digest, frames=old.get('frames'), people=old.get('people'),
                               seconds=0.0, reason='done by an earlier run (--resume)'))
    own = {'done': 0, 'failed': 0}
    try:
        for n, i in enumerate(mine, start=1):
            inp = plan.inputs[i]
            part.write(_record(inp, 'running', digest))
            t = time.perf_counter()
            try:
                summary = run_one(model, inp, root / inp.name, resume)
            except Exception as e:  # noqa: BLE001 - one bad input is recorded and the others go on
                reason = f'{type(e).__name__}: {e}'
                part.write(_record(inp, 'failed', digest, reason=reason, seconds=round(time.perf_counter() - t, 3)))
                logger.warning('[rank %d %d/%d] %s failed: %s', rank, n, len(mine), inp.path, reason)
                own['failed'] += 1
                continue
            part.write(_record(inp, 'done', digest, frames=summary['frames'] + summary['skipped'],
                               people=summary['people'], seconds=round(time.perf_counter() - t, 3),
                               resumed_frames=summary['skipped']))
            own['done'] += 1
            logger.info('[rank %d %d/%d] %s: done (%d frames, %d people) -> %s', rank, n, len(mine), inp.path,
                        summary['frames'] + summary['skipped'], summary['people'], root / inp.name)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_term)
        heartbeat.finish()
    if rank != 0:
        return {'rank': rank, 'world_size': world, 'inputs': len(mine), **own, 'complete': own['failed'] == 0,
                'seconds': time.perf_counter() - t0}
    dead = _wait_for_ranks(root, plan.run, world, rank_timeout) if world > 1 else []
    return _merge(root, plan, dead, time.perf_counter() - t0, world)


def _merge(root: Path, plan: _Plan, dead: list[int], seconds: float, world: int) -> dict:
    """Rank 0: write ``manifest.jsonl`` (one line per input of this run) and log the one-line summary."""
    from common.utils.files import atomic_write
    latest = latest_records(read_records(root), run=plan.run)
    owner = {i: r for r, shard in enumerate(plan.shards) for i in shard}
    lines, counts = [], {'done': 0, 'skipped': 0, 'failed': 0, 'unfinished': 0, 'pending': 0}
    frames = people = 0
    for i, inp in enumerate(plan.inputs):
        rec = latest.get(inp.path)
        if rec is None:
            r = owner.get(i, 0)
            rec = {**_record(inp, 'pending', ''), 'rank': r, 'reason': f'rank {r} stopped before starting it'}
        elif rec['status'] == 'running':
            rec = {**rec, 'status': 'unfinished', 'reason': f'rank {rec["rank"]} stopped before finishing it'}
        rec = {k: rec.get(k) for k in ('input', 'output', 'status', 'reason', 'frames', 'people', 'seconds', 'rank',
                                       'resumed_frames', 'settings', 'run', 'time')}
        counts[rec['status']] += 1
        frames += int(rec['frames'] or 0) if rec['status'] in ('done', 'skipped') else 0
        people += int(rec['people'] or 0) if rec['status'] in ('done', 'skipped') else 0
        lines.append(json.dumps(rec, default=str))
    path = root / MANIFEST
    with atomic_write(path) as tmp:
        tmp.write_text(''.join(line + '\n' for line in lines))
    complete = counts['failed'] == counts['unfinished'] == counts['pending'] == 0
    summary = {'inputs': len(plan.inputs), **counts, 'frames': frames, 'people': people, 'seconds': seconds,
               'manifest': str(path), 'rank': 0, 'world_size': world, 'dead_ranks': dead, 'complete': complete}
    log = logger.info if complete else logger.warning
    log('corpus: %d input(s): %d done, %d skipped (done earlier), %d failed, %d unfinished, %d pending; %d frames, '
        '%d people in %.1f s on %d rank(s)%s; manifest %s', summary['inputs'], counts['done'], counts['skipped'],
        counts['failed'], counts['unfinished'], counts['pending'], frames, people, seconds, world,
        f' (dead: {dead})' if dead else '', path)
    if counts['unfinished'] or counts['pending']:
        logger.warning('rerun the same command with --resume to finish the %d missing input(s)',
                       counts['unfinished'] + counts['pending'])
    return summary
