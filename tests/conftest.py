"""Shared pytest fixtures: synthetic assets (generated once into a cache dir) and a tiny config.

Fixture modules of each area live in ``tests/fixtures/*.py`` and are loaded as plugins below.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = sorted(
    f"tests.fixtures.{p.stem}" for p in (ROOT / "tests" / "fixtures").glob("*.py") if p.stem != "__init__"
)

# Keep every test offline and its caches out of the home directory.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_AUTOINSTALL", "False")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def source_hash(*paths: Path) -> str:
    """Short hash of source files, so cached generated assets are rebuilt when a generator changes."""
    h = hashlib.sha1()
    for p in sorted(paths):
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:12]


@pytest.fixture(scope="session")
def synthetic_root() -> Path:
    """Cache folder for generated synthetic assets (``.cache/synthetic`` or ``$SMPLERX_TEST_CACHE``)."""
    base = Path(os.environ.get("SMPLERX_TEST_CACHE", ROOT / ".cache" / "synthetic"))
    base.mkdir(parents=True, exist_ok=True)
    return base


@pytest.fixture(scope="session")
def human_model_path(synthetic_root: Path) -> Path:
    """Synthetic SMPL-X/SMPL files (``human_model_files`` layout), generated once per generator version."""
    from data.synthetic import body_model_files
    from filelock import FileLock

    out = synthetic_root / f"body_{source_hash(Path(body_model_files.__file__))}"
    with FileLock(str(out) + ".lock"):
        done = out / "human_model_files" / ".complete"
        if not done.exists():
            body_model_files.write_body_model_files(out, seed=0)
            done.touch()
    return out / "human_model_files"


TINY_OVERRIDES = {
    "feat_dim": 64,
    "encoder.depth": 2,
    "encoder.num_heads": 2,
    "encoder.drop_path_rate": 0.0,
}


@pytest.fixture(scope="session")
def tiny_cfg_factory(human_model_path: Path, tmp_path_factory):
    """``factory(**overrides) -> Config``: the S32 config shrunk to a tiny encoder, synthetic body model,
    outputs in a temp dir. Each call returns a fresh config."""
    from common.config import load_config

    output_root = tmp_path_factory.mktemp("output")

    def factory(**overrides):
        opts = dict(TINY_OVERRIDES, human_model_path=str(human_model_path), output_root=str(output_root))
        opts.update(overrides)
        return load_config("config_smpler_x_s32.py", opts)

    return factory


@pytest.fixture
def tiny_cfg(tiny_cfg_factory):
    """A fresh tiny config (feat_dim 64, 2 blocks, 2 heads) pointing at the synthetic body model."""
    return tiny_cfg_factory()
