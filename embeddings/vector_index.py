"""The dense index: FAISS inner product over L2-normalised vectors (= cosine similarity).

An exact `IndexFlatIP` is the right tool at this scale (thousands of passages search in well under
a millisecond); an approximate index would trade recall for speed we do not need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class VectorIndex:
    """Cosine search over passage vectors, saved as one FAISS file."""

    def __init__(self, index) -> None:
        self._index = index

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray) -> VectorIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(vectors)
        return cls(index)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        import faiss

        return cls(faiss.read_index(str(path)))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`(scores, ids)` of the `k` nearest passages, best first (ids only of real passages)."""
        k = min(k, len(self))
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(q, k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def all_scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine of the query with every passage, in id order (for fusion over all passages)."""
        scores, ids = self.search(query, len(self))
        out = np.full(len(self), -1.0, dtype=np.float32)
        out[ids] = scores
        return out
