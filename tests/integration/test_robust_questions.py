"""Bad questions get an answer or a clear message, never an exception, at a bounded cost.

Properties (Hypothesis) over the real engine and the session's seed index: whatever the string,
`answer` returns; an answer is a verbatim sentence of its cited source; every citation's text is
in the original file at the lines it names.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tracemalloc
import unicodedata
from functools import cache

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

import qa.question
from qa.core.errors import SeedQAError
from qa.core.records import REFUSAL, Answer
from qa.engine import EMPTY_MESSAGE, NO_WORDS_MESSAGE, TRUNCATED_MESSAGE
from qa.question import MAX_QUESTION_CHARS, clean
from tests.conftest import ROOT, SEEDQA, SEEDS
from ui.batch import run_batch

DOC_A = SEEDS / "000_89178abc7061ee5b.txt"
KNOWN = "北仑有多少家模具企业？"


def _nows(text: str) -> str:
    return re.sub(r"\s+", "", text)


@cache
def _raw_lines(doc: str) -> tuple[str, ...]:
    return tuple((SEEDS / doc).read_text(encoding="utf-8").splitlines())


def _pasted_paragraph() -> str:
    """A whole paragraph of a seed document, hard line breaks and all, as a user would paste it."""
    blocks = [b for b in DOC_A.read_text(encoding="utf-8").split("\n\n") if len(b) > 200]
    return blocks[0]


def check_answer(a: Answer) -> None:
    """The invariants every answer must keep, whatever the question."""
    assert isinstance(a, Answer)
    assert 0.0 <= a.confidence <= 1.0
    for c in a.citations:
        assert (SEEDS / c.doc).is_file(), c.doc
        assert 1 <= c.line_start <= c.line_end <= len(_raw_lines(c.doc))
        at_lines = _nows("".join(_raw_lines(c.doc)[c.line_start - 1 : c.line_end]))
        assert _nows(c.text) in at_lines, (c.doc, c.line_start, c.line_end, c.text[:40])
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    if a.refused:
        assert a.answer == REFUSAL and a.source is None
        return
    source = a.citations[a.source - 1]
    assert a.answer and a.answer in source.text, "the answer is a verbatim sentence of its source"
    assert 0 <= a.span_start < a.span_end <= len(a.answer)
    assert a.answer[a.span_start : a.span_end] == a.span
    # and so it is in the original file, at the source's lines
    at_lines = _nows("".join(_raw_lines(source.doc)[source.line_start - 1 : source.line_end]))
    assert _nows(a.answer) in at_lines


# --- the cases of the issue, one by one ------------------------------------------------------

EDGE = {
    "empty": ("", EMPTY_MESSAGE),
    "whitespace only": (" \t\n\u3000\u00a0 \r\n", EMPTY_MESSAGE),
    "invisible characters only": ("\u200b\u200d\ufeff\x00\x07", EMPTY_MESSAGE),
    "punctuation only": ("？？！!...，。——“”", NO_WORDS_MESSAGE),
    "emoji only": ("🤖🎉😀", NO_WORDS_MESSAGE),
    "20,000 characters": (KNOWN * 1819 + "?", TRUNCATED_MESSAGE),
    "20,000 characters, no spaces, no words": ("a" * 20000, TRUNCATED_MESSAGE),
}


@pytest.mark.parametrize("case", list(EDGE), ids=list(EDGE))
def test_edge_questions_get_a_clear_message(seed_engine, case):
    question, message = EDGE[case]
    for mode in ("hybrid", "dense", "lexical"):
        a = seed_engine.answer(question, mode=mode)
        check_answer(a)
        assert a.message == message
        assert a.question == question


@pytest.mark.parametrize(
    "question",
    [
        "🤖北仑有多少家\x00模具企业？😀\x07\u202e",  # emoji, NUL, bell, right-to-left override
        "How many 模具企业 are there in 北仑？",  # mixed languages
        "北侖有多少家模具企業？",  # traditional characters
        "\ufeff北仑有多少家模具企业？\r\n",  # a BOM and a line ending from a pasted file
    ],
    ids=["emoji-control", "mixed-languages", "traditional", "bom-crlf"],
)
def test_noisy_versions_of_a_question_still_find_its_answer(seed_engine, question):
    a = seed_engine.answer(question)
    check_answer(a)
    assert not a.refused and "近2000家" in a.answer


def test_lone_surrogates_are_dropped_not_raised(seed_engine):
    """JSON lets an API caller send `"\\ud800"`; the tokenizer used to raise a TypeError on it."""
    for question in ("\ud800", "北仑有多少家\udcff模具企业？", "\udfff\ud800" * 50):
        for mode in ("hybrid", "dense", "lexical"):
            a = seed_engine.answer(question, mode=mode, history=["\ud83d"])
            check_answer(a)
    assert "近2000家" in seed_engine.answer("北仑有多少家\udcff模具企业？").answer


def test_a_pasted_paragraph_is_answered_from_itself(seed_engine):
    para = _pasted_paragraph()
    assert len(para) > MAX_QUESTION_CHARS - 100
    a = seed_engine.answer(para)
    check_answer(a)
    assert a.citations, "the paragraph's own passage is found"
    assert _nows(a.citations[0].text)[:30] in _nows(para) or _nows(para)[:30] in _nows(
        a.citations[0].text
    )


def test_huge_input_is_cut_before_any_work(monkeypatch):
    """A 10 MB paste must cost what a 300-character question costs: nothing looks at the rest.

    Normalisation (the first step that walks the text) is spied on to see how much it gets.
    """
    seen: list[int] = []
    real = unicodedata.normalize

    def spy(form: str, text: str) -> str:
        seen.append(len(text))
        return real(form, text)

    monkeypatch.setattr(qa.question.unicodedata, "normalize", spy)
    text, truncated = clean(KNOWN * 1_000_000)
    assert truncated and len(text) == MAX_QUESTION_CHARS
    assert seen and max(seen) <= 10 * MAX_QUESTION_CHARS
    # a long run of trailing whitespace is not "too long"
    text, truncated = clean(KNOWN + " " * 100_000)
    assert text == clean(KNOWN)[0] and not truncated


def test_huge_question_through_the_engine(seed_engine):
    a = seed_engine.answer(KNOWN + "模具" * 2_000_000)
    check_answer(a)
    assert a.message == TRUNCATED_MESSAGE


@pytest.mark.parametrize(
    "kwargs",
    [
        {"top_k": "many"},
        {"top_k": None},
        {"top_k": float("nan")},
        {"threshold": "high"},
        {"threshold": float("nan")},
        {"threshold": float("inf")},
        {"mode": ["hybrid"]},
    ],
    ids=lambda kw: repr(kw),
)
def test_bad_options_are_one_line_user_errors(seed_engine, kwargs):
    """API and batch callers pass what they were sent: a bad option is a SeedQAError (shown as
    one line), never a ValueError/TypeError traceback; a NaN threshold must not disable refusals."""
    with pytest.raises(SeedQAError) as info:
        seed_engine.answer(KNOWN, **kwargs)
    assert "\n" not in str(info.value)


def test_out_of_range_options_are_clamped(seed_engine):
    assert len(seed_engine.answer(KNOWN, top_k=10**9).citations) <= 20
    assert len(seed_engine.answer(KNOWN, top_k=-5).citations) == 1
    assert seed_engine.answer(KNOWN, threshold="0.2").answer == seed_engine.answer(KNOWN).answer
    assert seed_engine.answer(KNOWN, threshold=2.0).refused


def test_cli_answers_every_odd_line_on_stdin(seed_index_dir):
    """`seedqa ask --json` reading questions from stdin, as bytes a user could pipe in.

    An undecodable byte arrives as a lone surrogate; every line still gets one JSON object.
    """
    lines = [
        "北仑有多少家模具企业？".encode(),
        b"\xff\xfe\x00 bad bytes \xc3",
        "？！。".encode(),
        "🤖😀 \x07".encode(),
        ("北仑" * 10000).encode(),
        "How many 模具企业 in 北仑?".encode(),
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [*SEEDQA, "ask", "--json", "--index", str(seed_index_dir)],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 0, err
    assert "Traceback" not in err
    rows = [json.loads(x) for x in r.stdout.decode("utf-8", "replace").splitlines()]
    assert len(rows) == len(lines)
    assert "近2000家" in rows[0]["answer"]
    assert rows[2]["message"] == NO_WORDS_MESSAGE
    assert rows[4]["message"] == TRUNCATED_MESSAGE


# --- properties ------------------------------------------------------------------------------

SEED_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
QUESTION_WORDS = ["多少", "谁", "哪一年", "哪些", "为什么", "什么", "哪里", "呢？", "？", "是"]

any_text = st.text(max_size=400)  # every code point but surrogates: controls, emoji, RTL, ...
with_surrogates = st.text(
    alphabet=st.characters(categories=["Cs", "Lo", "Po", "Cc", "So", "Zs"]), max_size=60
)  # lone surrogates among CJK, punctuation, controls, symbols, spaces
chinese = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
        st.sampled_from(list("，。？！、；：“”（）0123456789%万亿元家人年")),
    ),
    min_size=1,
    max_size=80,
)


@st.composite
def document_slices(draw) -> str:
    """A piece of a seed document, line breaks and justification spaces included, sometimes with
    a question word attached: the questions most likely to be answered."""
    start = draw(st.integers(0, len(SEED_TEXT) - 1))
    length = draw(st.integers(1, 300))
    piece = SEED_TEXT[start : start + length]
    return piece + draw(st.sampled_from(["", *QUESTION_WORDS]))


options = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["hybrid", "dense", "lexical"]),
        "top_k": st.integers(1, 8),
    }
)
PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(
    question=st.one_of(any_text, with_surrogates, chinese),
    history=st.lists(st.one_of(any_text, chinese), max_size=2),
    opts=options,
)
@example(question="º\ud800", history=[], opts={"mode": "hybrid", "top_k": 1})
@example(question="\x00\u202e谁？", history=["\udc80"], opts={"mode": "lexical", "top_k": 3})
def test_any_string_gets_a_well_formed_answer(seed_engine, question, history, opts):
    a = seed_engine.answer(question, history=history, **opts)
    event("refused" if a.refused else "answered")
    check_answer(a)


@PROPERTY
@given(question=document_slices(), opts=options)
def test_document_pieces_answer_verbatim_with_true_citations(seed_engine, question, opts):
    a = seed_engine.answer(question, **opts)
    event("refused" if a.refused else "answered")
    check_answer(a)


# --- batch files: the one case tests/unit/test_batch.py leaves out --------------------------------


def test_100k_line_jsonl_with_bad_lines_streams_and_reports_each(tmp_path, capsys):
    """tests/unit/test_batch.py streams 100,000 clean `.txt` lines; a `.jsonl` file of that size with
    bad lines scattered through it must also report each by line number, answer the rest, and
    keep memory flat."""
    bad = {
        10_000: b'{"question": "unterminated',
        40_000: b'{"id": 7}',
        70_000: b'{"question": "\xff\xfe"}',
        99_999: b"[1, 2]",
    }
    src = tmp_path / "big.jsonl"
    with src.open("wb") as fh:
        for n in range(1, 100_001):
            fh.write(bad.get(n, json.dumps({"question": f"第{n}个问题"}).encode()) + b"\n")

    class Cheap:
        def answer(self, question, *, top_k, mode):
            return Answer(question, question, False, 1.0, [], span=question)

    tracemalloc.start()
    try:
        failed = run_batch(Cheap(), src, tmp_path / "o.jsonl", top_k=1, mode="hybrid",
                           progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert failed == len(bad)
    reported = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("seedqa: line")]
    assert [int(ln.split()[2].rstrip(":")) for ln in reported] == sorted(bad)
    with (tmp_path / "o.jsonl").open(encoding="utf-8") as fh:
        rows = sum(1 for _ in fh)
    assert rows == 100_000
    assert peak < 3_000_000, peak
