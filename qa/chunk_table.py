"""Chunk records on disk, read by id: an open index does not parse every chunk.

`chunks.jsonl` holds one JSON record per chunk in id order; `chunk_offsets.npy` the byte offset
of each line (and the file's length last), so chunk `i` is one seek and one line. A question
touches the few chunks it retrieves; an index of a million passages opens without reading a
gigabyte of JSON. Recently read chunks are kept (an LRU), since the retrieval, feature and
citation steps of one answer read the same few.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

import numpy as np

from qa.core.cached_chunks import CACHE_SIZE, CachedChunks
from qa.core.records import Chunk, Sentence

CHUNKS = "chunks.jsonl"
OFFSETS = "chunk_offsets.npy"


def write_chunks(folder: Path, chunks: Iterable[Chunk]) -> np.ndarray:
    """Write the records and their offsets; returns each chunk's sentence count."""
    offsets, counts = [0], []
    with open(folder / CHUNKS, "wb") as fh:
        for c in chunks:
            line = (json.dumps(asdict(c), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
            counts.append(len(c.sentences))
    np.save(folder / OFFSETS, np.asarray(offsets, dtype=np.int64))
    return np.asarray(counts, dtype=np.int64)


def chunk_from(rec: dict) -> Chunk:
    rec = dict(rec)
    rec["sentences"] = tuple(Sentence(**s) for s in rec["sentences"])
    rec["headings"] = tuple(rec.get("headings") or ())
    return Chunk(**rec)


class ChunkTable(CachedChunks):
    """The chunks of a version folder as a read-only sequence, each parsed on first access."""

    def __init__(self, folder: Path) -> None:
        super().__init__(CACHE_SIZE)
        self._offsets = np.load(Path(folder) / OFFSETS, mmap_mode="r")
        # opened now, not on first read: a rebuild removes superseded versions, and an open
        # handle keeps this version readable for answers still using it (POSIX)
        self._fd = os.open(Path(folder) / CHUNKS, os.O_RDONLY)
        self._close = weakref.finalize(self, os.close, self._fd)  # closed with the table

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _read(self, i: int) -> Chunk:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return chunk_from(json.loads(os.pread(self._fd, end - start, start)))

    def __iter__(self) -> Iterator[Chunk]:
        """All chunks in order, streamed (not cached): for the few callers that need every one.
        Read through the handle held since opening; parsing, not the read, is the cost."""
        for i in range(len(self)):
            yield self._read(i)

    def close(self) -> None:
        """Release the file now rather than when the table is collected; no reads after this."""
        with self._lock:
            self._close()
