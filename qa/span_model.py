"""A learned span inside the chosen sentence, for questions no typed rule fits.

Candidates are runs of 1..`MAX_WORDS` jieba words that do not cross a clause end; each is
described by its parts of speech, its length and place, how much of the question it repeats, how
near it sits to the question's words, its punctuation boundaries and whether it has the shape of
the asked type. A LightGBM model trained on the gold spans of real questions (`seedqa train`)
scores them; the best one is highlighted. Everything is computed on the simplified text; the
offsets are the same in the document's own characters.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.chooser import DETERMINISTIC
from qa.features import QTYPE_ORDER, simple
from qa.lexical import pos_tokens
from qa.metrics import strip_ws
from qa.question import Question, parse

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = "span_model.txt"
META_FILE = "span_model.json"
MAX_WORDS = 8
# clause ends a span never crosses (lists keep `、` and `和` inside)
_STOP = set("，,。；;！!？?：:（）()《》")
_PUNCT = re.compile(r"^[\W_]+$")
_POS = ("n", "nr", "ns", "nt", "nz", "v", "vn", "a", "m", "q", "t", "d", "p", "c", "u", "r",
        "f", "x", "eng", "j", "l", "i", "other")
_POS_ID = {p: i for i, p in enumerate(_POS)}

SPAN_FEATURES: tuple[str, ...] = (
    "n_words", "n_chars", "start_rel", "end_rel",
    "pos_first", "pos_last", "pos_before", "pos_after",
    "q_char_frac", "has_q_term", "dist_left", "dist_right", "q_term_before", "q_term_after",
    "punct_before", "punct_after", "has_digit", "has_date", "has_quote", "has_list_mark",
    "measure_in_span", "head_after", "is_rule_span", "overlaps_rule_span",
    *(f"qtype_{t}" for t in QTYPE_ORDER),
)
CATEGORICAL = ("pos_first", "pos_last", "pos_before", "pos_after")
# Exact match as the label and word n-grams as the candidates: out of fold on the fit parts this
# beat the span's F1 as a soft label (EM 0.398 vs 0.279, F1 0.561 vs 0.544) and adding whole
# clauses and the sentence as candidates; where the model is unsure, `choose_span` shows the
# sentence instead (`min_confidence`, chosen out of fold by `seedqa train`).
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    **DETERMINISTIC,
}
NUM_ROUNDS = 300


def _pos_id(flag: str) -> int:
    return _POS_ID.get(flag, _POS_ID.get(flag[:1], _POS_ID["other"]))


def spans_and_features(
    sentence: str, q: Question, rule: tuple[int, int] | None = None
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Candidate (start, end) spans of `sentence` and one feature row each."""
    text = simple(sentence)
    toks = pos_tokens(text)
    n = len(text)
    terms = [t for t in q.terms + q.context_terms if t]
    hits = []  # (start, end) of the question's words in the sentence
    for t in terms:
        for m in re.finditer(re.escape(t), text):
            hits.append((m.start(), m.end()))
    qchars = set(q.text)
    qt = [1.0 if q.qtype == t else 0.0 for t in QTYPE_ORDER]
    out_spans, rows = [], []
    for i, (w, _f, s, _e) in enumerate(toks):
        if w in _STOP or _PUNCT.match(w) or not w.strip():
            continue
        for j in range(i, min(i + MAX_WORDS, len(toks))):
            wj = toks[j][0]
            if wj in _STOP or not wj.strip():
                break
            e = toks[j][3]
            if _PUNCT.match(wj) and wj not in "“”":
                continue
            span = text[s:e]
            if not span.strip():
                continue
            before = toks[i - 1] if i > 0 else None
            after = toks[j + 1] if j + 1 < len(toks) else None
            left = [s - he for hs, he in hits if he <= s]
            right = [hs - e for hs, he in hits if hs >= e]
            out_spans.append((s, e))
            rows.append([
                float(j - i + 1), math.log1p(e - s), s / n, e / n,
                _pos_id(toks[i][1]), _pos_id(toks[j][1]),
                _pos_id(before[1]) if before else -1, _pos_id(after[1]) if after else -1,
                sum(1 for ch in span if ch in qchars) / len(span),
                1.0 if any(t in span for t in terms) else 0.0,
                float(min(left)) if left else 99.0, float(min(right)) if right else 99.0,
                1.0 if before and any(before[0] in t or t in before[0] for t in terms) else 0.0,
                1.0 if after and any(after[0] in t or t in after[0] for t in terms) else 0.0,
                1.0 if before is None or before[0] in _STOP else 0.0,
                1.0 if after is None or after[0] in _STOP else 0.0,
                1.0 if re.search(r"\d|[一二三四五六七八九十百千万亿两]", span) else 0.0,
                1.0 if re.search(r"\d+年|\d+月|\d+日", span) else 0.0,
                1.0 if re.search(r"[“”「」《》]", span) else 0.0,
                1.0 if re.search(r"、|和|及|与", span) else 0.0,
                1.0 if q.measure and q.measure in span else 0.0,
                1.0 if q.head and after and after[0] == q.head else 0.0,
                1.0 if rule == (s, e) else 0.0,
                1.0 if rule and s < rule[1] and rule[0] < e else 0.0,
                *qt,
            ])
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), len(SPAN_FEATURES))
    return out_spans, x


def training_rows(
    examples: Sequence[tuple[str, str, list[str], str]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """(rows, labels: 1 for a gold answer, example index of each row, the examples). An example
    whose gold does not fall on word boundaries keeps its rows, all labelled 0: the model learns
    that no short span fits there, and the cut-off to the whole sentence is chosen with it."""
    from qa.spans import extract

    xs, ys, ex, kept = [], [], [], []
    for question, sentence, golds, group in examples:
        q = parse(question)
        golds_s = {strip_ws(g) for g in golds}
        rule = extract(simple(sentence), q)
        rule_se = (rule.start, rule.end) if rule else None
        spans, x = spans_and_features(sentence, q, rule_se)
        labels = [1 if strip_ws(sentence[s:e]) in golds_s else 0 for s, e in spans]
        if not spans:
            continue
        xs.append(x)
        ys.append(np.array(labels, dtype=np.int8))
        ex.append(np.full(len(spans), len(kept), dtype=np.int32))
        kept.append({"sentence": sentence, "golds": list(golds), "group": group,
                     "spans": spans, "rule": rule_se})
    if not xs:
        return (np.zeros((0, len(SPAN_FEATURES)), np.float32), np.zeros(0, np.int8),
                np.zeros(0, np.int32), [])
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ex), kept


def fit_span_booster(x: np.ndarray, y: np.ndarray):
    import lightgbm

    data = lightgbm.Dataset(x, label=y, feature_name=list(SPAN_FEATURES),
                            categorical_feature=list(CATEGORICAL), free_raw_data=False)
    return lightgbm.train(PARAMS, data, num_boost_round=NUM_ROUNDS)


class SpanModel:
    """The span scorer and whether typed rules go first (chosen by cross-validated F1)."""

    def __init__(self, booster, use_rules: bool = True, min_confidence: float = 0.0) -> None:
        self.booster = booster
        self.use_rules = use_rules
        self.min_confidence = min_confidence

    @classmethod
    def load(cls, folder: Path | None = None) -> SpanModel | None:
        import lightgbm

        folder = Path(folder or MODEL_DIR)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if list(meta.get("features", [])) != list(SPAN_FEATURES):
                return None
            return cls(lightgbm.Booster(model_file=str(folder / MODEL_FILE)),
                       bool(meta.get("use_rules", True)), float(meta.get("min_confidence", 0.0)))
        except (OSError, ValueError, lightgbm.basic.LightGBMError):
            return None

    def scored(self, sentence: str, q: Question,
               rule: tuple[int, int] | None = None) -> tuple[tuple[int, int], float] | None:
        """The best candidate span and the model's score for it."""
        spans, x = spans_and_features(sentence, q, rule)
        if not spans:
            return None
        p = self.booster.predict(x, num_threads=1)
        i = int(np.argmax(p))
        return spans[i], float(p[i])

    def best(self, sentence: str, q: Question,
             rule: tuple[int, int] | None = None) -> tuple[int, int] | None:
        found = self.scored(sentence, q, rule)
        return found[0] if found else None


_model: SpanModel | None = None
_loaded = False
_lock = threading.Lock()


def default_span_model() -> SpanModel | None:
    global _model, _loaded
    if not _loaded:
        with _lock:
            if not _loaded:
                _model = SpanModel.load()
                _loaded = True
    return _model


def choose_span(sentence: str, q: Question, rule: tuple[int, int] | None) -> tuple[int, int]:
    """(start, end) of the answer inside `sentence`: the typed rule's span where one fits and
    rules won in cross-validation, else the learned span when the model is sure enough (its
    `min_confidence`, chosen out of fold), else the whole sentence."""
    model = default_span_model()
    if rule is not None and (model is None or model.use_rules):
        return rule
    found = model.scored(sentence, q, rule) if model is not None else None
    if found is not None and found[1] >= model.min_confidence:
        return found[0]
    return (0, len(sentence)) if model is not None else rule or (0, len(sentence))
