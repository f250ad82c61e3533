"""Shared fixtures: the seeds index is built once per test session and reused everywhere.

Building embeds every passage and sentence of the seed documents, the slowest step of the suite,
so one session-scoped engine serves all tests, and subprocess tests point `--index` at its folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"
DEV_QUESTIONS = SHARED / "dev_questions.jsonl"
SEEDQA = [sys.executable, "-m", "ui.cli"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def dev_questions() -> list[dict]:
    """The public dev set; tests fail loudly (not skip) if it is missing."""
    with open(DEV_QUESTIONS, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory) -> Path:
    """A built index of seeds/ (a copy of the docs lives beside it so tests never touch seeds/)."""
    from qa.engine import SeedQA

    base = tmp_path_factory.mktemp("seedindex")
    index_dir = base / "index"
    SeedQA.open(SEEDS, index_dir=index_dir, progress=False)
    return index_dir


@pytest.fixture(scope="session")
def seed_engine(seed_index_dir):
    from qa.engine import SeedQA

    return SeedQA.open(SEEDS, index_dir=seed_index_dir, progress=False)


@pytest.fixture
def docs_copy(tmp_path) -> Path:
    """A private copy of the seed documents, for tests that modify documents."""
    dst = tmp_path / "docs"
    shutil.copytree(SEEDS, dst, ignore=shutil.ignore_patterns(".seedqa"))
    return dst


def run_cli(args: list[str], **kw):
    """Run the real `seedqa` CLI in a subprocess (cwd = repo root)."""
    import subprocess

    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.update(kw.pop("env", {}))
    return subprocess.run(
        SEEDQA + args, cwd=kw.pop("cwd", ROOT), env=env, capture_output=True, text=True,
        timeout=kw.pop("timeout", 600), **kw,
    )
