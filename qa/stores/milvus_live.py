"""Which collections of an index folder are live, recorded in Milvus itself.

An index folder on Milvus is a *set*: every build writes a new collection per store (passage
vectors, sentence vectors, BM25 and its document frequencies, `qa.stores.milvus_store`), and a
rebuild must never be seen half-written by a process answering from the same Milvus. So a build
fills its new collections completely, flushes them, and only then switches one name:

- on a Milvus server, the **alias** `seedqa_set_<hash of the index folder>` is moved onto the new
  passage collection (`create_alias` the first time, `alter_alias` after): one atomic step for
  every client of the server;
- milvus-lite has no aliases (`create_alias` answers UNIMPLEMENTED), so there the same switch is
  one upsert of a row named after the set in the small collection `seedqa_live`.

Either way the switch names one passage collection, and a second row of `seedqa_live`, keyed by
that collection and written before the switch, says what goes with it: the version folder, the
other collections of the set, the encoder, its dimension and the pipeline id. A reader resolves
the set once (alias or row, then that row) and then works on those concrete collections, so a
question never mixes two builds; the collections of the version before stay until the next build
starts (`qa.stores.milvus_store.sweep`), so a question already under way finishes on them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from qa.core.errors import SeedQAError

LIVE = "seedqa_live"
SET_ENV = "SEEDQA_MILVUS_SET"
SET_PREFIX = "seedqa_set_"
MAX_RECORD = 65535


def set_name(index_dir: Path) -> str:
    """The name of an index folder's set in Milvus (its alias on a server): `SEEDQA_MILVUS_SET`
    when set (the same name on every machine), else a hash of the folder's absolute path, so two
    documents folders never share one and a rebuild keeps its name."""
    named = os.environ.get(SET_ENV, "").strip()
    if named:
        if not named.replace("_", "").isalnum() or not named[0].isalpha() or len(named) > 200:
            raise SeedQAError(f"{SET_ENV}={named} must be letters, digits and underscores, "
                              "starting with a letter")
        return named
    digest = hashlib.sha256(str(Path(index_dir).resolve()).encode()).hexdigest()[:16]
    return f"{SET_PREFIX}{digest}"


_SERVER_SCHEMES = ("http", "https", "tcp", "grpc", "unix")


def is_server(uri: str) -> bool:
    """A server URI (`http://host:19530`), not a milvus-lite file."""
    return urlparse(uri).scheme.lower() in _SERVER_SCHEMES


def one_line(exc: BaseException) -> str:
    """The first line of a Milvus error, for a one-line `SeedQAError`."""
    text = str(getattr(exc, "message", "") or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def uses_aliases(uri: str) -> bool:
    """Servers move an alias; milvus-lite, which has none, upserts a row instead."""
    return is_server(uri)


@contextmanager
def _quiet():
    """pymilvus logs an ERROR before raising for a missing alias, which is an answer here."""
    loggers = [logging.getLogger(n) for n in ("pymilvus.decorators", "pymilvus.milvus_client")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _ensure(client) -> None:
    """Create `seedqa_live` (name -> JSON record; Milvus wants a vector field: a 2-d zero)."""
    from pymilvus import DataType

    if client.has_collection(LIVE):
        client.load_collection(LIVE)
        return
    record_collection(client, LIVE, "seedqa: live collection of each index set",
                      ("name", DataType.VARCHAR, {"max_length": 255}), MAX_RECORD)


def record_collection(client, name: str, description: str, key: tuple, max_record: int,
                      extra: tuple = ()) -> None:
    """Create and load a collection of JSON records by key: `key` = (field, DataType, options),
    `extra` more (field, DataType, options). Milvus wants a vector field in every collection,
    so each has a 2-d `unused` one (FLAT), always [0, 0]."""
    from pymilvus import DataType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                        description=description)
    schema.add_field(key[0], key[1], is_primary=True, **key[2])
    schema.add_field("record", DataType.VARCHAR, max_length=max_record)
    for field, kind, options in extra:
        schema.add_field(field, kind, **options)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    params = client.prepare_index_params()
    params.add_index("unused", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=params,
                             consistency_level="Strong")
    client.load_collection(name)


def _row(client, name: str) -> dict | None:
    if not client.has_collection(LIVE):
        return None
    rows = client.get(LIVE, ids=[name], output_fields=["record"])
    return json.loads(rows[0]["record"]) if rows else None


def _put(client, name: str, record: dict) -> None:
    text = json.dumps(record, ensure_ascii=False)
    # no flush: Strong reads see it, and Milvus' log keeps it (a flush costs ~3 s on a server)
    client.upsert(LIVE, [{"name": name, "record": text, "unused": [0.0, 0.0]}])


def publish(client, uri: str, name: str, record: dict, rows: list[dict] = ()) -> None:
    """Make the collections of `record` (keys `collections` with `passages`, `version`,
    `encoder`, ...) the live ones of set `name`: describe them first (with `rows`, more
    `seedqa_live` rows of this build), then switch in one step."""
    primary = record["collections"]["passages"]
    try:
        _ensure(client)
        for row in rows:
            client.upsert(LIVE, [row])
        _put(client, primary, {**record, "set": name})
        if uses_aliases(uri):
            with _quiet():
                try:
                    client.describe_alias(name)
                    exists = True
                except Exception:
                    exists = False
            if exists:
                client.alter_alias(primary, name)
            else:
                client.create_alias(primary, name)
        else:
            _put(client, name, {"live": primary})
    except Exception as exc:
        raise SeedQAError(f"could not switch Milvus set {name} at {uri} to {primary}: "
                          f"{one_line(exc)}; the previous version stays live") from exc


def resolve(client, uri: str, name: str) -> dict | None:
    """The record of the live collections of set `name`, or None when nothing was published."""
    try:
        if uses_aliases(uri):
            with _quiet():
                try:
                    primary = client.describe_alias(name).get("collection_name")
                except Exception:
                    return None
        else:
            pointer = _row(client, name)
            primary = pointer and pointer.get("live")
        if not primary:
            return None
        record = _row(client, primary)
    except Exception as exc:
        raise SeedQAError(f"cannot read which collections of {name} are live at {uri}: "
                          f"{one_line(exc)}; check the server, or rebuild the index") from exc
    if record is not None:
        record["collections"]["passages"] = primary
    return record


def forget(client, names: list[str]) -> None:
    """Drop the records of collections that were dropped (housekeeping: never fails)."""
    try:
        if names and client.has_collection(LIVE):
            client.delete(LIVE, ids=list(names))
            for name in names:  # and the rows of their builds (`qa.stores.milvus_chunks`)
                client.delete(LIVE, filter=f'name like "{name}#%"')
    except Exception:
        return


def check_encoder(record: dict | None, encoder_id: str, name: str, uri: str) -> None:
    """A one-line error when the live set was built with another encoder: its vectors would be
    compared with questions encoded by this one. Not a silent rebuild: on a shared Milvus that
    would switch every other reader to this encoder."""
    if record is None or record.get("encoder") == encoder_id:
        return
    raise SeedQAError(
        f"the Milvus collection {record['collections']['passages']} (set {name} at {uri}) was "
        f"built with encoder {record.get('encoder')}, not {encoder_id}; use that encoder "
        "(--model), or rebuild with --rebuild to switch every reader of this index to this one")
