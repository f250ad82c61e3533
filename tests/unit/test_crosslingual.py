"""English questions about Chinese documents: names and phrases found as the index's words."""

from __future__ import annotations

from qa.crosslingual import Translator, translator_for
from qa.stores.bm25_store import Bm25Store

VOCAB = ["宁波", "商会", "李延锋", "延锋", "工商联", "头", "会", "知识", "统战部", "大连"]


def test_names_are_read_as_pinyin_of_the_index_words():
    terms = Translator(VOCAB).terms("What did Li Yanfeng tell the Ningbo meeting?")
    assert terms[:2] == ["李延锋", "宁波"]  # names first, the whole run before its parts
    assert "延锋" not in terms  # `Yanfeng` was used up by `Li Yanfeng`


def test_phrases_are_looked_up_longest_first_and_kept_only_when_indexed():
    terms = Translator(VOCAB).terms("Which chamber of commerce spread knowledge?")
    assert "商会" in terms and "知识" in terms
    assert "会" not in terms  # single characters match everything; never kept
    assert Translator(["宁波"]).terms("Which chamber of commerce?") == []  # 商会 not indexed


def test_plurals_and_possessives_fold():
    t = Translator(VOCAB)
    assert "商会" in t.terms("chambers of commerce")
    assert "大连" in t.terms("Dalian's federation")


def test_a_question_naming_nothing_indexed_gets_no_words():
    assert Translator(VOCAB).terms("Who won the 2010 World Cup in South Africa?") == []


def test_the_translator_is_built_once_per_store_from_its_vocabulary():
    store = Bm25Store([0, 1], [["宁波", "商会"], ["大连"]])
    assert sorted(store.vocabulary()) == ["商会", "大连", "宁波"]
    first = translator_for(store)
    assert first is translator_for(store)
    assert first.terms("Ningbo") == ["宁波"]
    assert translator_for(object()) is None  # a store that cannot list its words
