"""Slices of a saved `.npy` array read with `pread`, never memory-mapped.

A question reads a few rows of files that at a million passages are gigabytes (sentence vectors,
BM25 postings). Read through a memory map, every touched page stays mapped into the process,
and the kernel's page cache now hands out large folios (up to megabytes) which a fault maps
whole: at 1M passages resident memory grew by ~3.5 MB a question for ~20 KB of sentence rows
(1.1 GB after 400 questions). Read with `pread`, the same bytes come from the same page cache,
which the kernel can still drop, and the process keeps only the copies it asked for.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np


class NpyRows:
    """Rows `[lo, hi)` of a C-ordered `.npy` file, read on demand."""

    def __init__(self, path: Path) -> None:
        header = np.load(path, mmap_mode="r")  # reads the header only
        if not header.flags.c_contiguous:
            raise ValueError(f"{path}: not a C-ordered array")
        self.shape: tuple[int, ...] = tuple(header.shape)
        self.dtype = header.dtype
        self._offset = int(header.offset)
        self._row = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        del header
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with the object)

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, lo: int, hi: int) -> np.ndarray:
        """A fresh array of rows `lo..hi-1` (clipped to the array)."""
        lo, hi = max(0, int(lo)), min(int(hi), self.shape[0])
        n = max(0, hi - lo) * self._row
        at = self._offset + lo * self._row
        parts, got = [], 0
        while got < n:
            chunk = os.pread(self._file.fileno(), n - got, at + got)
            if not chunk:
                raise OSError(f"{self._file.name}: file ended {n - got} bytes early")
            parts.append(chunk)
            got += len(chunk)
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        return np.frombuffer(data, dtype=self.dtype).reshape((max(0, hi - lo), *self.shape[1:]))

    def will_need(self, lo: int, hi: int) -> None:
        """Start reading rows `lo..hi-1` into the page cache (a hint; errors are ignored)."""
        if hi > lo and hasattr(os, "posix_fadvise"):
            with contextlib.suppress(OSError):
                os.posix_fadvise(self._file.fileno(), self._offset + lo * self._row,
                                 (hi - lo) * self._row, os.POSIX_FADV_WILLNEED)
