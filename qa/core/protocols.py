"""The small interfaces every backend implements, so the layers above never name a backend.

Modelled on Haystack's `DocumentStore` protocol and simonw/llm's `EmbeddingModel`: the engine
asks an `Encoder` for vectors, a `VectorStore` and a `LexicalStore` for the top-k passage ids of a
query, a `Loader` for the paragraphs of a file; FAISS, BM25 and the text reader are the first
implementations, found through registries (`qa.stores`, `qa.loaders`), and Milvus, PDF, DOCX and
HTML plug in beside them. Protocols rather than base classes: a backend needs no import of ours.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from qa.core.records import Answer, Paragraph


@runtime_checkable
class Encoder(Protocol):
    """Text to L2-normalised float32 vectors; `id` names the model in index manifests."""

    id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


@runtime_checkable
class VectorStore(Protocol):
    """Vectors by integer id with top-k inner-product search (cosine on normalised vectors).

    Only top-k search is asked for, never a score for every vector, so an exact index, an
    approximate one or a remote server all fit.
    """

    kind: ClassVar[str]

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert vectors under `ids`, replacing any already stored under the same id."""

    def delete(self, ids: Sequence[int]) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """`(scores, ids)`, each of shape (len(queries), k'), best first; k' <= k."""

    def get(self, ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of `ids`, in that order."""

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path) -> VectorStore: ...


@runtime_checkable
class LexicalStore(Protocol):
    """Passages as token lists with top-k keyword search (BM25 today); the same shape as a
    `VectorStore`, with token lists where it has vectors."""

    kind: ClassVar[str]

    def __len__(self) -> int: ...

    def add(self, ids: Sequence[int], tokens: Sequence[Sequence[str]]) -> None: ...

    def delete(self, ids: Sequence[int]) -> None: ...

    def search(self, tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """`(scores, ids)` of the `k` best passages sharing a token with the query, best first."""

    def doc_freq(self, token: str) -> int:
        """How many passages contain `token` (for IDF weights in answer features)."""

    def vocabulary(self) -> list[str]:
        """Every token of the indexed passages (English questions are matched to these words:
        `qa.crosslingual`)."""

    def save(self, folder: Path) -> None: ...

    @classmethod
    def load(cls, folder: Path) -> LexicalStore: ...


@runtime_checkable
class Loader(Protocol):
    """Reads one kind of file into paragraphs that carry their provenance (lines, page).

    Raises `DocumentError` (or `OSError`) for a file it cannot read; the indexer skips that file
    with one warning.
    """

    suffixes: ClassVar[tuple[str, ...]]

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]: ...


@runtime_checkable
class Answerer(Protocol):
    """What every way in (CLI, batch files, chat window, API) talks to."""

    @property
    def default_threshold(self) -> float: ...

    def answer(
        self,
        question: str,
        history: Sequence[str] | None = None,
        top_k: int = 5,
        mode: str = "hybrid",
        threshold: float | None = None,
    ) -> Answer: ...
