"""The first `LexicalStore`: BM25 (`bm25s`) over token lists, searched top-k.

Scoring is delegated to `bm25s` (sparse matrices, numpy) rather than written here. bm25s indexes
a whole corpus at once, so the token lists are saved beside its matrices, as integer ids
(`qa.stores.token_ids`): loading reads the matrices only, and an upsert or delete re-indexes
from the token lists (read on first need). A build of a million passages never holds them as
strings: `Bm25Store.build` writes bm25s' matrices from the id files in blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from qa.stores.npy_rows import NpyRows
from qa.stores.token_ids import TokenIds, build_bm25

K1, B = 1.2, 0.75
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
        self._postings: tuple[NpyRows, NpyRows] | None = None  # (doc ids, scores) of a saved matrix
        self._reindex()

    def _reindex(self) -> None:
        import bm25s

        self._bm25 = bm25s.BM25(k1=K1, b=B)
        self._postings = None  # the matrix is in memory now, not the saved one
        if self._tokens:
            # an empty passage still needs a row, or rows and ids would drift apart
            self._bm25.index([t or [""] for t in self._tokens], show_progress=False)

    def _corpus(self) -> list[list[str]]:
        if self._tokens is None:  # loaded from disk: the token lists are read on first edit
            self._tokens = list(TokenIds.load(self._folder))
        return self._tokens

    @classmethod
    def build(cls, folder: Path, ids: Sequence[int], tokens: TokenIds) -> Bm25Store:
        """The store of `tokens` (id files already written into `folder` by a
        `qa.stores.token_ids.TokenIdWriter`), its matrices built from the ids in blocks and
        saved there: what `Bm25Store(ids, lists).save(folder)` gives, without the lists."""
        folder = Path(folder)
        if len(ids) != len(tokens):
            raise ValueError(f"{len(ids)} ids for {len(tokens)} token lists")
        np.save(folder / IDS, np.asarray(ids, dtype=np.int64))
        if len(ids):
            build_bm25(tokens, folder / MATRIX, K1, B)
        return cls.load(folder)

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

    def vocabulary(self) -> list[str]:
        """Every token of the indexed passages (bm25s' vocabulary, without the empty token)."""
        if not len(self._ids):
            return []
        return [t for t in self._bm25.vocab_dict if t]

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages with a positive score, best first (ties by id)."""
        known = [t for t in tokens if len(self._ids) and t in self._bm25.vocab_dict]
        if not known or k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores = self._scores(known)
        # only the positive rows can be returned, and only the k best of them need sorting:
        # sorting every passage cost more than the scoring itself at 100k passages
        rows = np.flatnonzero(scores > 0)
        k = int(k)
        if len(rows) > k:
            kth = np.partition(scores[rows], len(rows) - k)[len(rows) - k]
            rows = rows[scores[rows] >= kth]  # ties at the k-th score stay, sorted by id below
        ids = np.asarray(self._ids[rows])
        order = rows[np.lexsort((ids, -scores[rows]))][:k]
        return scores[order], np.asarray(self._ids[order])

    def _scores(self, known: Sequence[str]) -> np.ndarray:
        """bm25s' `get_scores` for the numpy backend, bit for bit: each query token's column
        added in query order with `np.add.at` (numpy 2's `add.at` is ~3x faster than a
        fancy-index `+=` on a column of 100k of 1M passages, and both give the same sums)."""
        bm = self._bm25
        vocab = bm.vocab_dict
        data, indices, indptr = bm.scores["data"], bm.scores["indices"], bm.scores["indptr"]
        tids = [vocab[t] for t in known]
        if max(tids) >= len(indptr) - 1:  # "" without a column: bm25s refuses it too
            return np.asarray(bm.get_scores(list(known)), dtype=np.float32)
        scores = np.zeros(int(bm.scores["num_docs"]), dtype=np.dtype(bm.dtype))
        postings = self._postings
        for t in tids:
            lo, hi = int(indptr[t]), int(indptr[t + 1])
            if postings is not None:  # read, not mapped (see `qa.stores.npy_rows`)
                np.add.at(scores, postings[0].read(lo, hi), postings[1].read(lo, hi))
            else:
                np.add.at(scores, indices[lo:hi], data[lo:hi])
        if bm.nonoccurrence_array is not None:
            scores += bm.nonoccurrence_array[np.asarray(tids)].sum()
        return np.asarray(scores, dtype=np.float32)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / IDS, self._ids)
        TokenIds.write(folder, self._corpus())
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
        store._postings = None
        if len(store._ids):
            matrix = folder / MATRIX
            store._postings = (NpyRows(matrix / "indices.csc.index.npy"),
                               NpyRows(matrix / "data.csc.index.npy"))
        return store
