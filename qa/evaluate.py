"""Run the engine over a gold question file and score it (`seedqa eval`).

The split is deliberate: `load_gold` reads the file, `questions_only` keeps nothing but id and
question, `answer_questions` sees only those, and `score_mode` joins answers with gold
afterwards. Gold answers, evidence, doc, type and style therefore cannot leak into answering,
and a test proves it by stripping them and getting identical answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import SeedQAError
from qa.core.progress import track
from qa.core.protocols import Answerer
from qa.core.records import Answer
from qa.metrics import Verdict, aggregate, judge

#: Fields of `Answer.to_json()` copied into each question record (the question is there already).
ANSWER_FIELDS = (
    "answer",
    "span",
    "span_start",
    "span_end",
    "refused",
    "confidence",
    "source",
    "qtype",
    "message",
    "citations",
)


@dataclass(frozen=True, slots=True)
class Question:
    """All that answering may know about a gold item."""

    id: str
    question: str


@dataclass(frozen=True, slots=True)
class GoldItem:
    id: str
    question: str
    answers: tuple[str, ...]
    type: str | None = None
    style: str | None = None
    doc: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """One answered question: the engine's answer (None if it raised) and its wall time."""

    id: str
    answer: Answer | None
    latency_ms: float
    error: str | None = None


def load_gold(path: Path) -> list[GoldItem]:
    """The gold items of a JSONL file like shared/dev_questions.jsonl.

    Unlike batch input, a broken line is fatal: scores over a silently shortened gold set would
    look comparable to earlier runs while not being so. A missing `answers` means unanswerable,
    which is also what a stripped file (id + question only) looks like.
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SeedQAError(f"cannot read {path}: {e.strerror or e}") from None
    items: list[GoldItem] = []
    seen: set[str] = set()
    for n, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{path}: line {n}"
        try:
            text = raw.decode("utf-8-sig" if n == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            raise SeedQAError(f"{where}: not UTF-8") from None
        if not text:
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise SeedQAError(f"{where}: bad JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise SeedQAError(f"{where}: not a JSON object")
        q = obj.get("question")
        if not isinstance(q, str) or not q.strip():
            raise SeedQAError(f"{where}: no question")
        item_id = str(obj["id"]) if obj.get("id") not in (None, "") else f"line {n}"
        if item_id in seen:
            raise SeedQAError(f"{where}: duplicate id {item_id!r}")
        seen.add(item_id)
        answers = obj.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise SeedQAError(f"{where}: 'answers' must be a list of strings")
        items.append(
            GoldItem(
                item_id,
                q.strip(),
                tuple(answers),
                _label(obj.get("type")),
                _label(obj.get("style")),
                _label(obj.get("doc")),
            )
        )
    if not items:
        raise SeedQAError(f"{path}: no questions")
    return items


def _label(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def questions_only(gold: Sequence[GoldItem]) -> list[Question]:
    """The gold items reduced to what the answerer may see."""
    return [Question(g.id, g.question) for g in gold]


def answer_questions(
    engine: Answerer,
    questions: Sequence[Question],
    *,
    mode: str,
    top_k: int,
    progress: bool = True,
) -> list[Run]:
    """Answer each question independently (no history), timing each `engine.answer` call.

    One untimed warm-up call first, so lazy loading and first-call caches in a mode do not land
    in the latency of whichever question happens to be first.
    """
    if not questions:
        return []
    engine.answer(questions[0].question, top_k=top_k, mode=mode)
    runs: list[Run] = []
    for q in track(questions, len(questions), mode, "q", progress):
        t0 = time.perf_counter()
        try:
            answer = engine.answer(q.question, top_k=top_k, mode=mode)
            error = None
        except Exception as e:  # a crash on one question is a finding, not the end of the run
            answer, error = None, f"{type(e).__name__}: {e}".splitlines()[0]
        runs.append(Run(q.id, answer, (time.perf_counter() - t0) * 1000.0, error))
    return runs


def _group(
    gold: Sequence[GoldItem], verdicts: Sequence[Verdict], runs: Sequence[Run], attr: str
) -> dict[str, dict]:
    labels = [getattr(g, attr) for g in gold]
    if all(label is None for label in labels):
        return {}
    order = list(dict.fromkeys(label or "(unlabelled)" for label in labels))
    out = {}
    for name in order:
        idx = [i for i, label in enumerate(labels) if (label or "(unlabelled)") == name]
        out[name] = aggregate([verdicts[i] for i in idx], [runs[i].latency_ms for i in idx])
    return out


def question_record(item: GoldItem, run: Run, verdict: Verdict) -> dict:
    """Everything about one question in one mode: answer, gold, verdicts."""
    j = run.answer.to_json() if run.answer is not None else {}
    record: dict = {"id": item.id, "question": item.question, "type": item.type, "style": item.style}
    record.update({k: j.get(k) for k in ANSWER_FIELDS})
    if run.answer is None:
        record["citations"] = []
    record.update(
        {
            "error": run.error,
            "latency_ms": round(run.latency_ms, 1),
            "gold": list(item.answers),
            "answerable": verdict.answerable,
            "retrieval_rank": verdict.rank,
            "sentence_correct": verdict.sentence_correct,
            "span_em": verdict.span_em,
            "span_f1": round(verdict.span_f1, 4),
        }
    )
    return record


def score_mode(gold: Sequence[GoldItem], runs: Sequence[Run]) -> dict:
    """`{overall, by_type, by_style, questions}` for one mode's answers."""
    if [g.id for g in gold] != [r.id for r in runs]:
        raise ValueError("runs do not line up with the gold items")
    verdicts = []
    for item, run in zip(gold, runs, strict=True):
        a = run.answer
        verdicts.append(
            judge(
                answer=a.answer if a else "",
                span=a.span if a else "",
                refused=a.refused if a else False,
                passages=[c.text for c in a.citations] if a else [],
                golds=item.answers,
            )
        )
    return {
        "overall": aggregate(verdicts, [r.latency_ms for r in runs]),
        "by_type": _group(gold, verdicts, runs, "type"),
        "by_style": _group(gold, verdicts, runs, "style"),
        "questions": [
            question_record(g, r, v) for g, r, v in zip(gold, runs, verdicts, strict=True)
        ],
    }


def evaluate(
    engine: Answerer,
    gold_path: Path | Sequence[GoldItem],
    modes: Sequence[str],
    *,
    top_k: int = 5,
    progress: bool = True,
    settings: dict | None = None,
) -> dict:
    """The whole `report.json`: every mode under `modes`, the first mode also at the top level.

    The top-level copy keeps tools that read `report["overall"]` working whether or not the run
    compared modes. `gold_path` may also be the gold items already loaded (`load_gold`), so a
    caller that checked the file first does not read it twice.
    """
    if not modes:
        raise SeedQAError("no retrieval mode to evaluate")
    if isinstance(gold_path, str | Path):
        gold = load_gold(Path(gold_path))
    else:
        gold, gold_path = list(gold_path), (settings or {}).get("gold", "")
    questions = questions_only(gold)
    per_mode: dict[str, dict] = {}
    for mode in modes:
        runs = answer_questions(engine, questions, mode=mode, top_k=top_k, progress=progress)
        per_mode[mode] = score_mode(gold, runs)
    first = per_mode[modes[0]]
    return {
        "settings": {
            "gold": str(gold_path),
            **(settings or {}),
            "top_k": top_k,
            "modes": list(modes),
        },
        "overall": first["overall"],
        "by_type": first["by_type"],
        "by_style": first["by_style"],
        "questions": first["questions"],
        "modes": per_mode,
    }
