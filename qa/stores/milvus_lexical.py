"""A second `LexicalStore`: BM25 inside Milvus (its full-text search), beside `MilvusStore`.

With `--store milvus` the passages' keyword index lives in Milvus too, so a second process (or,
with a server URI, a second machine) needs only the `milvus.json` pointer, not BM25 files.

Tokens: seedqa tokenises (jieba search mode, one script, lower case, stopwords dropped) and
Milvus must not tokenise again, so each passage is stored as its tokens joined by single spaces
in a VARCHAR field under the `whitespace` tokenizer with no filters (case and punctuation kept),
and a BM25 `Function` turns that field into a SPARSE_FLOAT_VECTOR (SPARSE_INVERTED_INDEX, metric
BM25, k1 and b as in `Bm25Store`). A query is sent as raw text the same way. A token holding what
the tokenizer would split on (whitespace), what milvus-lite truncates a string at (NUL and other
control characters), quotes and backslashes (pymilvus writes primary keys into a filter
expression unescaped) or `%` itself is escaped (`%XX`, `%uXXXX`), so every token is one Milvus
term and two different tokens never meet. The empty token, which `Bm25Store` gives an empty
passage so it keeps a row and a length of one, is a lone `%`, which no escaped token can be.

Scores: Milvus' BM25 is Lucene's, as bm25s' default, but multiplied by (k1 + 1); dividing it out
gives bm25s' numbers (same IDF, same length normalisation), so rankings and the lexical feature
scale are unchanged. Ties are broken by id, as `Bm25Store` does, fetching past the k-th score
when it is tied.

Document frequencies: the answer features ask `doc_freq` for every question word. Milvus keeps
its BM25 statistics to itself, and counting matches at query time (TEXT_MATCH is not in
milvus-lite; an ARRAY_CONTAINS filter scans every passage) costs a scan per word. So a second
collection maps each (escaped) token to its document frequency, maintained on every add and
delete from the old and new token sets; `doc_freq` is one primary-key lookup, cached in the
process until this store writes again.

Life cycle as `MilvusStore`: passages added before the first `save` are kept (and searched, by
an in-memory `Bm25Store`) in memory; `save(folder)` creates both collections in the Milvus of
`_resolve` (by default `milvus.db` beside the index versions), inserts them and writes
`folder/milvus.json`; `load(folder)` reconnects. A save sweeps the collections of versions since
deleted (`qa.stores.milvus_store.sweep`).
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from qa.core.errors import SeedQAError
from qa.stores.bm25_store import K1, B, Bm25Store
from qa.stores.milvus_store import (
    BATCH,
    FILE,
    MAX_TOPK,
    PREFIX,
    MilvusCalls,
    _connect,
    _is_server,
    _resolve,
    release,
    sweep,
)

ANALYZER = {"tokenizer": "whitespace"}
MAX_TEXT = 65535  # bytes of a VARCHAR field
EMPTY = "%"  # the empty token: no escaped token is a lone `%`
GET_BATCH = 1000  # primary keys per `get` (they become one `in [...]` filter expression)
_UNSAFE = frozenset("%\"'\\")


def _escaped(ch: str) -> str:
    """`ch`, or its escape when Milvus would split, cut or misquote a term at it."""
    if ch in _UNSAFE or ch.isspace() or unicodedata.category(ch) in ("Cc", "Cs"):
        return f"%{ord(ch):02X}" if ord(ch) < 0x100 else f"%u{ord(ch):04X}"
    return ch


def encode_token(token: str) -> str:
    """One seedqa token as one whitespace-tokenizer term (see the module docstring)."""
    if not token:
        return EMPTY
    return "".join(_escaped(ch) for ch in token)


_ESCAPE = re.compile(r"%(u[0-9A-F]{4}|[0-9A-F]{2})")


def decode_token(term: str) -> str:
    """The seedqa token of a stored term: `encode_token` undone."""
    if term == EMPTY:
        return ""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1).lstrip("u"), 16)), term)


def _terms(tokens: Sequence[str]) -> list[str]:
    # an empty passage is one empty token, as in `Bm25Store`: a row and a length of one
    return [encode_token(t) for t in tokens] or [EMPTY]


class MilvusBm25Store(MilvusCalls):
    """BM25 over one token list per passage id, scored and stored by Milvus."""

    kind: ClassVar[str] = "milvus-bm25"

    def __init__(self, ids: Sequence[int] = (), tokens: Sequence[Sequence[str]] = ()) -> None:
        # until the first save: id -> tokens, searched by an in-memory Bm25Store
        self._pending: dict[int, list[str]] | None = {}
        self._memory: Bm25Store | None = None
        self._client = None
        self._uri: str | None = None
        self._default = True
        self._owner: str | None = None
        self._collection = f"{PREFIX}{uuid.uuid4().hex}"
        self._count: int | None = None
        self._df: dict[str, int] = {}
        self.add(ids, tokens)

    @property
    def _df_collection(self) -> str:
        return f"{self._collection}_df"

    def _create_collections(self) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        # the description names the index folder that owns the collection (see `sweep`)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                            description=self._owner or "")
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_TEXT, enable_analyzer=True,
                         analyzer_params=ANALYZER)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        params = self._client.prepare_index_params()
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": K1, "bm25_b": B})
        self._call("create_collection", self._client.create_collection, self._collection,
                   schema=schema, index_params=params, consistency_level="Strong")

        # token -> df; Milvus wants a vector field in every collection: a 2-d zero, never searched
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                            description=self._owner or "")
        schema.add_field("token", DataType.VARCHAR, max_length=MAX_TEXT, is_primary=True)
        schema.add_field("df", DataType.INT64)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
        params = self._client.prepare_index_params()
        params.add_index("unused", index_type="FLAT", metric_type="L2")
        self._call("create_collection", self._client.create_collection, self._df_collection,
                   schema=schema, index_params=params, consistency_level="Strong")
        for name in (self._collection, self._df_collection):
            self._call("load_collection", self._client.load_collection, name)

    def _get(self, collection: str, pk: str, keys: list, field: str) -> dict:
        """`field` by primary key `pk` for those of `keys` present."""
        out = {}
        for s in range(0, len(keys), GET_BATCH):
            rows = self._call("get", self._client.get, collection, ids=keys[s:s + GET_BATCH],
                              output_fields=[field])
            out.update((r[pk], r[field]) for r in rows)
        return out

    def _put(self, collection: str, rows: list[dict], insert: bool = False) -> None:
        fn = self._client.insert if insert else self._client.upsert
        for s in range(0, len(rows), BATCH):
            self._call("insert" if insert else "upsert", fn, collection, rows[s:s + BATCH])

    def _write(self, changes: dict[int, list[str] | None], fresh: bool = False) -> None:
        """Upsert (tokens) or delete (None) passages, and move the document frequencies of the
        terms that enter or leave them. Not atomic: a failure midway leaves the frequencies off
        until the index is rebuilt (as any failed build is)."""
        ids = list(changes)
        old = {} if fresh else self._get(self._collection, "id", ids, "text")
        delta: Counter[str] = Counter()
        for text in old.values():
            delta.subtract(set(text.split(" ")))
        rows, gone = [], [i for i, t in changes.items() if t is None and i in old]
        for i, toks in changes.items():
            if toks is None:
                continue
            terms = _terms(toks)
            text = " ".join(terms)
            if len(text.encode("utf-8")) > MAX_TEXT:
                raise SeedQAError(f"passage {i} has {len(text.encode())} bytes of tokens; "
                                  f"Milvus holds at most {MAX_TEXT} a passage")
            delta.update(set(terms))
            rows.append({"id": i, "text": text})
        self._put(self._collection, rows, insert=fresh)
        if gone:
            self._call("delete", self._client.delete, self._collection, ids=gone)
        moved = [t for t, d in delta.items() if d]
        now = {} if fresh else self._get(self._df_collection, "token", moved, "df")
        new = {t: now.get(t, 0) + delta[t] for t in moved}
        self._put(self._df_collection, [{"token": t, "df": n, "unused": [0.0, 0.0]}
                                        for t, n in new.items() if n > 0], insert=fresh)
        dropped = [t for t, n in new.items() if n <= 0 and t in now]
        for s in range(0, len(dropped), GET_BATCH):
            self._call("delete", self._client.delete, self._df_collection,
                       ids=dropped[s:s + GET_BATCH])
        self._count, self._df = None, {}

    # -- the protocol --------------------------------------------------------------------------

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None:
        """Insert passages under `ids`, replacing any already stored under the same id."""
        changes = {int(i): list(t) for i, t in zip(ids, tokens, strict=True)}
        if not changes:
            return
        if self._pending is not None:
            self._pending.update(changes)
            self._memory = None
            return
        self._write(changes)

    def delete(self, ids: Sequence[int]) -> None:
        changes: dict[int, list[str] | None] = {int(i): None for i in ids}
        if not changes:
            return
        if self._pending is not None:
            for i in changes:
                self._pending.pop(i, None)
            self._memory = None
            return
        self._write(changes)

    def _buffer(self) -> Bm25Store:
        if self._memory is None:
            self._memory = Bm25Store(list(self._pending), list(self._pending.values()))
        return self._memory

    def doc_freq(self, token: str) -> int:
        """Passages containing `token`: one primary-key lookup in the df collection."""
        if self._pending is not None:
            return self._buffer().doc_freq(token)
        if token not in self._df:
            term = encode_token(token)
            found = self._get(self._df_collection, "token", [term], "df")
            self._df[token] = int(found.get(term, 0))
        return self._df[token]

    def vocabulary(self) -> list[str]:
        """Every token of the indexed passages: the df collection's keys, read in pages."""
        if self._pending is not None:
            return self._buffer().vocabulary()
        it = self._call("query_iterator", self._client.query_iterator, self._df_collection,
                        batch_size=GET_BATCH * 10, filter="df > 0", output_fields=["token"])
        out: list[str] = []
        try:
            while rows := self._call("query_iterator", it.next):
                out.extend(t for r in rows if (t := decode_token(r["token"])))
        finally:
            it.close()
        return out

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best passages with a positive score, best first (ties by id)."""
        none = np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self._pending is not None:
            return self._buffer().search(tokens, k) if self._pending else none
        k = min(int(k), MAX_TOPK)
        if not tokens or k <= 0:
            return none
        text = " ".join(encode_token(t) for t in tokens)
        limit = k
        while True:
            hits = self._call("search", self._client.search, self._collection, data=[text],
                              anns_field="sparse", limit=limit, output_fields=[],
                              search_params={"metric_type": "BM25"},
                              consistency_level="Strong")[0]
            # Milvus breaks ties its own way: when the k-th score is tied past the limit,
            # fetch more so that sorting by id picks the same passages as `Bm25Store`
            if (len(hits) < limit or limit >= MAX_TOPK
                    or hits[-1]["distance"] < hits[k - 1]["distance"]):
                break
            limit = min(2 * limit, MAX_TOPK)
        pairs = sorted((-float(h["distance"]), int(h["id"])) for h in hits)[:k]
        pairs = [(s, i) for s, i in pairs if s < 0]  # positive scores only
        scores = np.array([-s for s, _ in pairs], dtype=np.float32) / np.float32(K1 + 1)
        return scores, np.array([i for _, i in pairs], dtype=np.int64)

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._client is None:
            self._connect_at(folder)
            sweep(self._client, Path(self._owner), {self._collection, self._df_collection},
                  self._uri or "")
            self._create_collections()
            pending, self._pending, self._memory = self._pending or {}, None, None
            if pending:
                self._write(pending, fresh=True)
            for name in (self._collection, self._df_collection):
                if not _is_server(self._uri):  # a server's log keeps rows; a flush costs ~3 s
                    self._call("flush", self._client.flush, name)
        record = {"uri": self._uri, "default": self._default, "collection": self._collection,
                  "collections": [self._collection, self._df_collection],
                  "analyzer": ANALYZER, "k1": K1, "b": B}
        (folder / FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> MilvusBm25Store:
        folder = Path(folder)
        record = json.loads((folder / FILE).read_text(encoding="utf-8"))
        store = cls()
        store._pending = None
        store._uri, store._default = _resolve(folder, record)
        store._owner = str(folder.resolve().parent.parent)
        store._collection = record["collection"]
        store._client = _connect(store._uri)
        for name in (store._collection, store._df_collection):
            if not store._call("has_collection", store._client.has_collection, name):
                raise SeedQAError(f"Milvus at {store._uri} has no collection {name}; "
                                  "rebuild the index")
            store._call("load_collection", store._client.load_collection, name)
        return store

    @classmethod
    def attach(cls, uri: str, collection: str) -> MilvusBm25Store:
        """The store over existing collections named by a live record, with no local folder."""
        store = cls()
        store._pending = None
        store._uri, store._default = uri, False
        store._collection = collection
        store._client = _connect(uri)
        for name in (store._collection, store._df_collection):
            if not store._call("has_collection", store._client.has_collection, name):
                raise SeedQAError(f"Milvus at {uri} has no collection {name}; rebuild the index")
            store._call("load_collection", store._client.load_collection, name)
        return store

    def close(self) -> None:
        """Let go of Milvus; for a milvus-lite file, release it for other processes (this ends
        every store of this process on that file)."""
        client, self._client = self._client, None
        release(client, self._uri)

    def terms(self, ids: Iterable[int]) -> dict[int, list[str]]:
        """The stored tokens of `ids` (those present), decoded: what Milvus really indexed."""
        ids = [int(i) for i in ids]
        if self._pending is not None:
            return {i: list(self._pending[i]) for i in ids if i in self._pending}
        texts = self._get(self._collection, "id", ids, "text")
        # an empty passage is stored as the empty token (`_terms`); read back as no tokens
        return {i: [] if texts[i] == EMPTY else [decode_token(t) for t in texts[i].split(" ")]
                for i in ids if i in texts}
