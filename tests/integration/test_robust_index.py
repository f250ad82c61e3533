"""The on-disk index under damage, SIGKILL and concurrency.

Every test works on a private copy of the session index (`built`), so nothing is embedded again
except the few sentences a test adds. Kills happen to real processes: the `seedqa index` CLI, or
a small script running the same `open_index` with a stub encoder and paused at an exact point of
the version swap (so the kill lands there every time, not only when the timing is lucky).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.core.versioned import CURRENT, current_version, read_manifest, verify
from qa.engine import SeedQA
from qa.index import open_index
from qa.vector_cache import VectorCache
from tests.conftest import ROOT, SEEDQA, CountingEncoder, run_cli

QUESTION = "北仑有多少家模具企业？"
NEW_FACT_Q = "青松镇商会今年新建了多少个服务站？"
ENV = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")


def _target(docs: Path) -> Path:
    return sorted(docs.glob("*.txt"))[1]


def change_documents(docs: Path, sentences: int = 3) -> str:
    """Append a new article to one document; returns the original text to restore later."""
    target = _target(docs)
    original = target.read_text(encoding="utf-8")
    extra = "".join(f"青松镇商会第{i}次理事会审议了第{i}项服务提案，会员企业代表发表了意见。"
                    for i in range(sentences))
    target.write_text(
        original + "\n\n青松镇商会新建服务站\n\n青松镇商会今年新建了17个服务站。" + extra + "\n",
        encoding="utf-8",
    )
    return original


def leftovers(index_dir: Path) -> list[str]:
    """What a build must never leave behind once a later build has finished."""
    return sorted(
        p.name for p in index_dir.iterdir()
        if p.name.startswith("tmp-") or ".tmp" in p.name
    )


def assert_previous_index_usable(docs: Path, index_dir: Path, original: str, seed_engine,
                                 capsys) -> None:
    """The previous version is live, verifies, loads without embedding and answers as before."""
    folder = current_version(index_dir)
    assert folder is not None
    verify(folder, read_manifest(folder))
    _target(docs).write_text(original, encoding="utf-8")
    capsys.readouterr()
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=True)
    err = capsys.readouterr().err
    assert "rebuilding" not in err and enc.passages == 0, err
    assert index.folder == folder
    engine = SeedQA(index, seed_engine.encoder, docs)
    assert engine.answer(QUESTION).to_json() == seed_engine.answer(QUESTION).to_json()


def assert_next_build_is_clean(docs: Path, index_dir: Path, seed_engine) -> None:
    """After a killed build, the next one succeeds, embeds only new text and tidies up."""
    change_documents(docs)
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=False)
    assert 0 < enc.passages <= 10, "only the new passage and its sentences are embedded"
    assert leftovers(index_dir) == []
    assert [p.name for p in index_dir.glob("v-*")] == [index.folder.name]
    a = SeedQA(index, seed_engine.encoder, docs).answer(NEW_FACT_Q)
    assert not a.refused and "17个服务站" in a.answer


# --- damaged files ---------------------------------------------------------------------------


def _version_files(seed_index_dir: Path) -> list[str]:
    folder = current_version(seed_index_dir)
    return ["manifest.json", *read_manifest(folder)["checksums"]]


DAMAGE = {
    "truncated": lambda b: b[: len(b) // 2],
    "byte flipped": lambda b: b[: len(b) // 2] + bytes([b[len(b) // 2] ^ 0xFF]) + b[len(b) // 2 + 1 :],
    "emptied": lambda b: b"",
}


@pytest.fixture(scope="module")
def version_files(seed_index_dir) -> list[str]:
    return _version_files(seed_index_dir)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_every_damaged_index_file_is_detected_and_rebuilt(built, seed_engine, capsys,
                                                          version_files, damage):
    """Each file of the live version in turn, damaged three ways: detected by its checksum (or
    as an unreadable manifest), rebuilt with one message, from cached vectors only."""
    docs, index_dir = built
    pristine = index_dir.parent / "pristine"
    shutil.copytree(index_dir, pristine)
    for rel in version_files:
        shutil.rmtree(index_dir)
        shutil.copytree(pristine, index_dir)
        path = current_version(index_dir) / rel
        path.write_bytes(DAMAGE[damage](path.read_bytes()))
        capsys.readouterr()
        enc = CountingEncoder(seed_engine.encoder)
        index = open_index(docs, index_dir, enc, progress=True)
        err = capsys.readouterr().err
        said = [ln for ln in err.splitlines() if ln.startswith("seedqa: rebuilding the index: ")]
        assert len(said) == 1, (rel, err)
        assert (rel in said[0] and "corrupted" in said[0]) or (
            rel == "manifest.json" and "manifest" in said[0]
        ), said[0]
        assert enc.passages == 0, "vectors come from the content cache"
        assert [c.text for c in index.chunks] == [c.text for c in seed_engine.chunks]
        verify(index.folder, read_manifest(index.folder))


@pytest.mark.parametrize(
    "tamper",
    ["file deleted", "checksums removed", "checksum edited", "manifest is a list",
     "manifest not UTF-8", "CURRENT garbage", "CURRENT empty", "CURRENT points outside"],
)
def test_damaged_manifest_or_pointer_is_detected_and_rebuilt(built, seed_engine, capsys, tamper):
    docs, index_dir = built
    folder = current_version(index_dir)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if tamper == "file deleted":
        (folder / "sentences" / "vectors.npy").unlink()
    elif tamper == "checksums removed":
        manifest.pop("checksums")
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    elif tamper == "checksum edited":
        manifest["checksums"]["chunks.jsonl"] = "0" * 64
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    elif tamper == "manifest is a list":
        manifest_path.write_text("[1, 2, 3]", encoding="utf-8")
    elif tamper == "manifest not UTF-8":
        manifest_path.write_bytes(b"\xff\xfe{\x00")
    elif tamper == "CURRENT garbage":
        (index_dir / CURRENT).write_bytes(b"\x00\x01 no such version \xff")
    elif tamper == "CURRENT empty":
        (index_dir / CURRENT).write_text("", encoding="utf-8")
    elif tamper == "CURRENT points outside":
        (index_dir / CURRENT).write_text("../../../etc\n", encoding="utf-8")
    capsys.readouterr()
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=True)
    err = capsys.readouterr().err
    assert len(re.findall(r"^seedqa: rebuilding the index: .+$", err, re.M)) == 1, err
    assert enc.passages == 0
    assert index.folder.parent == index_dir
    verify(index.folder, read_manifest(index.folder))
    assert len(index.chunks) == len(seed_engine.chunks)


def test_a_torn_vector_cache_keeps_its_complete_rows(tmp_path):
    """Killed while appending: a row without its key, or half a row, is not counted; every
    complete row is reused."""
    path = tmp_path / "cache-x"
    cache = VectorCache(path, 4)
    cache.embed("passage", ["甲", "乙"], lambda texts: np.ones((len(texts), 4), np.float32))
    with open(path / "vecs.bin", "ab") as fh:  # the next row was being written
        fh.write(np.full(4, 7, np.float32).tobytes()[:10])
    again = VectorCache(path, 4)
    assert len(again) == 2
    calls = []
    vecs, n = again.embed("passage", ["甲", "丙"],
                          lambda t: calls.append(t) or np.full((len(t), 4), 2, np.float32))
    assert n == 1 and calls == [["丙"]] and vecs[0, 0] == 1 and vecs[1, 0] == 2
    assert len(VectorCache(path, 4)) == 3


def test_an_unreadable_vector_cache_costs_only_a_warning(tmp_path, capsys):
    path = tmp_path / "cache-x"
    cache = VectorCache(path, 4)
    cache.embed("passage", ["甲", "乙"], lambda texts: np.ones((len(texts), 4), np.float32))
    (path / "meta.json").write_bytes(b"\x00garbage")
    capsys.readouterr()
    again = VectorCache(path, 4)
    assert capsys.readouterr().err.splitlines() == [
        "seedqa: warning: ignoring unreadable vector cache cache-x (JSONDecodeError); "
        "vectors will be computed again"
    ]
    calls = []
    vecs, n = again.embed("passage", ["甲"], lambda t: calls.append(t) or np.ones((1, 4), np.float32))
    assert n == 1 and calls == [["甲"]] and vecs.shape == (1, 4)


def test_the_one_file_cache_of_earlier_versions_is_taken_in(tmp_path):
    keys = np.frombuffer(VectorCache.key("passage", "甲"), dtype=np.uint8).reshape(1, 32)
    np.savez(tmp_path / "cache-x.npz", keys=keys, vecs=np.full((1, 4), 3, np.float32))
    cache = VectorCache(tmp_path / "cache-x", 4)
    vecs, n = cache.embed("passage", ["甲"], lambda t: pytest.fail("re-embedded"))
    assert n == 0 and vecs[0, 0] == 3 and not (tmp_path / "cache-x.npz").exists()


def test_cli_says_it_rebuilds_a_corrupted_index_and_answers(built):
    docs, index_dir = built
    with open(current_version(index_dir) / "passages" / "vectors.faiss", "r+b") as fh:
        fh.seek(64)
        fh.write(b"\x00garbage\x00")
    r = run_cli(["ask", QUESTION, "--json", "--docs", str(docs), "--index", str(index_dir)])
    assert r.returncode == 0, r.stderr
    assert "seedqa: rebuilding the index: passages/vectors.faiss is corrupted (checksum mismatch)" in r.stderr
    assert "Traceback" not in r.stderr
    assert "近2000家" in json.loads(r.stdout)["answer"]


# --- SIGKILL in the middle of a build --------------------------------------------------------


class Proc:
    """A subprocess whose stderr is collected line by line in a thread."""

    def __init__(self, args: list[str], env: dict | None = None) -> None:
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env or ENV, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
        ]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 300) -> str:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.err):
                if rx.search(line):
                    return line
            if self.proc.poll() is not None:
                time.sleep(0.5)
                pytest.fail(f"exited {self.proc.returncode} before {pattern!r}:\n"
                            + "\n".join(self.err[-30:]))
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"no {pattern!r} within {timeout}s:\n" + "\n".join(self.err[-30:]))

    def kill(self) -> int:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        rc = self.proc.wait(timeout=60)
        for t in self._threads:
            t.join(timeout=10)
        return rc

    def finish(self, timeout: float = 600) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("process did not finish:\n" + "\n".join(self.err[-30:]))
        for t in self._threads:
            t.join(timeout=10)
        return rc


def test_seedqa_index_killed_while_embedding_leaves_the_previous_index(built, seed_engine,
                                                                       capsys):
    """The real CLI, SIGKILLed once it has announced the build and is embedding the new text;
    then a fresh `seedqa ask` answers from the previous index without rebuilding anything."""
    docs, index_dir = built
    before = (index_dir / CURRENT).read_text()
    original = change_documents(docs, sentences=80)  # enough new text to embed for seconds
    p = Proc([*SEEDQA, "index", "--docs", str(docs), "--index", str(index_dir)])
    p.wait_for(r"^seedqa: indexing \d+ passages")
    time.sleep(0.3)
    assert p.kill() == -signal.SIGKILL, "the build was still running when killed"
    assert (index_dir / CURRENT).read_text() == before

    _target(docs).write_text(original, encoding="utf-8")
    r = run_cli(["ask", QUESTION, "--json", "--docs", str(docs), "--index", str(index_dir)])
    assert r.returncode == 0, r.stderr
    assert "rebuilding" not in r.stderr and "indexing" not in r.stderr, r.stderr
    assert json.loads(r.stdout) == seed_engine.answer(QUESTION).to_json()
    assert_previous_index_usable(docs, index_dir, original, seed_engine, capsys)
    assert_next_build_is_clean(docs, index_dir, seed_engine)


# Runs `open_index` with a stub encoder (no model: starts in a second) and stops dead at one step
# of publishing a version, announcing it on stderr; the test then SIGKILLs it.
PAUSING_BUILD = textwrap.dedent(
    r"""
    import os, sys, time
    from pathlib import Path
    import numpy as np
    import qa.index

    docs, index_dir, point = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]

    def pause(what):
        print(f"PAUSED {what}", file=sys.stderr, flush=True)
        while True:
            time.sleep(1)

    real_rename, real_replace = os.rename, os.replace

    def rename(src, dst):
        if point == "tmp-complete" and Path(src).name.startswith("tmp-"):
            pause(point)
        return real_rename(src, dst)

    def replace(src, dst):
        if point == "version-renamed" and Path(dst).name == "CURRENT":
            pause(point)
        return real_replace(src, dst)

    os.rename, os.replace = rename, replace

    class Stub:
        id, dim = "stub-encoder", 384
        calls = 0
        def encode_passages(self, texts, progress=False):
            Stub.calls += 1
            if point == "cache-appended" and Stub.calls == 2:
                pause(point)  # the first batch (the passages) is in the cache by now
            v = np.random.default_rng(0).standard_normal((len(texts), self.dim))
            return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
        def encode_queries(self, texts):
            return self.encode_passages(texts)

    qa.index.open_index(docs, index_dir, Stub(), progress=True)
    print("FINISHED", file=sys.stderr, flush=True)
    """
)


@pytest.mark.parametrize("point", ["tmp-complete", "version-renamed", "cache-appended"])
def test_build_killed_at_each_step_of_the_swap(built, seed_engine, capsys, point, tmp_path):
    """Killed halfway through embedding (one batch in the vector cache), with the new version
    fully written but not yet renamed, or renamed but not yet live: the live version always
    verifies, the next build finishes and removes what the killed one left, and what the
    killed one embedded is not embedded again."""
    docs, index_dir = built
    before = (index_dir / CURRENT).read_text()
    original = change_documents(docs)
    script = tmp_path / "pausing_build.py"
    script.write_text(PAUSING_BUILD, encoding="utf-8")
    p = Proc([sys.executable, str(script), str(docs), str(index_dir), point])
    p.wait_for(f"^PAUSED {point}$", timeout=180)
    assert p.kill() == -signal.SIGKILL
    assert "FINISHED" not in p.err

    live = current_version(index_dir)
    verify(live, read_manifest(live))
    if point == "cache-appended":
        assert (index_dir / CURRENT).read_text() == before
        from qa.index_build import _slug

        stub_cache = VectorCache(index_dir / f"cache-{_slug('stub-encoder')}", 384)
        assert len(stub_cache) > 0  # the passages' batch survived the kill
        assert_previous_index_usable(docs, index_dir, original, seed_engine, capsys)
    else:
        assert (index_dir / CURRENT).read_text() == before
        assert leftovers(index_dir) or len(list(index_dir.glob("v-*"))) == 2
        assert_previous_index_usable(docs, index_dir, original, seed_engine, capsys)
    assert_next_build_is_clean(docs, index_dir, seed_engine)


# --- two builds at once ----------------------------------------------------------------------

# `seedqa index`, with the encoder held at its first call until a file appears: the lock is then
# certainly held while the second run arrives.
HELD_INDEX = textwrap.dedent(
    r"""
    import sys, time
    from pathlib import Path
    import embeddings.encoder as E

    release = Path(sys.argv[1])
    real = E.Encoder.encode_passages

    def held(self, texts, progress=False):
        print("HELD", file=sys.stderr, flush=True)
        while not release.exists():
            time.sleep(0.1)
        return real(self, texts, progress)

    E.Encoder.encode_passages = held
    from ui.cli import main
    main(sys.argv[2:], prog_name="seedqa")
    """
)


def test_second_concurrent_index_waits_for_the_first(built, seed_engine, tmp_path):
    docs, index_dir = built
    change_documents(docs)
    script = tmp_path / "held_index.py"
    script.write_text(HELD_INDEX, encoding="utf-8")
    release = tmp_path / "release"
    args = ["index", "--docs", str(docs), "--index", str(index_dir)]
    first = Proc([sys.executable, str(script), str(release), *args])
    second = None
    try:
        first.wait_for("HELD$")  # after the progress bar, on its line
        second = Proc([*SEEDQA, *args])
        second.wait_for("waiting for another seedqa process that is building the index")
        release.touch()
        assert first.finish() == 0, "\n".join(first.err)
        assert second.finish() == 0, "\n".join(second.err)
    finally:
        release.touch()
        for p in (first, second):
            if p is not None:
                p.kill()
    assert not any(line.startswith("seedqa: indexing") for line in second.err), (
        "the second run found the first one's index instead of building again"
    )
    live = current_version(index_dir)
    verify(live, read_manifest(live))
    assert first.out[-1].endswith(str(live)) and second.out[-1].endswith(str(live))
    assert leftovers(index_dir) == [] and [p.name for p in index_dir.glob("v-*")] == [live.name]
    engine = SeedQA.open(docs, index_dir, progress=False)
    assert "17个服务站" in engine.answer(NEW_FACT_Q).answer


def test_two_index_runs_started_together_both_succeed(built):
    docs, index_dir = built
    change_documents(docs)
    args = [*SEEDQA, "index", "--docs", str(docs), "--index", str(index_dir)]
    runs = [Proc(args), Proc(args)]
    assert [p.finish() for p in runs] == [0, 0], ["\n".join(p.err) for p in runs]
    assert sum(any(ln.startswith("seedqa: indexing") for ln in p.err) for p in runs) == 1
    live = current_version(index_dir)
    verify(live, read_manifest(live))
    assert all(p.out[-1].endswith(str(live)) for p in runs)
    assert leftovers(index_dir) == [] and [p.name for p in index_dir.glob("v-*")] == [live.name]
