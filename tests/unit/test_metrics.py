"""Every metric against small cases computed by hand (the numbers in comments are the working)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.metrics import (
    OVERALL_KEYS,
    Verdict,
    aggregate,
    best_span_scores,
    cmrc_normalize,
    contains_gold,
    judge,
    percentile,
    retrieval_rank,
    span_em,
    span_f1,
    strip_ws,
)


def test_strip_ws_removes_every_kind_of_whitespace():
    assert strip_ws(" 德 国\n西\u3000班\t牙 ") == "德国西班牙"


def test_contains_gold_is_whitespace_insensitive_on_both_sides():
    # The seeds are justified with spaces between characters and hard-wrapped mid-sentence.
    assert contains_gold("德 国 、西班\n牙等江苏商会", ["德国、西 班牙"])
    assert not contains_gold("德国和西班牙", ["德国、西班牙"])  # punctuation is not whitespace


def test_contains_gold_with_no_or_empty_golds_never_matches():
    assert not contains_gold("任何文本", [])
    assert not contains_gold("任何文本", ["", "  "])


def test_retrieval_rank_is_first_relevant_passage():
    passages = ["无关", "也无关", "答案是 42 号", "答案是42号"]
    assert retrieval_rank(passages, ["42号"]) == 3
    assert retrieval_rank(passages, ["43号"]) is None
    assert retrieval_rank([], ["42号"]) is None
    # two golds: whichever appears first in the ranking decides
    assert retrieval_rank(passages, ["也无", "42号"]) == 2


def test_cmrc_normalize_drops_whitespace_and_punctuation_and_lowercases():
    assert cmrc_normalize("“江苏 信保”，Ａ-B。") == "江苏信保ａb"


def test_cmrc_f1_hand_computed_chinese_example():
    # gold "德国、西班牙" -> 德国西班牙 (5); prediction -> 德国和西班牙 (6).
    # Longest common substring 西班牙 = 3: P = 3/6, R = 3/5, F1 = 2*.5*.6/1.1 = 6/11.
    assert span_f1("德国和西班牙", "德国、西班牙") == pytest.approx(6 / 11)
    # gold 2020年3月 (7) inside a longer prediction 2020年3月公司成立 (11): P=7/11, R=1 -> 14/18
    assert span_f1("2020年3月，公司成立。", "2020年3月") == pytest.approx(14 / 18)
    assert span_f1("完全不同", "德国") == 0.0
    assert span_f1("", "德国") == 0.0


def test_cmrc_em_after_normalisation_only():
    assert span_em("德 国、西班牙。", "德国西班牙") == 1.0
    assert span_em("德国和西班牙", "德国、西班牙") == 0.0
    assert span_em("", "") == 0.0  # nothing predicted is never an exact match


def test_best_span_scores_take_the_best_gold_each():
    # two golds: EM from the second, F1 too (1.0 beats 6/11 from the first)
    em, f1 = best_span_scores("西班牙", ["德国、西班牙", "西班牙"])
    assert (em, f1) == (1.0, 1.0)
    # ties between golds give the same number whichever is taken
    em, f1 = best_span_scores("德国", ["德国法国", "法国德国"])
    assert em == 0.0 and f1 == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert best_span_scores("德国", []) == (0.0, 0.0)


def test_percentile_linear_interpolation_on_known_lists():
    xs = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert percentile(xs, 50) == 30.0
    assert percentile(xs, 95) == pytest.approx(48.0)  # pos = 4*0.95 = 3.8 -> 40 + 0.8*10
    assert percentile(list(reversed(xs)), 95) == pytest.approx(48.0)  # order does not matter
    hundred = [float(i) for i in range(1, 101)]
    assert percentile(hundred, 50) == pytest.approx(50.5)
    assert percentile(hundred, 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
    assert percentile([], 50) is None


def test_judge_correct_answer_with_span():
    v = judge(
        answer="公司于2020年3月成立。",
        span="2020年3月",
        refused=False,
        passages=["别的", "公司于 2020 年 3 月成立。"],
        golds=["2020年3月"],
    )
    assert v.answerable and not v.refused
    assert v.rank == 2
    assert v.sentence_correct
    assert (v.span_em, v.span_f1) == (1.0, 1.0)


def test_judge_empty_span_falls_back_to_sentence():
    v = judge("2020年3月成立。", "", False, [], ["2020年3月"])
    # sentence 2020年3月成立 (9) vs gold (7): P = 7/9, R = 1 -> F1 = 14/16
    assert v.span_f1 == pytest.approx(14 / 16)
    assert v.span_em == 0.0
    assert v.rank is None


def test_judge_refusal_scores_zero_even_if_retrieval_found_it():
    v = judge("资料中没有找到答案。", "", True, ["答案是2020年3月"], ["2020年3月"])
    assert v.answerable and v.refused
    assert v.rank == 1  # retrieval is judged on its own
    assert not v.sentence_correct
    assert (v.span_em, v.span_f1) == (0.0, 0.0)


def test_judge_unanswerable_question():
    v = judge("某句话。", "某句", False, ["某句话。"], [])
    assert not v.answerable
    assert v.rank is None and not v.sentence_correct and v.span_f1 == 0.0
    # an all-whitespace gold list is the same as an empty one
    assert not judge("x", "x", False, [], ["  "]).answerable


def test_judge_wrong_sentence_partial_span():
    v = judge("德国和西班牙等商会。", "德国和西班牙", False, ["x"], ["德国、西班牙"])
    assert not v.sentence_correct
    assert v.span_f1 == pytest.approx(6 / 11)


def _v(answerable, refused, rank=None, correct=False, em=0.0, f1=0.0):
    return Verdict(answerable, refused, rank, correct, em, f1)


def test_aggregate_hand_computed():
    verdicts = [
        _v(True, False, rank=1, correct=True, em=1.0, f1=1.0),
        _v(True, False, rank=3, correct=False, em=0.0, f1=0.5),
        _v(True, True, rank=None),  # answerable but refused
        _v(True, False, rank=5, correct=True, em=0.0, f1=0.8),
        _v(False, True),  # unanswerable, refused: a true refusal
        _v(False, False),  # unanswerable, answered: a missed refusal
    ]
    out = aggregate(verdicts, [100.0, 200.0, 300.0, 400.0, 500.0, 600.0])
    assert tuple(out) == OVERALL_KEYS
    assert out["n"] == 6 and out["n_answerable"] == 4 and out["n_unanswerable"] == 2
    assert out["recall@1"] == 0.25
    assert out["recall@3"] == 0.5
    assert out["recall@5"] == 0.75
    assert out["mrr"] == round((1 + 1 / 3 + 0 + 1 / 5) / 4, 4)
    assert out["sentence_accuracy"] == 0.5
    assert out["span_em"] == 0.25
    assert out["span_f1"] == round((1 + 0.5 + 0 + 0.8) / 4, 4)
    assert out["refusal_precision"] == 0.5  # 2 refused, 1 of them unanswerable
    assert out["refusal_recall"] == 0.5  # 2 unanswerable, 1 refused
    assert out["false_refusal_rate"] == 0.25
    assert out["latency_ms_p50"] == 350.0
    assert out["latency_ms_p95"] == 575.0  # pos 5*.95 = 4.75 -> 500 + .75*100


def test_aggregate_zero_over_zero_conventions():
    # nothing refused, nothing unanswerable: refusal precision and recall are vacuously 1.0
    only_answered = aggregate([_v(True, False, rank=2, correct=True, em=1.0, f1=1.0)], [5.0])
    assert only_answered["refusal_precision"] == 1.0
    assert only_answered["refusal_recall"] == 1.0
    assert only_answered["false_refusal_rate"] == 0.0
    # a detector that never fires on unanswerable questions: precision 1.0 but recall 0.0
    never = aggregate([_v(False, False), _v(True, False, rank=1, correct=True)], [1.0, 2.0])
    assert never["refusal_precision"] == 1.0 and never["refusal_recall"] == 0.0
    # no answerable questions: answer-quality rates are undefined, not 0 or 1
    unans = aggregate([_v(False, True)], [1.0])
    for key in ("recall@1", "recall@3", "recall@5", "mrr", "sentence_accuracy", "span_em",
                "span_f1", "false_refusal_rate"):
        assert unans[key] is None, key
    assert unans["refusal_precision"] == 1.0 and unans["refusal_recall"] == 1.0
    empty = aggregate([], [])
    assert empty["n"] == 0 and empty["latency_ms_p50"] is None


def test_aggregate_of_judged_answers_end_to_end():
    golds = [["2020年3月"], [], ["德国", "法国"]]
    answers = [("公司于2020年3月成立。", "2020年3月", False), ("资料中没有找到答案。", "", True),
               ("法 国。", "", False)]
    verdicts = [judge(a, s, r, [a], g) for (a, s, r), g in zip(answers, golds, strict=True)]
    out = aggregate(verdicts, [1.0, 2.0, 3.0])
    assert out["sentence_accuracy"] == 1.0
    assert out["span_em"] == 1.0  # "法 国。" normalises to 法国, an exact match of gold 2
    assert out["refusal_precision"] == 1.0 and out["refusal_recall"] == 1.0
    assert out["recall@1"] == 1.0


_TEXT = st.text(alphabet=st.sampled_from("德国西班牙三个2020年，。、 \n"), max_size=12)


@given(_TEXT, _TEXT, st.lists(st.sampled_from([" ", "\n", "\u3000"]), max_size=4))
def test_span_scores_are_bounded_and_whitespace_blind(pred, gold, spaces):
    f1 = span_f1(pred, gold)
    assert 0.0 <= f1 <= 1.0
    assert span_em(pred, gold) <= f1 + 1e-12  # an exact match always has F1 1
    spaced = "".join(spaces) + " ".join(pred) + "".join(spaces)
    assert span_f1(spaced, gold) == pytest.approx(f1)
    assert contains_gold(spaced, [gold]) == contains_gold(pred, [gold])
    if cmrc_normalize(gold):
        assert span_f1(gold, gold) == 1.0 and span_em(gold, gold) == 1.0
