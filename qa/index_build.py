"""Build one index version of a documents folder: files -> chunks -> vectors -> stores.

The version is written into a staging folder beside the live one and only switched live, by
`qa.core.versioned`, once every file is written, checksummed and fsynced; vectors come from the
content-keyed cache where the text was embedded before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa import __version__
from qa.chunk_table import CHUNKS, ChunkTable, chunk_from, write_chunks
from qa.chunks import MAX_CHARS, TARGET_CHARS, build_chunks
from qa.core import versioned
from qa.core.errors import DocumentError, SeedQAError, StaleIndex
from qa.core.progress import bar
from qa.core.protocols import Encoder
from qa.core.records import Chunk
from qa.documents import check_file, doc_name, iter_files, read_paragraphs
from qa.lexical import Tokenizer, add_words, quoted_terms
from qa.stores import (
    DEFAULT_VECTOR_STORE,
    LEXICAL_STORES,
    VECTOR_STORES,
    sentence_store,
)
from qa.stores import lexical_store as default_lexical
from qa.stores.token_ids import TokenIdWriter
from qa.vector_cache import VectorCache

log = logging.getLogger(__name__)

# 3: chunk records read by id (`qa.chunk_table`), sentence offsets and jieba terms saved at build
# time, sentence vectors in a memory-mapped float16 array beside FAISS
# 4: BM25 tokens saved as int32 ids (`qa.stores.token_ids`), not tokens.jsonl
# 5: late-chunked sentence vectors (`late/`, see `late_vectors`) beside the sentences' own
FORMAT = 5
SENTENCE_OFFSETS = "sentence_offsets.npy"
TERMS = "terms.json"
PASSAGE_VECTORS = ".passage_vectors.f32"  # staging only: removed before the version is sealed
# chunks embedded, tokenised and stored at a time: what the build holds of them in memory
BUILD_BATCH = 1024
# the stores of a version, by folder; the manifest records each one's kind
PASSAGES, SENTENCES, LATE, LEXICAL = "passages", "sentences", "late", "lexical"


# A file modified this close to when its stat was taken may change again within the same mtime
# tick without its size changing ("racy git"): such a stat never vouches for a digest.
RACY_NS = 2_000_000_000


def file_stats(docs: Path, files: list[Path]) -> dict[str, list[int]]:
    """(size, mtime in ns) of every file by its name, as recorded in the manifest, with the
    time they were taken under the key "" (see `RACY_NS`)."""
    out: dict[str, list[int]] = {"": [time.time_ns()]}
    for f in files:
        try:
            st = f.stat()
            out[doc_name(f, docs)] = [st.st_size, st.st_mtime_ns]
        except OSError:
            continue
    return out


def file_digests(docs: Path, files: list[Path], known: dict | None = None) -> dict[str, str]:
    """The content hash of every file by its name: what an incremental build compares.

    `known` (a version's manifest) lends its digest to a file whose size and modification time
    are those it recorded, as git's index does: opening an index of gigabytes of documents does
    not read them all again. A file the indexer would skip unread (over the size limit, not a
    regular file) is not hashed: hashing it would cost reading a file that is never indexed, on
    every open, and a pipe would block; it counts by name and the reason only.
    """
    old_digests = (known or {}).get("digests") or {}
    old_stats = (known or {}).get("stats") or {}
    taken = (old_stats.get("") or [0])[0]
    out: dict[str, str] = {}
    for f in files:
        name = doc_name(f, docs)
        try:
            st = f.stat()
            if (old_stats.get(name) == [st.st_size, st.st_mtime_ns]
                    and st.st_mtime_ns < taken - RACY_NS and name in old_digests
                    and not str(old_digests[name]).startswith(("skipped", "unreadable"))):
                out[name] = old_digests[name]
                continue
        except OSError:
            pass
        try:
            check_file(f)
            digest = versioned.sha256_file(f)
        except DocumentError as exc:
            digest = f"skipped: {exc}"
        except OSError:
            digest = "unreadable"
        out[name] = digest
    return out


def fingerprint(digests: dict[str, str]) -> str:
    """Content hash of the documents folder: names and bytes of every indexed file."""
    h = hashlib.sha256()
    for name, digest in digests.items():
        h.update(name.encode() + b"\0" + digest.encode() + b"\n")
    return h.hexdigest()


def pipeline_id() -> str:
    """Hash of the code that turns files into chunks and tokens: an index built by other
    loading, cleaning or chunking rules is stale even when the documents did not change."""
    import qa.chunks
    import qa.core.punctuation
    import qa.documents
    import qa.lexical
    import qa.loaders

    files = [Path(m.__file__) for m in (qa.documents, qa.core.punctuation, qa.chunks, qa.lexical)]
    files += sorted(Path(qa.loaders.__file__).parent.glob("*.py"))  # every loader and cleaner
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def passage_text(chunk: Chunk) -> str:
    """What the encoder and BM25 see for a chunk: its section title gives it context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """Where each sentence of a chunk lies in its `passage_text`."""
    base = len(chunk.title) + 1 if chunk.title else 0
    return [(base + s.start, base + s.end) for s in chunk.sentences]


def sentence_precision(vecs: np.ndarray) -> np.ndarray:
    """Sentence vectors as every store serves them: at float16 precision, which the array store
    (`qa.stores.array_store`) keeps to halve the largest part of an index. A store that keeps
    float32 (Milvus) then returns the very same values, so the answer model's sentence features,
    and so its answers, do not depend on the store (they differed by ~1e-4 before)."""
    return np.asarray(vecs, dtype=np.float32).astype(np.float16).astype(np.float32)


def late_keys(chunk: Chunk, text: str) -> list[str]:
    """The vector cache's texts for a chunk's late vectors: a sentence's late vector depends on
    the whole passage it was read in and on its place there."""
    return [f"{i}\x1f{text}" for i in range(len(chunk.sentences))]


def late_vectors(
    cache: VectorCache, encoder: Encoder, chunks: list[Chunk], texts: list[str]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every sentence's late-chunked vector (`Encoder.encode_passage_spans`), cached like any
    vector, one row per sentence in chunk order; NaN rows where the encoder gave none (an
    encoder without the method gives none at all). Returns also the passage vectors the pass
    computed, by text, so the passages are not encoded a second time."""
    spans = getattr(encoder, "encode_passage_spans", None)
    computed: dict[str, np.ndarray] = {}
    keys = [k for c, t in zip(chunks, texts, strict=True) for k in late_keys(c, t)]
    if spans is None:
        return np.full((len(keys), encoder.dim), np.nan, np.float32), computed
    where = {t: c for c, t in zip(chunks, texts, strict=True)}

    def encode(missing: list[str]) -> np.ndarray:
        asked = [(int(i), t) for i, t in (k.split("\x1f", 1) for k in missing)]
        passages = list(dict.fromkeys(t for _, t in asked))
        vecs, late = spans(passages, [sentence_spans(where[t]) for t in passages])
        computed.update(zip(passages, vecs, strict=True))
        row = {t: k for k, t in enumerate(passages)}
        return np.stack([late[row[t]][i] for i, t in asked])

    vecs, _ = cache.embed(LATE, keys, encode)
    return vecs, computed


def _reusing(computed: dict[str, np.ndarray], encode):
    """`encode`, answering from vectors computed already where it can."""
    def run(texts: list[str]) -> np.ndarray:
        todo = [t for t in texts if t not in computed]
        if todo:
            computed.update(zip(todo, encode(todo), strict=True))
        return np.stack([computed[t] for t in texts])
    return run


def _reason(exc: BaseException) -> str:
    """A one-line reason for a skipped file: `No such file or directory`, not the errno repr
    with the absolute path (the warning already names the file)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def collect_chunks(
    docs: Path, files: list[Path], reuse: dict[str, list[Chunk]] | None = None
) -> tuple[list[Chunk], list[str]]:
    """`iter_chunks` as a list, with the names of the skipped files."""
    skipped: list[str] = []
    return list(iter_chunks(docs, files, reuse, skipped)), skipped


def iter_chunks(
    docs: Path, files: list[Path], reuse: dict[str, list[Chunk]] | None, skipped: list[str]
) -> Iterator[Chunk]:
    """Chunks of every readable file; unreadable ones are skipped with one warning each.

    A file named in `reuse` (unchanged since the previous version) is not read again: its
    chunks are taken from there, renumbered. A file removed, truncated or made unreadable while it
    is read costs that file only: the chunks it had produced so far are dropped with it, so an
    index never holds half a file (one file's chunks are held at a time).
    """
    reuse = reuse or {}
    n = 0
    for f in files:
        name = doc_name(f, docs)
        if name in reuse:
            for c in reuse[name]:
                yield replace(c, id=n)
                n += 1
            continue
        try:
            new = list(build_chunks(read_paragraphs(f, name), first_id=n))
        except (DocumentError, OSError, UnicodeError) as exc:
            log.warning(f"skipping {name}: {_reason(exc)}")
            skipped.append(name)
            continue
        if not new:
            log.warning(f"skipping {name}: no text to index")
            skipped.append(name)
        yield from new
        n += len(new)


def _batches(table: ChunkTable, size: int) -> Iterator[tuple[int, list[Chunk]]]:
    """(first id, chunks) of consecutive batches, streamed from the records on disk."""
    batch: list[Chunk] = []
    first = 0
    for c in table:
        batch.append(c)
        if len(batch) == size:
            yield first, batch
            first += len(batch)
            batch = []
    if batch:
        yield first, batch


def _read_rows(path: Path, dim: int, rows: int = 65_536) -> Iterator[np.ndarray]:
    """float32 rows of a raw file, `rows` at a time, read (not mapped: the pages a map touched
    would count in the build's resident memory)."""
    with open(path, "rb") as fh:
        while True:
            part = np.fromfile(fh, dtype=np.float32, count=rows * dim)
            if not part.size:
                return
            yield part.reshape(-1, dim)


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def no_documents(docs: Path) -> SeedQAError:
    from qa.loaders import suffixes

    kinds = ", ".join(suffixes()[:-1]) + " or " + suffixes()[-1] if len(suffixes()) > 1 else suffixes()[0]
    return SeedQAError(f"no {kinds} documents in {docs}; put documents there or pass --docs")


def read_chunks(folder: Path) -> list[Chunk]:
    """Every chunk record of a version folder, parsed (for a build that reuses them)."""
    with open(folder / CHUNKS, encoding="utf-8") as fh:
        return [chunk_from(json.loads(line)) for line in fh if line.strip()]


def _reusable(previous: Path | None, digests: dict[str, str]) -> tuple[dict[str, list[Chunk]], dict]:
    """Chunks of the files unchanged since `previous` (a version built by the same encoder and
    code), by file name, and that version's file digests; nothing when it cannot be read."""
    if previous is None:
        return {}, {}
    try:
        old = versioned.read_manifest(previous, FORMAT).get("digests") or {}
        by_doc: dict[str, list[Chunk]] = {}
        for c in read_chunks(previous):
            by_doc.setdefault(c.doc, []).append(c)
    except (StaleIndex, OSError, ValueError, TypeError, KeyError):
        return {}, {}
    same = {n: by_doc[n] for n, d in digests.items() if old.get(n) == d and n in by_doc}
    return same, old


def _changes(old: dict[str, str], new: dict[str, str]) -> str:
    added = sum(1 for n in new if n not in old)
    changed = sum(1 for n in new if n in old and old[n] != new[n])
    removed = sum(1 for n in old if n not in new)
    return f"+{added} files, ~{changed} changed, -{removed} removed"


def build_index(
    docs: Path,
    index_dir: Path,
    encoder: Encoder,
    *,
    progress: bool = True,
    files: list[Path] | None = None,
    digests: dict[str, str] | None = None,
    stats: dict[str, list[int]] | None = None,
    previous: Path | None = None,
    vector_store: str = DEFAULT_VECTOR_STORE,
    lexical_store: str | None = None,
    index_type: str = "auto",
) -> Path:
    """Build a new version beside the live one and switch `CURRENT` to it when complete.

    With `previous` (the live version, same encoder and code), only new and changed files are
    read, cleaned and chunked; the chunks of unchanged files are taken from it, and only text
    never embedded before is sent to the encoder (the vector cache is keyed by text).
    """
    t0 = time.perf_counter()
    files = iter_files(docs) if files is None else files
    if not files:
        raise no_documents(docs)
    stats = stats if stats is not None else file_stats(docs, files)  # before hashing: see RACY_NS
    digests = digests if digests is not None else file_digests(docs, files)
    fp = fingerprint(digests)
    reuse, old_digests = _reusable(previous, digests)
    index_dir.mkdir(parents=True, exist_ok=True)
    versioned.cleanup_stale(index_dir)
    Store = VECTOR_STORES.get(vector_store)
    Lexical = LEXICAL_STORES.get(lexical_store or default_lexical(vector_store))
    SentenceStore = VECTOR_STORES.get(sentence_store(vector_store))
    cache = VectorCache(index_dir / f"cache-{_slug(encoder.id)}", encoder.dim)

    with versioned.staging(index_dir) as tmp:
        # pass 1: files -> chunk records on disk, as they come (no list of every chunk)
        skipped: list[str] = []
        terms: dict[str, None] = {}

        def chunks_noting_terms():
            for c in iter_chunks(docs, files, reuse, skipped):
                terms.update(dict.fromkeys(quoted_terms([c])))
                yield c

        counts = write_chunks(tmp, chunks_noting_terms())  # read back by `ChunkTable`
        if not len(counts):
            raise SeedQAError(f"none of the {len(files)} files in {docs} has text to index")
        n_chunks, n_sentences = len(counts), int(counts.sum())
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        np.save(tmp / SENTENCE_OFFSETS, offsets)
        # the open index teaches jieba these without reading every chunk; BM25 must see them whole
        (tmp / TERMS).write_text(json.dumps(list(terms), ensure_ascii=False), encoding="utf-8")
        add_words(terms)
        if progress:
            log.info(f"indexing {n_chunks} passages and {n_sentences} sentences from "
                     f"{len(files) - len(skipped)} files with {encoder.id}")

        # pass 2: batches of chunks -> vectors (cached on disk as they are computed) -> stores
        # the index type is FAISS's own choice (exact or IVF by size); other stores choose theirs
        store_kw = ({"index_type": index_type}
                    if vector_store == "faiss" and index_type != "auto" else {})
        # a store that can be built from vectors read back in batches (FAISS) gets them from a
        # file written here as they come: an IVF of a million vectors is then trained on a
        # sample and filled batch by batch, never from an exact index of all of them in memory
        direct = hasattr(Store, "build")
        vec_path = tmp / PASSAGE_VECTORS
        vec_file = open(vec_path, "wb") if direct else None  # noqa: SIM115 - closed below
        store = None if direct else Store.create(encoder.dim, **store_kw)
        # the sentence array is written in place, row by row: never all in memory
        sent_store = SentenceStore.create(encoder.dim, **(
            {"folder": tmp / SENTENCES, "size": n_sentences}
            if SentenceStore.kind == "array" else {}))
        # tokens go to disk as integer ids batch by batch: as lists of strings a million
        # passages were ~12 GB (bench_build_scale, 2026-11-30)
        token_writer = TokenIdWriter(tmp / LEXICAL)
        n1 = n2 = 0

        late_store = SentenceStore.create(encoder.dim, **(
            {"folder": tmp / LATE, "size": n_sentences}
            if SentenceStore.kind == "array" else {}))

        def enc(texts: list[str]):
            return encoder.encode_passages(texts, progress=False)

        with bar(n_chunks, "Indexing", "passage", progress) as b, Tokenizer(list(terms), n_chunks) as tok:
            for first, batch in _batches(ChunkTable(tmp), BUILD_BATCH):
                texts = [passage_text(c) for c in batch]
                late, computed = late_vectors(cache, encoder, batch, texts)
                vecs, n = cache.embed("passage", texts, _reusing(computed, enc))
                if vec_file is not None:
                    vec_file.write(np.ascontiguousarray(vecs, dtype=np.float32).tobytes())
                else:
                    store.add(range(first, first + len(batch)), vecs)
                n1 += n
                sents = [s.text for c in batch for s in c.sentences]
                lo = int(offsets[first])
                vecs, n = cache.embed("sentence", sents, enc)
                gap = np.isnan(late[:, 0])  # no token of the pass covered it: its own vector
                late[gap] = vecs[gap]
                sent_store.add(range(lo, lo + len(sents)), sentence_precision(vecs))
                late_store.add(range(lo, lo + len(sents)), sentence_precision(late))
                n2 += n
                token_writer.add(tok.map(texts))
                b.update(len(batch))
        encoded = n1 + n2
        if vec_file is not None:
            vec_file.close()
            store = Store.build(encoder.dim, n_chunks, lambda: _read_rows(vec_path, encoder.dim),
                                **store_kw)
        store.save(tmp / PASSAGES)
        vec_path.unlink(missing_ok=True)
        passage_index = {**(getattr(store, "info", None) or {"type": store.kind}),
                         "asked": index_type}
        sent_store.save(tmp / SENTENCES)
        late_store.save(tmp / LATE)
        token_ids = token_writer.close()
        if hasattr(Lexical, "build"):  # from the id files, in blocks
            Lexical.build(tmp / LEXICAL, range(n_chunks), token_ids)
        else:  # a store that takes token lists (a remote one): the strings, once
            tokens = list(token_ids)
            del token_ids
            shutil.rmtree(tmp / LEXICAL)
            Lexical(range(n_chunks), tokens).save(tmp / LEXICAL)
            del tokens
        manifest = versioned.seal(tmp, {
            "format": FORMAT,
            "seedqa_version": __version__,
            "encoder": encoder.id,
            "dim": encoder.dim,
            "stores": {PASSAGES: Store.kind, SENTENCES: SentenceStore.kind, LATE: SentenceStore.kind,
                       LEXICAL: Lexical.kind},
            "passage_index": passage_index,
            "chunks": n_chunks,
            "sentences": n_sentences,
            "fingerprint": fp,
            "digests": digests,
            "stats": stats,
            "pipeline": pipeline_id(),
            "files": len(files),
            "skipped": skipped,
            "chunking": {"target": TARGET_CHARS, "max": MAX_CHARS},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "build_seconds": round(time.perf_counter() - t0, 2),
            "encoded": encoded,
        })
        final = index_dir / f"v-{fp[:12]}-{_slug(encoder.id)}-{int(time.time() * 1000)}"
        tmp.rename(final)
        # a store shared beyond this folder (Milvus) switches its readers first, in one step
        # (`qa.stores.milvus_live`); a failure there leaves the previous version live everywhere
        publish = getattr(store, "publish", None)
        if publish is not None:
            try:
                publish(final, manifest, chunks=final / CHUNKS, sentence_offsets=offsets,
                        terms=list(terms))
            except BaseException:
                shutil.rmtree(final, ignore_errors=True)
                raise
        versioned.switch_current(index_dir, final.name)
    # keep vectors of other recent versions too (cheap), but drop the cache's dead weight
    if len(cache) > 4 * max(n_chunks + 2 * n_sentences, 1000):  # passages, sentences, late
        live = ChunkTable(final)
        cache.save(keep={cache.key("passage", passage_text(c)) for c in live}
                   | {cache.key("sentence", s.text) for c in live for s in c.sentences}
                   | {cache.key(LATE, k) for c in live for k in late_keys(c, passage_text(c))})
    versioned.remove_old_versions(index_dir, final.name)
    if progress:
        changes = f"{_changes(old_digests, digests)}, {len(files) - len(reuse)} read; " if (
            previous is not None) else ""
        log.info(f"index ready: {changes}{n1} passages embedded, {n_chunks - n1} reused "
                 f"({n_chunks} passages, {time.perf_counter() - t0:.1f} s) in {index_dir}")
    return final
