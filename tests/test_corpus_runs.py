"""Corpus inference end to end through main/inference.py: 2 CPU ranks (gloo, launched as torchrun would: RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) over 5 inputs (two copies of the two-person clip with clashing names, a
shorter re-encoded clip, an image folder of the clip's frames, a corrupt video): each input finished on 2 ranks
equals the single-process run of that input; the corrupt one is failed with its reason; rank 1 is killed with
SIGKILL mid-run: rank 0 does not hang, loses nothing, exits 1, and --resume on one process finishes exactly what
is missing, every output equal to the single-process runs. One multi-process launch (the suite's time budget)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.fixtures.inference import read_video

ROOT = Path(__file__).resolve().parents[1]
RUN_ARGS = ('--end', '3')  # 3 frames of each input (the short clip has 2): the suite's time budget


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def corpus_inputs(tmp_path_factory, two_person_video):
    """{name: path} of the 5 inputs, the list file and a boxes file (the clip's person 0; the runs keep 3 frames)."""
    from common.vis.video import VideoWriter
    video, boxes = two_person_video
    d = tmp_path_factory.mktemp('corpus_in')
    data = json.loads(boxes.read_text())
    data['frames'] = {k: [b for b in v if b['track_id'] == 0] for k, v in data['frames'].items()}
    boxes = d / 'boxes.json'
    boxes.write_text(json.dumps(data))
    paths = {'a': d / 'a' / 'clip.mp4', 'b': d / 'b' / 'clip.mp4'}
    for p in paths.values():
        p.parent.mkdir()
        shutil.copy(video, p)
    frames = read_video(video)
    writer = VideoWriter(d / 'short.mp4', 12.0)
    for img in frames[:2]:
        writer.write(img)
    writer.close()
    paths['short'] = d / 'short.mp4'
    paths['frames'] = d / 'frames'
    paths['frames'].mkdir()
    for i, img in enumerate(frames[:2], start=1):
        cv2.imwrite(str(paths['frames'] / f'{i:06d}.jpg'), img)
    paths['broken'] = d / 'broken.mp4'
    paths['broken'].write_bytes(b'\x00\x00\x00\x18ftypmp42' + os.urandom(2000))
    listing = d / 'inputs.txt'
    listing.write_text('# corpus\n' + ''.join(f'{p}\n' for p in paths.values()) + '\n')
    return paths, listing, boxes


@pytest.fixture(scope='module')
def references(tmp_path_factory, corpus_inputs, model_args, inference_entry):
    """Single-process runs of the distinct good inputs: {name: results.npz path}."""
    paths, _, boxes = corpus_inputs
    out = tmp_path_factory.mktemp('corpus_ref')
    refs = {}
    for name in ('a', 'short.mp4', 'frames'):
        flag = '--img_path' if name == 'frames' else '--video_input'
        inference_entry.main([flag, str(paths[name.replace('.mp4', '')]), '--bbox_file', str(boxes),
                              '--output_folder', str(out / name),
                              '--no_overlay', *RUN_ARGS, *model_args])
        refs[name] = out / name / 'results.npz'
    refs['b'] = refs['a']  # b is a byte copy of a (another path, same content)
    return refs


def _rank_cmd(listing, boxes, out, model_args, *extra):
    return [sys.executable, str(ROOT / 'main' / 'inference.py'), '--input_list', str(listing), '--bbox_file',
            str(boxes), '--output_folder', str(out), '--no_overlay', *RUN_ARGS, *model_args, *extra]


def _launch(cmd, world: int, port: int, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for rank in range(world):
        env = {**os.environ, 'RANK': str(rank), 'WORLD_SIZE': str(world), 'LOCAL_RANK': str(rank),
               'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': str(port), 'OMP_NUM_THREADS': '1'}
        log = open(log_dir / f'rank{rank}.log', 'w')
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    return procs


def _wait(procs, log_dir: Path, timeout: float = 240) -> list[int]:
    codes = []
    for rank, p in enumerate(procs):
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f'rank {rank} did not finish: {(log_dir / f"rank{rank}.log").read_text()[-3000:]}')
    return codes


def _manifest(out: Path) -> dict[str, dict]:
    lines = (out / 'manifest.jsonl').read_text().splitlines()
    return {Path(r['input']).name if Path(r['input']).name != 'clip.mp4' else Path(r['input']).parent.name: r
            for r in map(json.loads, lines)}


def _assert_same_results(a: Path, b: Path) -> None:
    x, y = np.load(a), np.load(b)
    assert sorted(x.files) == sorted(y.files)
    for key in x.files:
        if np.issubdtype(x[key].dtype, np.floating):
            np.testing.assert_allclose(x[key], y[key], atol=1e-5, err_msg=key)
        else:
            assert x[key].tolist() == y[key].tolist(), key


def _check_against(out: Path, manifest: dict, refs: dict) -> None:
    for name, ref in refs.items():
        rec = manifest[name]
        assert rec['status'] in ('done', 'skipped'), rec
        _assert_same_results(out / rec['output'] / 'results.npz', ref)
        res = np.load(ref)
        assert rec['frames'] == len(res['frame_ids']) and rec['people'] == len(res['frame'])


def test_two_ranks_a_killed_rank_and_resume_on_one_process(tmp_path, corpus_inputs, references, model_args,
                                                           inference_entry):
    """Weights (frames): a 3, b 3, frames 2, short 2, broken 1 -> rank 0: a, frames, broken; rank 1: b, short.
    Rank 1 is killed (SIGKILL) right after it finished b and started short."""
    paths, listing, boxes = corpus_inputs
    out = tmp_path / 'out'
    cmd = _rank_cmd(listing, boxes, out, model_args, '--rank_timeout', '4')  # > a loaded machine's stalls
    procs = _launch(cmd, 2, _free_port(), tmp_path)
    part = out / 'manifest.rank1.jsonl'
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        statuses = [json.loads(line)['status'] for line in part.read_text().splitlines()
                    if line.endswith('}')] if part.is_file() else []
        if statuses.count('running') == 2:    # b done, short started
            procs[1].send_signal(signal.SIGSTOP)
            procs[1].send_signal(signal.SIGKILL)
            break
        assert procs[1].poll() is None, (tmp_path / 'rank1.log').read_text()[-3000:]
        time.sleep(0.05)
    else:
        pytest.fail('rank 1 finished no input')
    codes = _wait(procs, tmp_path)
    log0 = (tmp_path / 'rank0.log').read_text()
    logs = f'rank 0: {log0[-3000:]}\nrank 1: {(tmp_path / "rank1.log").read_text()[-3000:]}\npart 1: {part.read_text()}'
    assert codes == [1, -signal.SIGKILL], logs    # rank 0 did not hang on the dead rank; exit 1
    first = _manifest(out)
    assert sorted(first) == ['a', 'b', 'broken.mp4', 'frames', 'short.mp4']
    assert {n: r['rank'] for n, r in first.items()} == {'a': 0, 'frames': 0, 'broken.mp4': 0, 'b': 1, 'short.mp4': 1}
    assert {n: r['status'] for n, r in first.items()} == {'a': 'done', 'frames': 'done', 'b': 'done',
                                                          'broken.mp4': 'failed', 'short.mp4': 'unfinished'}, logs
    broken = first['broken.mp4']
    assert 'FrameSourceError' in broken['reason'] and 'broken.mp4' in broken['reason']
    assert 'taken as dead' in log0 and 'corpus: 5 input(s): 3 done' in log0
    # inputs finished on 2 ranks equal their single-process runs; stem clash -> hashed names
    _check_against(out, first, {n: references[n] for n in ('a', 'b', 'frames')})
    assert first['a']['output'] != first['b']['output'] and first['a']['output'].startswith('clip-')
    assert first['frames']['output'] == 'frames' and first['short.mp4']['output'] == 'short'
    for n in ('a', 'b', 'frames'):
        info = json.loads((out / first[n]['output'] / 'run.json').read_text())
        assert info['complete'] and info['input']['path'] == first[n]['input']
    done_before = {n: (out / first[n]['output'] / 'results.npz').stat().st_mtime_ns for n in ('a', 'b', 'frames')}

    with pytest.raises(SystemExit) as info:   # one process, --resume: finishes exactly what is missing
        inference_entry.main(cmd[2:-2] + ['--resume'])
    assert info.value.code == 1               # the corrupt video fails again
    manifest = _manifest(out)
    assert {n: r['status'] for n, r in manifest.items()} == {'a': 'skipped', 'frames': 'skipped', 'b': 'skipped',
                                                             'broken.mp4': 'failed', 'short.mp4': 'done'}
    for n, mtime in done_before.items():      # finished inputs were not touched
        assert (out / manifest[n]['output'] / 'results.npz').stat().st_mtime_ns == mtime
    assert manifest['short.mp4']['output'] == 'short'
    _check_against(out, manifest, references)  # every output equals the uninterrupted single-process run
