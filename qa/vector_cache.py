"""Vectors remembered by content, so re-indexing never re-embeds an unchanged passage.

Embedding is the slow step of indexing (about 20 passages a second on 2 cores); keyed by
sha256(kind + text) and stored per encoder as one `.npz` beside the index versions, a vector is
computed once per text however often the documents folder changes around it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


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
                log.warning(f"ignoring unreadable vector cache {path.name}; "
                            "vectors will be computed again")

    def __len__(self) -> int:
        return len(self._vecs)

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
