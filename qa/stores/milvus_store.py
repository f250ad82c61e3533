"""A second `VectorStore`: Milvus through `pymilvus.MilvusClient`, embedded or on a server.

The same client speaks to an embedded milvus-lite file and to a Milvus server or cluster URI.
Where the data lives:

- default: a milvus-lite file `milvus.db` beside the index versions (`<index_dir>/milvus.db`;
  a store saved in `<index_dir>/<version>/passages` puts it at `folder.parent.parent`);
- `SEEDQA_MILVUS_URI`: another milvus-lite file (`/path/x.db`) or a server (`http://host:19530`),
  with `SEEDQA_MILVUS_TOKEN` for a secured one; `SEEDQA_MILVUS_TIMEOUT` (seconds, default 10)
  bounds the wait for a server.

Each store is one collection (`seedqa_<uuid>`: fields `id` INT64 primary and `vector`
FLOAT_VECTOR, inner product: a FLAT index in milvus-lite, the only one it has, and HNSW on a
server, see `HNSW`). `create(dim)`
does not know where the index will live, so vectors added before the first `save` are kept in
memory (and searched exactly there); `save(folder)` creates the collection, inserts them and
writes `folder/milvus.json` (URI and collection name: the vectors themselves live in Milvus);
`load(folder)` reconnects. After that every call goes to Milvus. A save also drops the
collections this index folder made for versions that no longer exist (the version folders are
deleted by `qa.core.versioned` without telling the store).

milvus-lite serves one process per file: a second process gets a one-line `SeedQAError`.
`close()` releases the file in this process (for every store on it).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from qa.core.errors import SeedQAError
from qa.stores import milvus_chunks
from qa.stores.milvus_live import forget, publish, resolve, set_name
from qa.stores.milvus_live import is_server as _is_server
from qa.stores.milvus_live import one_line as _one_line

FILE = "milvus.json"
DB = "milvus.db"
PREFIX = "seedqa_"
URI_ENV, TOKEN_ENV, TIMEOUT_ENV = "SEEDQA_MILVUS_URI", "SEEDQA_MILVUS_TOKEN", "SEEDQA_MILVUS_TIMEOUT"
BATCH = 2000
MAX_TOPK = 16384  # Milvus' limit on k
# The passage index on a server: HNSW, Milvus' usual choice for interactive search (no training
# step, so a collection is searchable as soon as it is filled; recall@10 ~0.99 at ef 128 on
# 384-d text vectors). milvus-lite has only FLAT (exact). Recorded in `milvus.json`.
HNSW = {"M": 16, "efConstruction": 200}
HNSW_EF = 128  # search breadth; Milvus wants it >= k, so it is raised to k when k is larger
FLAT = {"type": "FLAT"}
def _resolve(folder: Path, recorded: dict | None = None) -> tuple[str, bool]:
    """`(uri, is_default)`: the environment wins, then a URI recorded at save, then the
    milvus-lite file beside the index versions."""
    env = os.environ.get(URI_ENV, "").strip()
    if env:
        return (env if _is_server(env) else str(Path(env).expanduser().resolve())), False
    if recorded and not recorded.get("default", True):
        return recorded["uri"], False
    return str(Path(folder).resolve().parent.parent / DB), True


def _connect(uri: str):
    """A `MilvusClient` on `uri`, or a one-line `SeedQAError` saying what to do."""
    with warnings.catch_warnings():  # milvus-lite imports pkg_resources (setuptools<81)
        warnings.simplefilter("ignore")
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise SeedQAError(
                "the milvus store needs pymilvus and milvus-lite; "
                "install them with: pip install 'seedqa[milvus]'") from exc
        if not _is_server(uri):
            if not uri.endswith(".db"):
                raise SeedQAError(f"{URI_ENV}={uri} is neither a server URI (http://host:19530) "
                                  "nor a milvus-lite file ending in .db")
            if not Path(uri).parent.is_dir():
                raise SeedQAError(f"cannot open milvus-lite file {uri}: its folder does not exist")
        timeout = float(os.environ.get(TIMEOUT_ENV) or 10)
        quiet = logging.getLogger("pymilvus.milvus_client")  # it logs its own error first
        level, quiet.level = quiet.level, logging.CRITICAL
        try:
            return MilvusClient(uri=uri, token=os.environ.get(TOKEN_ENV, ""), timeout=timeout)
        except Exception as exc:
            if not _is_server(uri):
                raise SeedQAError(
                    f"cannot open milvus-lite file {uri}: another process has it open "
                    "(milvus-lite serves one process at a time); stop that process, or set "
                    f"{URI_ENV} to a Milvus server") from exc
            raise SeedQAError(
                f"cannot reach Milvus at {uri} within {timeout:g} s; start the server, or fix "
                f"{URI_ENV} (and {TOKEN_ENV} for a secured server)") from exc
        finally:
            quiet.setLevel(level)


class MilvusCalls:
    """What the vector and BM25 stores on Milvus share: calls into Milvus, any failure a
    one-line `SeedQAError` naming the call, the collection and the URI; and the count of what
    is stored (the rows kept in memory before the first save, else Milvus' count, cached)."""

    _collection: str
    _uri: str | None
    _client: object
    _pending: dict | None
    _count: int | None

    def __len__(self) -> int:
        if self._pending is not None:
            return len(self._pending)
        if self._count is None:
            res = self._call("count", self._client.query, self._collection, filter="",
                             output_fields=["count(*)"], consistency_level="Strong")
            self._count = int(res[0]["count(*)"])
        return self._count

    def _connect_at(self, folder: Path) -> None:
        """Connect where a first save into `folder` puts the collection (`_resolve`); the
        index folder two levels up owns it (see `sweep`)."""
        self._uri, self._default = _resolve(folder)
        self._owner = str(folder.resolve().parent.parent)
        self._client = _connect(self._uri)

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SeedQAError:
            raise
        except Exception as exc:
            raise SeedQAError(f"Milvus {what} failed on {self._collection} at {self._uri}: "
                              f"{_one_line(exc)}; check the server, or rebuild the index") from exc


class MilvusStore(MilvusCalls):
    """Cosine search over vectors by id in one Milvus collection."""

    kind: ClassVar[str] = "milvus"

    def __init__(self, dim: int) -> None:
        self._dim = int(dim)
        self._pending: dict[int, np.ndarray] | None = {}  # until the first save
        self._client = None
        self._uri: str | None = None
        self._default = True
        self._collection = f"{PREFIX}{uuid.uuid4().hex}"
        self._count: int | None = None
        self._index: dict = dict(FLAT)

    @classmethod
    def create(cls, dim: int) -> MilvusStore:
        return cls(dim)

    @property
    def dim(self) -> int:
        return self._dim

    def _create_collection(self) -> None:
        from pymilvus import DataType, MilvusClient

        # the description names the index folder that owns the collection (see `_sweep`)
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                            description=self._owner or "")
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self._dim)
        params = self._client.prepare_index_params()
        if _is_server(self._uri or ""):
            params.add_index("vector", index_type="HNSW", metric_type="IP", params=dict(HNSW))
            self._index = {"type": "HNSW", **HNSW, "ef": HNSW_EF}
        else:
            params.add_index("vector", index_type="FLAT", metric_type="IP")
            self._index = dict(FLAT)
        self._call("create_collection", self._client.create_collection, self._collection,
                    schema=schema, index_params=params, consistency_level="Strong")
        self._call("load_collection", self._client.load_collection, self._collection)

    def _upsert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        for s in range(0, len(ids), BATCH):
            rows = [{"id": int(i), "vector": v} for i, v in
                    zip(ids[s:s + BATCH], vectors[s:s + BATCH].tolist(), strict=True)]
            self._call("upsert", self._client.upsert, self._collection, rows)
        self._count = None

    # -- the protocol --------------------------------------------------------------------------

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self._dim)
        if self._pending is not None:
            self._pending.update(zip(ids.tolist(), vectors, strict=True))
            return
        self._upsert(ids, vectors)  # upsert: an id is never stored twice

    def delete(self, ids: Sequence[int]) -> None:
        ids = [int(i) for i in np.asarray(ids, dtype=np.int64)]
        if not ids:
            return
        if self._pending is not None:
            for i in ids:
                self._pending.pop(i, None)
            return
        self._call("delete", self._client.delete, self._collection, ids=ids)
        self._count = None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(int(k), len(self), MAX_TOPK)
        if k <= 0 or len(q) == 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if self._pending is not None:  # before the first save: exact search in memory
            ids = np.fromiter(self._pending, dtype=np.int64, count=len(self._pending))
            scores = q @ np.stack(list(self._pending.values())).T
            top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            return np.take_along_axis(scores, top, axis=1), ids[top]
        hits = self._call("search", self._client.search, self._collection, data=q.tolist(),
                          limit=k, anns_field="vector", output_fields=[],
                          search_params=self._search_params(k), consistency_level="Strong")
        kk = min(len(h) for h in hits)
        scores = np.array([[r["distance"] for r in h[:kk]] for h in hits], dtype=np.float32)
        ids = np.array([[r["id"] for r in h[:kk]] for h in hits], dtype=np.int64)
        return scores.reshape(len(q), kk), ids.reshape(len(q), kk)

    def _search_params(self, k: int) -> dict:
        if self._index.get("type") == "HNSW":
            return {"metric_type": "IP", "params": {"ef": max(int(k), int(self._index["ef"]))}}
        return {"metric_type": "IP"}

    def _described_index(self) -> dict:
        """The passage index a collection was built with, as Milvus describes it (a collection
        named by a live record has no local `milvus.json`)."""
        try:
            names = self._client.list_indexes(self._collection, field_name="vector")
            info = self._client.describe_index(self._collection, names[0]) if names else {}
        except Exception:  # an older server without these calls: search as exact
            return dict(FLAT)
        if str(info.get("index_type", "")).upper() == "HNSW":
            return {"type": "HNSW", "M": int(info.get("M", HNSW["M"])),
                    "efConstruction": int(info.get("efConstruction", HNSW["efConstruction"])),
                    "ef": HNSW_EF}
        return {"type": str(info.get("index_type") or "FLAT").upper()}

    def get(self, ids: Sequence[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        out = np.zeros((len(ids), self._dim), dtype=np.float32)
        if not ids:
            return out
        if self._pending is not None:
            by_id = self._pending
        else:
            rows = self._call("get", self._client.get, self._collection, ids=sorted(set(ids)),
                              output_fields=["vector"])
            by_id = {int(r["id"]): r["vector"] for r in rows}
        for row, i in enumerate(ids):
            if i not in by_id:
                raise KeyError(f"no vector with id {i} in {self._collection}")
            out[row] = by_id[i]
        return out

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._client is None:
            self._connect_at(folder)
            self._sweep(folder)
            self._create_collection()
            pending, self._pending = self._pending or {}, None
            if pending:
                ids = np.fromiter(pending, dtype=np.int64, count=len(pending))
                self._upsert(ids, np.stack(list(pending.values())))
            if not _is_server(self._uri):  # a server's log keeps rows; a flush costs ~3 s there
                self._call("flush", self._client.flush, self._collection)
        record = {"uri": self._uri, "default": self._default, "collection": self._collection,
                  "dim": self._dim, "metric": "IP", "index": self._index["type"],
                  "index_params": self._index}
        (folder / FILE).write_text(json.dumps(record, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> MilvusStore:
        folder = Path(folder)
        record = json.loads((folder / FILE).read_text(encoding="utf-8"))
        store = cls(record["dim"])
        store._pending = None
        store._uri, store._default = _resolve(folder, record)
        store._owner = str(folder.resolve().parent.parent)
        store._collection = record["collection"]
        store._client = _connect(store._uri)
        if not store._call("has_collection", store._client.has_collection, store._collection):
            raise SeedQAError(f"Milvus at {store._uri} has no collection {store._collection}; "
                              "rebuild the index")
        store._call("load_collection", store._client.load_collection, store._collection)
        store._index = dict(record.get("index_params") or FLAT)
        return store

    def close(self) -> None:
        """Let go of Milvus; for a milvus-lite file, release it for other processes (this ends
        every store of this process on that file)."""
        client, self._client = self._client, None
        release(client, self._uri)

    # -- the live set (`qa.stores.milvus_live`) -----------------------------------------------

    @property
    def client(self):
        """The `MilvusClient` of a saved or loaded store (None before the first save)."""
        return self._client

    @property
    def uri(self) -> str | None:
        return self._uri

    @property
    def set_name(self) -> str:
        """The name of this index folder's set in Milvus (alias on a server)."""
        return set_name(Path(self._owner or "."))

    def publish(self, version: Path, manifest: dict, *, chunks: Path,
                sentence_offsets: np.ndarray, terms: list[str]) -> None:
        """Make the collections of the sealed version folder `version` (this store's and those
        of its sibling stores on Milvus) the live set of its index folder, with the version's
        chunk records (the file `chunks`), sentence offsets and jieba terms copied in, so a
        process without the folder can answer. Called by the build once the version is complete
        and before `CURRENT` names it."""
        version = Path(version)
        collections: dict[str, object] = {}
        for rec in sorted(version.glob(f"*/{FILE}")):
            record = json.loads(rec.read_text(encoding="utf-8"))
            collections[rec.parent.name] = record.get("collections") or record["collection"]
        collections["passages"] = self._collection
        offsets = np.asarray(sentence_offsets, dtype=np.int64)
        collections["chunks"] = milvus_chunks.chunks_collection(self._collection)
        self._call("insert of the chunk records", milvus_chunks.write, self._client,
                   collections["chunks"], self._owner or "", chunks, offsets)
        rows = milvus_chunks.terms_rows(self._collection, terms)
        # what a reader needs of the manifest: not the per-file digests and checksums
        slim = {k: v for k, v in manifest.items()
                if k not in ("digests", "stats", "checksums", "sizes")}
        slim["skipped"] = list(slim.get("skipped") or [])[:100]
        publish(self._client, self._uri, self.set_name, {
            "version": version.name, "collections": collections,
            "encoder": manifest.get("encoder"), "dim": manifest.get("dim"),
            "pipeline": manifest.get("pipeline"), "stores": manifest.get("stores"),
            "built_at": manifest.get("built_at"), "manifest": slim,
            "chunks": int(len(offsets) - 1), "sentences": int(offsets[-1]),
            "terms_parts": len(rows)}, rows)

    @classmethod
    def attach(cls, uri: str, collection: str, dim: int) -> MilvusStore:
        """The store over an existing collection named by a live record, with no local folder."""
        store = cls(dim)
        store._pending = None
        store._uri, store._default = uri, False
        store._collection = collection
        store._client = _connect(uri)
        if not store._call("has_collection", store._client.has_collection, collection):
            raise SeedQAError(f"Milvus at {uri} has no collection {collection}; rebuild the index")
        store._call("load_collection", store._client.load_collection, collection)
        store._index = store._described_index()
        return store

    # -- housekeeping ----------------------------------------------------------------------

    _owner: str | None = None

    def _sweep(self, folder: Path) -> None:
        """Drop the collections this index folder created for versions since deleted."""
        sweep(self._client, Path(self._owner), {self._collection}, self._uri or "")


def release(client, uri: str | None) -> None:
    """Close `client`; for a milvus-lite file, release it for other processes (this ends every
    store of this process on that file). Shared by every store on Milvus."""
    if client is None:
        return
    try:
        client.close()
    finally:
        if uri and not _is_server(uri):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)


def sweep(client, index_dir: Path, keep: set[str], uri: str = "") -> None:
    """Drop the collections the index folder `index_dir` created for versions since deleted.

    A collection is ours when its description is this index folder; it is live while some
    `<index_dir>/<version>/<store>/milvus.json` (a staging one included) names it, under
    `collection` or, for a store of several collections, `collections`; `keep` are the
    collections being created now; the collections the set's live record names (on Milvus at
    `uri`, `qa.stores.milvus_live`) are kept too. Shared by every store on Milvus, so one store's
    save never drops another's collections.
    """
    live = set(keep)
    try:  # what the set names live is never dropped, whatever the local folders say
        current = resolve(client, uri, set_name(index_dir)) or {}
        for names in (current.get("collections") or {}).values():
            live.update([names] if isinstance(names, str) else names)
    except Exception:
        pass
    for rec in index_dir.glob(f"*/*/{FILE}"):
        try:
            record = json.loads(rec.read_text(encoding="utf-8"))
            live.update(record.get("collections") or [record["collection"]])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    dropped = []
    try:
        for name in client.list_collections():
            if not name.startswith(PREFIX) or name in live:
                continue
            if client.describe_collection(name).get("description") == str(index_dir):
                client.drop_collection(name)
                dropped.append(name)
    except Exception:  # housekeeping only: never fail a build over it
        pass
    forget(client, dropped)

