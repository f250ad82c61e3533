"""The learned span's candidates and features, checked by hand on one real sentence.

The rows are computed as arrays per sentence (`qa.span_model._layout`) and per question; these
values are what the span model was trained on, so a slip in an index shows here.
"""

from __future__ import annotations

import pytest

from qa.question import parse
from qa.span_model import SPAN_FEATURES, spans_and_features

SENTENCE = "2020年3月，宁波市“海洋”博物馆和图书馆开放。"
# jieba: 2020|年|3|月|，|宁波市|“|海洋|”|博物馆|和|图书馆|开放|。


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, float]]:
    q = parse("哪一年宁波市的博物馆开放？")
    spans, x = spans_and_features(SENTENCE, q, rule=(0, 5))
    assert x.shape == (len(spans), len(SPAN_FEATURES))
    return {SENTENCE[s:e]: dict(zip(SPAN_FEATURES, r.tolist(), strict=True))
            for (s, e), r in zip(spans, x, strict=True)}


def test_candidates_never_cross_a_clause_end_nor_start_on_punctuation(rows):
    assert "2020年3月" in rows and "宁波市“海洋”博物馆和图书馆开放" in rows
    assert not any("，" in s or "。" in s for s in rows)
    assert not any(s.startswith(("“", "”")) for s in rows)
    assert "海洋”" in rows  # a closing quote may end a span
    assert max(r["n_words"] for r in rows.values()) == 8  # MAX_WORDS


def test_a_span_at_the_sentence_start(rows):
    r = rows["2020"]
    assert r["pos_before"] == -1 and r["punct_before"] == 1 and r["start_rel"] == 0
    assert r["has_digit"] == 1 and r["has_date"] == 0  # 年 is outside the span
    assert rows["2020年"]["has_date"] == 1 and rows["年3月"]["has_date"] == 1
    assert rows["年"]["has_date"] == 0 and rows["年"]["has_digit"] == 0


def test_question_words_and_their_distances(rows):
    r = rows["宁波市"]
    assert r["has_q_term"] == 1 and r["q_char_frac"] == 1
    assert r["dist_left"] == 99 and r["dist_right"] == 4  # 博物馆 starts 4 characters later
    assert r["punct_before"] == 1  # after `，`
    r = rows["开放"]
    assert r["dist_left"] == 4 and r["dist_right"] == 99 and r["punct_after"] == 1
    assert rows["海洋"]["q_term_before"] == 0 and rows["海洋”"]["q_term_after"] == 1


def test_shape_marks_and_the_rule_span(rows):
    assert rows["海洋”博物馆"]["has_quote"] == 1 and rows["博物馆"]["has_quote"] == 0
    assert rows["博物馆和图书馆"]["has_list_mark"] == 1
    assert rows["2020年"]["is_rule_span"] == 1 and rows["2020"]["is_rule_span"] == 0
    assert rows["2020"]["overlaps_rule_span"] == 1 and rows["3月"]["overlaps_rule_span"] == 0
    assert all(r["qtype_date"] == 1 for r in rows.values())


def test_a_sentence_without_candidates():
    spans, x = spans_and_features("，。！", parse("什么？"))
    assert spans == [] and x.shape == (0, len(SPAN_FEATURES))


def test_span_containment_counts_overlapping_occurrences():
    # `has_q_term` and `measure_in_span` are computed from term occurrences, not by testing each
    # span's text: the two must agree, also where occurrences overlap (`aa` in `aaa`)
    import random

    import numpy as np

    from qa.span_model import _contains

    assert _contains("aaa", ["aa"], np.array([1]), np.array([3])).tolist() == [True]
    assert _contains("aaa", [], np.array([0]), np.array([3])).tolist() == [False]
    rng = random.Random(0)
    for _ in range(300):
        text = "".join(rng.choice("ab年月") for _ in range(rng.randint(1, 12)))
        terms = ["".join(rng.choice("ab年") for _ in range(rng.randint(1, 3)))
                 for _ in range(rng.randint(0, 3))]
        pairs = [(s, e) for s in range(len(text)) for e in range(s + 1, len(text) + 1)]
        s = np.array([p[0] for p in pairs])
        e = np.array([p[1] for p in pairs])
        want = [any(t in text[a:b] for t in terms) for a, b in pairs]
        assert _contains(text, terms, s, e).tolist() == want
