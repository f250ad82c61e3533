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
W_RANK = 0.03
DEFAULT_THRESHOLD = 0.35
# a word the corpus never uses is rare, but no rarer than a word used once
IDF_CAP = 3.5


@dataclass(slots=True)
class Choice:
    chunk_rank: int  # 0-based rank of the passage among the hits
    sentence_index: int  # index within the chunk's sentences
    score: float
    confidence: float
    span: Span | None
    coverage: float
    dense: float
    sentence_coverage: float = 0.0
    type_fit: float = 0.0


def idf(index: Index, term: str) -> float:
    """Inverse document frequency over passages, from the BM25 matrix (no second vocabulary)."""
    n = index.lexical.num_docs
    df = index.lexical.doc_freq(term)
    return math.log((n - df + 0.5) / (df + 0.5) + 1.0)


def _coverage(terms: list[str], weights: list[float], text: str) -> float:
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w for t, w in zip(terms, weights, strict=True) if t in text) / total


def candidates(
    index: Index,
    q: Question,
    qvec: np.ndarray | None,
    hits: list[Hit],
) -> list[Choice]:
    """Every sentence of the hit passages, scored, best first."""
    terms = q.terms + q.context_terms
    pos_w = q.weights + [0.5] * len(q.context_terms)
    weights = [min(idf(index, t), IDF_CAP) * w for t, w in zip(terms, pos_w, strict=True)]
    out: list[Choice] = []
    top_dense = -1.0
    per_hit = []
    for hit in hits:
        chunk = index.chunks[hit.chunk_id]
        lo = int(index.sentence_offsets[hit.chunk_id])
        svecs = index.sentence_vectors[lo : lo + len(chunk.sentences)]
        sims = svecs @ qvec if qvec is not None and len(svecs) else np.zeros(len(chunk.sentences))
        per_hit.append(sims)
        if len(sims):
            top_dense = max(top_dense, float(sims.max()))
    for rank, hit in enumerate(hits):
        chunk = index.chunks[hit.chunk_id]
        sims = per_hit[rank]
        lo = int(index.sentence_offsets[hit.chunk_id])
        for i, sent in enumerate(chunk.sentences):
            prev = _previous_sentence(index, hit.chunk_id, i)
            around = f"{chunk.title} {prev} {sent.text}"
            cover = _coverage(terms, weights, around)
            sent_cover = _coverage(terms, weights, sent.text)
            span = extract(sent.text, q)
            type_fit = span.strength if span is not None else (0.5 if q.qtype == "other" else 0.0)
            dense = float(sims[i])
            if prev and qvec is not None:
                # a sentence continues its predecessor's topic (`骆驼商会所在的辖区……` then
                # `区内……从业人员约3.2万人`): let it borrow half of that similarity
                before = float(index.sentence_vectors[lo + i - 1] @ qvec)
                dense = max(dense, 0.5 * (dense + before))
            conf = confidence(dense, top_dense, cover, sent_cover, type_fit, q)
            # rank by the same belief the refusal uses, with passage rank as a tie-breaker
            score = conf + W_RANK / (1.0 + rank)
            out.append(Choice(rank, i, score, conf, span, cover, dense, sent_cover, type_fit))
    out.sort(key=lambda c: -c.score)
    return out


def _previous_sentence(index: Index, chunk_id: int, i: int) -> str:
    """The sentence before sentence `i`, looking into the previous chunk of the same section:
    a question's topic is often named one sentence before the fact (`骆驼商会所在的辖区……`)."""
    chunk = index.chunks[chunk_id]
    if i > 0:
        return chunk.sentences[i - 1].text
    if chunk_id > 0:
        before = index.chunks[chunk_id - 1]
        if before.doc == chunk.doc and before.title == chunk.title and before.sentences:
            return before.sentences[-1].text
    return ""


def choose(
    index: Index,
    q: Question,
    qvec: np.ndarray | None,
    hits: list[Hit],
) -> Choice | None:
    """The best sentence among the hits' sentences (None when there are no hits)."""
    found = candidates(index, q, qvec, hits)
    return found[0] if found else None


def confidence(
    dense: float, top_dense: float, cover: float, sent_cover: float, type_fit: float, q: Question
) -> float:
    """A 0..1 belief that the sentence answers the question.

    e5 cosines sit in a narrow band (about 0.84 unrelated .. 0.96 same content) whatever the
    question, so the sentence's cosine counts both absolutely and relative to the best sentence
    found; a question in another language matches no words, so coverage is not asked of it; a
    missing typed answer (no count of `家` for `多少家`) caps the belief.
    """
    d_rel = min(max(1.0 + (dense - top_dense) / 0.04, 0.0), 1.0)
    if not q.chinese:
        # cross-language cosines sit lower (about 0.70 .. 0.80); only the clearest match counts
        d_abs = min(max((dense - 0.74) / 0.06, 0.0), 1.0)
        base = d_abs * (0.5 + 0.5 * d_rel)
    else:
        d_abs = min(max((dense - 0.84) / 0.12, 0.0), 1.0)
        base = 0.3 * d_abs + 0.2 * d_rel + 0.35 * cover + 0.15 * sent_cover
    fit = type_fit if q.qtype != "other" else max(type_fit, 0.7)
    return float(base * (0.25 + 0.75 * fit))
