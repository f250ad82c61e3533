"""A `VectorStore` for vectors that are read by id and never searched: the sentence vectors.

The answer stage reads the vectors of the sentences of the few passages retrieved; nothing ever
searches all sentences. A FAISS index for them held every vector in memory (a million passages
have about five million sentences: 7.7 GB in float32). Here they are one float16 `.npy` file:
opening reads nothing, and a question reads only its passages' rows (with `pread`, see
`qa.stores.npy_rows`). float16
keeps cosine to the float32 vectors above 0.9999: `seedqa eval` (hybrid) on the fit questions gave
the same figures as float32 FAISS within 0.0005 (dev and seeds fit identical; CMRC fit sentence
accuracy 0.754 both, DRCD fit 0.8451 vs 0.8447, span F1 within 0.0005).

Ids are row numbers (sentence ids are contiguous by construction). `search` exists for the
protocol's sake and is exact (a scan), so this store is also correct, if slow, for a small corpus.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from qa.stores.npy_rows import NpyRows

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
        self._folder = folder  # where `_vectors` is written in place, if it is
        self._fd: int | None = None  # open for `pwrite` while written in place
        self._offset = 0
        self._rows: NpyRows | None = None  # a saved file's rows, read with pread (see load)

    @classmethod
    def create(cls, dim: int, folder: Path | None = None, size: int = 0) -> ArrayStore:
        """An empty store; with `folder` and `size`, rows are written straight into the file
        it will be saved as (a build of millions of sentences never holds them in memory), and
        every row must be added before `save`."""
        if folder is None or size <= 0:
            return cls(np.zeros((0, dim), dtype=DTYPE))
        Path(folder).mkdir(parents=True, exist_ok=True)
        path = Path(folder) / FILE
        header = np.lib.format.open_memmap(path, mode="w+", dtype=DTYPE, shape=(size, dim))
        offset = int(header.offset)
        del header  # rows are written with pwrite, not through a writable map: every page a
        # map has written stays in this process's resident memory (4.5 GB for a million
        # passages' sentences); written with pwrite they are the page cache's
        store = cls(np.load(path, mmap_mode="r"), np.zeros(size, dtype=bool), Path(folder))
        store._fd, store._offset = os.open(path, os.O_RDWR), offset
        return store

    @property
    def dim(self) -> int:
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return int(self._present.sum())

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return
        self._rows = None  # the file no longer holds every row
        top = int(ids.max()) + 1
        if self._fd is not None and top <= len(self._vectors):
            self._write_rows(ids, vectors)
            return
        if self._fd is not None:  # grown past its file: an ordinary in-memory store from now
            self._close()
            self._vectors = np.array(self._vectors)
            self._folder = None
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

    def _write_rows(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        rows = np.asarray(vectors, dtype=np.float32).astype(DTYPE).reshape(len(ids), self.dim)
        row_bytes = self.dim * np.dtype(DTYPE).itemsize
        if len(ids) > 1 and (np.diff(ids) == 1).all():  # a run of rows: one write
            pieces = [(int(ids[0]), rows)]
        else:
            pieces = [(int(i), rows[j: j + 1]) for j, i in enumerate(ids)]
        for first, block in pieces:
            data = np.ascontiguousarray(block).tobytes()
            at = self._offset + first * row_bytes
            while data:
                n = os.pwrite(self._fd, data, at)
                data, at = data[n:], at + n
        self._present[ids] = True

    def _close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None

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

    def prefetch(self, spans: Iterable[tuple[int, int]]) -> None:
        """Ask the kernel to read rows `[lo, hi)` of each span now, all at once.

        A question reads the sentence rows of its ~5 passages, scattered over a file that at a
        million passages (3.7 GB) is mostly not in memory: read one after the other, each cost a
        disk round trip (~10 ms a question at 1M passages). Announced together, the reads
        overlap. A hint only, for a saved store (every opened index); rows in memory need none."""
        if self._rows is not None:
            for lo, hi in spans:
                self._rows.will_need(lo, hi)

    def get(self, ids: Sequence[int]) -> np.ndarray:
        if isinstance(ids, range) and ids.step == 1:  # a chunk's sentences: one slice
            if self._rows is not None:
                return self._rows.read(ids.start, ids.stop).astype(np.float32)
            return np.asarray(self._vectors[ids.start: ids.stop], dtype=np.float32)
        keys = np.asarray(list(ids), dtype=np.int64)
        return np.asarray(self._vectors[keys], dtype=np.float32).reshape(len(keys), self.dim)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self._folder is not None and Path(folder).resolve() == self._folder.resolve():
            self._close()  # already in place
        else:
            np.save(folder / FILE, np.ascontiguousarray(self._vectors))
        if not self._present.all():
            np.save(folder / "present.npy", self._present)

    @classmethod
    def load(cls, folder: Path) -> ArrayStore:
        vectors = np.load(folder / FILE, mmap_mode="r")
        present = np.load(folder / "present.npy") if (folder / "present.npy").exists() else None
        store = cls(vectors, present)
        store._rows = NpyRows(folder / FILE)  # a chunk's rows by pread (`qa.stores.npy_rows`)
        return store
