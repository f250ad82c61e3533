"""The `seedqa` CLI end to end, in real subprocesses."""

from __future__ import annotations

import json
import re
import shutil
import time

from tests.conftest import ROOT, SEEDS, run_cli

JSON_KEYS = {"question", "answer", "refused", "confidence", "citations"}
CITATION_KEYS = {"n", "doc", "title", "page", "section", "block", "line_start", "line_end", "location",
                 "text", "score"}


def _nows(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_ask_json_is_one_stable_object_with_cited_lines(seed_index_dir):
    r = run_cli(["ask", "北仑有多少家模具企业？", "--index", str(seed_index_dir), "--json"])
    assert r.returncode == 0, r.stderr
    # nothing but seedqa's own lines on stderr: no library warnings leak to the user
    assert all(ln.startswith("seedqa:") for ln in r.stderr.splitlines() if ln.strip()), r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= JSON_KEYS
    assert out["refused"] is False and "近2000家" in out["answer"]
    assert out["span"] == "近2000家"
    assert out["answer"][out["span_start"] : out["span_end"]] == out["span"]
    assert [c["n"] for c in out["citations"]] == list(range(1, len(out["citations"]) + 1))
    for c in out["citations"]:
        assert set(c) == CITATION_KEYS
        lines = (SEEDS / c["doc"]).read_text(encoding="utf-8").splitlines()
        assert 1 <= c["line_start"] <= c["line_end"] <= len(lines)
        # the cited text really is at the stated lines (layout whitespace aside)
        assert _nows(c["text"]) in _nows("".join(lines[c["line_start"] - 1 : c["line_end"]]))
    source = out["citations"][out["source"] - 1]
    assert _nows(out["answer"]) in _nows(source["text"])
    # the answer's own location: its offsets in the cited passage and its own lines, inside the
    # passage's, at which the sentence really stands
    loc = out["location"]
    assert source["text"][loc["char_start"] : loc["char_end"]] == out["answer"]
    assert source["line_start"] <= loc["line_start"] <= loc["line_end"] <= source["line_end"]
    lines = (SEEDS / loc["doc"]).read_text(encoding="utf-8").splitlines()
    assert _nows(out["answer"]) in _nows("".join(lines[loc["line_start"] - 1 : loc["line_end"]]))


def test_ask_prints_the_answer_with_highlight_and_citations(seed_index_dir):
    r = run_cli(["ask", "宁波市工商联党组副书记、副主席是谁？", "--index", str(seed_index_dir)])
    assert r.returncode == 0, r.stderr
    assert "【陈彩月】" in r.stdout
    assert re.search(r"^\[1\] 000_89178abc7061ee5b\.txt:\d+(-\d+)?", r.stdout, re.M)
    # the sentence's own line range, not only the passage's
    assert re.search(r"^出处 \[\d+\] 000_89178abc7061ee5b\.txt:\d+(-\d+)? · 置信度", r.stdout, re.M)


def test_ask_refuses_when_the_documents_do_not_say(seed_index_dir):
    r = run_cli(["ask", "白小T的创始人是谁？", "--index", str(seed_index_dir), "--json"])
    out = json.loads(r.stdout)
    assert out["refused"] is True and out["answer"] == "资料中没有找到答案。"
    assert out["citations"], "a refusal still lists the closest passages"


def test_interactive_ask_passes_history_for_follow_ups(seed_index_dir):
    r = run_cli(
        ["ask", "--index", str(seed_index_dir), "--json"],
        input="骆驼商会所在辖区的工业总产值是多少？\n从业人员呢？\n",
    )
    assert r.returncode == 0, r.stderr
    first, second = (json.loads(line) for line in r.stdout.splitlines())
    assert first["span"] == "近200亿元"
    assert second["span"] == "约3.2万人"


def test_errors_are_one_line_without_traceback(tmp_path, seed_index_dir):
    cases = [
        (["ask", "问题", "--docs", str(tmp_path / "missing")], 1),
        (["ask", "问题", "--docs", str(tmp_path)], 1),  # no documents
        (["ask", "问题", "--mode", "fuzzy"], 2),
        (["ask", "问题", "--model", str(tmp_path / "no-such-model")], 1),
    ]
    for args, code in cases:
        r = run_cli(args)
        assert r.returncode == code, (args, r.stderr)
        assert "Traceback" not in r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert lines and (lines[-1].startswith("seedqa: error:") or "Error:" in lines[-1])


def test_missing_model_fails_fast(tmp_path):
    t0 = time.monotonic()
    r = run_cli(["ask", "问题", "--model", "someone/not-on-disk-model"])
    assert r.returncode == 1
    assert "not on disk" in r.stderr or "downloads are off" in r.stderr
    assert time.monotonic() - t0 < 60


def test_first_use_builds_the_index_then_answers(tmp_path):
    """A fresh folder named seeds/ next to the user: `seedqa ask` needs no other step."""
    shutil.copytree(SEEDS, tmp_path / "seeds", ignore=shutil.ignore_patterns(".seedqa"))
    r = run_cli(["ask", "北仑有多少家模具企业？"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "近2000家" in r.stdout
    assert "index ready" in r.stderr
    assert (tmp_path / "seeds" / ".seedqa" / "CURRENT").is_file()
    r2 = run_cli(["index"], cwd=tmp_path)
    assert r2.returncode == 0 and "passages from 2 files" in r2.stdout
    assert "flat search" in r2.stdout
    assert "index ready" not in r2.stderr  # up to date: loaded, not rebuilt
    r3 = run_cli(["index", "--verify"], cwd=tmp_path)
    assert r3.returncode == 0 and "index ready" not in r3.stderr  # intact: hashed, kept


def test_help_documents_every_command():
    r = run_cli(["--help"])
    for cmd in ("ask", "index", "eval", "chat", "model", "import-squad", "train"):
        assert cmd in r.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for cmd in ("import-squad", "train"):
        h = run_cli([cmd, "--help"])
        assert h.returncode == 0 and "Usage:" in h.stdout
        assert f"seedqa {cmd}" in readme
    for cmd in ("ask", "index", "eval", "chat"):
        h = run_cli([cmd, "--help"])
        assert h.returncode == 0 and "--docs" in h.stdout
        assert "--store" in h.stdout and "--index-type" in h.stdout
    assert "--verify" in run_cli(["index", "--help"]).stdout
    for flag in ("--index-type", "--verify", "SEEDQA_QUERY_VARIANT"):
        assert flag in readme
