"""Rank passages for a question: dense (FAISS), lexical (BM25) or both fused by reciprocal rank.

Reciprocal-rank fusion needs no score calibration between a cosine and a BM25 score, which have
unrelated scales; it rewards passages that both rankings place high. When the question is not
Chinese, jieba tokens match almost nothing in a Chinese corpus, so the lexical ranking gets a
smaller weight and the multilingual encoder carries the question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index import Index

MODES = ("hybrid", "dense", "lexical")
RRF_K = 20


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked passage; `score` is the mode's own score: fused reciprocal rank scaled to 0..1
    (hybrid), cosine (dense) or BM25 (lexical)."""

    chunk_id: int
    score: float
    dense: float
    lexical: float


def _ranks(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """1-based rank of every passage by score; passages not `valid` get rank 0 (no credit)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    ranks[~valid] = 0
    return ranks


def rank(
    index: Index,
    query_vec: np.ndarray | None,
    query_tokens: list[str],
    mode: str = "hybrid",
    k: int = 5,
    lexical_weight: float = 1.0,
) -> list[Hit]:
    """The top `k` passages for a question under `mode`."""
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}")
    n = len(index.chunks)
    if n == 0 or k <= 0:
        return []
    dense = (
        index.dense.all_scores(query_vec)
        if query_vec is not None and mode != "lexical"
        else np.zeros(n, np.float32)
    )
    lexical = (
        index.lexical.scores(query_tokens) if mode != "dense" else np.zeros(n, np.float32)
    )
    if mode == "dense":
        fused = dense
    elif mode == "lexical":
        fused = lexical
    else:
        rd = _ranks(dense, np.ones(n, bool))
        rl = _ranks(lexical, lexical > 0)
        fused = 1.0 / (RRF_K + rd)
        fused = fused + np.where(rl > 0, lexical_weight / (RRF_K + np.maximum(rl, 1)), 0.0)
        # scale so that first in both rankings scores 1.0: a score users can read
        fused = fused * (RRF_K + 1) / (1.0 + lexical_weight)
    order = np.argsort(-fused, kind="stable")[:k]
    if mode == "lexical":
        order = [i for i in order if lexical[i] > 0]  # BM25 zero = no shared word: not a hit
    return [Hit(int(i), float(fused[i]), float(dense[i]), float(lexical[i])) for i in order]
