"""Build, verify, cache and atomically swap the on-disk index of a documents folder.

Layout of an index folder (default `<docs>/.seedqa/`):

    CURRENT            name of the live version folder (replaced atomically)
    v-<id>/            one complete index: manifest.json, chunks.jsonl, dense.faiss,
                       sentences.npy, bm25/
    cache-<enc>.npz    vectors by sha256 of (prompt kind, text), so re-indexing never re-embeds
                       an unchanged chunk or sentence
    .lock              held while building, so two `seedqa index` runs do not interleave

A new version is written beside the old one and `CURRENT` is switched only once it is complete
and verified; a build killed at any point leaves the previous version live. Every file of a
version is checksummed in its manifest, so a truncated or corrupted file is detected on load and
the index rebuilt instead of answering from garbage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from qa import __version__
from qa.chunks import MAX_CHARS, TARGET_CHARS, build_chunks
from qa.documents import (
    INDEX_DIRNAME,
    DocumentError,
    check_file,
    doc_name,
    iter_files,
    read_paragraphs,
)
from qa.errors import SeedQAError
from qa.lexical import LexicalIndex, register_terms
from qa.types import Chunk, Sentence

log = logging.getLogger("seedqa")

FORMAT = 1
CURRENT = "CURRENT"
LOCK = ".lock"


def _say(msg: str) -> None:
    print(f"seedqa: {msg}", file=sys.stderr, flush=True)


@dataclass
class Index:
    """A loaded index: chunks plus the dense, sentence and lexical structures over them."""

    folder: Path
    manifest: dict
    chunks: list[Chunk]
    dense: object  # embeddings.vector_index.VectorIndex
    sentence_vectors: np.ndarray
    sentence_offsets: np.ndarray  # chunk i's sentences are rows offsets[i]:offsets[i+1]
    lexical: LexicalIndex


# ---------------------------------------------------------------------------- fingerprints


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(docs: Path, files: list[Path]) -> str:
    """Content hash of the documents folder: names and bytes of every indexed file.

    A file the indexer would skip unread (over the size limit, not a regular file) is not hashed:
    hashing it would cost reading a file that is never indexed, on every open, and a pipe would
    block; it counts by name and the reason only.
    """
    h = hashlib.sha256()
    for f in files:
        try:
            check_file(f)
            digest = _sha256_file(f)
        except DocumentError as exc:
            digest = f"skipped: {exc}"
        except OSError:
            digest = "unreadable"
        h.update(doc_name(f, docs).encode() + b"\0" + digest.encode() + b"\n")
    return h.hexdigest()


def pipeline_id() -> str:
    """Hash of the code that turns files into chunks and tokens: an index built by other
    cleaning or chunking rules is stale even when the documents did not change."""
    import qa.chunks
    import qa.documents
    import qa.lexical

    h = hashlib.sha256()
    for mod in (qa.documents, qa.chunks, qa.lexical):
        h.update(Path(mod.__file__).read_bytes())
    return h.hexdigest()[:16]


def default_index_dir(docs: Path) -> Path:
    return Path(docs) / INDEX_DIRNAME


# ---------------------------------------------------------------------------- vector cache


class VectorCache:
    """Vectors keyed by sha256(kind + text), stored per encoder as one `.npz`."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim
        self._vecs: dict[bytes, np.ndarray] = {}
        if path.is_file():
            try:
                with np.load(path) as data:
                    keys, vecs = data["keys"], data["vecs"]
                if vecs.ndim == 2 and vecs.shape[1] == dim and keys.shape == (len(vecs), 32):
                    self._vecs = {k.tobytes(): v for k, v in zip(keys, vecs, strict=True)}
            except Exception:  # a damaged cache only costs re-embedding
                # printed like every other indexing warning (the CLI configures no logging)
                _say(f"warning: ignoring unreadable vector cache {path.name}; "
                     "vectors will be computed again")

    @staticmethod
    def key(kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{kind}\0{text}".encode()).digest()

    def embed(
        self, kind: str, texts: list[str], encode: Callable[[list[str]], np.ndarray]
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, encoding only the ones not cached; returns (vectors, n_encoded)."""
        keys = [self.key(kind, t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._vecs and k not in missing:
                missing[k] = t
        if missing:
            vecs = encode(list(missing.values()))
            for k, v in zip(missing, vecs, strict=True):
                self._vecs[k] = np.asarray(v, dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, k in enumerate(keys):
            out[i] = self._vecs[k]
        return out, len(missing)

    def save(self, keep: set[bytes] | None = None) -> None:
        items = [(k, v) for k, v in self._vecs.items() if keep is None or k in keep]
        # raw uint8 rows: numpy's bytes dtype would drop a digest's trailing NUL bytes
        keys = np.frombuffer(b"".join(k for k, _ in items), dtype=np.uint8).reshape(-1, 32)
        vecs = np.stack([v for _, v in items]) if items else np.zeros((0, self.dim), np.float32)
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            np.savez(fh, keys=keys, vecs=vecs)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


# ---------------------------------------------------------------------------- build


def passage_text(chunk: Chunk) -> str:
    """What the encoder and BM25 see for a chunk: its section title gives it context."""
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def _reason(exc: BaseException) -> str:
    """A one-line reason for a skipped file: `No such file or directory`, not the errno repr
    with the absolute path (the warning already names the file)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def collect_chunks(docs: Path, files: list[Path]) -> tuple[list[Chunk], list[str]]:
    """Chunks of every readable file; unreadable ones are skipped with one warning each.

    A file removed, truncated or made unreadable while it is read costs that file only: the
    chunks it had produced so far are dropped with it, so an index never holds half a file.
    """
    chunks: list[Chunk] = []
    skipped: list[str] = []
    for f in files:
        name = doc_name(f, docs)
        try:
            new = list(build_chunks(read_paragraphs(f, name), first_id=len(chunks)))
        except (DocumentError, OSError, UnicodeError) as exc:
            _say(f"warning: skipping {name}: {_reason(exc)}")
            skipped.append(name)
            continue
        if not new:
            _say(f"warning: skipping {name}: no text to index")
            skipped.append(name)
        chunks.extend(new)
    return chunks, skipped


def _chunk_record(c: Chunk) -> dict:
    return asdict(c)


def _chunk_from(rec: dict) -> Chunk:
    rec = dict(rec)
    rec["sentences"] = tuple(Sentence(**s) for s in rec["sentences"])
    return Chunk(**rec)


def build_index(
    docs: Path,
    index_dir: Path,
    encoder,
    *,
    progress: bool = True,
    files: list[Path] | None = None,
    fp: str | None = None,
) -> Path:
    """Build a new version beside the live one and switch `CURRENT` to it when complete."""
    from embeddings.vector_index import VectorIndex

    t0 = time.perf_counter()
    files = iter_files(docs) if files is None else files
    if not files:
        raise SeedQAError(f"no .txt or .md documents in {docs}; put text files there or pass --docs")
    fp = fp or fingerprint(docs, files)
    chunks, skipped = collect_chunks(docs, files)
    if not chunks:
        raise SeedQAError(f"none of the {len(files)} files in {docs} has text to index")
    index_dir.mkdir(parents=True, exist_ok=True)
    _cleanup_stale(index_dir)

    cache = VectorCache(index_dir / f"cache-{_slug(encoder.id)}.npz", encoder.dim)
    passages = [passage_text(c) for c in chunks]
    sentences = [s.text for c in chunks for s in c.sentences]
    if progress:
        _say(f"indexing {len(chunks)} passages and {len(sentences)} sentences from "
             f"{len(files) - len(skipped)} files with {encoder.id}")

    def enc(texts: list[str]) -> np.ndarray:
        return encoder.encode_passages(texts, progress=progress)

    chunk_vecs, n1 = cache.embed("passage", passages, enc)
    sent_vecs, n2 = cache.embed("sentence", sentences, enc)
    encoded = n1 + n2

    register_terms(chunks)
    tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=index_dir))
    try:
        VectorIndex.build(chunk_vecs).save(tmp / "dense.faiss")
        np.save(tmp / "sentences.npy", sent_vecs)
        LexicalIndex.build(passages).save(tmp / "bm25")
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps(_chunk_record(c), ensure_ascii=False) + "\n")
        manifest = {
            "format": FORMAT,
            "seedqa_version": __version__,
            "encoder": encoder.id,
            "dim": encoder.dim,
            "chunks": len(chunks),
            "sentences": len(sentences),
            "fingerprint": fp,
            "pipeline": pipeline_id(),
            "files": len(files),
            "skipped": skipped,
            "chunking": {"target": TARGET_CHARS, "max": MAX_CHARS},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "build_seconds": round(time.perf_counter() - t0, 2),
            "encoded": encoded,
            "checksums": _checksums(tmp),
        }
        _write_json(tmp / "manifest.json", manifest)
        _fsync_tree(tmp)
        final = index_dir / f"v-{fp[:12]}-{_slug(encoder.id)}-{int(time.time() * 1000)}"
        os.rename(tmp, final)
        _switch_current(index_dir, final.name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    keep = {cache.key("passage", t) for t in passages} | {cache.key("sentence", t) for t in sentences}
    # keep vectors of other recent versions too (cheap), but drop the cache's dead weight
    cache.save(keep=None if len(cache._vecs) < 4 * max(len(keep), 1000) else keep)
    _remove_old_versions(index_dir, final.name)
    if progress:
        _say(f"index ready: {len(chunks)} passages, {encoded} newly embedded "
             f"({time.perf_counter() - t0:.1f} s) in {index_dir}")
    return final


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _checksums(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != "manifest.json":
            out[p.relative_to(folder).as_posix()] = _sha256_file(p)
    return out


def _write_json(path: Path, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def _switch_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f"{CURRENT}.tmp{os.getpid()}"
    tmp.write_text(name + "\n", encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    try:
        dfd = os.open(index_dir, os.O_RDONLY)
        os.fsync(dfd)
        os.close(dfd)
    except OSError:
        pass


def _cleanup_stale(index_dir: Path) -> None:
    """Remove what a killed build left behind (temp folders and files)."""
    for p in index_dir.iterdir():
        if p.name.startswith("tmp-") and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif ".tmp" in p.name and p.is_file():
            p.unlink(missing_ok=True)


def _remove_old_versions(index_dir: Path, live: str) -> None:
    for p in index_dir.glob("v-*"):
        if p.is_dir() and p.name != live:
            shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------- load


class StaleIndex(Exception):
    """The index on disk cannot be used as is; the message says why (shown to the user)."""


def current_version(index_dir: Path) -> Path | None:
    """The live version folder, or None when `CURRENT` is missing or names no version.

    A damaged pointer (binary garbage, a path leading out of the index folder) counts as no
    version: the index is rebuilt rather than read from wherever the pointer leads.
    """
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None
    if not name.startswith("v-") or "/" in name or "\\" in name or "\0" in name:
        return None
    folder = index_dir / name
    return folder if folder.is_dir() else None


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StaleIndex(f"manifest unreadable ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StaleIndex("manifest from another seedqa index format")
    return manifest


def verify(folder: Path, manifest: dict) -> None:
    """Every file listed in the manifest exists and matches its checksum."""
    sums = manifest.get("checksums")
    if not isinstance(sums, dict) or not sums:
        raise StaleIndex("manifest has no checksums")
    for rel, digest in sums.items():
        p = folder / rel
        try:
            actual = _sha256_file(p)
        except OSError:
            # gone or unreadable, including removed between a check and the read by another
            # process's build swapping versions: a reason to rebuild, not a traceback
            raise StaleIndex(f"{rel} is missing or unreadable") from None
        if actual != digest:
            raise StaleIndex(f"{rel} is corrupted (checksum mismatch)")


def load_index(folder: Path, manifest: dict) -> Index:
    from embeddings.vector_index import VectorIndex

    try:
        with open(folder / "chunks.jsonl", encoding="utf-8") as fh:
            chunks = [_chunk_from(json.loads(line)) for line in fh if line.strip()]
        dense = VectorIndex.load(folder / "dense.faiss")
        sent = np.load(folder / "sentences.npy")
        lexical = LexicalIndex.load(folder / "bm25")
    except Exception as exc:  # verified files that still fail to parse: rebuild
        raise StaleIndex(f"index files unreadable ({exc.__class__.__name__}: {exc})") from exc
    counts = np.array([len(c.sentences) for c in chunks])
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if len(chunks) != manifest.get("chunks") or len(dense) != len(chunks) or len(sent) != offsets[-1]:
        raise StaleIndex("index files disagree with the manifest")
    return Index(folder, manifest, chunks, dense, sent, offsets, lexical)


def open_index(
    docs: Path,
    index_dir: Path | None,
    encoder,
    *,
    progress: bool = True,
    rebuild: bool = False,
) -> Index:
    """The index for `docs` built with `encoder`, (re)building it when missing, stale or damaged."""
    from filelock import FileLock, Timeout

    docs = Path(docs)
    if not docs.is_dir():
        raise SeedQAError(f"documents folder {docs} does not exist; pass --docs DIR")
    index_dir = Path(index_dir) if index_dir else default_index_dir(docs)
    files = iter_files(docs)
    if not files:
        raise SeedQAError(f"no .txt or .md documents in {docs}; put text files there or pass --docs")
    fp = fingerprint(docs, files)

    def usable(report: bool) -> Index | None:
        folder = current_version(index_dir)
        if folder is None or rebuild:
            damaged = folder is None and (index_dir / CURRENT).exists()
            if damaged and not rebuild and progress and report:
                # a damaged pointer is damage like any other: say so rather than rebuild silently
                _say("rebuilding the index: CURRENT names no index version")
            return None
        try:
            manifest = read_manifest(folder)
            if manifest.get("encoder") != encoder.id:
                raise StaleIndex(f"built with another encoder ({manifest.get('encoder')})")
            if manifest.get("fingerprint") != fp:
                raise StaleIndex("the documents changed")
            if manifest.get("pipeline") != pipeline_id():
                raise StaleIndex("built by another version of the cleaning/chunking code")
            verify(folder, manifest)
            return load_index(folder, manifest)
        except StaleIndex as why:
            if progress and report:
                _say(f"rebuilding the index: {why}")
            return None

    found = usable(report=True)
    if found is not None:
        return found
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(index_dir / LOCK))
    try:
        lock.acquire(timeout=0.1)
    except Timeout:
        _say(f"waiting for another seedqa process that is building the index in {index_dir} ...")
        lock.acquire()
    try:
        found = None if rebuild else usable(report=False)  # the other process may have built it meanwhile
        if found is not None:
            return found
        folder = build_index(docs, index_dir, encoder, progress=progress, files=files, fp=fp)
        manifest = read_manifest(folder)
        return load_index(folder, manifest)
    finally:
        lock.release()
