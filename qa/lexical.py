"""Lexical search: jieba search-mode tokens scored with BM25 (`bm25s`).

Search mode emits both a long word and its parts (`压铸模具` -> `压铸`, `模具`, `压铸模具`), so a
question that names part of a compound still matches. Scoring is delegated to `bm25s` (sparse
matrices, numpy) rather than written here.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

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
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


_t2s = None
_t2s_lock = threading.Lock()


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC tables).

    Lexical search, jieba and the answer features all work on one script, so a question in
    either script finds documents in either script; what is shown is always the document's own
    characters. OpenCC's t2s maps character for character here, so offsets carry over; when a
    phrase rule would change the length, the text is converted one character at a time instead.
    """
    global _t2s
    if _t2s is None:
        with _t2s_lock:
            if _t2s is None:
                from opencc import OpenCC

                _t2s = OpenCC("t2s")
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
    clean span boundaries. The index calls this before building BM25 and the engine after
    loading it, so documents and questions are split the same way.
    """
    add_words(quoted_terms(texts))


def add_words(terms) -> None:
    """Add words to jieba's dictionary (once each; the tagging cache is dropped if any is new)."""
    jieba = _get_jieba()
    with _jieba_lock:
        for term in terms:
            if term not in _registered:
                jieba.add_word(term, freq=2000, tag="nz")
                _registered.add(term)
                pos_tokens.cache_clear()


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


class LexicalIndex:
    """BM25 over jieba tokens of each chunk (title included, so a section name is searchable)."""

    def __init__(self, retriever) -> None:
        self._bm25 = retriever

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        import bm25s

        corpus = [tokenize(t) or [""] for t in texts]
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        retriever.index(corpus, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))

    @property
    def num_docs(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def doc_freq(self, token: str) -> int:
        """Passages containing `token`, read off the BM25 matrix (its column's non-zeros)."""
        tid = self._bm25.vocab_dict.get(token)
        indptr = self._bm25.scores["indptr"]
        if tid is None or tid + 1 >= len(indptr):
            return 0
        return int(indptr[tid + 1] - indptr[tid])

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every chunk for the query; zeros when no token is in the vocabulary."""
        known = [t for t in query_tokens if t in self._bm25.vocab_dict]
        n = int(self._bm25.scores["num_docs"])
        if not known:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
