"""Chinese words: jieba tokens on one normalised script, stopwords, and the corpus's coined terms.

Search mode emits both a long word and its parts (`压铸模具` -> `压铸`, `模具`, `压铸模具`), so a
question that names part of a compound still matches; the lexical store (`qa.stores.bm25_store`)
scores these tokens. Everything is tokenised in simplified characters, so a question in either
script finds documents in either script.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from functools import lru_cache
from typing import TypeVar

_jieba_lock = threading.Lock()
_jieba = None

# Function words and question words carry no topic; dropping them keeps BM25 from matching
# every passage that says `什么` or `的`.
STOPWORDS = frozenset(
    ["的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而", "把", "被", "对", "为", "以", "于", "从", "到", "由", "向", "这", "那", "其", "之", "等", "个", "着", "过", "有", "吗", "呢", "吧", "啊", "么", "哪", "哪个", "哪些", "哪家", "哪里", "哪儿", "哪一年", "哪年", "哪位", "谁", "什么", "多少", "几", "几个", "怎么", "怎样", "如何", "为什么", "何时", "什么时候", "是否", "请问", "一下", "还", "又", "该", "上", "中", "下", "the", "a", "an", "of", "to", "in", "is", "are", "was", "what", "who", "which", "when", "where", "how", "why", "many", "much"]
)
_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


def _get_jieba():
    """jieba builds its prefix dictionary on first use (~1 s); do it once, under a lock, quietly."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                with warnings.catch_warnings():
                    # jieba imports pkg_resources when setuptools provides it (the Milvus
                    # extra pins setuptools<81), which warns on every start; not ours to fix
                    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


_t2s = None
_t2s_map: dict[int, str] = {}
_t2s_phrases: tuple[str, ...] = ()
_t2s_lock = threading.Lock()


def _tables(chain):
    """The (start, end, {key: value}) tables of an OpenCC dictionary chain, however nested."""
    for item in chain:
        if isinstance(item, list | tuple) and len(item) == 3 and isinstance(item[2], dict):
            yield item
        elif isinstance(item, list | tuple):
            yield from _tables(item)


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC tables).

    Lexical search, jieba and the answer features all work on one script, so a question in
    either script finds documents in either script; what is shown is always the document's own
    characters. OpenCC's t2s maps character for character here, so offsets carry over; when a
    phrase rule would change the length, the text is converted one character at a time instead.
    """
    global _t2s, _t2s_map, _t2s_phrases
    if _t2s is None:
        with _t2s_lock:
            if _t2s is None:
                from opencc import OpenCC

                cc = OpenCC("t2s")
                cc.convert("")  # loads its dictionaries
                # Where no phrase key occurs, OpenCC's longest-match walk can only apply the
                # character table, so `str.translate` gives its very result in C: OpenCC's
                # pure-Python matching cost ~7 ms a question at 1M passages (new candidate
                # sentences every time), ~12 ms in traditional text. A character whose
                # conversion is not one character stays, as the fallback below keeps it.
                table, phrases = {}, []
                for _lo, _hi, rules in _tables(cc._dict_chain_data):
                    for key, value in rules.items():
                        first = value.split(" ")[0]
                        if len(key) > 1:
                            phrases.append(key)
                        elif len(first) == 1 and first != key:
                            table[ord(key)] = first
                _t2s_map, _t2s_phrases = table, tuple(phrases)
                _t2s = cc
    if not any(p in text for p in _t2s_phrases):
        return text.translate(_t2s_map)
    out = _t2s.convert(text)
    if len(out) != len(text):
        out = "".join(_t2s.convert(ch) if len(_t2s.convert(ch)) == 1 else ch for ch in text)
    return out


_QUOTED = re.compile(r"“([^“”\s]{2,8})”")
_registered: set[str] = set()


def quoted_terms(texts) -> list[str]:
    """The quoted coined terms of some texts (or chunks), each once, in order of appearance."""
    out: dict[str, None] = {}
    for t in texts:
        for term in _QUOTED.findall(getattr(t, "text", t)):
            if not re.search(r"[，。、；：！？]", term):
                out[term] = None
    return list(out)


def register_terms(texts) -> None:
    """Teach jieba the quoted names of a corpus (`“以商养会”` -> one word).

    Newspapers put coined terms in quotes; as single tokens they match whole in BM25 and give
    clean span boundaries. The index calls this before building BM25 and again when it loads
    a version, so documents and questions are split the same way.
    """
    add_words(quoted_terms(texts))


# caches of values computed from `pos_tokens` (words, entities, spans of a text), dropped with it
_TAG_CACHES: list = []
_Cached = TypeVar("_Cached")


def tag_cache(fn: _Cached) -> _Cached:
    """Mark an lru-cached function of a text's tags, so a new word drops its cache too.

    Why: a sentence tagged before a document taught jieba `以商养会` would keep its old words
    in these caches, and a server would answer it otherwise than a process started afresh."""
    _TAG_CACHES.append(fn)
    return fn


def add_words(terms) -> None:
    """Add words to jieba's dictionary (once each; the tagging caches are dropped if any is
    new)."""
    jieba = _get_jieba()
    with _jieba_lock:
        for term in terms:
            if term not in _registered:
                jieba.add_word(term, freq=2000, tag="nz")
                _registered.add(term)
                for cache in (pos_tokens, *_TAG_CACHES):
                    cache.cache_clear()


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """Lower-cased jieba search-mode tokens without punctuation (and stopwords)."""
    jieba = _get_jieba()
    out = []
    for tok in jieba.cut_for_search(to_simplified(text)):
        tok = tok.strip().lower()
        if not tok or not _TOKEN_OK.search(tok):
            continue
        if drop_stopwords and tok in STOPWORDS:
            continue
        out.append(tok)
    return out


@lru_cache(maxsize=50_000)
def pos_tokens(text: str) -> tuple[tuple[str, str, int, int], ...]:
    """jieba part-of-speech tokens as (word, flag, start, end) offsets into `text`.

    Cached: tagging is the slowest step of answering (~1 ms a sentence), and the same candidate
    sentences come back question after question and extractor after extractor.
    """
    _get_jieba()
    import jieba.posseg

    out, pos = [], 0
    for w, f in jieba.posseg.lcut(text):
        out.append((w, f, pos, pos + len(w)))
        pos += len(w)
    return tuple(out)


def words(text: str) -> list[str]:
    """Precise-mode words (no overlapping parts), for term overlap in answer scoring."""
    jieba = _get_jieba()
    return [
        w.lower()
        for w in jieba.lcut(text)
        if w.strip() and _TOKEN_OK.search(w) and w.lower() not in STOPWORDS
    ]


# Below this many passages a process pool costs more to start (each worker loads jieba's
# dictionary, ~1 s) than it saves; above it jieba (~1,450 passages/s per core) runs on every core.
POOL_MIN = 20_000


def _init_worker(terms: list[str]) -> None:
    add_words(terms)


class Tokenizer:
    """`tokenize` over many texts, in a process pool on all cores for a large corpus.

    Workers are taught the corpus' coined terms first, so their tokens equal the parent's."""

    def __init__(self, terms: list[str], total: int = 0) -> None:
        self._terms = list(terms)
        self._pool = None
        if total >= POOL_MIN and (os.cpu_count() or 1) > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # forkserver: the parent holds torch and ONNX Runtime threads, which fork copies badly
            self._pool = ProcessPoolExecutor(
                max_workers=os.cpu_count(), mp_context=multiprocessing.get_context("forkserver"),
                initializer=_init_worker, initargs=(self._terms,))

    def map(self, texts: list[str]) -> list[list[str]]:
        if self._pool is None:
            return [tokenize(t) for t in texts]
        return list(self._pool.map(tokenize, texts, chunksize=64))

    def __enter__(self) -> Tokenizer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
