"""Retrieval and answer quality on the dev set, question types, spans, follow-ups, languages."""

from __future__ import annotations

import json
import re

import pytest

from qa.question import classify, is_follow_up, parse
from qa.spans import extract
from tests.conftest import ROOT, dev_questions


def _nows(s: str) -> str:
    return re.sub(r"\s+", "", s)


@pytest.fixture(scope="module")
def dev_answers(seed_engine):
    return [(q, seed_engine.answer(q["question"])) for q in dev_questions()]


def test_gold_answer_in_top5_passages_for_95_percent_hybrid(dev_answers):
    answerable = [(q, a) for q, a in dev_answers if q["answers"]]
    hits = sum(
        any(_nows(g) in _nows(c.text) for g in q["answers"] for c in a.citations[:5])
        for q, a in answerable
    )
    assert hits / len(answerable) >= 0.95


def test_report_half_of_our_questions_keeps_its_measured_quality(seed_engine):
    """A regression guard on questions the answer model never saw (data/seeds_report.jsonl):
    bars a little under what `bench/quality.py` measured (0.888 accuracy, 0.022 false refusals,
    0.24 refusal recall), so a change that loses answers or stops refusing fails here."""
    rows = [json.loads(line) for line in
            (ROOT / "data" / "seeds_report.jsonl").read_text(encoding="utf-8").splitlines()]
    answers = [(r, seed_engine.answer(r["question"])) for r in rows]
    answerable = [(r, a) for r, a in answers if r["answers"]]
    unanswerable = [(r, a) for r, a in answers if not r["answers"]]
    correct = sum((not a.refused) and any(_nows(g) in _nows(a.answer) for g in r["answers"])
                  for r, a in answerable)
    assert correct / len(answerable) >= 0.85
    assert sum(a.refused for _r, a in answerable) / len(answerable) <= 0.05
    assert sum(a.refused for _r, a in unanswerable) / len(unanswerable) >= 0.2


def test_answers_are_verbatim_and_spans_are_slices(dev_answers, seed_engine):
    for _q, a in dev_answers:
        if a.refused:
            continue
        src = a.citations[a.source - 1]
        assert a.answer in src.text
        assert a.answer[a.span_start : a.span_end] == a.span and a.span


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("北仑有多少家模具企业？", "quantity"),
        ("宁波市工商联从几个方面指导商会改革？", "quantity"),
        ("压铸模分技术委员会是什么时候成立的？", "date"),
        ("联合下发文件是哪一年？", "date"),
        ("宁波市工商联党组副书记是谁？", "person"),
        ("丹西商会的结对村在哪里？", "place"),
        ("海曙区工商联和哪家单位开办了金融服务超市？", "organization"),
        ("江苏商会在哪些国家募捐？", "list"),
        ("为什么试点单位关注融资？", "reason"),
        ("什么是“以商养会”？", "definition"),
        ("服装业商会贯彻的是怎样的决策部署？", "definition"),
    ],
)
def test_question_classifier(question, qtype):
    assert classify(question) == qtype


def _span(sentence: str, question: str) -> str | None:
    s = extract(sentence, parse(question))
    return sentence[s.start : s.end] if s else None


def test_span_extraction_by_type_on_seed_sentences():
    s = "区内拥有各类经营主体1700多家，从业人员约3.2万人，工业总产值近200亿元。"
    assert _span(s, "辖区有多少从业人员？") == "约3.2万人"
    assert _span(s, "辖区有多少家经营主体？") == "1700多家"
    assert _span(s, "工业总产值有多少？") == "近200亿元"
    assert _span("2020年9月，全国模具标准化技术委员会压铸模分技术委员会在北仑成立。",
                 "压铸模分技术委员会什么时候成立的？") == "2020年9月"
    assert _span("“改革中的商会让企业发展得到了实实在在的助力。”宁波市工商联党组副书记、副主席陈彩月如是说。",
                 "宁波市工商联党组副书记是谁？") == "陈彩月"
    assert _span("象山县丹西商会组织会员企业帮助贵州黄平县结对村解决1500余名农民就业。",
                 "丹西商会帮扶的结对村在哪里？") == "贵州黄平县"
    assert _span("其中，海曙区工商联联合区金融服务发展中心开办“海曙金融服务超市”。",
                 "海曙区工商联和哪家单位一起开办了金融服务超市？") == "区金融服务发展中心"
    assert _span("马来西亚苏商总会、日本江苏工商总会、日本无锡商会等商会代表分别围绕商会发展现状作交流。",
                 "有哪些商会的代表作了交流？") == "马来西亚苏商总会、日本江苏工商总会、日本无锡商会"
    assert _span("据悉，此次工作推进会旨在确保今年内市、区两级工商联及所属商会与律师事务所普遍建立联系合作机制。",
                 "这次推进会想达到什么目的？") == "确保今年内市、区两级工商联及所属商会与律师事务所普遍建立联系合作机制"
    assert _span("各区市县工商联要牢固树立“有为才有位”的工作理念，勤办交流学习活动。",
                 "要求各区市县工商联牢固树立什么工作理念？") == "“有为才有位”"


def test_no_typed_span_when_the_sentence_lacks_the_asked_type():
    span = extract("余姚市裘皮商会搭建网上平台，每年为企业节省差旅费300余万元。",
                   parse("余姚市裘皮商会有多少家会员企业？"))
    assert span is not None and span.strength < 0.5  # a count of 元 does not answer 多少家


def test_two_turn_follow_up_uses_the_previous_question(seed_engine):
    first = seed_engine.answer("骆驼商会所在辖区的工业总产值是多少？")
    assert first.span == "近200亿元"
    assert is_follow_up("从业人员呢？")
    second = seed_engine.answer("从业人员呢？", history=["骆驼商会所在辖区的工业总产值是多少？"])
    assert not second.refused and second.span == "约3.2万人"
    assert "骆驼" in second.citations[second.source - 1].text
    # the history decides which count is meant: the 骆驼 district's, not Ningbo's 126万户
    third = seed_engine.answer("经营主体呢？", history=["骆驼商会所在辖区的工业总产值是多少？"])
    assert not third.refused and third.span == "1700多家"
    alone = seed_engine.answer("经营主体呢？")  # without the history it is another question
    assert alone.refused or alone.span != "1700多家"


def test_traditional_characters_find_the_same_sentence(seed_engine):
    a = seed_engine.answer("北侖有多少家模具企業？")
    assert not a.refused and a.span == "近2000家"
    b = seed_engine.answer("寧波市工商聯黨組副書記、副主席是誰？")
    assert not b.refused and b.span == "陳彩月".replace("陳", "陈")


def test_english_question_is_answered_from_the_chinese_source(seed_engine):
    a = seed_engine.answer("How much money did overseas Jiangsu chambers of commerce donate in 2020?")
    assert not a.refused
    assert "海外江苏商会2020年累计捐赠款物金额1004.53万元" in a.answer
    assert a.span == "1004.53万元"
    b = seed_engine.answer("How many labor dispute cases did the Ninghai people mediation committee resolve?")
    assert not b.refused and b.span == "781件"


def test_warm_up_builds_what_the_first_english_question_needs(seed_engine):
    from qa import crosslingual

    store = seed_engine.index.lexical
    crosslingual._built.pop(store, None)
    seed_engine.warm_up()
    built = crosslingual._built.get(store)
    assert built is not None and "宁波" in built.terms("Ningbo")
    assert not seed_engine.answer("How much money did overseas Jiangsu chambers of commerce "
                                  "donate in 2020?").refused
    assert crosslingual._built.get(store) is built  # used, not built again


def test_unrelated_english_question_is_refused(seed_engine):
    assert seed_engine.answer("Who founded Apple?").refused


@pytest.mark.parametrize(
    "question",
    ["白小T的创始人是谁？", "北仑大碶高端模具园区占地面积有多大？"],
)
def test_near_miss_questions_are_refused(seed_engine, question):
    a = seed_engine.answer(question)
    assert a.refused and a.answer == "资料中没有找到答案。"
    assert a.citations


def test_modes_and_top_k(seed_engine):
    for mode in ("hybrid", "dense", "lexical"):
        a = seed_engine.answer("北仑有多少家模具企业？", mode=mode, top_k=3)
        assert len(a.citations) == 3
        assert "近2000家" in a.answer
