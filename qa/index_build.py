"""Build one index version of a documents folder: files -> chunks -> vectors -> stores.

The version is written into a staging folder beside the live one and only switched live, by
`qa.core.versioned`, once every file is written, checksummed and fsynced; vectors come from the
content-keyed cache where the text was embedded before.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

from qa import __version__
from qa.chunks import MAX_CHARS, TARGET_CHARS, build_chunks
from qa.core import versioned
from qa.core.errors import DocumentError, SeedQAError, StaleIndex
from qa.core.protocols import Encoder
from qa.core.records import Chunk, Sentence
from qa.documents import check_file, doc_name, iter_files, read_paragraphs
from qa.lexical import register_terms, tokenize
from qa.stores import DEFAULT_LEXICAL_STORE, DEFAULT_VECTOR_STORE, LEXICAL_STORES, VECTOR_STORES
from qa.vector_cache import VectorCache

log = logging.getLogger(__name__)

FORMAT = 2
CHUNKS = "chunks.jsonl"
# the stores of a version, by folder; the manifest records each one's kind
PASSAGES, SENTENCES, LEXICAL = "passages", "sentences", "lexical"


def file_digests(docs: Path, files: list[Path]) -> dict[str, str]:
    """The content hash of every file by its name: what an incremental build compares.

    A file the indexer would skip unread (over the size limit, not a regular file) is not hashed:
    hashing it would cost reading a file that is never indexed, on every open, and a pipe would
    block; it counts by name and the reason only.
    """
    out: dict[str, str] = {}
    for f in files:
        try:
            check_file(f)
            digest = versioned.sha256_file(f)
        except DocumentError as exc:
            digest = f"skipped: {exc}"
        except OSError:
            digest = "unreadable"
        out[doc_name(f, docs)] = digest
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


def _reason(exc: BaseException) -> str:
    """A one-line reason for a skipped file: `No such file or directory`, not the errno repr
    with the absolute path (the warning already names the file)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def collect_chunks(
    docs: Path, files: list[Path], reuse: dict[str, list[Chunk]] | None = None
) -> tuple[list[Chunk], list[str]]:
    """Chunks of every readable file; unreadable ones are skipped with one warning each.

    A file named in `reuse` (unchanged since the previous version) is not read again: its
    chunks are taken from there, renumbered. A file removed, truncated or made unreadable while it
    is read costs that file only: the chunks it had produced so far are dropped with it, so an
    index never holds half a file.
    """
    chunks: list[Chunk] = []
    skipped: list[str] = []
    reuse = reuse or {}
    for f in files:
        name = doc_name(f, docs)
        if name in reuse:
            chunks.extend(replace(c, id=len(chunks) + i) for i, c in enumerate(reuse[name]))
            continue
        try:
            new = list(build_chunks(read_paragraphs(f, name), first_id=len(chunks)))
        except (DocumentError, OSError, UnicodeError) as exc:
            log.warning(f"skipping {name}: {_reason(exc)}")
            skipped.append(name)
            continue
        if not new:
            log.warning(f"skipping {name}: no text to index")
            skipped.append(name)
        chunks.extend(new)
    return chunks, skipped


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def no_documents(docs: Path) -> SeedQAError:
    from qa.loaders import suffixes

    kinds = ", ".join(suffixes()[:-1]) + " or " + suffixes()[-1] if len(suffixes()) > 1 else suffixes()[0]
    return SeedQAError(f"no {kinds} documents in {docs}; put documents there or pass --docs")


def read_chunks(folder: Path) -> list[Chunk]:
    """The chunk records of a version folder."""
    with open(folder / CHUNKS, encoding="utf-8") as fh:
        return [_chunk_from(json.loads(line)) for line in fh if line.strip()]


def _chunk_from(rec: dict) -> Chunk:
    rec = dict(rec)
    rec["sentences"] = tuple(Sentence(**s) for s in rec["sentences"])
    rec["headings"] = tuple(rec.get("headings") or ())
    return Chunk(**rec)


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
    previous: Path | None = None,
    vector_store: str = DEFAULT_VECTOR_STORE,
    lexical_store: str = DEFAULT_LEXICAL_STORE,
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
    digests = digests if digests is not None else file_digests(docs, files)
    fp = fingerprint(digests)
    reuse, old_digests = _reusable(previous, digests)
    chunks, skipped = collect_chunks(docs, files, reuse)
    if not chunks:
        raise SeedQAError(f"none of the {len(files)} files in {docs} has text to index")
    index_dir.mkdir(parents=True, exist_ok=True)
    versioned.cleanup_stale(index_dir)
    Store, Lexical = VECTOR_STORES.get(vector_store), LEXICAL_STORES.get(lexical_store)

    cache = VectorCache(index_dir / f"cache-{_slug(encoder.id)}.npz", encoder.dim)
    passages = [passage_text(c) for c in chunks]
    sentences = [s.text for c in chunks for s in c.sentences]
    if progress:
        log.info(f"indexing {len(chunks)} passages and {len(sentences)} sentences from "
                 f"{len(files) - len(skipped)} files with {encoder.id}")

    def enc(texts: list[str]):
        return encoder.encode_passages(texts, progress=progress)

    chunk_vecs, n1 = cache.embed("passage", passages, enc)
    sent_vecs, n2 = cache.embed("sentence", sentences, enc)
    encoded = n1 + n2

    register_terms(chunks)
    with versioned.staging(index_dir) as tmp:
        store = Store.create(encoder.dim)
        store.add(range(len(chunks)), chunk_vecs)
        store.save(tmp / PASSAGES)
        store = Store.create(encoder.dim)
        store.add(range(len(sentences)), sent_vecs)
        store.save(tmp / SENTENCES)
        Lexical(range(len(chunks)), [tokenize(t) for t in passages]).save(tmp / LEXICAL)
        with open(tmp / CHUNKS, "w", encoding="utf-8") as fh:  # read back by `read_chunks`
            for c in chunks:
                fh.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
        versioned.seal(tmp, {
            "format": FORMAT,
            "seedqa_version": __version__,
            "encoder": encoder.id,
            "dim": encoder.dim,
            "stores": {PASSAGES: Store.kind, SENTENCES: Store.kind, LEXICAL: Lexical.kind},
            "chunks": len(chunks),
            "sentences": len(sentences),
            "fingerprint": fp,
            "digests": digests,
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
        versioned.switch_current(index_dir, final.name)
    keep = {cache.key("passage", t) for t in passages} | {cache.key("sentence", t) for t in sentences}
    # keep vectors of other recent versions too (cheap), but drop the cache's dead weight
    cache.save(keep=None if len(cache) < 4 * max(len(keep), 1000) else keep)
    versioned.remove_old_versions(index_dir, final.name)
    if progress:
        changes = f"{_changes(old_digests, digests)}, {len(files) - len(reuse)} read; " if (
            previous is not None) else ""
        log.info(f"index ready: {changes}{n1} passages embedded, {len(passages) - n1} reused "
                 f"({len(chunks)} passages, {time.perf_counter() - t0:.1f} s) in {index_dir}")
    return final
