"""Batch answering: the three input formats, both output formats, and bad lines.

Format and line-number details run against a tiny stand-in engine that returns real `Answer`s
(fast, and the reader/writer logic does not depend on what is answered); the real engine and the
real `seedqa` CLI run the same files in `tests/integration/test_batch_cli.py`.
"""

from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import pytest

from qa.core.errors import SeedQAError
from qa.core.records import REFUSAL, Answer, Citation
from ui.batch import ROW_FIELDS, read_questions, run_batch

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
# Answerable from seeds/ (a verbatim phrase of 000_*.txt) and one the seeds cannot answer.
SEED_Q = "江苏省工商联与哪家公司的江苏分公司签署了深化战略合作协议？"
OFF_Q = "火星上第一座城市的市长是谁？"


class EchoEngine:
    """Answers every question with a sentence that echoes it; refuses questions ending in '?'."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def answer(self, question: str, *, top_k: int, mode: str) -> Answer:
        self.asked.append(question)
        cits = [
            Citation(n, "d.txt", "t", n, n, f"passage {n}", 1.0 / n) for n in range(1, top_k + 1)
        ]
        if question.endswith("?"):
            return Answer(question, REFUSAL, True, 0.1, cits)
        return Answer(question, f"答：{question}。", False, 0.9, cits, span=question, source=1)


def _run(engine, tmp_path: Path, name: str, data: bytes, out: str | None, top_k: int = 3):
    src = tmp_path / name
    src.write_bytes(data)
    dst = None if out is None else tmp_path / out
    failed = run_batch(engine, src, dst, top_k=top_k, mode="hybrid", progress=False)
    return failed, dst


def _jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _csv_rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# --- input formats -------------------------------------------------------------------------


def test_txt_one_question_per_line_blank_lines_skipped(tmp_path):
    eng = EchoEngine()
    failed, out = _run(
        eng, tmp_path, "q.txt", "第一问\n\n   \n  第二问  \r\n第三问".encode(), "o.jsonl"
    )
    assert failed == 0
    rows = _jsonl_rows(out)
    assert [r["question"] for r in rows] == ["第一问", "第二问", "第三问"]
    assert [r["id"] for r in rows] == ["line 1", "line 4", "line 5"]
    assert eng.asked == ["第一问", "第二问", "第三问"]
    assert all(list(r) == list(ROW_FIELDS) for r in rows)


def test_jsonl_ids_given_or_line_numbers(tmp_path):
    eng = EchoEngine()
    data = '{"id": "q1", "question": "甲"}\n\n{"question": "乙", "extra": 1}\n{"id": 7, "question": "丙"}\n'
    failed, out = _run(eng, tmp_path, "q.jsonl", data.encode(), "o.jsonl")
    assert failed == 0
    rows = _jsonl_rows(out)
    assert [(r["id"], r["question"]) for r in rows] == [("q1", "甲"), ("line 3", "乙"), (7, "丙")]
    assert rows[0]["answer"] == "答：甲。" and rows[0]["span"] == "甲" and rows[0]["error"] is None
    assert rows[0]["citations"] == [
        c.to_json() for c in eng.answer("甲", top_k=3, mode="x").citations
    ]


def test_csv_question_column_optional_id_quoted_newline_and_bom(tmp_path):
    eng = EchoEngine()
    data = '\ufeffID,Question,note\na1,"多\n行",x\n,第二,y\n\n,,\n'.encode()
    failed, out = _run(eng, tmp_path, "q.csv", data, "o.jsonl")
    assert failed == 0
    rows = _jsonl_rows(out)
    assert [(r["id"], r["question"]) for r in rows] == [("a1", "多\n行"), ("line 4", "第二")]


def test_csv_without_question_column_is_a_one_line_error(tmp_path):
    src = tmp_path / "q.csv"
    src.write_text("id,text\n1,hi\n", encoding="utf-8")
    with pytest.raises(SeedQAError, match="no 'question' column") as e:
        run_batch(EchoEngine(), src, tmp_path / "o.csv", top_k=3, mode="hybrid", progress=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "o.csv").exists()  # nothing written for a file that cannot be read


@pytest.mark.parametrize(
    ("inp", "out", "what"),
    [
        ("q.xlsx", "o.jsonl", ".jsonl, .csv, .txt"),
        ("q.txt", "o.json", ".jsonl, .csv"),
        ("q", "o.csv", ".jsonl, .csv, .txt"),
    ],
)
def test_unknown_extensions_say_what_is_accepted(tmp_path, inp, out, what):
    (tmp_path / inp).write_text("问\n", encoding="utf-8")
    with pytest.raises(SeedQAError) as e:
        run_batch(EchoEngine(), tmp_path / inp, tmp_path / out, top_k=3, mode="hybrid")
    assert what in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / out).exists()


def test_output_never_overwrites_input(tmp_path):
    src = tmp_path / "q.jsonl"
    src.write_text('{"question": "甲"}\n', encoding="utf-8")
    with pytest.raises(SeedQAError, match="overwrite"):
        run_batch(EchoEngine(), src, src, top_k=3, mode="hybrid", progress=False)
    assert src.read_text(encoding="utf-8") == '{"question": "甲"}\n'


def test_read_questions_is_lazy(tmp_path):
    """A generator: reading stops where the consumer stops (the file is not slurped)."""
    src = tmp_path / "q.txt"
    src.write_text("一\n二\n\xff\n", encoding="utf-8")
    items = read_questions(src)
    assert next(items).question == "一"
    assert next(items).line == 2


# --- bad lines -----------------------------------------------------------------------------

BAD_JSONL = (
    b"\n".join(
        [
            b'{"id": "ok1", "question": "first"}',  # 1
            b"{not json",  # 2
            b'["a", "list"]',  # 3
            b'{"id": "nq"}',  # 4
            b'{"question": "   "}',  # 5
            b'{"question": "bad \xff\xfe bytes"}',  # 6
            b"",  # 7 blank: skipped silently
            b'{"question": "last"}',  # 8
        ]
    )
    + b"\n"
)
# the row ids BAD_JSONL produces: given ids where the line has one, else the line number
BAD_JSONL_IDS = ["ok1", "line 2", "line 3", "nq", "line 5", "line 6", "line 8"]


def test_bad_jsonl_lines_reported_with_line_numbers_others_answered(tmp_path, capsys):
    eng = EchoEngine()
    failed, out = _run(eng, tmp_path, "q.jsonl", BAD_JSONL, "o.csv")
    assert failed == 5
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("seedqa: line 2: bad JSON (") and err[0].endswith("); skipped")
    assert err[1] == "seedqa: line 3: not a JSON object (got an array); skipped"
    assert err[2] == "seedqa: line 4: no question; skipped"
    assert err[3] == "seedqa: line 5: empty question; skipped"
    assert err[4].startswith("seedqa: line 6: undecodable bytes") and err[4].endswith("; skipped")
    assert len(err) == 5
    rows = _csv_rows(out)
    assert [r["id"] for r in rows] == BAD_JSONL_IDS
    assert [bool(r["error"]) for r in rows] == [False, True, True, True, True, True, False]
    assert rows[1]["error"].startswith("bad JSON")
    assert eng.asked == ["first", "last"]
    assert rows[-1]["answer"] == "答：last。" and rows[-1]["refused"] == "false"


def test_undecodable_txt_line_costs_only_that_line(tmp_path, capsys):
    eng = EchoEngine()
    data = "第一\n".encode() + b"\xff\xfe\xfd\n" + "第三\n".encode()
    failed, out = _run(eng, tmp_path, "q.txt", data, "o.jsonl")
    assert failed == 1
    assert capsys.readouterr().err.splitlines() == [
        "seedqa: line 2: undecodable bytes (not UTF-8: byte 0xff at byte 1); skipped"
    ]
    rows = _jsonl_rows(out)
    assert [(r["id"], r["question"], r["error"] is None) for r in rows] == [
        ("line 1", "第一", True),
        ("line 2", None, False),
        ("line 3", "第三", True),
    ]
    assert eng.asked == ["第一", "第三"]


def test_engine_exception_fails_one_row_only(tmp_path, capsys):
    class Flaky(EchoEngine):
        def answer(self, question, *, top_k, mode):
            if question == "boom":
                raise RuntimeError("index went away")
            return super().answer(question, top_k=top_k, mode=mode)

    failed, out = _run(Flaky(), tmp_path, "q.txt", b"a\nboom\nc\n", "o.jsonl")
    assert failed == 1
    assert "seedqa: line 2: could not answer (index went away)" in capsys.readouterr().err
    rows = _jsonl_rows(out)
    assert [r["error"] for r in rows] == [None, "could not answer (index went away)", None]


# --- outputs -------------------------------------------------------------------------------


def test_csv_output_citations_are_a_json_string(tmp_path):
    failed, out = _run(EchoEngine(), tmp_path, "q.txt", "甲\n乙?\n".encode(), "o.csv")
    assert failed == 0
    rows = _csv_rows(out)
    assert list(rows[0]) == list(ROW_FIELDS)
    cits = json.loads(rows[0]["citations"])
    assert [c["n"] for c in cits] == [1, 2, 3] and cits[0]["text"] == "passage 1"
    assert rows[1]["refused"] == "true" and rows[1]["answer"] == REFUSAL


def test_stdout_jsonl_when_no_out(tmp_path, capsys):
    failed, _ = _run(EchoEngine(), tmp_path, "q.txt", "甲\n".encode(), None)
    assert failed == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["answer"] == "答：甲。"


def test_rows_are_flushed_as_they_come(tmp_path):
    """Each row is on disk before the next question is asked (a killed run keeps its rows)."""
    out = tmp_path / "o.jsonl"
    seen: list[int] = []

    class Peek(EchoEngine):
        def answer(self, question, *, top_k, mode):
            seen.append(len(out.read_text(encoding="utf-8").splitlines()) if out.exists() else -1)
            return super().answer(question, top_k=top_k, mode=mode)

    src = tmp_path / "q.txt"
    src.write_text("一\n二\n三\n", encoding="utf-8")
    run_batch(Peek(), src, out, top_k=1, mode="hybrid", progress=False)
    assert seen == [0, 1, 2]


def test_100k_lines_stream_with_flat_memory(tmp_path):
    src = tmp_path / "big.txt"
    with src.open("w", encoding="utf-8") as f:
        for i in range(100_000):
            f.write(f"第{i}个问题\n")

    class Cheap:
        def answer(self, question, *, top_k, mode):
            return Answer(question, question, False, 1.0, [], span=question)

    tracemalloc.start()
    try:
        failed = run_batch(Cheap(), src, tmp_path / "o.csv", top_k=1, mode="hybrid", progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failed == 0
    # 100,000 rows of ~80 bytes would be 8+ MB as Python objects; a stream stays far below.
    assert peak < 2_000_000, peak
    with (tmp_path / "o.csv").open(encoding="utf-8") as f:
        assert sum(1 for _ in f) == 100_001
