"""Scoring an extractive answerer against verbatim gold answers, as pure functions.

Nothing here touches the engine: evaluation answers first (without the gold) and scores after,
so every number can be recomputed from `report.json` and every rule is unit-testable.

Conventions that are choices, not facts (and are tested as such):

* Text comparisons ignore all whitespace: the seed documents are hard-wrapped and justified with
  spaces between Chinese characters, so "the same words" must not depend on layout.
* Span EM/F1 follow the CMRC 2018 evaluation script: lower-case, drop whitespace and punctuation,
  then precision/recall from the longest common *substring* (CMRC's `find_lcs` is contiguous),
  max over gold answers. Tokens are single characters (CMRC keeps Latin/digit runs as words;
  we count characters so a year "2020" is not all-or-nothing).
* Answer-quality rates (recall@k, mrr, sentence_accuracy, span_em, span_f1,
  false_refusal_rate) are over answerable questions; with none they are `None` (null), because
  0.0 or 1.0 would both claim something about questions that were not asked.
* Refusal as a detector of unanswerable questions uses vacuous truth for 0/0:
  precision is 1.0 when nothing was refused (no refusal was wrong) and recall is 1.0 when no
  question was unanswerable (none was missed). The partner number still exposes a detector that
  never fires: nothing refused on a set with unanswerable questions gives recall 0.0.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

#: The keys of `report.json["overall"]` (and of every by_type / by_style group), in table order.
OVERALL_KEYS: tuple[str, ...] = (
    "n",
    "n_answerable",
    "n_unanswerable",
    "recall@1",
    "recall@3",
    "recall@5",
    "mrr",
    "sentence_accuracy",
    "span_em",
    "span_f1",
    "refusal_precision",
    "refusal_recall",
    "false_refusal_rate",
    "latency_ms_p50",
    "latency_ms_p95",
)

_WS = re.compile(r"\s+")
# CMRC 2018's `sp_char`: punctuation plus a few symbols (+ = ~ ^ ...) that Unicode files under S*.
_CMRC_SP_CHARS = frozenset("-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』")


def strip_ws(text: str) -> str:
    """`text` with every whitespace character removed (layout-insensitive comparisons)."""
    return _WS.sub("", text)


def contains_gold(text: str, golds: Iterable[str]) -> bool:
    """Whether `text` contains any gold answer, ignoring whitespace on both sides.

    Empty golds never match: an empty string is "contained" in everything and would make any
    answer correct.
    """
    hay = strip_ws(text)
    return any(g and g in hay for g in (strip_ws(g) for g in golds))


def retrieval_rank(passages: Sequence[str], golds: Sequence[str]) -> int | None:
    """1-based rank of the first passage that contains a gold answer, or None if none does."""
    for rank, passage in enumerate(passages, start=1):
        if contains_gold(passage, golds):
            return rank
    return None


def cmrc_normalize(text: str) -> str:
    """Lower-cased `text` without whitespace and punctuation, the form CMRC 2018 scores on."""
    return "".join(
        ch
        for ch in text.lower()
        if not ch.isspace()
        and ch not in _CMRC_SP_CHARS
        and not unicodedata.category(ch).startswith("P")
    )


def _longest_common_substring(a: str, b: str) -> int:
    """Length of the longest contiguous run shared by `a` and `b` (CMRC's `find_lcs`)."""
    if not a or not b:
        return 0
    best = 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def span_f1(prediction: str, gold: str) -> float:
    """CMRC 2018 character F1 of one prediction against one gold answer."""
    p, g = cmrc_normalize(prediction), cmrc_normalize(gold)
    common = _longest_common_substring(p, g)
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def span_em(prediction: str, gold: str) -> float:
    """1.0 when prediction and gold are equal after CMRC normalisation, else 0.0."""
    p = cmrc_normalize(prediction)
    return 1.0 if p and p == cmrc_normalize(gold) else 0.0


def best_span_scores(prediction: str, golds: Sequence[str]) -> tuple[float, float]:
    """(EM, F1) of `prediction`, each maximised over the gold answers; (0, 0) with no golds."""
    if not golds:
        return 0.0, 0.0
    return (
        max(span_em(prediction, g) for g in golds),
        max(span_f1(prediction, g) for g in golds),
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default (`method="linear"`), so the numbers match any notebook
    that recomputes them; None for no values.
    """
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one answer fares against its gold; `rank` is the first relevant citation (1-based)."""

    answerable: bool
    refused: bool
    rank: int | None
    sentence_correct: bool
    span_em: float
    span_f1: float

    def to_json(self) -> dict:
        return {**asdict(self), "span_f1": round(self.span_f1, 4)}


def judge(
    answer: str,
    span: str,
    refused: bool,
    passages: Sequence[str],
    golds: Sequence[str],
) -> Verdict:
    """Score one answer: retrieval rank, sentence correctness and span EM/F1.

    `golds == []` means the question is unanswerable; then only `refused` matters for the
    refusal metrics and the answerable-only scores are False/0. A refusal scores 0 on the
    sentence and span even when its closest passage happens to contain the answer, because the
    user was told there is no answer. The span falls back to the sentence when the engine gave
    no tighter span.
    """
    golds = [g for g in golds if strip_ws(g)]
    answerable = bool(golds)
    rank = retrieval_rank(passages, golds) if answerable else None
    if not answerable or refused:
        return Verdict(answerable, refused, rank, False, 0.0, 0.0)
    em, f1 = best_span_scores(span if strip_ws(span) else answer, golds)
    return Verdict(answerable, refused, rank, contains_gold(answer, golds), em, f1)


def _rate(num: float, den: int) -> float | None:
    return num / den if den else None


def aggregate(verdicts: Sequence[Verdict], latencies_ms: Sequence[float]) -> dict:
    """The `overall` record (keys exactly `OVERALL_KEYS`) for a group of judged questions.

    Rates are rounded to 4 places and latencies to 0.1 ms: enough to compare runs, short enough to
    read in a diff of two `report.json` files.
    """
    ans = [v for v in verdicts if v.answerable]
    n_ans = len(ans)
    n_unans = len(verdicts) - n_ans
    refused = [v for v in verdicts if v.refused]
    true_refusals = sum(1 for v in refused if not v.answerable)
    ranks = [v.rank for v in ans]

    def recall_at(k: int) -> float | None:
        return _rate(sum(1 for r in ranks if r is not None and r <= k), n_ans)

    values: dict[str, float | int | None] = {
        "n": len(verdicts),
        "n_answerable": n_ans,
        "n_unanswerable": n_unans,
        "recall@1": recall_at(1),
        "recall@3": recall_at(3),
        "recall@5": recall_at(5),
        "mrr": _rate(sum(1 / r for r in ranks if r is not None), n_ans),
        "sentence_accuracy": _rate(sum(v.sentence_correct for v in ans), n_ans),
        "span_em": _rate(sum(v.span_em for v in ans), n_ans),
        "span_f1": _rate(sum(v.span_f1 for v in ans), n_ans),
        "refusal_precision": true_refusals / len(refused) if refused else 1.0,
        "refusal_recall": true_refusals / n_unans if n_unans else 1.0,
        "false_refusal_rate": _rate(sum(v.refused for v in ans), n_ans),
        "latency_ms_p50": percentile(latencies_ms, 50),
        "latency_ms_p95": percentile(latencies_ms, 95),
    }
    out: dict[str, float | int | None] = {}
    for key in OVERALL_KEYS:
        v = values[key]
        if isinstance(v, float):
            v = round(v, 1) if key.startswith("latency") else round(v, 4)
        out[key] = v
    return out
