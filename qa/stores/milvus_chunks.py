"""Chunk records in Milvus: what a process needs beside the vectors and BM25 to answer with no
local index files (a second machine with only the encoder).

A build on Milvus copies its sealed version's `chunks.jsonl` into one more collection of its set
(`<passages collection>_chunks`: the chunk id, its JSON record exactly as on disk, the id of its
first sentence), and the jieba terms it taught the tokenizer into `seedqa_live` rows, before the
set is switched (`qa.stores.milvus_live`). A reader then gets a chunk by id (one primary-key
lookup, kept in an LRU as `qa.chunk_table.ChunkTable` does) and the sentence offsets once at open.
The records are those of the local file byte for byte, so answers are the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from qa.core.cached_chunks import CACHE_SIZE, CachedChunks
from qa.core.errors import SeedQAError
from qa.core.records import Chunk

MAX_RECORD = 65535  # bytes of a VARCHAR field
BATCH = 2000  # rows per insert
GET_BATCH = 1000
TERMS_PART = 60000  # characters of the terms' JSON per `seedqa_live` row


def chunks_collection(passages: str) -> str:
    return f"{passages}_chunks"


def write(client, collection: str, owner: str, chunks: Path, offsets: np.ndarray) -> None:
    """Create `collection` and copy the chunk records of the file `chunks` (one JSON line per
    chunk, in id order: a version's `chunks.jsonl`) into it."""
    from pymilvus import DataType

    from qa.stores.milvus_live import record_collection

    # the description names the owner, so the set's sweep drops it with the other collections
    record_collection(client, collection, owner, ("id", DataType.INT64, {}), MAX_RECORD,
                      (("sent_lo", DataType.INT64, {}),))
    rows: list[dict] = []
    with open(chunks, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            record = line.rstrip("\n")
            if len(record.encode("utf-8")) > MAX_RECORD:
                raise SeedQAError(f"chunk {i} has a record of {len(record.encode())} bytes; "
                                  f"Milvus holds at most {MAX_RECORD} a chunk")
            rows.append({"id": i, "record": record, "sent_lo": int(offsets[i]),
                         "unused": [0.0, 0.0]})
            if len(rows) == BATCH:
                client.insert(collection, rows)
                rows = []
    if rows:
        client.insert(collection, rows)
    # no flush: Strong reads see the rows and Milvus' log keeps them (~3 s a flush on a server)


def terms_rows(primary: str, terms: list[str]) -> list[dict]:
    """The jieba terms of a version as `seedqa_live` rows `<primary>#terms#<k>`."""
    text = json.dumps(terms, ensure_ascii=False)
    parts = [text[s:s + TERMS_PART] for s in range(0, len(text), TERMS_PART)] or ["[]"]
    return [{"name": f"{primary}#terms#{k}", "record": part, "unused": [0.0, 0.0]}
            for k, part in enumerate(parts)]


def read_terms(client, live: str, primary: str, parts: int) -> list[str]:
    names = [f"{primary}#terms#{k}" for k in range(parts)]
    rows = {r["name"]: r["record"] for r in client.get(live, ids=names, output_fields=["record"])}
    return json.loads("".join(rows[n] for n in names))


def read_offsets(client, collection: str, n: int, total: int) -> np.ndarray:
    """Each chunk's first sentence id, and the number of sentences last (as
    `sentence_offsets.npy`)."""
    out = np.empty(n + 1, dtype=np.int64)
    for s in range(0, n, GET_BATCH):
        ids = list(range(s, min(n, s + GET_BATCH)))
        for r in client.get(collection, ids=ids, output_fields=["sent_lo"]):
            out[int(r["id"])] = int(r["sent_lo"])
    out[n] = total
    return out


class MilvusChunks(CachedChunks):
    """The chunks of a version in Milvus as a read-only sequence, each fetched on first access."""

    def __init__(self, client, collection: str, n: int, parse: Callable[[dict], Chunk]) -> None:
        """`parse` turns a record back into a `Chunk` (`qa.chunk_table.chunk_from`)."""
        super().__init__(CACHE_SIZE)
        self._client, self._collection, self._n, self._parse = client, collection, int(n), parse

    def __len__(self) -> int:
        return self._n

    def _fetch(self, ids: list[int]) -> dict[int, Chunk]:
        rows = self._client.get(self._collection, ids=ids, output_fields=["record"])
        return {int(r["id"]): self._parse(json.loads(r["record"])) for r in rows}

    def _read(self, i: int) -> Chunk:
        got = self._fetch([i])
        if i not in got:
            raise SeedQAError(f"Milvus collection {self._collection} has no chunk {i}; "
                              "rebuild the index")
        return got[i]

    def __iter__(self) -> Iterator[Chunk]:
        """All chunks in order, fetched a batch at a time (not cached)."""
        for s in range(0, self._n, GET_BATCH):
            got = self._fetch(list(range(s, min(self._n, s + GET_BATCH))))
            yield from (got[i] for i in sorted(got))

    def close(self) -> None:
        with self._lock:
            self._cache.clear()
