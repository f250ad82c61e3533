"""`seedqa eval`: report layout, rendering, and that answering never sees the gold.

The end-to-end tests run the real `seedqa` CLI on shared/dev_questions.jsonl against seeds/ with
the session's prebuilt index; the rendering tests use a small synthetic evaluation (a stand-in
engine returning real `Answer`s, scored by the real metrics) so each table cell can be checked.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import struct
import subprocess
from pathlib import Path

import click
import pytest

from qa.core.records import REFUSAL, Answer, Citation
from qa.evaluate import ANSWER_FIELDS, answer_questions, evaluate, load_gold, questions_only
from qa.metrics import OVERALL_KEYS, aggregate, judge
from tests.conftest import DEV_QUESTIONS as DEV
from tests.conftest import run_cli
from ui.cli.eval import parse_modes
from ui.report import markdown, overall_table, worst_misses, write_report

ROOT = Path(__file__).resolve().parents[2]
MODES = ["hybrid", "dense", "lexical"]
TOP_KEYS = {"settings", "overall", "by_type", "by_style", "questions", "modes"}
MODE_KEYS = {"overall", "by_type", "by_style", "questions"}
PLOTS = ("recall_at_k.png", "accuracy_by_type.png")


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


# --- a synthetic evaluation ------------------------------------------------------------------

GOLD_LINES = [
    {
        "id": "a",
        "question": "谁？",
        "answers": ["甲乙"],
        "type": "person",
        "style": "lexical",
        "evidence": "答案是甲乙。",
        "doc": "d.txt",
    },
    {
        "id": "b",
        "question": "几？",
        "answers": ["三个", "3个"],
        "type": "number",
        "style": "paraphrase",
    },
    {"id": "c", "question": "无？", "answers": [], "type": "unanswerable", "style": "lexical"},
    {"id": "d", "question": "错？", "answers": ["丙丁"], "type": "person", "style": "paraphrase"},
]


class ScriptedEngine:
    """Replies from a table keyed by question text; records exactly what it was asked."""

    def __init__(self, replies: dict[str, dict[str, Answer]]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, dict]] = []

    def answer(self, question: str, **kwargs) -> Answer:
        self.calls.append((question, kwargs))
        return self.replies[kwargs["mode"]][question]


def _cits(*texts: str) -> list[Citation]:
    return [Citation(i, "d.txt", "t", i, i, t, 1.0 / i) for i, t in enumerate(texts, start=1)]


def _replies() -> dict[str, dict[str, Answer]]:
    hybrid = {
        "谁？": Answer(
            "谁？", "答案是甲乙。", False, 0.9, _cits("答案是 甲乙。", "x"), span="甲乙"
        ),
        "几？": Answer("几？", "共有3个。", False, 0.8, _cits("x", "y", "共有3个。"), span="3个"),
        "无？": Answer("无？", REFUSAL, True, 0.1, _cits("x")),
        "错？": Answer("错？", "是戊己。", False, 0.5, _cits("x", "y"), span="戊己"),
    }
    dense = {
        "谁？": Answer("谁？", REFUSAL, True, 0.2, _cits("y", "答案是甲乙。")),
        "几？": Answer("几？", "共有三个人。", False, 0.7, _cits("共有三个人。"), span="三个人"),
        "无？": Answer("无？", "随便一句。", False, 0.6, _cits("随便一句。")),
        "错？": Answer("错？", "是戊己。", False, 0.5, _cits("x"), span=""),
    }
    return {"hybrid": hybrid, "dense": dense}


@pytest.fixture
def synthetic(tmp_path) -> tuple[dict, ScriptedEngine, Path]:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "\n".join(json.dumps(g, ensure_ascii=False) for g in GOLD_LINES) + "\n", encoding="utf-8"
    )
    engine = ScriptedEngine(_replies())
    report = evaluate(engine, gold, ["hybrid", "dense"], top_k=5, progress=False)
    return report, engine, gold


def test_synthetic_report_layout_and_numbers(synthetic):
    report, _, _ = synthetic
    assert set(report) == TOP_KEYS
    assert list(report["modes"]) == ["hybrid", "dense"]
    for m in report["modes"].values():
        assert set(m) == MODE_KEYS
        assert list(m["overall"]) == list(OVERALL_KEYS)
    assert report["overall"] == report["modes"]["hybrid"]["overall"]
    assert report["questions"] == report["modes"]["hybrid"]["questions"]
    h, d = report["modes"]["hybrid"]["overall"], report["modes"]["dense"]["overall"]
    # hybrid: a rank 1, b rank 3, d not retrieved; a and b correct; c refused correctly
    assert (h["recall@1"], h["recall@3"], h["mrr"]) == (
        round(1 / 3, 4),
        round(2 / 3, 4),
        round((1 + 1 / 3) / 3, 4),
    )
    assert h["sentence_accuracy"] == round(2 / 3, 4) and h["span_em"] == round(2 / 3, 4)
    assert h["refusal_precision"] == 1.0 and h["refusal_recall"] == 1.0
    # dense: a refused (retrieved at 2); b "三个人" vs gold 三个 -> P 2/3, R 1, F1 0.8;
    # d has no span -> falls back to 是戊己 (F1 0); c answered
    assert d["recall@1"] == round(1 / 3, 4) and d["mrr"] == round((1 / 2 + 1) / 3, 4)
    assert d["span_f1"] == round(0.8 / 3, 4)
    assert d["false_refusal_rate"] == round(1 / 3, 4)
    assert d["refusal_precision"] == 0.0 and d["refusal_recall"] == 0.0
    by_type = report["modes"]["hybrid"]["by_type"]
    assert list(by_type) == ["person", "number", "unanswerable"]
    assert by_type["person"]["n"] == 2 and by_type["person"]["sentence_accuracy"] == 0.5
    assert by_type["unanswerable"]["sentence_accuracy"] is None
    assert set(report["modes"]["dense"]["by_style"]) == {"lexical", "paraphrase"}


def test_question_records_carry_answer_gold_and_verdicts(synthetic):
    report, _, _ = synthetic
    q = report["modes"]["dense"]["questions"][1]
    assert q["id"] == "b" and q["gold"] == ["三个", "3个"] and q["type"] == "number"
    assert q["answer"] == "共有三个人。" and q["span"] == "三个人"
    assert q["citations"][0]["text"] == "共有三个人。"
    assert (q["answerable"], q["refused"], q["retrieval_rank"]) == (True, False, 1)
    assert q["sentence_correct"] is True and q["span_em"] == 0.0 and q["span_f1"] == 0.8
    assert q["latency_ms"] >= 0.0
    # the per-question records are enough to recompute the overall numbers
    for mode in ("hybrid", "dense"):
        qs = report["modes"][mode]["questions"]
        verdicts = [
            judge(
                r["answer"], r["span"], r["refused"], [c["text"] for c in r["citations"]], r["gold"]
            )
            for r in qs
        ]
        again = aggregate(verdicts, [r["latency_ms"] for r in qs])
        got = report["modes"][mode]["overall"]
        for key in OVERALL_KEYS:
            if not key.startswith("latency"):
                assert again[key] == got[key], (mode, key)


def test_engine_sees_only_question_text_and_warms_up_untimed(synthetic):
    _, engine, _ = synthetic
    asked = [q for q, _ in engine.calls]
    # per mode: one warm-up with the first question, then each question once, in file order
    assert asked == ["谁？", "谁？", "几？", "无？", "错？"] * 2
    assert {tuple(sorted(kw)) for _, kw in engine.calls} == {("mode", "top_k")}
    assert all("history" not in kw for _, kw in engine.calls)


def test_questions_only_strips_every_gold_field(synthetic):
    _, _, gold_path = synthetic
    qs = questions_only(load_gold(gold_path))
    assert [(q.id, q.question) for q in qs] == [(g["id"], g["question"]) for g in GOLD_LINES]
    assert all({f.name for f in dataclasses.fields(q)} == {"id", "question"} for q in qs)


def test_engine_error_is_recorded_not_fatal():
    class Broken:
        def answer(self, question, **kw):
            if question == "坏":
                raise RuntimeError("boom\nsecond line")
            return Answer(question, "好。", False, 1.0, [])

    gold = load_gold_text(['{"id": "1", "question": "好"}', '{"id": "2", "question": "坏"}'])
    runs = answer_questions(Broken(), questions_only(gold), mode="hybrid", top_k=3, progress=False)
    assert [r.error for r in runs] == [None, "RuntimeError: boom"]
    assert runs[1].answer is None


def load_gold_text(lines: list[str]):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "g.jsonl"
        p.write_text("\n".join(lines), encoding="utf-8")
        return load_gold(p)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"id": "1", "question": "q"}', "{oops"], "line 2: bad JSON"),
        (['{"id": "1", "question": "q"}', '{"id": "1", "question": "r"}'], "duplicate id"),
        (['{"id": "1"}'], "no question"),
        (['{"id": "1", "question": "q", "answers": "x"}'], "list of strings"),
        ([""], "no questions"),
    ],
)
def test_bad_gold_file_is_a_one_line_error(lines, message):
    from qa.core.errors import SeedQAError

    with pytest.raises(SeedQAError, match=message) as e:
        load_gold_text(lines)
    assert "\n" not in str(e.value)


def test_parse_modes():
    assert parse_modes(None, None) == ["hybrid"]
    assert parse_modes("dense", None) == ["dense"]
    assert parse_modes(None, "lexical, dense,lexical") == ["lexical", "dense"]
    with pytest.raises(click.BadParameter):
        parse_modes(None, "hybrid,bm25")
    with pytest.raises(click.UsageError):
        parse_modes("dense", "hybrid,dense")


def test_render_markdown_tables_and_worst_misses(synthetic, tmp_path):
    report, _, _ = synthetic
    md = markdown(report)
    for heading in ("## Overall", "## By question type", "## By question style", "## Worst misses"):
        assert heading in md
    assert "| metric | hybrid | dense |" in md
    assert "| sentence_accuracy | 0.667 | 0.333 |" in md
    assert "| unanswerable | hybrid | 1 | — |" in md  # undefined rates are shown as such
    # d is missed by both modes; then c (F1 0 everywhere) before a (hybrid got it, F1 1)
    assert worst_misses(report) == [("d", ["hybrid", "dense"]), ("c", ["dense"]), ("a", ["dense"])]
    d_at = md.index("### d (person, paraphrase) — missed by hybrid, dense")
    assert "**Gold:** “丙丁”" in md[d_at:] and "“是戊己。”" in md[d_at:]
    assert "answered an unanswerable question" in md
    text = overall_table(report)
    assert text.splitlines()[0].split() == ["metric", "hybrid", "dense"]
    assert text.splitlines()[1].split() == ["n", "4", "4"]


def test_write_report_files(synthetic, tmp_path):
    report, _, _ = synthetic
    paths = write_report(report, tmp_path / "out")
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == report
    with paths["csv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["mode"], r["id"]) for r in rows] == [
        (m, i) for m in ("hybrid", "dense") for i in "abcd"
    ]
    assert rows[5]["span_f1"] == "0.8" and json.loads(rows[5]["gold"]) == ["三个", "3个"]
    for name in PLOTS:
        w, h = _png_size(tmp_path / "out" / name)
        assert w > 400 and h > 300


def test_write_report_without_labels_single_mode(tmp_path):
    gold = tmp_path / "g.jsonl"
    gold.write_text('{"id": "x", "question": "谁？", "answers": ["甲乙"]}\n', encoding="utf-8")
    engine = ScriptedEngine(_replies())
    report = evaluate(engine, gold, ["hybrid"], top_k=5, progress=False)
    assert report["by_type"] == {} and report["by_style"] == {}
    paths = write_report(report, tmp_path / "o")
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "## By question type" not in md and "## Worst misses (0)" in md
    assert all(p.stat().st_size > 0 for p in paths.values())


# --- the real CLI on the dev set -------------------------------------------------------------


def _seedqa(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, as a user runs it (conftest's `run_cli`)."""
    return run_cli(args, cwd=cwd, env={"PYTHONIOENCODING": "utf-8"}, timeout=1800)


@pytest.fixture(scope="module")
def dev_eval(seed_index_dir, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("eval") / "tmp"
    p = _seedqa(
        [
            "eval",
            str(DEV),
            "--docs",
            str(ROOT / "seeds"),
            "--index",
            str(seed_index_dir),
            "--compare",
            ",".join(MODES),
            "--out",
            str(out),
            "--no-progress",
        ],
        out.parent,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return out, p


def test_dev_eval_report_json_layout(dev_eval):
    out, _ = dev_eval
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    gold = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    assert set(report) == TOP_KEYS
    assert list(report["modes"]) == MODES
    assert report["settings"]["modes"] == MODES and report["settings"]["top_k"] == 5
    assert list(report["overall"]) == list(OVERALL_KEYS)
    assert report["overall"] == report["modes"]["hybrid"]["overall"]
    for mode in MODES:
        m = report["modes"][mode]
        assert set(m) == MODE_KEYS
        assert list(m["overall"]) == list(OVERALL_KEYS)
        o = m["overall"]
        assert o["n"] == len(gold)
        assert o["n_unanswerable"] == sum(1 for g in gold if not g["answers"])
        assert set(m["by_type"]) == {g["type"] for g in gold}
        assert set(m["by_style"]) == {g["style"] for g in gold}
        assert all(list(v) == list(OVERALL_KEYS) for v in m["by_type"].values())
        assert [q["id"] for q in m["questions"]] == [g["id"] for g in gold]
        assert all(0.0 <= o[k] <= 1.0 for k in OVERALL_KEYS[3:13])
        assert 0 < o["latency_ms_p50"] <= o["latency_ms_p95"]
        for q, g in zip(m["questions"], gold, strict=True):
            assert q["gold"] == g["answers"] and q["answerable"] == bool(g["answers"])
            assert {
                "answer",
                "span",
                "citations",
                "refused",
                "retrieval_rank",
                "sentence_correct",
                "span_em",
                "span_f1",
            } <= set(q)
            assert 1 <= len(q["citations"]) <= 5
    # retrieval on the seeds is not random: the gold is in the top 5 for most answerable questions
    assert report["overall"]["recall@5"] >= 0.5


def test_dev_eval_markdown_csv_plots_and_terminal_table(dev_eval):
    out, proc = dev_eval
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| metric | hybrid | dense | lexical |" in md
    for heading in ("## By question type", "## By question style", "## Worst misses"):
        assert heading in md
    with (out / "results.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 30 * len(MODES) and {r["mode"] for r in rows} == set(MODES)
    for name in PLOTS:
        w, h = _png_size(out / name)
        assert w > 400 and h > 300
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["metric", *MODES]
    assert [ln.split()[0] for ln in lines[1 : 1 + len(OVERALL_KEYS)]] == list(OVERALL_KEYS)


def test_no_peeking_stripped_gold_gives_identical_answers(dev_eval, seed_index_dir, tmp_path):
    """Strip every gold field (answers, evidence, doc, type, style): answers must not change."""
    stripped = tmp_path / "questions_only.jsonl"
    with stripped.open("w", encoding="utf-8") as f:
        for line in DEV.read_text(encoding="utf-8").splitlines():
            if line.strip():
                g = json.loads(line)
                f.write(
                    json.dumps({"id": g["id"], "question": g["question"]}, ensure_ascii=False)
                    + "\n"
                )
    out = tmp_path / "stripped"
    p = _seedqa(
        [
            "eval",
            str(stripped),
            "--docs",
            str(ROOT / "seeds"),
            "--index",
            str(seed_index_dir),
            "--mode",
            "hybrid",
            "--out",
            str(out),
            "--no-progress",
        ],
        tmp_path,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    full = json.loads((dev_eval[0] / "report.json").read_text(encoding="utf-8"))["modes"]["hybrid"]
    bare = json.loads((out / "report.json").read_text(encoding="utf-8"))["modes"]["hybrid"]
    assert len(full["questions"]) == len(bare["questions"]) == 30

    def answer_part(q: dict) -> dict:
        return {k: q[k] for k in ("id", "question", *ANSWER_FIELDS, "error")}

    assert [answer_part(q) for q in bare["questions"]] == [
        answer_part(q) for q in full["questions"]
    ]
    # the stripped file really carried no gold: everything looks unanswerable to the scorer
    assert bare["overall"]["n_answerable"] == 0 and bare["by_type"] == {}
