"""A read-only sequence of chunks read one at a time from somewhere slow, with an LRU in front.

Why one base: an open index reads chunks by id from a file (`qa.chunk_table.ChunkTable`) or from
Milvus (`qa.stores.milvus_chunks.MilvusChunks`). A question touches the few chunks it retrieves,
and its retrieval, feature and citation steps read the same few again, so both keep the recently
read ones; the chat answers from several threads, so the cache and the reader share one lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from qa.core.records import Chunk

CACHE_SIZE = 4096


class CachedChunks(Sequence[Chunk]):
    """Subclasses give `__len__` and `_read(i)`, which is called under the lock."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._cache: OrderedDict[int, Chunk] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def _read(self, i: int) -> Chunk:
        raise NotImplementedError

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        with self._lock:
            hit = self._cache.get(i)
            if hit is not None:
                self._cache.move_to_end(i)
                return hit
            chunk = self._read(i)
            self._cache[i] = chunk
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return chunk

    def __bool__(self) -> bool:
        return len(self) > 0
