"""Batch files through the real engine on seeds/ and the real `seedqa` CLI (exit status, bad
lines reported by line number while the others are answered)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from qa.core.records import REFUSAL
from tests.conftest import run_cli
from tests.unit.test_batch import (
    BAD_JSONL,
    BAD_JSONL_IDS,
    OFF_Q,
    SEED_Q,
    SEEDS,
    _csv_rows,
    _jsonl_rows,
)
from ui.batch import read_questions, run_batch

# --- the real engine -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["txt", "jsonl", "csv"])
def test_real_engine_answers_every_input_format(seed_engine, tmp_path, fmt):
    src = tmp_path / f"q.{fmt}"
    if fmt == "txt":
        src.write_text(f"{SEED_Q}\n\n{OFF_Q}\n", encoding="utf-8")
    elif fmt == "jsonl":
        src.write_text(
            json.dumps({"id": "s", "question": SEED_Q}, ensure_ascii=False)
            + "\n"
            + json.dumps({"id": "o", "question": OFF_Q}, ensure_ascii=False)
            + "\n",
            encoding="utf-8",
        )
    else:
        src.write_text(f"id,question\ns,{SEED_Q}\no,{OFF_Q}\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert run_batch(seed_engine, src, out, top_k=3, mode="hybrid", progress=False) == 0
    rows = _jsonl_rows(out)
    assert [r["question"] for r in rows] == [SEED_Q, OFF_Q]
    direct = seed_engine.answer(SEED_Q, top_k=3, mode="hybrid").to_json()
    assert rows[0]["answer"] == direct["answer"] and rows[0]["citations"] == direct["citations"]
    assert not rows[0]["refused"] and "中国出口" in rows[0]["answer"].replace(" ", "")
    assert 1 <= len(rows[0]["citations"]) <= 3
    assert rows[1]["refused"] and rows[1]["answer"] == REFUSAL


def _seedqa(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as a user runs it (conftest's `run_cli`)."""
    return run_cli(args, cwd=tmp_path, env={"PYTHONIOENCODING": "utf-8"})


def _batch(src: Path, out: Path | None, index: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """`seedqa ask --batch SRC [--out OUT]` on the seeds with the session index."""
    args = ["ask", "--docs", str(SEEDS), "--index", str(index), "--batch", str(src)]
    return _seedqa(args + (["--out", str(out)] if out else []), tmp_path)


def test_cli_batch_bad_jsonl_lines_real_engine(seed_index_dir, tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_bytes(
        BAD_JSONL.replace(b'"first"', json.dumps(SEED_Q).encode()).replace(
            b'"last"', json.dumps(OFF_Q).encode()
        )
    )
    out = tmp_path / "o.csv"
    p = _batch(src, str(out), seed_index_dir, tmp_path)
    assert p.returncode != 0, p.stderr
    problems = [ln for ln in p.stderr.splitlines() if ln.startswith("seedqa: line ")]
    assert [ln.split(":")[1].strip() for ln in problems] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 6",
    ]
    assert "bad JSON" in problems[0] and "undecodable bytes" in problems[4]
    rows = _csv_rows(out)
    assert [r["id"] for r in rows] == BAD_JSONL_IDS
    assert rows[0]["error"] == "" and rows[0]["refused"] == "false"
    assert "中国出口" in rows[0]["answer"].replace(" ", "")
    assert json.loads(rows[0]["citations"])[0]["n"] == 1
    assert rows[-1]["error"] == "" and rows[-1]["answer"] == REFUSAL
    assert all(r["error"] for r in rows[1:-1])


def test_cli_batch_txt_with_undecodable_line_real_engine(seed_index_dir, tmp_path):
    src = tmp_path / "q.txt"
    src.write_bytes(SEED_Q.encode() + b"\n\n\xff\xfe\n" + OFF_Q.encode() + b"\n")
    out = tmp_path / "o.jsonl"
    p = _batch(src, str(out), seed_index_dir, tmp_path)
    assert p.returncode != 0
    assert [ln for ln in p.stderr.splitlines() if ln.startswith("seedqa: line")] == [
        "seedqa: line 3: undecodable bytes (not UTF-8: byte 0xff at byte 1); skipped"
    ]
    rows = _jsonl_rows(out)
    assert [r["id"] for r in rows] == ["line 1", "line 3", "line 4"]
    assert rows[0]["error"] is None and not rows[0]["refused"]
    assert rows[2]["error"] is None and rows[2]["refused"]


def test_cli_batch_clean_file_exits_zero_and_streams_to_stdout(seed_index_dir, tmp_path):
    src = tmp_path / "q.txt"
    src.write_text(SEED_Q + "\n", encoding="utf-8")
    p = _batch(src, None, seed_index_dir, tmp_path)
    assert p.returncode == 0, p.stderr
    (row,) = [json.loads(line) for line in io.StringIO(p.stdout) if line.strip()]
    assert row["question"] == SEED_Q and row["error"] is None


def test_cli_batch_unknown_extension_is_one_line(seed_index_dir, tmp_path):
    src = tmp_path / "q.xlsx"
    src.write_text("x", encoding="utf-8")
    p = _batch(src, str(tmp_path / "o.csv"), seed_index_dir, tmp_path)
    assert p.returncode != 0
    msg = [ln for ln in p.stderr.splitlines() if ".jsonl, .csv, .txt" in ln]
    assert len(msg) == 1 and "Traceback" not in p.stderr


def test_stray_csv_quote_costs_one_row(tmp_path):
    """One unterminated quote must not swallow the rest of the file (nor take quadratic time)."""
    p = tmp_path / "q.csv"
    body = "".join(f"{i},第{i}个问题\n" for i in range(20000))
    p.write_text('id,question\n1,"unterminated\n' + body, encoding="utf-8")
    items = list(read_questions(p))
    assert items[0].line == 2 and items[0].error
    assert len(items) == 20001 and items[-1].question == "第19999个问题"
