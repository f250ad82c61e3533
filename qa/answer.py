"""Choose the answering sentence among the top passages, cut its span, and decide to refuse.

A sentence is scored by four signals that fail differently: dense similarity to the question
(paraphrases), coverage of the question's rarer words (names, numbers, terms that must match),
the rank of its passage, and whether it holds an answer of the expected type. Sentence vectors
are computed at index time, so answering costs one encoder call (the question).

Refusal is not a similarity threshold alone: near misses (the documents name a similar but
different role, place or organisation) score high on similarity. The confidence therefore also
requires that the question's rare words are covered and that a span of the asked type exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qa.index import Index
from qa.question import Question
from qa.retrieve import Hit
from qa.spans import Span, extract

# Weights and threshold were set on the public dev questions only (see README, "Refusal").
W_DENSE, W_COVER, W_SENT_COVER, W_RANK, W_TYPE = 1.0, 0.6, 0.6, 0.15, 0.35
DEFAULT_THRESHOLD = 0.5


@dataclass(slots=True)
class Choice:
    chunk_rank: int  # 0-based rank of the passage among the hits
    sentence_index: int  # index within the chunk's sentences
    score: float
    confidence: float
    span: Span | None
    coverage: float
    dense: float


def idf(index: Index, term: str) -> float:
    """Inverse document frequency over passages, from the BM25 matrix (no second vocabulary)."""
    bm = index.lexical._bm25
    n = int(bm.scores["num_docs"])
    tid = bm.vocab_dict.get(term)
    if tid is None:
        df = 0
    else:
        indptr = bm.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid]) if tid + 1 < len(indptr) else 0
    return math.log((n - df + 0.5) / (df + 0.5) + 1.0)


def _coverage(terms: list[str], weights: list[float], text: str) -> float:
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w for t, w in zip(terms, weights, strict=True) if t in text) / total


def choose(
    index: Index,
    q: Question,
    qvec: np.ndarray | None,
    hits: list[Hit],
) -> Choice | None:
    """The best sentence among the hits' sentences (None when there are no hits)."""
    terms = q.terms + q.context_terms
    weights = [idf(index, t) * (1.0 if i < len(q.terms) else 0.5) for i, t in enumerate(terms)]
    best: Choice | None = None
    for rank, hit in enumerate(hits):
        chunk = index.chunks[hit.chunk_id]
        lo = int(index.sentence_offsets[hit.chunk_id])
        svecs = index.sentence_vectors[lo : lo + len(chunk.sentences)]
        sims = svecs @ qvec if qvec is not None and len(svecs) else np.zeros(len(chunk.sentences))
        for i, sent in enumerate(chunk.sentences):
            prev = chunk.sentences[i - 1].text if i > 0 else ""
            around = f"{chunk.title} {prev} {sent.text}"
            cover = _coverage(terms, weights, around)
            sent_cover = _coverage(terms, weights, sent.text)
            span = extract(sent.text, q)
            type_fit = span.strength if span is not None else (0.5 if q.qtype in ("other",) else 0.0)
            dense = float(sims[i])
            score = (
                W_DENSE * dense
                + W_COVER * cover
                + W_SENT_COVER * sent_cover
                + W_RANK / (1.0 + rank)
                + W_TYPE * type_fit
            )
            conf = confidence(dense, cover, sent_cover, type_fit, q)
            if best is None or score > best.score:
                best = Choice(rank, i, score, conf, span, cover, dense)
    return best


def confidence(dense: float, cover: float, sent_cover: float, type_fit: float, q: Question) -> float:
    """A 0..1 belief that the sentence answers the question.

    Dense similarity of e5 sits in a narrow band (about 0.75 unrelated .. 0.92 same content), so
    it is rescaled; a question in another language matches no words, so coverage is not required
    of it; a missing typed answer caps the confidence.
    """
    d = min(max((dense - 0.78) / 0.12, 0.0), 1.0)
    if not q.chinese:
        base = d
    else:
        base = 0.35 * d + 0.45 * cover + 0.2 * sent_cover
    fit = type_fit if q.qtype != "other" else max(type_fit, 0.7)
    return float(base * (0.4 + 0.6 * fit))
