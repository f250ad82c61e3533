"""Odd files in the documents folder: each is indexed or skipped with one warning naming it, and
the other documents are always indexed.

Most cases run the indexer's own reading step (`iter_files` + `collect_chunks`) in-process; one
test builds a real index over a folder holding every case at once, and one runs the CLI on it.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

import qa.core.versioned
import qa.documents
import qa.loaders.newspaper
import qa.loaders.text
from bench.bench_large_doc import generate
from qa.core.errors import SeedQAError
from qa.core.versioned import read_manifest
from qa.documents import MAX_FILE_MB, clean_text, iter_files, read_paragraphs
from qa.engine import SeedQA
from qa.index import open_index
from qa.index_build import collect_chunks, file_digests, fingerprint
from tests.conftest import run_cli

GOOD = "青松镇商会今年新建了17个服务站，覆盖全镇会员企业。商会还组织了两场培训。\n"
GOOD_Q = "青松镇商会今年新建了多少个服务站？"
WARNING = re.compile(r"^seedqa: warning: skipping (\S+): (.+)$")


def _nows(text: str) -> str:
    return re.sub(r"\s+", "", text)


def warnings(err: str) -> list[tuple[str, str]]:
    """(file, reason) of every warning line; any other line mentioning a warning is an error."""
    out = []
    for line in err.splitlines():
        m = WARNING.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
        else:
            assert "warning" not in line.lower(), f"malformed warning line: {line!r}"
    return out


def read_folder(folder: Path, timeout: float = 60) -> tuple[list, list[str]]:
    """List and read a folder as the indexer does, in a thread: a hang fails the test, not CI."""
    result: dict = {}

    def run() -> None:
        files = iter_files(folder)
        result["fp"] = fingerprint(file_digests(folder, files))
        result["out"] = collect_chunks(folder, files)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"reading {folder} did not finish within {timeout}s (blocked?)"
    return result["out"]


# --- every bad case, alone beside a good document --------------------------------------------


def _empty(d: Path) -> None:
    (d / "empty.txt").write_bytes(b"")


def _blank(d: Path) -> None:
    (d / "blank.txt").write_text("\n  \n\u3000\n\t\n", encoding="utf-8")


def _binary(d: Path) -> None:
    (d / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40)


def _noise(d: Path) -> None:
    rng = random.Random(3)
    (d / "noise.txt").write_bytes(bytes(rng.choice(range(1, 256)) for _ in range(20000)))


def _too_large(d: Path) -> None:
    with open(d / "huge.txt", "wb") as fh:  # sparse: costs no disk and no time to make
        fh.truncate((MAX_FILE_MB + 5) * 1024 * 1024)


def _fifo(d: Path) -> None:
    os.mkfifo(d / "pipe.txt")


def _dangling(d: Path) -> None:
    (d / "gone.txt").symlink_to(d / "nowhere.txt")


def _file_loop(d: Path) -> None:
    (d / "loop_a.txt").symlink_to(d / "loop_b.txt")
    (d / "loop_b.txt").symlink_to(d / "loop_a.txt")


def _dir_loop(d: Path) -> None:
    (d / "sub").mkdir()
    (d / "sub" / "back").symlink_to(d, target_is_directory=True)


BAD: dict[str, tuple[Callable[[Path], None], dict[str, str]]] = {
    "empty file": (_empty, {"empty.txt": "no text to index"}),
    "blank lines only": (_blank, {"blank.txt": "no text to index"}),
    "binary file named .txt": (_binary, {"binary.txt": "binary file (NUL bytes)"}),
    "random bytes without NUL": (_noise, {"noise.txt": "not text in UTF-8 or GB18030"}),
    "file over the size limit": (_too_large, {"huge.txt": f"over the {MAX_FILE_MB} MB limit"}),
    "named pipe named .txt": (_fifo, {"pipe.txt": "not a regular file"}),
    "dangling symlink": (_dangling, {"gone.txt": "No such file or directory"}),
    "symlinked files in a loop": (
        _file_loop,
        {"loop_a.txt": "Too many levels of symbolic links",
         "loop_b.txt": "Too many levels of symbolic links"},
    ),
    "directory symlink loop": (_dir_loop, {"sub/back": "symlink loop"}),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_file_is_skipped_with_one_warning_naming_it(tmp_path, capsys, case):
    make, expected = BAD[case]
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    make(tmp_path)
    chunks, skipped = read_folder(tmp_path)
    got = warnings(capsys.readouterr().err)
    assert sorted(name for name, _ in got) == sorted(expected), got
    for name, reason in got:
        assert expected[name] in reason, (name, reason)
    assert [c.doc for c in chunks] == ["good.txt"], "the good document is indexed, once"
    assert "17个服务站" in chunks[0].text
    assert set(skipped) <= set(expected)


def test_file_over_the_limit_is_never_read(tmp_path, capsys, monkeypatch):
    """A real 2 MB text over a 1 MB limit: skipped by size, not hashed, not decoded."""
    monkeypatch.setattr(qa.documents, "MAX_FILE_MB", 1)
    generate(tmp_path / "big.txt", 2.0)
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    hashed: list[str] = []
    real_hash = qa.core.versioned.sha256_file
    monkeypatch.setattr(qa.core.versioned, "sha256_file", lambda p: hashed.append(Path(p).name) or real_hash(p))
    chunks, skipped = read_folder(tmp_path)
    got = warnings(capsys.readouterr().err)
    assert got == [("big.txt", "2 MB is over the 1 MB limit for one document; split it into smaller files")]
    assert skipped == ["big.txt"] and {c.doc for c in chunks} == {"good.txt"}
    assert hashed == ["good.txt"]


def test_gb18030_file_is_indexed_with_its_lines(tmp_path, capsys):
    text = "宁波市工商联引导\n商会改革发展。\n\n镇海区骆驼商会作为唯一基层商会代表作交流发言。\n"
    (tmp_path / "gb.txt").write_bytes(text.encode("gb18030"))
    chunks, skipped = read_folder(tmp_path)
    assert warnings(capsys.readouterr().err) == [] and skipped == []
    (chunk,) = chunks
    assert chunk.text == "宁波市工商联引导商会改革发展。\n镇海区骆驼商会作为唯一基层商会代表作交流发言。"
    assert [(s.line_start, s.line_end) for s in chunk.sentences] == [(1, 2), (4, 4)]


def test_bom_and_mixed_line_endings_are_indexed_with_their_lines(tmp_path, capsys):
    raw = "\ufeff第一段第一行\r\n接着写。\r\n\r\n第二段。\r第三段\n写完。\n"
    (tmp_path / "bom.txt").write_bytes(raw.encode("utf-8"))
    chunks, skipped = read_folder(tmp_path)
    assert warnings(capsys.readouterr().err) == [] and skipped == []
    (chunk,) = chunks
    assert chunk.text == "第一段第一行接着写。\n第二段。\n第三段写完。"
    assert "\ufeff" not in chunk.text and "\r" not in chunk.text
    assert [(s.line_start, s.line_end) for s in chunk.sentences] == [(1, 2), (4, 4), (5, 6)]


def test_file_removed_between_listing_and_reading(tmp_path, capsys):
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "gone.txt").write_text("很快就会被删除的文档。\n", encoding="utf-8")
    files = iter_files(tmp_path)
    (tmp_path / "gone.txt").unlink()
    chunks, skipped = collect_chunks(tmp_path, files)
    assert capsys.readouterr().err.splitlines() == [
        "seedqa: warning: skipping gone.txt: No such file or directory"
    ]
    assert skipped == ["gone.txt"] and [c.doc for c in chunks] == ["good.txt"]


def test_file_failing_halfway_through_is_dropped_whole(tmp_path, capsys, monkeypatch):
    """A read error after some lines (a disk error, a network share gone) costs that file only,
    and none of the chunks it had already produced reach the index."""
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    flaky = tmp_path / "flaky.txt"
    flaky.write_text("".join(f"第{i}段落有一句完整的话。\n\n" for i in range(200)), encoding="utf-8")
    real = qa.loaders.text.iter_lines

    def failing(path):
        for n, line in enumerate(real(path)):
            if path == flaky and n == 100:
                raise OSError(errno.EIO, "Input/output error")
            yield line

    monkeypatch.setattr(qa.loaders.text, "iter_lines", failing)
    chunks, skipped = collect_chunks(tmp_path, iter_files(tmp_path))
    assert capsys.readouterr().err.splitlines() == [
        "seedqa: warning: skipping flaky.txt: Input/output error"
    ]
    assert [c.doc for c in chunks] == ["good.txt"] and skipped == ["flaky.txt"]


def test_unreadable_file_is_skipped(tmp_path, capsys, monkeypatch):
    """Permission denied (simulated: the tests run as root, for whom chmod 000 changes nothing)."""
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("不可读的文档。\n", encoding="utf-8")
    real_open = open

    def guarded(file, *args, **kwargs):
        if Path(file) == secret:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(qa.loaders.text, "open", guarded, raising=False)
    monkeypatch.setattr(qa.core.versioned, "open", guarded, raising=False)
    chunks, skipped = read_folder(tmp_path)
    assert warnings(capsys.readouterr().err) == [("secret.txt", "Permission denied")]
    assert [c.doc for c in chunks] == ["good.txt"]


def test_folder_of_only_bad_files_is_one_clear_error(tmp_path, seed_engine):
    _binary(tmp_path)
    _empty(tmp_path)
    with pytest.raises(SeedQAError, match="none of the 2 files .* has text to index"):
        open_index(tmp_path, tmp_path / "idx", seed_engine.encoder, progress=False)


# --- memory: streamed, never the whole file several times ----------------------------------


def test_a_file_without_blank_lines_is_streamed(tmp_path):
    """One paragraph per line and no blank line at all (a common .txt layout): reading and cleaning
    must not hold the file as one block of lines. Peak traced memory stays well under the file
    size (it was about twice the file size when a blank-line-free file was one block)."""
    src = tmp_path / "src.txt"
    generate(src, 6.0)
    paragraphs = [b.replace("\n", "") for b in src.read_text(encoding="utf-8").split("\n\n")]
    doc = tmp_path / "noblank.txt"
    doc.write_text("\n".join(p for p in paragraphs if p) + "\n", encoding="utf-8")
    size = doc.stat().st_size
    tracemalloc.start()
    try:
        chars = sum(len(p.text) for p in read_paragraphs(doc, doc.name))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chars > size / 4  # the text was really read (CJK: 3 bytes a character)
    assert peak < size / 3, f"peak {peak / 2**20:.1f} MB for a {size / 2**20:.1f} MB file"


def test_one_giant_line_is_not_copied_into_every_chunk(tmp_path):
    """A file that is a single 300,000-character line used to become one paragraph, stored whole
    as the `context` of each of its ~1000 chunks (300 MB of chunks.jsonl for a 900 KB file).
    Paragraphs are now cut at `MAX_PARAGRAPH_CHARS`, so contexts total at most about
    cap / chunk size (8) times the text, whatever the length of the line."""
    src = tmp_path / "src.txt"
    generate(src, 1.0)
    one = re.sub(r"\s+", "", src.read_text(encoding="utf-8"))[:300_000]
    doc = tmp_path / "oneline.txt"
    doc.write_text(one, encoding="utf-8")
    chunks, _ = collect_chunks(tmp_path, [doc])
    assert sum(len(c.context) for c in chunks) <= 10 * len(one)
    assert max(len(p.text) for p in read_paragraphs(doc, doc.name)) <= qa.loaders.newspaper.MAX_PARAGRAPH_CHARS
    cleaned = clean_text(doc)
    assert _nows(cleaned) == _nows(one), "cutting paragraphs loses or adds no character"
    for c in chunks:
        assert c.text in cleaned and (c.line_start, c.line_end) == (1, 1)


def test_unpunctuated_blocks_are_not_joined_into_one_paragraph(tmp_path):
    """Blocks that never end a sentence (English with `.`, lists, tables) were all joined across
    blank lines into one paragraph; they stop at the cap, and keep their own line numbers."""
    doc = tmp_path / "english.txt"
    para = "The chamber of commerce held a meeting\nattended by many members."
    doc.write_text("\n\n".join([para] * 400) + "\n", encoding="utf-8")
    paras = list(read_paragraphs(doc, doc.name))
    assert max(len(p.text) for p in paras) <= qa.loaders.newspaper.MAX_PARAGRAPH_CHARS
    lines = doc.read_text(encoding="utf-8").splitlines()
    for p in paras:
        at = _nows("".join(lines[p.line_start - 1 : p.line_end]))
        assert _nows(p.text) in at or at in _nows(p.text)
        assert p.line_start <= p.line_of(len(p.text) - 1) <= p.line_end


# --- the whole path: a real index over a folder holding every case --------------------------


def _every_case(folder: Path) -> dict[str, str]:
    expected: dict[str, str] = {}
    for make, names in BAD.values():
        make(folder)
        expected.update(names)
    (folder / "good.txt").write_text(GOOD, encoding="utf-8")
    (folder / "gb.txt").write_bytes("宁波市工商联引导商会改革发展。\n".encode("gb18030"))
    (folder / "bom.txt").write_bytes("\ufeff第一段\r\n接着写。\r第二段。\n".encode())
    return expected


def test_index_over_every_bad_case_at_once(tmp_path, seed_engine, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    expected = _every_case(docs)
    result: dict = {}

    def build() -> None:
        result["index"] = open_index(docs, tmp_path / "idx", seed_engine.encoder, progress=True)

    t = threading.Thread(target=build, daemon=True)
    t.start()
    t.join(300)
    assert not t.is_alive(), "indexing blocked"
    index = result["index"]
    got = warnings(capsys.readouterr().err)
    assert sorted(n for n, _ in got) == sorted(expected), "one warning per bad file, naming it"
    assert {c.doc for c in index.chunks} == {"good.txt", "gb.txt", "bom.txt"}
    manifest = read_manifest(index.folder)
    assert set(manifest["skipped"]) == set(expected) - {"pipe.txt", "sub/back"}
    engine = SeedQA(index, seed_engine.encoder, docs)
    a = engine.answer(GOOD_Q)
    assert not a.refused and "17个服务站" in a.answer

    # opening again reuses the index: the fingerprint of unreadable files is stable
    again = open_index(docs, tmp_path / "idx", seed_engine.encoder, progress=True)
    assert again.folder == index.folder
    assert "rebuilding" not in capsys.readouterr().err


def test_cli_indexes_a_folder_of_bad_files_and_answers(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    expected = _every_case(docs)
    r = run_cli(["ask", GOOD_Q, "--json", "--docs", str(docs), "--index", str(tmp_path / "idx")],
                timeout=600)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    got = warnings("\n".join(ln for ln in r.stderr.splitlines() if ln.startswith("seedqa:")))
    assert sorted(n for n, _ in got) == sorted(expected)
    answer = json.loads(r.stdout)
    assert "17个服务站" in answer["answer"]
    assert {c["doc"] for c in answer["citations"]} <= {"good.txt", "gb.txt", "bom.txt"}


def test_cli_on_a_folder_without_documents_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.xlsx").write_bytes(b"PK\x03\x04")  # a kind no loader reads
    r = run_cli(["index", "--docs", str(empty), "--index", str(tmp_path / "idx")], timeout=600)
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("seedqa:")]
    assert errors == ["seedqa: error: no .txt, .md, .markdown, .pdf, .docx, .html or .htm "
                      f"documents in {empty}; put documents there or pass --docs"]
    assert "Traceback" not in r.stderr
