"""Passage tokens as integer ids on disk, and BM25 built from them without the token strings.

A million passages of ~137 jieba tokens each are ~12 GB as Python lists of strings; as int32 ids
they are ~0.55 GB, written to disk batch by batch as the build tokenises. The layout:

    token_ids.i32     every passage's token ids, one after the other (int32, raw)
    token_offs.npy    int64, passage i's ids are ids[offs[i]:offs[i + 1]]
    token_vocab.json  the tokens, in id order (ids by first appearance)

`build_bm25` then writes bm25s' own files (data / indices / indptr `.npy`, `vocab.index.json`,
`params.index.json`), so `bm25s.BM25.load(..., mmap=True)` serves them as before. It reads the
id file in blocks of passages (two passes: document frequencies, then scores) and writes the
CSC arrays into memory-mapped files, so its memory is one block plus the per-token arrays. The
scores are bm25s' own ("lucene" BM25, float32, computed in the same float64 steps), checked
bit for bit against `bm25s.BM25.index` by the tests.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

IDS_FILE = "token_ids.i32"
OFFS_FILE = "token_offs.npy"
VOCAB_FILE = "token_vocab.json"
# bm25s' file names (its `save` defaults) and its "empty token"
DATA, INDICES, INDPTR = "data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy"
BM25_VOCAB, BM25_PARAMS = "vocab.index.json", "params.index.json"
EMPTY = ""
BLOCK_TOKENS = 4_000_000  # token ids scored at a time by `build_bm25` (~0.2 GB of temporaries)


class TokenIdWriter:
    """Appends passages' tokens as ids to a folder; `close` writes offsets and vocabulary.

    The vocabulary (token -> id) is the only thing that grows with the corpus in memory: a few
    hundred thousand distinct tokens, not a list per passage.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.folder / IDS_FILE, "wb")  # noqa: SIM115 - closed by `close`
        self._vocab: dict[str, int] = {}
        self._lengths: list[np.ndarray] = []

    def add(self, docs: Iterable[Sequence[str]]) -> None:
        """Append one token list per passage (an empty one stays empty)."""
        vocab = self._vocab
        ids: list[int] = []
        lengths: list[int] = []
        for doc in docs:
            for t in doc:
                i = vocab.get(t)
                if i is None:
                    i = vocab[t] = len(vocab)
                ids.append(i)
            lengths.append(len(doc))
        self._fh.write(np.asarray(ids, dtype=np.int32).tobytes())
        self._lengths.append(np.asarray(lengths, dtype=np.int64))

    def close(self) -> TokenIds:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        lengths = np.concatenate(self._lengths) if self._lengths else np.zeros(0, np.int64)
        offs = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offs[1:])
        np.save(self.folder / OFFS_FILE, offs)
        (self.folder / VOCAB_FILE).write_text(
            json.dumps(list(self._vocab), ensure_ascii=False), encoding="utf-8")
        return TokenIds.load(self.folder)

    def __enter__(self) -> TokenIdWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self._fh.closed:
            self._fh.close()


class TokenIds:
    """Read side: passage i's tokens, by id array or as strings; memory-mapped ids."""

    def __init__(self, ids: np.ndarray, offs: np.ndarray, vocab: list[str],
                 path: Path | None = None) -> None:
        self.ids, self.offs, self.vocab = ids, offs, vocab
        self.path = path  # the id file, when `ids` maps one

    def span(self, lo: int, hi: int) -> np.ndarray:
        """Token ids lo..hi of the whole file, read rather than taken from the map: a build
        reading every id through the map would keep them all resident (0.55 GB at 1M)."""
        if self.path is None or hi <= lo:
            return np.asarray(self.ids[lo:hi])
        return np.fromfile(self.path, dtype=np.int32, count=hi - lo, offset=4 * lo)

    @classmethod
    def load(cls, folder: Path) -> TokenIds:
        folder = Path(folder)
        offs = np.load(folder / OFFS_FILE)
        size = (folder / IDS_FILE).stat().st_size
        if size != 4 * int(offs[-1]):
            raise ValueError(f"{IDS_FILE}: {size} bytes, offsets say {4 * int(offs[-1])}")
        ids = (np.memmap(folder / IDS_FILE, dtype=np.int32, mode="r") if size
               else np.zeros(0, np.int32))
        vocab = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        return cls(ids, offs, vocab, folder / IDS_FILE if size else None)

    @classmethod
    def write(cls, folder: Path, docs: Iterable[Sequence[str]]) -> TokenIds:
        """All of `docs` at once (small corpora, tests, a re-index after an edit)."""
        with TokenIdWriter(folder) as w:
            w.add(docs)
            return w.close()

    def __len__(self) -> int:
        return len(self.offs) - 1

    def doc_ids(self, i: int) -> np.ndarray:
        return np.asarray(self.ids[self.offs[i]: self.offs[i + 1]])

    def __getitem__(self, i: int) -> list[str]:
        return [self.vocab[t] for t in self.doc_ids(i)]

    def __iter__(self) -> Iterator[list[str]]:
        for i in range(len(self)):
            yield self[i]


def _blocks(offs: np.ndarray, n_docs: int) -> Iterator[tuple[int, int]]:
    """(first, end) passage ranges of at most `BLOCK_TOKENS` tokens (at least one passage)."""
    lo = 0
    while lo < n_docs:
        hi = int(np.searchsorted(offs, offs[lo] + BLOCK_TOKENS, side="right")) - 1
        hi = min(max(hi, lo + 1), n_docs)
        yield lo, hi
        lo = hi


def _block_counts(tok: TokenIds, lo: int, hi: int, n_vocab: int, empty: int):
    """(doc, token, tf) of passages lo..hi, sorted by token then doc, and the block's lengths.

    An empty passage counts as the single token `empty`, as bm25s is given `[""]` for it.
    """
    offs = tok.offs[lo: hi + 1]
    lengths = np.diff(offs)
    ids = tok.span(int(offs[0]), int(offs[-1])).astype(np.int64)
    docs = np.repeat(np.arange(lo, hi, dtype=np.int64), lengths)
    blank = np.flatnonzero(lengths == 0)
    if len(blank):
        ids = np.concatenate([ids, np.full(len(blank), empty, np.int64)])
        docs = np.concatenate([docs, blank + lo])
        lengths = np.where(lengths == 0, 1, lengths)
    keys, tf = np.unique(ids * (hi - lo) + (docs - lo), return_counts=True)  # sorted: tok, doc
    return keys % (hi - lo) + lo, keys // (hi - lo), tf, lengths


def build_bm25(tok: TokenIds, out: Path, k1: float, b: float) -> None:
    """Write bm25s' index files for `tok` (method "lucene", float32 scores) into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n_docs = len(tok)
    vocab = {t: i for i, t in enumerate(tok.vocab)}
    # bm25s is given `[""]` for an empty passage, so "" then has a column; otherwise it is
    # appended to the vocabulary after the last column (its `create_empty_token`)
    if (np.diff(tok.offs) == 0).any():
        vocab.setdefault(EMPTY, len(vocab))
    n_vocab = len(vocab)
    vocab.setdefault(EMPTY, n_vocab)
    empty = vocab[EMPTY]
    lengths_all = np.maximum(np.diff(tok.offs), 1)
    avg_doc_len = float(lengths_all.sum()) / n_docs if n_docs else 0.0

    # pass 1: document frequency of every token
    df = np.zeros(n_vocab, dtype=np.int64)
    for lo, hi in _blocks(tok.offs, n_docs):
        _, tids, _, _ = _block_counts(tok, lo, hi, n_vocab, empty)
        df += np.bincount(tids, minlength=n_vocab)
    idf = np.zeros(n_vocab, dtype=np.float32)
    for t in np.flatnonzero(df):
        d = int(df[t])
        idf[t] = math.log(1 + (n_docs - d + 0.5) / (d + 0.5))
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    nnz = int(indptr[-1])

    # pass 2: scores straight into their column slots of the memory-mapped CSC arrays
    data = np.lib.format.open_memmap(out / DATA, mode="w+", dtype=np.float32, shape=(nnz,))
    indices = np.lib.format.open_memmap(out / INDICES, mode="w+", dtype=np.int32, shape=(nnz,))
    cursor = indptr[:-1].copy()
    for lo, hi in _blocks(tok.offs, n_docs):
        docs, tids, tf, lengths = _block_counts(tok, lo, hi, n_vocab, empty)
        l_d = lengths[docs - lo]
        tfc = tf.astype(np.float32) / (k1 * ((1 - b) + b * l_d / avg_doc_len)
                                       + tf.astype(np.float32))
        scores = (idf[tids] * tfc).astype(np.float32)
        # rank of each entry within its token's run in this block (entries sorted by token)
        starts = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
        run = np.repeat(starts, np.diff(np.r_[starts, len(tids)]))
        pos = cursor[tids] + (np.arange(len(tids)) - run)
        data[pos] = scores
        indices[pos] = docs.astype(np.int32)
        uniq = tids[starts]
        cursor[uniq] += np.diff(np.r_[starts, len(tids)])
        for arr in (data, indices):  # written pages go to the page cache, not this process
            arr.flush()
            arr._mmap.madvise(mmap.MADV_DONTNEED)
    del data, indices
    np.save(out / INDPTR, indptr)
    (out / BM25_VOCAB).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    import bm25s

    params = {"k1": k1, "b": b, "delta": 0.5, "method": "lucene", "idf_method": "lucene",
              "dtype": "float32", "int_dtype": "int32", "num_docs": n_docs,
              "version": bm25s.__version__, "backend": "numpy"}
    (out / BM25_PARAMS).write_text(json.dumps(params, indent=4), encoding="utf-8")
