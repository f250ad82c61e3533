"""The ordinal check: a question about one phase, session or batch of a series must not be
answered from a context that names the series only at other places."""

from __future__ import annotations

import math

import pytest

from qa.features import _enum_item, _ordinal_conflict, _ordinal_value, _relyear_conflict


@pytest.mark.parametrize(("numeral", "value"), [
    ("3", 3), ("三", 3), ("首", 1), ("两", 2), ("十", 10), ("十六", 16), ("二十", 20),
    ("三十三", 33), ("百", None), ("一百", None), ("三三", None),
])
def test_ordinal_values(numeral, value):
    assert _ordinal_value(numeral) == value


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("基金三期有多少家企业参与", "首期8000万元，一期9家企业参与，二期增至12家", 1.0),
    ("基金二期有多少家企业参与", "一期9家企业参与，二期增至12家", 0.0),
    ("基金第2期有多少家企业参与", "一期9家企业参与，二期增至12家", 0.0),  # digits = numerals
    ("第十六届联席会议在哪里举行", "十六届一次会议在大连举行", 0.0),
    ("第十七届联席会议在哪里举行", "十六届一次会议在大连举行", 1.0),
    ("地铁三号线哪年通车", "一号线和二号线已通车", 1.0),
    ("第三批名单有哪些企业", "会上公布了名单", 0.0),  # the series is not named: no conflict
    ("三期工程何时开工", "一批企业入驻", 0.0),  # another series (批 vs 期)
    ("宁波第二家全国性技术委员会是哪一家", "这是宁波首家全国性的技术委员会", 1.0),
    ("宁波首家全国性技术委员会是哪一家", "这是宁波首家全国性的技术委员会", 0.0),
    ("第二次会议在哪里举行", "会议共举行了三次，首次在大连", 1.0),  # 三次 counts
    ("第三家入驻的企业是哪家", "已有三家企业入驻", 0.0),  # a count, not a place in the series
])
def test_ordinal_conflict(question, context, expected):
    assert _ordinal_conflict(question, context) == expected


@pytest.mark.parametrize("question", [
    "阿根廷在世界杯曾经连续三届遭哪队淘汰",  # a count of sessions
    "共计举行了九届的县辖市长选举",
    "弥生时代分为前、中、后三期，主要根据什么分类",  # a count of phases
    "最后一批居民在哪一天撤离",  # the last batch
    "论文被刊登在哪一期刊上",  # a journal
    "一任市长最多能当多久",  # a term
])
def test_counts_are_not_ordinals(question):
    assert math.isnan(_ordinal_conflict(question, "第二届 二期 第三批 首任 一期"))


def test_no_ordinal_asked_is_missing_not_a_conflict():
    assert math.isnan(_ordinal_conflict("他参加了几次会议", "一期二期"))  # 次 counts, not a place


# Enumerations (`一是…，二是…`): a question for one item is answered by that item's sentence.
@pytest.mark.parametrize(("question", "sentence", "expected"), [
    ("李延锋指出工商联要在几方面有所作为，二是什么？",
     "李延锋指出，工商联要在以下几方面有所作为：一是深入学习讲话精神。", -1.0),
    ("李延锋指出工商联要在几方面有所作为，二是什么？", "二是筑牢政治建设地基，练就过硬服务本领。", 1.0),
    ("宁波市工商联指导商会改革的第二个方面是什么？", "二是注重发挥服务作用。", 1.0),
    ("宁波市工商联指导商会改革的第六个方面是什么？", "五是加强商会发展保障。", -1.0),
    ("他提出的第3点要求是什么？", "三是转变发展模式。", 1.0),  # digits = numerals
    ("宁波市工商联指导商会改革的第二个方面是什么？", "会上公布了名单。", 0.0),  # no item said
])
def test_enumeration_item(question, sentence, expected):
    assert _enum_item(question, sentence) == expected


@pytest.mark.parametrize("question", [
    "商会改革的主要目标是什么？",  # no item asked
    "会议一共提出了几点要求？",  # a count, not an item
    "统一是什么意思？",  # 一 inside a word
])
def test_no_enumeration_item_asked(question):
    assert math.isnan(_enum_item(question, "一是加强党建引领。"))


def test_the_asked_item_is_chosen_with_the_probability_of_the_item_the_model_found():
    """The model prefers the `一是` sentence (0.8) over the `二是` one it asked for (0.05): the
    first is passed over, the second is chosen and lent its probability; a third question's rows
    (no item asked) keep theirs."""
    import numpy as np

    from qa.chooser import AnswerModel
    from qa.features import COLUMNS

    x = np.full((5, len(COLUMNS)), np.nan)
    x[:, COLUMNS.index("enum_item")] = [-1.0, 1.0, 0.0, np.nan, np.nan]
    probs = np.array([0.8, 0.05, 0.3, 0.6, 0.2])
    lent = AnswerModel.lend(x, probs, np.array([0, 0, 0, 1, 1]))
    assert lent.tolist() == [0.8, 0.8, 0.3, 0.6, 0.2]
    assert AnswerModel.contradictions(x, ("enum",)).tolist() == [True, False, False, False, False]
    # no other item stated: nothing to lend
    x[0, COLUMNS.index("enum_item")] = 0.0
    assert AnswerModel.lend(x, probs, np.array([0, 0, 0, 1, 1])).tolist() == probs.tolist()


@pytest.mark.parametrize(("question", "context", "expected"), [
    ("去年8月建立机制后促成了多少家合作？", "自今年8月建立机制后，已促成45家合作。", 1.0),
    ("今年8月建立机制后促成了多少家合作？", "自今年8月建立机制后，已促成45家合作。", 0.0),
    ("去年促成了多少家合作？", "已促成45家合作。", 0.0),  # the context names no year: no conflict
    ("促成了多少家合作？", "今年已促成45家合作。", None),  # none asked
])
def test_relative_year_conflict(question, context, expected):
    got = _relyear_conflict(question, context)
    assert math.isnan(got) if expected is None else got == expected
