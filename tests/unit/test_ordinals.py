"""The ordinal check: a question about one phase, session or batch of a series must not be
answered from a context that names the series only at other places."""

from __future__ import annotations

import math

import pytest

from qa.features import _ordinal_conflict, _ordinal_value


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
