"""Shared fixtures: the seeds index is built once per test session and reused everywhere.

Building embeds every passage and sentence of the seed documents, the slowest step of the suite,
so one session-scoped engine serves all tests, and subprocess tests point `--index` at its folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# the public dev questions, copied into the repo: a fresh clone needs nothing beside it
DEV_QUESTIONS = ROOT / "data" / "dev_questions.jsonl"
SEEDQA = [sys.executable, "-m", "ui.cli"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_line_logs():
    """Library warnings reach stderr as the CLI prints them (`seedqa: warning: ...`), so tests
    that call the library directly see what a user would."""
    from ui import logs

    logs.setup(bars=False)


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHAT_START_TIMEOUT = 240  # engine load + gradio import on a busy 2-core machine


class ChatProcess:
    """`seedqa chat ...` in a subprocess, its merged output collected line by line."""

    def __init__(self, args: list[str], env_extra: dict | None = None) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            [*SEEDQA, "chat", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = CHAT_START_TIMEOUT) -> str:
        """The first output line matching `pattern`; fails with the output so far otherwise."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if rx.search(line):
                    return line
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                pytest.fail(f"seedqa chat exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.2)
        pytest.fail(f"no line matching {pattern!r} within {timeout}s:\n{self.output}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self._reader.join(timeout=5)


class CountingEncoder:
    """The real encoder, counting how many texts it is asked to embed."""

    def __init__(self, encoder, fail_after: int | None = None) -> None:
        self._enc = encoder
        self.id = encoder.id
        self.dim = encoder.dim
        self.passages = 0
        self.fail_after = fail_after

    def encode_passages(self, texts, progress=False):
        if self.fail_after is not None and self.passages + len(texts) > self.fail_after:
            raise RuntimeError("encoder died mid-build")
        self.passages += len(texts)
        return self._enc.encode_passages(texts)

    def encode_passage_spans(self, texts, spans, progress=False):
        if self.fail_after is not None and self.passages + len(texts) > self.fail_after:
            raise RuntimeError("encoder died mid-build")
        self.passages += len(texts)
        return self._enc.encode_passage_spans(texts, spans)

    def encode_queries(self, texts):
        return self._enc.encode_queries(texts)


@pytest.fixture
def built(docs_copy, seed_index_dir, tmp_path):
    """A docs copy with a copy of the session index (same content, so nothing to re-embed)."""
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    return docs_copy, index_dir
