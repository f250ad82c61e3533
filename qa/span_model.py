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
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.chooser import DETERMINISTIC
from qa.features import QTYPE_ORDER, simple
from qa.lexical import pos_tokens, tag_cache
from qa.metrics import strip_ws
from qa.question import Question, parse
from qa.spans import term_hits

MODEL_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILE = "span_model.txt"
META_FILE = "span_model.json"
MAX_WORDS = 8
SPAN_CACHE = 4_096  # sentences whose candidate spans are kept (~10 kB each)
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


_DIGIT = re.compile(r"\d|[一二三四五六七八九十百千万亿两]")
_DATE_DIGIT = re.compile(r"\d")
_QUOTE = re.compile(r"[“”「」《》]")
_LIST_MARK = re.compile(r"、|和|及|与")


def _prefix(flags: list[bool]) -> np.ndarray:
    """Running counts with a leading 0: flags in [a, b) = p[b] - p[a]."""
    return np.concatenate(([0], np.cumsum(np.asarray(flags, dtype=np.int32))))


@tag_cache
@lru_cache(maxsize=SPAN_CACHE)
def _layout(text: str) -> tuple:
    """What the candidate spans of a sentence are, and everything about them that does not
    depend on the question: computed once per sentence (sentences come back question after
    question), as arrays, so a question's rows are a few vector operations, not a loop."""
    toks = pos_tokens(text)
    n = len(text)
    words = [t[0] for t in toks]
    first, last = [], []
    for i, w in enumerate(words):
        if w in _STOP or _PUNCT.match(w) or not w.strip():
            continue
        for j in range(i, min(i + MAX_WORDS, len(toks))):
            wj = words[j]
            if wj in _STOP or not wj.strip():
                break
            if _PUNCT.match(wj) and wj not in "“”":
                continue
            first.append(i)
            last.append(j)
    i_ = np.asarray(first, dtype=np.int64)
    j_ = np.asarray(last, dtype=np.int64)
    starts = np.asarray([t[2] for t in toks], dtype=np.int64)
    ends = np.asarray([t[3] for t in toks], dtype=np.int64)
    s, e = starts[i_], ends[j_]
    pos = np.asarray([_pos_id(t[1]) for t in toks] + [-1], dtype=np.float64)  # [-1]: none
    stop = np.asarray([w in _STOP for w in words] + [True], dtype=np.float64)
    before, after = i_ - 1, j_ + 1  # -1 and len(toks) both index the "none" slot
    digit = _prefix([bool(_DIGIT.match(ch)) for ch in text])
    # `\d+年` inside a span needs a digit right before 年/月/日, both inside it
    date = _prefix([bool(_DATE_DIGIT.match(text[k])) and text[k + 1] in "年月日"
                    for k in range(n - 1)] + [False])
    quote = _prefix([bool(_QUOTE.match(ch)) for ch in text])
    mark = _prefix([bool(_LIST_MARK.match(ch)) for ch in text])
    has = lambda p, a, b: (p[b] - p[a] > 0).astype(np.float64)  # noqa: E731
    static = np.column_stack([
        (j_ - i_ + 1).astype(np.float64), np.log1p(e - s), s / n, e / n,
        pos[i_], pos[j_], pos[before], pos[np.minimum(after, len(toks))],
        stop[before], stop[np.minimum(after, len(toks))],
        has(digit, s, e), has(date, s, np.maximum(e - 1, s)), has(quote, s, e), has(mark, s, e),
    ]) if len(first) else np.zeros((0, 14))
    return toks, i_, j_, s, e, static


def spans_and_features(
    sentence: str, q: Question, rule: tuple[int, int] | None = None
) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Candidate (start, end) spans of `sentence` and one feature row each."""
    text = simple(sentence)
    toks, first, last, s, e, static = _layout(text)
    if not len(first):
        return [], np.zeros((0, len(SPAN_FEATURES)), dtype=np.float32)
    terms = [t for t in q.terms + q.context_terms if t]
    hits = term_hits(text, tuple(terms))
    qchars = set(q.text)
    in_q = _prefix([ch in qchars for ch in text])
    spans = list(zip(s.tolist(), e.tolist(), strict=True))
    # nearest question word ending at or before the start / starting at or after the end
    hit_ends = np.sort(np.asarray([b for _, b in hits], dtype=np.int64))
    hit_starts = np.sort(np.asarray([a for a, _ in hits], dtype=np.int64))
    k = np.searchsorted(hit_ends, s, side="right") - 1
    dist_left = np.where(k >= 0, s - hit_ends[np.maximum(k, 0)] if len(hits) else 0, 99)
    k = np.searchsorted(hit_starts, e, side="left")
    dist_right = np.where(k < len(hits),
                          hit_starts[np.minimum(k, len(hits) - 1)] - e if len(hits) else 0, 99)
    near_term = np.asarray([any(w in t or t in w for t in terms) for w, *_ in toks] + [False],
                           dtype=np.float64)  # [False]: no word there
    head = np.asarray([bool(q.head) and w == q.head for w, *_ in toks] + [False], dtype=np.float64)
    after = np.minimum(last + 1, len(toks))
    lo, hi = rule if rule else (-1, -1)
    question = np.column_stack([
        (in_q[e] - in_q[s]) / (e - s),
        _contains(text, terms, s, e),
        dist_left, dist_right, near_term[first - 1], near_term[after],
    ])
    tail = np.column_stack([
        _contains(text, [q.measure] if q.measure else [], s, e), head[after],
        (s == lo) & (e == hi), (s < hi) & (lo < e) if rule else np.zeros(len(s), dtype=bool),
    ])
    qt = np.broadcast_to(np.asarray([1.0 if q.qtype == t else 0.0 for t in QTYPE_ORDER]),
                         (len(s), len(QTYPE_ORDER)))
    x = np.hstack([static[:, :8], question, static[:, 8:], tail, qt]).astype(np.float32)
    return spans, x


def _contains(text: str, terms: list[str], s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Per span [s, e) of `text`: whether it contains one of `terms` (`any(t in text[s:e])`),
    from each term's occurrences, overlapping ones included, instead of ~140 substring tests."""
    at = [(m.start(), m.start() + len(t)) for t in terms if t
          for m in re.finditer(f"(?={re.escape(t)})", text)]
    if not at:
        return np.zeros(len(s), dtype=bool)
    at.sort()
    starts = np.asarray([a for a, _ in at], dtype=np.int64)
    # the earliest end among occurrences starting at or after each position
    ends = np.minimum.accumulate(np.asarray([b for _, b in at], dtype=np.int64)[::-1])[::-1]
    k = np.searchsorted(starts, s, side="left")
    first_end = np.where(k < len(at), ends[np.minimum(k, len(at) - 1)], np.iinfo(np.int64).max)
    return first_end <= e


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

        from qa.forest import Forest

        folder = Path(folder or MODEL_DIR)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            if list(meta.get("features", [])) != list(SPAN_FEATURES):
                return None
            return cls(Forest(folder / MODEL_FILE),
                       bool(meta.get("use_rules", True)), float(meta.get("min_confidence", 0.0)))
        except (OSError, ValueError, lightgbm.basic.LightGBMError):
            return None

    def scored(self, sentence: str, q: Question,
               rule: tuple[int, int] | None = None) -> tuple[tuple[int, int], float] | None:
        """The best candidate span and the model's score for it."""
        spans, x = spans_and_features(sentence, q, rule)
        if not spans:
            return None
        p = self.booster.predict(x)
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
