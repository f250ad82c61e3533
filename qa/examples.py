"""Example questions for whatever documents are loaded, shown in the chat window as a first step.

A fixed list would be wrong for every folder but one, so questions are derived from the chunks
themselves: a clause that states a count ("北仑有近2000家模具企业") becomes a `多少` question
("北仑有多少家模具企业？") and one that states a date becomes a `什么时候` question. Generated
questions can be awkward or ambiguous, so each candidate is put to the engine and kept only when
it is answered with a sentence that holds the very number or date it was made from; the time
spent doing that is capped so a large folder cannot hold up startup.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from qa.core.protocols import Answerer
from qa.core.punctuation import SENTENCE_ENDS

_NUMBER = r"(?:近|约|超过|超|逾|达|共计|共|仅)?(?P<num>\d+(?:\.\d+)?(?:多|余)?(?:万|亿|千|百)?)"
_UNIT = (
    r"(?P<unit>万元|亿元|美元|元|家|个|名|人次|人|位|项|件|次|场|所|户|台|套|辆|吨|公里|"
    r"平方米|亩|批|期|届|条|本|份|篇|种|%)"
)
_COUNT_RE = re.compile(_NUMBER + _UNIT)
_DATE_RE = re.compile(r"(?:于|在)?(?P<num>(?:\d{4}年)?\d{1,2}月\d{1,2}日)")
_CLAUSE_RE = re.compile(r"[^，。；！？!?;,]+")
_LEADING = ("其中", "同时", "此外", "另外", "并且", "并", "且", "还", "而", "但", "据悉", "目前")
# Only text that reads the same whatever renders it: examples are shown as buttons in the chat.
_SAFE_RE = re.compile(r"^[\u4e00-\u9fff0-9A-Za-z“”‘’《》、·%．\.—？]+$")
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")


def _sentences(chunk: Any) -> Iterator[str]:
    sentences = getattr(chunk, "sentences", None) or ()
    if sentences:
        for s in sentences:
            yield getattr(s, "text", str(s))
    else:
        yield from re.split(f"(?<=[{SENTENCE_ENDS}])", getattr(chunk, "text", ""))


def _question_from(clause: str) -> tuple[str, str] | None:
    """(question, evidence) from one clause, or None when it states no count or date."""
    clause = clause.strip().strip("“”\"'　 ")
    for word in _LEADING:
        if clause.startswith(word):
            clause = clause[len(word) :]
            break
    m = _COUNT_RE.search(clause)
    if m:
        unit = m.group("unit")
        asked = "百分之多少" if unit == "%" else f"多少{unit}"
    else:
        m = _DATE_RE.search(clause)
        if not m:
            return None
        asked = "什么时候"
    before, after = clause[: m.start()], clause[m.end() :]
    question = before + asked + after
    # A subject before the asked part, no second number (ranges, totals) to confuse the reader,
    # and quotes that open and close within the clause.
    if len(_CJK_RE.findall(before)) < 4 or len(question) > 36 or re.search(r"\d", question):
        return None
    if question.count("“") != question.count("”") or question.count("《") != question.count("》"):
        return None
    question = question.rstrip("：:、") + "？"
    if not _SAFE_RE.match(question):
        return None
    return question, m.group("num")


def candidates(chunks: Iterable[Any], per_chunk: int = 1) -> list[tuple[str, str]]:
    """Candidate (question, evidence) pairs, spread over documents and chunks.

    Longer clauses carry more context and are less likely to be ambiguous, so within a chunk the
    most specific clause wins; across chunks documents take turns so one long file does not
    supply every example.
    """
    by_doc: dict[str, list[tuple[str, str]]] = {}
    for chunk in chunks:
        found: list[tuple[int, str, str]] = []
        for sentence in _sentences(chunk):
            for clause in _CLAUSE_RE.findall(sentence):
                made = _question_from(clause)
                if made:
                    found.append((len(_CJK_RE.findall(made[0])), *made))
        found.sort(key=lambda x: -x[0])
        by_doc.setdefault(str(getattr(chunk, "doc", "")), []).extend(
            (q, ev) for _, q, ev in found[:per_chunk]
        )
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    queues = list(by_doc.values())
    while any(queues):
        for q in queues:
            if q:
                item = q.pop(0)
                if item[0] not in seen:
                    seen.add(item[0])
                    out.append(item)
    return out


def example_questions(
    engine: Answerer, limit: int = 4, budget_s: float = 8.0, max_tries: int = 16
) -> list[str]:
    """Up to `limit` questions the engine really answers from the loaded documents.

    Bounded by `budget_s` seconds and `max_tries` engine calls; returns what it has when either
    runs out (possibly nothing: the chat works without examples).
    """
    deadline = time.monotonic() + budget_s
    chosen: list[str] = []
    chunks = getattr(engine, "chunks", None) or []  # an Answerer with documents it can show
    for tries, (question, evidence) in enumerate(candidates(chunks)):
        if len(chosen) >= limit or tries >= max_tries or time.monotonic() > deadline:
            break
        try:
            a = engine.answer(question)
        except Exception:  # an example that cannot be asked is simply not offered
            continue
        if not a.refused and evidence in a.answer:
            chosen.append(question)
    return chosen
