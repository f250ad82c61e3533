"""The first `VectorStore`: FAISS inner product over L2-normalised vectors (= cosine).

An exact `IndexFlatIP` is the right tool at seeds scale (thousands of passages search in well
under a millisecond); it sits inside an `IndexIDMap2` so passages keep their own ids through
upserts and deletes, and so vectors can be read back by id (the answer features compare the
question with each sentence of the passages retrieved).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

FILE = "vectors.faiss"


class FaissStore:
    """Cosine search over vectors by id, saved as one FAISS file in a folder."""

    kind: ClassVar[str] = "faiss"

    def __init__(self, index) -> None:
        self._index = index

    @classmethod
    def create(cls, dim: int) -> FaissStore:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        self.delete(ids)  # upsert: an id is never stored twice
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def delete(self, ids: Sequence[int]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and len(self):
            self._index.remove_ids(ids)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(int(k), len(self))
        if k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        scores, ids = self._index.search(q, k)
        return scores, ids

    def get(self, ids: Sequence[int]) -> np.ndarray:
        # one call for the batch: the answer features read every sentence of 5 passages this way
        keys = np.asarray(list(ids), dtype=np.int64)
        if not len(keys):
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(keys), dtype=np.float32)

    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(folder / FILE))

    @classmethod
    def load(cls, folder: Path) -> FaissStore:
        import faiss

        return cls(faiss.read_index(str(folder / FILE)))
