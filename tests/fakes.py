"""A tiny deterministic encoder for unit tests: the real one embeds ~20 passages a second.

Like simonw/llm's test model: ten lines, no model file, same vector for the same text on every
machine. Texts sharing character bigrams get a high cosine, so retrieval still behaves sensibly.
"""

from __future__ import annotations

import zlib

import numpy as np


class FakeEncoder:
    """Hashed character bigrams, L2-normalised; implements `qa.core.Encoder`."""

    id = "fake:bigrams-64"
    dim = 64

    def encode_queries(self, texts) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts, progress: bool = False) -> np.ndarray:
        return self._encode(texts)

    def encode_passage_spans(self, texts, spans, progress: bool = False):
        """Passage vectors, and each span's vector "read in context": its text with the
        character either side, so it differs from the span's own vector as a real pass does."""
        late = [self._encode([t[max(lo - 1, 0) : hi + 1] for lo, hi in s]).reshape(len(s), self.dim)
                for t, s in zip(texts, spans, strict=True)]
        return self.encode_passages(texts), late  # subclasses count passages there

    def _encode(self, texts) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in zip(text, text[1:], strict=False):
                out[row, zlib.crc32((a + b).encode()) % self.dim] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
