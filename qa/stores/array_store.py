"""A `VectorStore` for vectors that are read by id and never searched: the sentence vectors.

The answer stage reads the vectors of the sentences of the few passages retrieved; nothing ever
searches all sentences. A FAISS index for them held every vector in memory (a million passages
have about five million sentences: 7.7 GB in float32). Here they are one float16 `.npy` file,
memory-mapped: opening reads nothing, and a question touches only its passages' rows. float16
keeps cosine to the float32 vectors above 0.9999: `seedqa eval` (hybrid) on the fit questions gave
the same figures as float32 FAISS within 0.0005 (dev and seeds fit identical; CMRC fit sentence
accuracy 0.754 both, DRCD fit 0.8451 vs 0.8447, span F1 within 0.0005).

Ids are row numbers (sentence ids are contiguous by construction). `search` exists for the
protocol's sake and is exact (a scan), so this store is also correct, if slow, for a small corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

FILE = "vectors.npy"
DTYPE = np.float16


class ArrayStore:
    """Vectors by row id in one (memory-mapped) float16 array."""

    kind: ClassVar[str] = "array"

    def __init__(self, vectors: np.ndarray, present: np.ndarray | None = None,
                 folder: Path | None = None) -> None:
        self._vectors = vectors
        n = len(vectors)
        self._present = np.ones(n, dtype=bool) if present is None else present
        self._folder = folder  # where `_vectors` is a writable memory map, if it is one

    @classmethod
    def create(cls, dim: int, folder: Path | None = None, size: int = 0) -> ArrayStore:
        """An empty store; with `folder` and `size`, rows are written straight into the file
        it will be saved as (a build of millions of sentences never holds them in memory), and
        every row must be added before `save`."""
        if folder is None or size <= 0:
            return cls(np.zeros((0, dim), dtype=DTYPE))
        Path(folder).mkdir(parents=True, exist_ok=True)
        vectors = np.lib.format.open_memmap(Path(folder) / FILE, mode="w+", dtype=DTYPE,
                                            shape=(size, dim))
        return cls(vectors, np.zeros(size, dtype=bool), Path(folder))

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return int(self._present.sum())

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        top = int(ids.max()) + 1
        if top > len(self._vectors):  # grow (a copy: a memory-mapped array is read-only)
            grown = np.zeros((top, self.dim), dtype=DTYPE)
            grown[: len(self._vectors)] = self._vectors
            present = np.zeros(top, dtype=bool)
            present[: len(self._present)] = self._present
            self._vectors, self._present = grown, present
        elif not self._vectors.flags.writeable:
            self._vectors = np.array(self._vectors)
        self._vectors[ids] = np.asarray(vectors, dtype=np.float32).astype(DTYPE)
        self._present[ids] = True

    def delete(self, ids: Sequence[int]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < len(self._present))]
        self._present[ids] = False

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        rows = np.flatnonzero(self._present)
        k = min(int(k), len(rows))
        if k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        scores = q @ np.asarray(self._vectors[rows], dtype=np.float32).T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, top, axis=1), rows[top]

    def get(self, ids: Sequence[int]) -> np.ndarray:
        if isinstance(ids, range) and ids.step == 1:  # a chunk's sentences: one slice, no copy
            return np.asarray(self._vectors[ids.start: ids.stop], dtype=np.float32)
        keys = np.asarray(list(ids), dtype=np.int64)
        return np.asarray(self._vectors[keys], dtype=np.float32).reshape(len(keys), self.dim)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._folder is not None and Path(folder).resolve() == self._folder.resolve():
            self._vectors.flush()  # already in place
        else:
            np.save(folder / FILE, np.ascontiguousarray(self._vectors))
        if not self._present.all():
            np.save(folder / "present.npy", self._present)

    @classmethod
    def load(cls, folder: Path) -> ArrayStore:
        vectors = np.load(folder / FILE, mmap_mode="r")
        present = np.load(folder / "present.npy") if (folder / "present.npy").exists() else None
        return cls(vectors, present)
