"""The first `LexicalStore`: BM25 (`bm25s`) over token lists, searched top-k.

Scoring is delegated to `bm25s` (sparse matrices, numpy) rather than written here. bm25s indexes
a whole corpus at once, so the token lists are saved beside its matrices: loading reads the
matrices only, and an upsert or delete re-indexes from the token lists (read on first need).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

K1, B = 1.2, 0.75
TOKENS = "tokens.jsonl"
IDS = "ids.npy"
MATRIX = "bm25s"


class Bm25Store:
    """BM25 over one token list per passage id."""

    kind: ClassVar[str] = "bm25"

    def __init__(self, ids: Sequence[int] = (), tokens: Sequence[Sequence[str]] = ()) -> None:
        self._ids = np.asarray(ids, dtype=np.int64)
        self._tokens: list[list[str]] | None = [list(t) for t in tokens]
        self._folder: Path | None = None
        self._bm25 = None
        self._reindex()

    def _reindex(self) -> None:
        import bm25s

        self._bm25 = bm25s.BM25(k1=K1, b=B)
        if self._tokens:
            # an empty passage still needs a row, or rows and ids would drift apart
            self._bm25.index([t or [""] for t in self._tokens], show_progress=False)

    def _corpus(self) -> list[list[str]]:
        if self._tokens is None:  # loaded from disk: the token lists are read on first edit
            with open(self._folder / TOKENS, encoding="utf-8") as fh:
                self._tokens = [json.loads(line) for line in fh if line.strip()]
        return self._tokens

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        corpus = self._corpus()
        new = set(map(int, ids))
        keep = [r for r, i in enumerate(self._ids) if int(i) not in new]
        self._ids = np.concatenate([self._ids[keep], np.asarray(ids, dtype=np.int64)])
        self._tokens = [corpus[r] for r in keep] + [list(t) for t in tokens]
        self._reindex()

    def delete(self, ids: Sequence[int]) -> None:
        corpus = self._corpus()
        gone = set(map(int, ids))
        keep = [r for r, i in enumerate(self._ids) if int(i) not in gone]
        self._ids = self._ids[keep]
        self._tokens = [corpus[r] for r in keep]
        self._reindex()

    def doc_freq(self, token: str) -> int:
        """Passages containing `token`, read off the BM25 matrix (its column's non-zeros)."""
        if not len(self._ids):
            return 0
        tid = self._bm25.vocab_dict.get(token)
        indptr = self._bm25.scores["indptr"]
        if tid is None or tid + 1 >= len(indptr):
            return 0
        return int(indptr[tid + 1] - indptr[tid])

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages with a positive score, best first (ties by id)."""
        known = [t for t in tokens if len(self._ids) and t in self._bm25.vocab_dict]
        if not known or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = np.asarray(self._bm25.get_scores(known), dtype=np.float32)
        order = np.lexsort((self._ids, -scores))
        order = [r for r in order[: int(k)] if scores[r] > 0]
        return scores[order], self._ids[order]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / IDS, self._ids)
        with open(folder / TOKENS, "w", encoding="utf-8") as fh:
            for toks in self._corpus():
                fh.write(json.dumps(toks, ensure_ascii=False) + "\n")
        if len(self._ids):
            self._bm25.save(str(folder / MATRIX), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> Bm25Store:
        import bm25s

        store = cls.__new__(cls)
        store._ids = np.load(folder / IDS, mmap_mode="r")
        store._tokens, store._folder = None, folder
        store._bm25 = (
            # memory-mapped: opening reads no matrix, a query touches its tokens' columns only
            bm25s.BM25.load(str(folder / MATRIX), mmap=True, show_progress=False, verbosity=0)
            if len(store._ids) else bm25s.BM25(k1=K1, b=B)
        )
        return store
