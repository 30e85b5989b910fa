"""Corpus inference, the parts without a model: listing inputs, output folder names, the sharding rule, the
manifest merge rule, and the corpus flags (torch-free)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from common.inference import corpus


def _touch(path: Path, data: bytes = b'x') -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------- sharding
def test_shard_is_greedy_longest_first_onto_the_least_loaded_rank():
    weights = [('e', 1), ('a', 10), ('b', 7), ('c', 7), ('d', 3), ('f', 0)]
    shards = corpus.shard_inputs(weights, 2)
    # order: a10, b7, c7, d3, e1, f0(->1); loads: r0 a=10, r1 b=7, r1 c=14, r0 d=13, r0 e=14, r0 (14 vs 14 -> r0) f
    assert shards == [[1, 4, 0, 5], [2, 3]]
    assert sorted(i for s in shards for i in s) == list(range(6))


def test_shard_is_deterministic_ties_by_path_and_balanced():
    weights = [(f'v{i:02d}', 5) for i in range(7)]
    shards = corpus.shard_inputs(list(reversed(weights)), 3)
    assert shards == corpus.shard_inputs(list(reversed(weights)), 3)
    names = [[list(reversed(weights))[i][0] for i in s] for s in shards]
    assert names == [['v00', 'v03', 'v06'], ['v01', 'v04'], ['v02', 'v05']]
    assert corpus.shard_inputs(weights, 4)[3] == [3]
    assert corpus.shard_inputs([], 2) == [[], []]
    assert corpus.shard_inputs(weights, 1) == [list(range(7))]


# ---------------------------------------------------------------------------------------------- names
def test_folder_names_stems_hash_on_clash_and_keep_earlier_names(tmp_path):
    a = str(_touch(tmp_path / 'a' / 'clip.mp4'))
    b = str(_touch(tmp_path / 'b' / 'Clip.MP4'))
    c = str(_touch(tmp_path / 'c' / 'other.mp4'))
    seq = tmp_path / 'seq.v1'
    seq.mkdir()
    hidden = str(_touch(tmp_path / '.x.mp4'))
    names = corpus.folder_names([a, b, c, str(seq), hidden])
    assert names[c] == 'other' and names[str(seq)] == 'seq.v1' and names[hidden] == '_.x'
    assert names[a] == 'clip-' + hashlib.sha1(a.encode()).hexdigest()[:8]
    assert names[b] == 'Clip-' + hashlib.sha1(b.encode()).hexdigest()[:8]
    assert corpus.folder_names([b, a, c, str(seq), hidden]) == names   # independent of the order
    assert corpus.folder_names([a])[a] == 'clip'
    # a path keeps the folder an earlier manifest gave it, even when the list changed
    kept = corpus.folder_names([a, b], previous={a: 'clip'})
    assert kept[a] == 'clip' and kept[b].startswith('Clip-')
    assert corpus.folder_names([str(_touch(tmp_path / 'we ird:name.mp4'))]) == \
        {str(tmp_path / 'we ird:name.mp4'): 'we_ird_name'}


# ---------------------------------------------------------------------------------------------- listing
def test_listing_inputs(tmp_path):
    vids = tmp_path / 'vids'
    for name in ('b.mp4', 'a.MOV', 'notes.txt', '.hidden.mp4'):
        _touch(vids / name)
    (vids / 'sub').mkdir()
    assert [p.name for p in corpus.list_video_folder(vids)] == ['a.MOV', 'b.mp4']
    with pytest.raises(corpus.CorpusError, match='--img_path'):
        corpus.list_video_folder(vids / 'sub')
    seqs = tmp_path / 'seqs'
    for name in ('s2/000001.jpg', 's1/000001.png', 'out/x.json'):
        _touch(seqs / name)
    assert corpus.has_images(seqs / 's1') and not corpus.has_images(seqs)
    assert [p.name for p in corpus.list_image_folders(seqs, exclude=(seqs / 'out').resolve())] == ['s1', 's2']
    lst = tmp_path / 'list.txt'
    lst.write_text('# a comment\n\n  vids/b.mp4  \nseqs/s1\n')
    assert corpus.read_input_list(lst) == [Path('vids/b.mp4'), Path('seqs/s1')]
    lst.write_text('# nothing\n')
    with pytest.raises(corpus.CorpusError, match='names no input'):
        corpus.read_input_list(lst)


# ---------------------------------------------------------------------------------------------- manifest
def test_latest_record_wins_and_torn_lines_are_ignored(tmp_path):
    recs = [{'input': '/a', 'status': 'done', 'time': 5.0, 'run': 'r1'},
            {'input': '/a', 'status': 'running', 'time': 9.0, 'run': 'r2'},
            {'input': '/b', 'status': 'failed', 'time': 3.0, 'run': 'r2'}]
    (tmp_path / 'manifest.jsonl').write_text(json.dumps({'input': '/b', 'status': 'pending', 'time': None}) + '\n')
    (tmp_path / 'manifest.rank1.jsonl').write_text(json.dumps(recs[1]) + '\n' + json.dumps(recs[2]) + '\n{"inp')
    (tmp_path / 'manifest.rank0.jsonl').write_text(json.dumps(recs[0]) + '\n')
    (tmp_path / 'manifest.rank0.jsonl.tmp').write_text('not a part file')
    read = corpus.read_records(tmp_path)
    assert len(read) == 4
    latest = corpus.latest_records(read)
    assert latest['/a']['status'] == 'running' and latest['/b']['status'] == 'failed'
    assert corpus.latest_records(read, run='r1') == {'/a': recs[0]}


# ---------------------------------------------------------------------------------------------- flags
def test_corpus_flags(tmp_path, capsys):
    from smplerx.cli import corpus_inputs, parse_args
    model = ['--config', 'c', '--random_weights']
    seq = tmp_path / 'seq'
    _touch(seq / '000001.jpg')
    _touch(tmp_path / 'seqs' / 'one' / '000001.jpg')
    _touch(tmp_path / 'vids' / 'a.mp4')
    assert parse_args(['--img_path', str(seq), *model]).corpus is False            # images: one input, as before
    assert parse_args(['--img_path', str(seq / '000001.jpg'), *model]).corpus is False
    (tmp_path / 'empty').mkdir()
    assert parse_args(['--img_path', str(tmp_path / 'empty'), *model]).corpus is False   # today's error stays
    single = parse_args(['--video_input', str(tmp_path / 'vids' / 'a.mp4'), *model, '--output_folder', 'o'])
    assert single.corpus is False and single.video_output == str(Path('o') / 'a_smplx.mp4')
    args = parse_args(['--img_path', str(tmp_path / 'seqs'), *model, '--output_folder', str(tmp_path / 'out')])
    assert args.corpus is True and args.video_output is None
    assert corpus_inputs(args) == [tmp_path / 'seqs' / 'one']
    args = parse_args(['--video_input', str(tmp_path / 'vids'), *model])
    assert args.corpus is True and corpus_inputs(args) == [tmp_path / 'vids' / 'a.mp4']
    for argv, message in (
            (['--video_input', str(tmp_path / 'vids'), '--video_output', 'x.mp4'], 'drop --video_output'),
            (['--input_list', str(tmp_path / 'missing.txt')], 'is not a file'),
            (['--input_list', str(tmp_path / 'vids' / 'a.mp4'), '--img_path', str(seq)], 'exactly one of'),
            (['--video_input', str(tmp_path / 'vids'), '--rank_timeout', '0'], '--rank_timeout')):
        with pytest.raises(SystemExit) as info:
            parse_args([*argv, *model])
        assert info.value.code == 2 and message in capsys.readouterr().err


def test_slurm_inference_script_with_a_fake_srun(tmp_path):
    import os
    import subprocess
    root = Path(__file__).resolve().parents[1]
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'srun').write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done > "$SRUN_LOG"\n')
    (fake / 'srun').chmod(0o755)
    log = tmp_path / 'srun_args.txt'
    env = {k: v for k, v in os.environ.items() if k not in ('PARTITION', 'GPUS_PER_NODE')}
    env.update(PATH=f'{fake}:{os.environ["PATH"]}', SRUN_LOG=str(log))
    script = str(root / 'main' / 'slurm_inference.sh')
    subprocess.run(['sh', script, 'lab', '12', '--input_list', 'v.txt', '--resume'], env=env, check=True, timeout=30)
    args = log.read_text().splitlines()
    for expected in ('--job-name=lab', '--ntasks=12', '--ntasks-per-node=8', '--gres=gpu:8'):
        assert expected in args
    assert not any(a.startswith(('--partition', '--kill-on-bad-exit')) for a in args)  # a dead task stops no other
    tail = args[args.index(str(root / 'main' / 'inference.py')):]
    assert tail[1:] == ['--no_progress', '--input_list', 'v.txt', '--resume']
    bad = subprocess.run(['sh', script, 'lab', 'x'], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and 'NUM_GPU' in bad.stderr


# ---------------------------------------------------------------------------------------------- resume plan
def _done_folder(root: Path, name: str, input_path: str, complete: bool = True) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / 'run.json').write_text(json.dumps({'input': {'path': input_path}, 'complete': complete}))
    (folder / 'results.npz').write_bytes(b'PK')


def test_resume_plan_skips_only_done_inputs_with_the_same_settings_and_a_complete_folder(tmp_path):
    root = tmp_path / 'out'
    inputs = [str(_touch(tmp_path / 'in' / f'{n}.mp4')) for n in ('ok', 'other_settings', 'incomplete', 'failed',
                                                                   'new')]
    _done_folder(root, 'ok', inputs[0])
    _done_folder(root, 'other_settings', inputs[1])
    _done_folder(root, 'incomplete', inputs[2], complete=False)
    recs = [{'input': inputs[0], 'output': 'ok', 'status': 'done', 'settings': 'S', 'time': 1, 'frames': 7},
            {'input': inputs[1], 'output': 'other_settings', 'status': 'done', 'settings': 'T', 'time': 1},
            {'input': inputs[2], 'output': 'incomplete', 'status': 'done', 'settings': 'S', 'time': 1},
            {'input': inputs[3], 'output': 'failed', 'status': 'failed', 'settings': 'S', 'time': 1}]
    (root / 'manifest.rank3.jsonl').write_text(''.join(json.dumps(r) + '\n' for r in recs))
    plan = corpus._make_plan(root, inputs, 2, resume=True, digest='S', start=None, end=None)
    assert plan.skipped == [0] and plan.inputs[0].frames == 7
    assert sorted(i for s in plan.shards for i in s) == [1, 2, 3, 4]
    assert [i.name for i in plan.inputs] == ['ok', 'other_settings', 'incomplete', 'failed', 'new']
    fresh = corpus._make_plan(root, inputs, 1, resume=False, digest='S', start=None, end=None)
    # unreadable videos all weigh 1: by path (failed < incomplete < new < ok < other_settings)
    assert fresh.skipped == [] and fresh.shards == [[3, 2, 4, 0, 1]]


def test_rank_zero_waits_for_finished_ranks_and_gives_up_on_a_silent_one(tmp_path):
    beats = tmp_path / '.corpus'
    beats.mkdir()
    (beats / 'rank1.json').write_text(json.dumps({'run': 'R', 'rank': 1, 'beat': 9, 'state': 'finished'}))
    (beats / 'rank2.json').write_text(json.dumps({'run': 'R', 'rank': 2, 'beat': 3, 'state': 'running'}))
    (beats / 'rank3.json').write_text(json.dumps({'run': 'old', 'rank': 3, 'beat': 5, 'state': 'finished'}))
    import time
    t = time.monotonic()
    assert corpus._wait_for_ranks(tmp_path, 'R', 4, timeout=0.5, poll=0.05) == [2, 3]
    assert 0.5 <= time.monotonic() - t < 5
    live = corpus._Heartbeat(tmp_path, 2, 'R', interval=0.05).start()   # a beating rank is waited for
    try:
        t = time.monotonic()
        import threading
        threading.Timer(1.0, live.finish).start()
        assert corpus._wait_for_ranks(tmp_path, 'R', 3, timeout=0.5, poll=0.05) == []
        assert time.monotonic() - t >= 1.0
    finally:
        live._stop.set()


def test_one_input_under_a_launcher_is_refused(tmp_path, capsys, monkeypatch):
    from smplerx.cli import inference_main
    _touch(tmp_path / 'a.mp4')
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '1')
    with pytest.raises(SystemExit) as info:
        inference_main(['--video_input', str(tmp_path / 'a.mp4'), '--config', 'c', '--random_weights'])
    assert info.value.code == 2 and 'one input runs in one process' in capsys.readouterr().err
