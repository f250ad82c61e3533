"""Rank passages for a question: dense, lexical, or both fused by reciprocal rank.

Each ranker is asked only for its top few dozen passages (`fetch_size`), never for a score of
every passage, so any store fits behind it: exact or approximate FAISS, or a remote server.
Reciprocal-rank fusion needs no score calibration between a cosine and a BM25 score, which have
unrelated scales; it rewards passages that both rankings place high. When the question is not
Chinese, jieba tokens match almost nothing in a Chinese corpus, so the lexical ranking gets a
smaller weight and the multilingual encoder carries the question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.core.modes import Mode
from qa.index import Index

RRF_K = 20
# How many passages each ranker returns, per passage the answer stage looks at, and at least:
# fusion only needs a passage's rank where it is near the top of some ranking.
FETCH_PER_ANSWER = 10
MIN_FETCH = 50


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage; `score` is the mode's own score: fused reciprocal rank scaled to 0..1
    (hybrid), cosine (dense) or BM25 (lexical). `dense` and `lexical` are the passage's cosine
    and BM25 score (0 where the mode did not use that ranker)."""

    chunk_id: int
    score: float
    dense: float
    lexical: float


def fetch_size(k: int) -> int:
    return max(FETCH_PER_ANSWER * k, MIN_FETCH)


def _ranked(scores: np.ndarray, ids: np.ndarray) -> dict[int, float]:
    """`{id: score}` best first, ties broken by id (so results never depend on a store's order)."""
    keep = ids >= 0
    scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))
    return {int(ids[i]): float(scores[i]) for i in order}


def rank(
    index: Index,
    query_vec: np.ndarray | None,
    query_tokens: list[str],
    mode: Mode | str = Mode.HYBRID,
    k: int = 5,
    lexical_weight: float = 1.0,
) -> list[Hit]:
    """The top `k` passages for a question under `mode`."""
    mode = Mode.parse(mode)
    if not index.chunks or k <= 0:
        return []
    fetch = fetch_size(k)
    dense: dict[int, float] = {}
    lexical: dict[int, float] = {}
    if query_vec is not None and mode != Mode.LEXICAL:
        scores, ids = index.passages.search(np.asarray(query_vec)[None, :], fetch)
        dense = _ranked(scores[0], ids[0])
    if mode != Mode.DENSE:
        lexical = _ranked(*index.lexical.search(query_tokens, fetch))
    if mode == Mode.DENSE:
        fused = dense
    elif mode == Mode.LEXICAL:
        fused = lexical  # only passages sharing a word: BM25 zero is not a hit
    else:
        fused = {}
        for r, i in enumerate(dense, start=1):
            fused[i] = 1.0 / (RRF_K + r)
        for r, i in enumerate(lexical, start=1):
            fused[i] = fused.get(i, 0.0) + lexical_weight / (RRF_K + r)
        # scale so that first in both rankings scores 1.0: a score users can read
        scale = (RRF_K + 1) / (1.0 + lexical_weight)
        fused = {i: s * scale for i, s in fused.items()}
    top = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    if mode == Mode.HYBRID and query_vec is not None:
        missing = [i for i in top if i not in dense]
        if missing:  # fused in by BM25 alone: its cosine is still a feature of the answer
            vecs = index.passages.get(missing)
            dense.update(zip(missing, (vecs @ np.asarray(query_vec)).tolist(), strict=True))
    return [Hit(i, fused[i], dense.get(i, 0.0), lexical.get(i, 0.0)) for i in top]
