"""The web app's job folders (common/app/jobs.py) and the pipeline-check rule it shares with `make demo`
(common/app/demo_mode.py)."""
from __future__ import annotations

import os
import time

import pytest

from common.app.demo_mode import PIPELINE_CHECK_TEXT, PIPELINE_CHECK_TITLE, real_checkpoint, terminal_banner
from common.app.jobs import JobFolders


def test_job_folders_are_distinct_and_expired_ones_are_removed(tmp_path):
    jobs = JobFolders(tmp_path / 'root', max_age_s=3600)
    a, b = jobs.new(), jobs.new()
    assert a != b and a.parent == b.parent == tmp_path / 'root' and a.is_dir() and b.is_dir()
    (a / 'results.npz').write_bytes(b'x')
    other = tmp_path / 'root' / 'keep-me'  # not a job folder: never deleted, however old
    other.mkdir()
    stale = time.time() - 7200
    for path in (a, other):
        os.utime(path, (stale, stale))
    assert jobs.cleanup() == [a]
    assert not a.exists() and b.is_dir() and other.is_dir()
    # new() cleans up first: b expires an hour after its last change
    assert jobs.cleanup(now=time.time() + 3599) == []
    later = time.time() + 3700
    assert jobs.cleanup(now=later) == [b]


def test_job_folder_age_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match='positive'):
        JobFolders(tmp_path, max_age_s=0)


def test_pipeline_check_rule_needs_both_licensed_files(tmp_path):
    weights, body = tmp_path / 'pretrained_models', tmp_path / 'human_model_files'
    weights.mkdir()
    (body / 'smplx').mkdir(parents=True)
    assert real_checkpoint(weights, body) is None  # nothing
    (weights / 'smpler_x_b32.pth.tar').write_bytes(b'')
    assert real_checkpoint(weights, body) is None  # checkpoint without the SMPL-X files
    (body / 'smplx' / 'SMPLX_NEUTRAL.npz').write_bytes(b'')
    assert real_checkpoint(weights, body) == 'smpler_x_b32'
    (weights / 'smpler_x_s32.safetensors').write_bytes(b'')
    assert real_checkpoint(weights, body) == 'smpler_x_s32'  # the smallest released model first


def test_terminal_banner_carries_the_shared_text():
    banner = terminal_banner()
    assert PIPELINE_CHECK_TITLE in banner
    for line in PIPELINE_CHECK_TEXT.splitlines():
        assert line in banner
