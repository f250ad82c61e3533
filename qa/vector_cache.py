"""Vectors remembered by content, so re-indexing never re-embeds an unchanged passage.

Embedding is the slow step of indexing (about 20 passages a second on 2 cores); keyed by
sha256(kind + text) and stored per encoder beside the index versions, a vector is computed once
per text however often the documents folder changes around it.

The cache grows on disk as the encoder produces vectors: `vecs.bin` (float32 rows) and
`keys.bin` (32-byte digests) are appended batch by batch, each row before its key, so a build
killed halfway keeps every batch it finished and the next build starts from there; a torn tail
(a row without its key) is simply not counted. Nothing is rewritten whole except when dead rows
(texts no live version needs) outnumber the live ones several times over. Lookups go through a
sorted array of the digests (32 bytes a vector, no Python object per entry), so a cache of
millions of vectors costs its keys in memory and its vectors on disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

KEYS, VECS, META = "keys.bin", "vecs.bin", "meta.json"
KEY = np.dtype("V32")
BATCH = 512  # texts encoded and appended at a time: what a killed build can lose at most
MERGE_NEW = 1 << 16  # digests kept in a dict before they join the sorted arrays


class VectorCache:
    """Vectors keyed by sha256(kind + text), appended to files in one folder per encoder."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = Path(path)
        self.dim = dim
        self._sorted = np.zeros(0, KEY)  # digests of the rows, sorted
        self._order = np.zeros(0, np.int64)  # the row of each sorted digest
        self._new: dict[bytes, int] = {}  # rows appended since the sorted index was built
        self._rows = 0
        self._open()
        self._migrate(self.path.with_suffix(".npz"))

    # ----------------------------------------------------------------------------- on disk

    def _open(self) -> None:
        meta_path = self.path / META
        if self.path.is_dir():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta.get("dim") != self.dim:
                    raise ValueError(f"dim {meta.get('dim')}")
            except (OSError, ValueError) as exc:
                log.warning(f"ignoring unreadable vector cache {self.path.name} "
                            f"({exc.__class__.__name__}); vectors will be computed again")
                shutil.rmtree(self.path, ignore_errors=True)
        if not self.path.is_dir():
            self.path.mkdir(parents=True, exist_ok=True)
            for name in (KEYS, VECS):
                (self.path / name).touch()
            meta_path.write_text(json.dumps({"dim": self.dim}), encoding="utf-8")
        row_bytes = 4 * self.dim
        n_keys = (self.path / KEYS).stat().st_size // 32
        n_vecs = (self.path / VECS).stat().st_size // row_bytes
        self._rows = min(n_keys, n_vecs)  # a row without its key, or a torn row, does not count
        for name, size in ((KEYS, 32), (VECS, row_bytes)):
            with open(self.path / name, "r+b") as fh:  # drop a torn tail before appending
                fh.truncate(self._rows * size)
        keys = np.fromfile(self.path / KEYS, dtype=KEY, count=self._rows)
        self._order = np.argsort(keys, kind="stable")
        self._sorted = keys[self._order]
        self._new = {}

    def _migrate(self, npz: Path) -> None:
        """Take in the vectors of the one-file cache of earlier versions, then drop it."""
        if not npz.is_file():
            return
        try:
            with np.load(npz) as data:
                keys, vecs = data["keys"], data["vecs"]
            if vecs.ndim == 2 and vecs.shape[1] == self.dim and keys.shape == (len(vecs), 32):
                fresh = [i for i, k in enumerate(keys) if self._row(k.tobytes()) is None]
                self._append([keys[i].tobytes() for i in fresh], vecs[fresh])
        except Exception:  # a damaged old cache only costs re-embedding
            log.warning(f"ignoring unreadable vector cache {npz.name}; "
                        "vectors will be computed again")
        npz.unlink(missing_ok=True)

    def _append(self, keys: list[bytes], vecs: np.ndarray) -> None:
        if not keys:
            return
        vecs = np.ascontiguousarray(vecs, dtype=np.float32).reshape(len(keys), self.dim)
        for name, data in ((VECS, vecs.tobytes()), (KEYS, b"".join(keys))):  # rows first
            with open(self.path / name, "ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for i, k in enumerate(keys):
            self._new[k] = self._rows + i
        self._rows += len(keys)
        if len(self._new) >= MERGE_NEW:
            self._merge_new()

    def _merge_new(self) -> None:
        """Move the digests appended since into the sorted arrays: a dict entry per vector
        costs ~150 bytes (a million passages' 6.9M texts: ~1 GB), a sorted row 40."""
        if not self._new:
            return
        keys = np.frombuffer(b"".join(self._new), dtype=KEY)
        rows = np.fromiter(self._new.values(), dtype=np.int64, count=len(self._new))
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        at = np.searchsorted(self._sorted, keys)
        self._sorted = np.insert(self._sorted, at, keys)
        self._order = np.insert(self._order, at, rows)
        self._new = {}

    def _row(self, key: bytes) -> int | None:
        row = self._new.get(key)
        if row is not None:
            return row
        if not len(self._sorted):
            return None
        q = np.frombuffer(key, dtype=KEY)
        i = int(np.searchsorted(self._sorted, q[0]))
        if i < len(self._sorted) and self._sorted[i] == q[0]:
            return int(self._order[i])
        return None

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        table = np.memmap(self.path / VECS, dtype=np.float32, mode="r",
                          shape=(self._rows, self.dim))
        return np.array(table[rows])

    # ----------------------------------------------------------------------------- API

    def __len__(self) -> int:
        return self._rows

    @staticmethod
    def key(kind: str, text: str) -> bytes:
        return hashlib.sha256(f"{kind}\0{text}".encode()).digest()

    def embed(
        self, kind: str, texts: list[str], encode: Callable[[list[str]], np.ndarray],
        batch: int = BATCH,
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts`, encoding only the ones not cached, `batch` at a time, each batch
        on disk before the next starts; returns (vectors, n_encoded)."""
        keys = [self.key(kind, t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in missing and self._row(k) is None:
                missing[k] = t
        todo = list(missing.items())
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            self._append([k for k, _ in part], encode([t for _, t in part]))
        rows = np.array([self._row(k) for k in keys], dtype=np.int64)
        return self._vectors(rows), len(missing)

    def save(self, keep: set[bytes] | None = None) -> None:
        """Drop every row not in `keep` (rewriting the cache once); without `keep`, nothing to
        do: rows are on disk as soon as they are computed."""
        if keep is None:
            return
        rows = sorted(r for r in (self._row(k) for k in keep) if r is not None)
        if len(rows) == self._rows:
            return
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        keys = np.fromfile(self.path / KEYS, dtype=KEY, count=self._rows)
        idx = np.asarray(rows, dtype=np.int64)
        for start in range(0, len(idx), 65536):  # bounded memory however large the cache
            part = idx[start : start + 65536]
            with open(tmp / VECS, "ab") as fh:
                fh.write(self._vectors(part).tobytes())
            with open(tmp / KEYS, "ab") as fh:
                fh.write(keys[part].tobytes())
        for name in (KEYS, VECS):
            (tmp / name).touch()
        (tmp / META).write_text(json.dumps({"dim": self.dim}), encoding="utf-8")
        old = self.path.with_name(self.path.name + f".old{os.getpid()}")
        os.replace(self.path, old)
        os.replace(tmp, self.path)
        shutil.rmtree(old, ignore_errors=True)
        self._open()
