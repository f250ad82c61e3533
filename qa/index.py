"""Open the index of a documents folder: load the live version, or (re)build it first.

Layout of an index folder (default `<docs>/.seedqa/`):

    CURRENT            name of the live version folder (replaced atomically)
    v-<id>/            one complete version: manifest.json, chunks.jsonl, and one folder per
                       store (passages/, sentences/: vector stores; lexical/: BM25), each of the
                       kind the manifest records
    cache-<enc>/       vectors by content (`qa.vector_cache`), appended as computed, so a text is never
                       embedded twice
    .lock              held while building, so two `seedqa index` runs do not interleave

A version whose documents, encoder or loading code changed, or whose files fail their checksums,
is rebuilt (`qa.index_build`) instead of answering from garbage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunk_table import ChunkTable, chunk_from
from qa.core import versioned
from qa.core.errors import SeedQAError, StaleIndex
from qa.core.protocols import Encoder, LexicalStore, VectorStore
from qa.core.records import Chunk
from qa.documents import INDEX_DIRNAME, iter_files
from qa.index_build import (
    FORMAT,
    LATE,
    LEXICAL,
    PASSAGES,
    SENTENCE_OFFSETS,
    SENTENCES,
    TERMS,
    build_index,
    file_digests,
    file_stats,
    fingerprint,
    no_documents,
    pipeline_id,
)
from qa.lexical import add_words
from qa.stores import DEFAULT_VECTOR_STORE, LEXICAL_STORES, VECTOR_STORES

log = logging.getLogger(__name__)

# An open hashes every file of the index while it is this small (~0.1 s), so a flipped byte is
# caught before it changes an answer; a larger index is checked by sizes at open (a million
# passages are gigabytes: hashing them would cost a minute per start) and hashed in full by
# `seedqa index --verify`.
VERIFY_CONTENT_MAX_BYTES = 64 << 20


def _hash_at_open(manifest: dict, verify: bool) -> bool:
    sizes = manifest.get("sizes") or {}
    return verify or sum(sizes.values()) <= VERIFY_CONTENT_MAX_BYTES


@dataclass
class Index:
    """A loaded index version: its chunks and the stores over them.

    `passages` holds one vector per chunk (id = chunk id); `sentences` one per sentence, chunk
    i's sentences having ids `sentence_offsets[i]` up to `sentence_offsets[i + 1]`; `late` the
    same sentences as read inside their passage (`qa.index_build.late_vectors`); `lexical` the
    BM25 tokens of each chunk.
    """

    folder: Path
    manifest: dict
    chunks: Sequence[Chunk]  # a `ChunkTable`: records parsed on first access
    passages: VectorStore
    sentences: VectorStore
    sentence_offsets: np.ndarray
    lexical: LexicalStore
    late: VectorStore

    def prefetch_sentences(self, chunk_ids: Sequence[int]) -> None:
        """Start reading the sentence vectors (own and late) of these chunks together (see
        `ArrayStore.prefetch`); stores that cannot take the hint ignore it."""
        off = self.sentence_offsets
        for store in (self.sentences, self.late):
            prefetch = getattr(store, "prefetch", None)
            if prefetch is not None:
                prefetch([(int(off[i]), int(off[i + 1])) for i in chunk_ids])

    def sentence_vectors(self, chunk_id: int) -> np.ndarray:
        """The vectors of a chunk's sentences, in order."""
        lo, hi = int(self.sentence_offsets[chunk_id]), int(self.sentence_offsets[chunk_id + 1])
        return self.sentences.get(range(lo, hi))

    def late_vectors(self, chunk_id: int) -> np.ndarray:
        """The late-chunked vectors of a chunk's sentences, in order."""
        lo, hi = int(self.sentence_offsets[chunk_id]), int(self.sentence_offsets[chunk_id + 1])
        return self.late.get(range(lo, hi))


def default_index_dir(docs: Path) -> Path:
    return Path(docs) / INDEX_DIRNAME


def load_index(folder: Path, manifest: dict) -> Index:
    """Read a verified version with the stores its manifest names."""
    try:
        kinds = manifest["stores"]
        Vectors = VECTOR_STORES.get(kinds[PASSAGES])
        Lexical = LEXICAL_STORES.get(kinds[LEXICAL])
        chunks = ChunkTable(folder)
        passages = Vectors.load(folder / PASSAGES)
        sentences = VECTOR_STORES.get(kinds[SENTENCES]).load(folder / SENTENCES)
        late = VECTOR_STORES.get(kinds[LATE]).load(folder / LATE)
        lexical = Lexical.load(folder / LEXICAL)
        offsets = np.load(folder / SENTENCE_OFFSETS)
        terms = json.loads((folder / TERMS).read_text(encoding="utf-8"))
    except Exception as exc:  # verified files that still fail to parse: rebuild
        raise StaleIndex(f"index files unreadable ({exc.__class__.__name__}: {exc})") from exc
    if (
        len(chunks) != manifest.get("chunks")
        or len(passages) != len(chunks)
        or len(offsets) != len(chunks) + 1
        or len(sentences) != offsets[-1]
        or len(late) != offsets[-1]
        or len(lexical) != len(chunks)
    ):
        raise StaleIndex("index files disagree with the manifest")
    add_words(terms)  # jieba must split questions as it split these documents
    return Index(folder, manifest, chunks, passages, sentences, offsets, lexical, late)


def _usable(
    index_dir: Path, encoder: Encoder, fp: str, report: bool, vector_store: str,
    verify: bool = False, index_type: str = "auto", lexical_store: str | None = None,
) -> Index | None:
    """The live version if it fits the documents, encoder and code, else None (saying why)."""
    folder = versioned.current_version(index_dir)
    if folder is None:
        if report and (index_dir / versioned.CURRENT).exists():
            # a damaged pointer is damage like any other: say so rather than rebuild silently
            log.info("rebuilding the index: CURRENT names no index version")
        return None
    try:
        manifest = versioned.read_manifest(folder, FORMAT)
        if (manifest.get("stores") or {}).get(PASSAGES) == "milvus":
            _check_milvus_encoder(index_dir, folder, encoder)
        if manifest.get("encoder") != encoder.id:
            raise StaleIndex(f"built with another encoder ({manifest.get('encoder')})")
        if manifest.get("fingerprint") != fp:
            raise StaleIndex("the documents changed")
        if (manifest.get("stores") or {}).get(PASSAGES) != vector_store:
            raise StaleIndex(f"built with another vector store ({manifest.get('stores')})")
        if lexical_store and (manifest.get("stores") or {}).get(LEXICAL) != lexical_store:
            raise StaleIndex(f"built with another lexical store ({manifest.get('stores')})")
        if manifest.get("pipeline") != pipeline_id():
            raise StaleIndex("built by another version of the loading/cleaning/chunking code")
        built = manifest.get("passage_index") or {}
        built_type = built.get("type", "flat")
        # a store too small to train an IVF stays exact when asked for one: not a reason to
        # rebuild at every open
        if index_type not in ("auto", built.get("asked")) and not built_type.startswith(index_type):
            raise StaleIndex(f"built as a {built_type} index, {index_type} asked for")
        versioned.verify(folder, manifest, content=_hash_at_open(manifest, verify))
        return load_index(folder, manifest)
    except StaleIndex as why:
        if report:
            log.info(f"rebuilding the index: {why}")
        return None


def open_index(
    docs: Path,
    index_dir: Path | None,
    encoder: Encoder,
    *,
    progress: bool = True,
    rebuild: bool = False,
    vector_store: str = DEFAULT_VECTOR_STORE,
    verify: bool = False,
    index_type: str = "auto",
    lexical_store: str | None = None,
) -> Index:
    """The index for `docs` built with `encoder`, (re)building it when missing, stale or damaged.

    `vector_store` names the backend (`qa.stores.VECTOR_STORES`) that holds the vectors;
    `lexical_store` the keyword one (default: the one that goes with `vector_store`, e.g. BM25
    in Milvus beside Milvus; `bm25` keeps it in local files, for a server without BM25);
    `verify` hashes every index file even when the index is large (`VERIFY_CONTENT_MAX_BYTES`).
    """
    docs = Path(docs)
    if not docs.is_dir():
        raise SeedQAError(f"documents folder {docs} does not exist; pass --docs DIR")
    index_dir = Path(index_dir) if index_dir else default_index_dir(docs)
    files = iter_files(docs)
    if not files:
        raise no_documents(docs)
    stats = file_stats(docs, files)  # before hashing: see `qa.index_build.RACY_NS`
    digests = file_digests(docs, files, known=_live_manifest(index_dir))
    fp = fingerprint(digests)
    if not rebuild:
        found = _usable(index_dir, encoder, fp, progress, vector_store, verify, index_type,
                        lexical_store)
        if found is not None:
            return found
    index_dir.mkdir(parents=True, exist_ok=True)

    def waiting() -> None:
        log.info(f"waiting for another seedqa process that is building the index in {index_dir} ...")

    with versioned.locked(index_dir / versioned.LOCK, on_wait=waiting):
        # the other process may have built it meanwhile
        found = None if rebuild else _usable(index_dir, encoder, fp, False, vector_store, verify,
                                             index_type, lexical_store)
        if found is not None:
            return found
        previous = None if rebuild else _reusable_version(index_dir)
        folder = build_index(docs, index_dir, encoder, progress=progress, files=files,
                             digests=digests, stats=stats, previous=previous,
                             vector_store=vector_store, lexical_store=lexical_store,
                             index_type=index_type)
        return load_index(folder, versioned.read_manifest(folder, FORMAT))


def _live_manifest(index_dir: Path) -> dict | None:
    """The live version's manifest, unverified: it only lends file digests to unchanged files
    (`file_digests`), and the fingerprint they make is then checked like any other."""
    folder = versioned.current_version(index_dir)
    if folder is None:
        return None
    try:
        return versioned.read_manifest(folder, FORMAT)
    except StaleIndex:
        return None


def _reusable_version(index_dir: Path) -> Path | None:
    """The live version when its chunks can be reused file by file: built by the same loading,
    cleaning and chunking code, and intact (chunks do not depend on the encoder or stores)."""
    folder = versioned.current_version(index_dir)
    if folder is None:
        return None
    try:
        manifest = versioned.read_manifest(folder, FORMAT)
        if manifest.get("pipeline") != pipeline_id():
            return None
        versioned.verify(folder, manifest)
    except StaleIndex:
        return None
    return folder


# -- an index whose stores live in Milvus: the set's live record (`qa.stores.milvus_live`) ------


def _milvus_client(index_dir: Path, folder: Path | None = None):
    """`(client, uri)` of the Milvus an index folder uses: `SEEDQA_MILVUS_URI`, else the URI the
    version `folder` recorded, else the milvus-lite file beside the versions."""
    from qa.stores.milvus_store import FILE, _connect, _resolve

    recorded = None
    if folder is not None:
        try:
            recorded = json.loads((folder / PASSAGES / FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StaleIndex(f"{PASSAGES}/{FILE} unreadable ({exc.__class__.__name__})") from exc
    uri, _ = _resolve(Path(index_dir) / "_" / PASSAGES, recorded)
    return _connect(uri), uri


def _check_milvus_encoder(index_dir: Path, folder: Path, encoder: Encoder) -> None:
    """A one-line `SeedQAError` when the set live in Milvus was built with another encoder (a
    silent rebuild would switch every other reader of a shared Milvus to this one)."""
    from qa.stores.milvus_live import check_encoder, resolve, set_name

    client, uri = _milvus_client(index_dir, folder)
    name = set_name(index_dir)
    check_encoder(resolve(client, uri, name), encoder.id, name, uri)


def live_version(index_dir: Path) -> str | None:
    """The version folder Milvus names live for `index_dir` (alias or `seedqa_live` record), or
    None when no build has published one: what a long-running reader compares with the version
    it has open to know when to reopen."""
    from qa.stores.milvus_live import resolve, set_name

    client, uri = _milvus_client(index_dir)
    record = resolve(client, uri, set_name(index_dir))
    return record["version"] if record else None


def open_live(index_dir: Path, encoder: Encoder, verify: bool = False) -> Index:
    """The version Milvus names live for `index_dir`, read without looking at the documents:
    what a reader that must not build opens, resolving through Milvus rather than `CURRENT`.
    Without that version's folder here (another machine), everything comes from Milvus
    (`_remote_index`).

    The version is pinned on open (its concrete collections), so a rebuild switching the set
    meanwhile never mixes two builds in one answer; a version removed between the lookup and
    the read (a rebuild finished just then) is looked up again.
    """
    from qa.stores.milvus_live import check_encoder, resolve, set_name

    index_dir = Path(index_dir)
    client, uri = _milvus_client(index_dir)
    name = set_name(index_dir)
    why = ""
    for _ in range(3):
        record = resolve(client, uri, name)
        if record is None:
            raise SeedQAError(f"no version of {index_dir} is live in Milvus at {uri} (set {name}); "
                              "build it first with: seedqa index --store milvus")
        check_encoder(record, encoder.id, name, uri)
        folder = index_dir / record["version"]
        if not folder.is_dir() and record.get("chunks") is not None:
            return _remote_index(record, client, uri, index_dir, name)
        try:
            manifest = versioned.read_manifest(folder, FORMAT)
            versioned.verify(folder, manifest, content=_hash_at_open(manifest, verify))
            index = load_index(folder, manifest)
            if len(index.chunks):
                # opens the chunk file now: a rebuild may remove the folder once it switches,
                # and an open file outlives that (as the memory-mapped BM25 matrix does)
                index.chunks[0]  # noqa: B018
        except (StaleIndex, OSError) as exc:
            why = str(exc)
            continue
        if getattr(index.passages, "_collection", None) != record["collections"]["passages"]:
            why = "its folder names other collections than Milvus"
            continue
        return index
    raise SeedQAError(f"the version Milvus names live for {index_dir} ({uri}, set {name}) cannot "
                      f"be read: {why}; rebuild the index")


def _remote_index(record: dict, client, uri: str, index_dir: Path, name: str) -> Index:
    """The live version from Milvus alone: vectors, BM25, chunk records, sentence offsets and
    jieba terms (`qa.stores.milvus_chunks`); only the encoder is local."""
    from qa.stores import milvus_chunks
    from qa.stores.milvus_lexical import MilvusBm25Store
    from qa.stores.milvus_live import LIVE
    from qa.stores.milvus_live import one_line as _one_line
    from qa.stores.milvus_store import MilvusStore

    stores, cols = record.get("stores") or {}, record["collections"]
    if (stores.get(SENTENCES) != "milvus" or stores.get(LATE) != "milvus"
            or stores.get(LEXICAL) != "milvus-bm25"):
        raise SeedQAError(f"the live version of {name} at {uri} keeps part of its index outside "
                          f"Milvus ({stores}); open it where its index folder is")
    dim, n = int(record["dim"]), int(record["chunks"])
    passages = MilvusStore.attach(uri, cols["passages"], dim)
    sentences = MilvusStore.attach(uri, cols["sentences"], dim)
    late = MilvusStore.attach(uri, cols[LATE], dim)
    lexical_cols = cols["lexical"]
    lexical = MilvusBm25Store.attach(
        uri, lexical_cols[0] if isinstance(lexical_cols, list) else lexical_cols)
    try:
        offsets = milvus_chunks.read_offsets(client, cols["chunks"], n, int(record["sentences"]))
        terms = milvus_chunks.read_terms(client, LIVE, cols["passages"],
                                         int(record["terms_parts"]))
    except Exception as exc:
        raise SeedQAError(f"cannot read the chunks of {name} from Milvus at {uri}: "
                          f"{_one_line(exc)}; rebuild the index") from exc
    if (len(passages) != n or len(lexical) != n or len(sentences) != offsets[-1]
            or len(late) != offsets[-1]):
        raise SeedQAError(f"the collections of {name} at {uri} disagree with its record; "
                          "rebuild the index")
    add_words(terms)  # jieba must split questions as it split these documents
    chunks = milvus_chunks.MilvusChunks(client, cols["chunks"], n, chunk_from)
    return Index(index_dir / record["version"], record["manifest"], chunks, passages, sentences,
                 offsets, lexical, late)
