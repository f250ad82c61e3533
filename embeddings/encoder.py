"""One small, thread-safe facade over every embedding model seedqa can use.

Indexing and the chat app only need "vectors for queries" and "vectors for passages"; keeping
that behind :class:`Encoder` lets the model behind it change (engine, converted native model,
any local sentence-transformers folder) without touching callers, and gives manifests a stable
``id`` to detect when an index was built with a different model.

Heavy imports (torch, sentence-transformers) happen inside functions so ``import embeddings``
stays cheap for the CLI's fast paths.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.core import workload
from qa.core.errors import SeedQAError
from qa.core.offline import offline_env
from qa.core.progress import bar as progress_bar

# Threads, measured with bench/bench_encoder.py on the 2-core shared dev box (bf16 model,
# medians of 3 alternating rounds, single-text calls after warm-up):
#   single query, quiet box: 1 thread 13.9 ms, 2 threads 14.6 ms
#   single query, load 2.5:  1 thread 15.0 ms, 2 threads 36.0 ms (worst 1058 ms)
#   single query, load 4.5:  1 thread 15.5 ms, 2 threads 90.5 ms (worst 367 ms)
# One short sequence gains nothing from a second thread, and on a loaded box the OpenMP barrier
# waiting for a descheduled thread costs 5-20x; queries always run on 1 thread. Bulk passages
# flip between 1 and 2 with the load, so they are chosen by measurement (see threads.py).
QUERY_THREADS = 1
PASSAGE_THREADS = workload.cores()
# Passages are encoded in groups this large: big enough to batch well (ST batches of 32) and to
# time reliably, small enough that the thread choice can follow a change in load.
GROUP = 64
# Texts a re-probe of the other thread setting is timed on (see `Encoder._in_groups`): enough to
# time reliably, a quarter of a group.
PROBE = GROUP // 4


class Encoder:
    """Query/passage embeddings (float32, L2-normalised) from one sentence-transformers model.

    A lock serialises calls because the underlying torch modules and the C engine are not
    re-entrant and Gradio calls from several worker threads. Queries run on 1 thread; passages
    are sorted by length (less padding), encoded in groups, and each group's thread count comes
    from a :class:`~embeddings.threads.ThreadChooser` timing the previous groups.

    Given a `loader` (and the `dim` it will have) instead of a model, the model is loaded on
    first use. Why: with questions encoded elsewhere (`query_encoder`), answering from a built
    index never needs it, and it is torch, the weights and a 432 MB tokenizer: a process that
    only answers stays ~0.9 GB smaller and starts without importing torch.
    """

    def __init__(
        self,
        model: Any,
        id: str,
        *,
        query_prompt: str | None,
        passage_prompt: str | None,
        max_tokens: int | None = None,
        loader: Callable[[], Any] | None = None,
        dim: int | None = None,
    ) -> None:
        from embeddings.threads import ThreadChooser

        if model is None and (loader is None or dim is None):
            raise ValueError("an Encoder needs a model, or a loader and the dim it will have")
        self._model = model
        self._loader = loader
        self._load_lock = threading.Lock()
        self.id = id
        self.dim = int(dim) if dim is not None else int(model.get_embedding_dimension())
        self._query_prompt = query_prompt
        self._passage_prompt = passage_prompt
        self._max_tokens = max_tokens
        self._lock = threading.Lock()
        # a faster encoder for questions alone (`embeddings.onnx_query`), or None: the same model
        self.query_encoder: Any = None
        self.query_id = id
        options = (PASSAGE_THREADS, 1) if PASSAGE_THREADS > 1 else (1,)
        self.thread_chooser = ThreadChooser(options)

    @property
    def model(self) -> Any:
        """The model, loaded now if it was given as a loader."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._loader()  # type: ignore[misc]
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return self._empty()
        if self.query_encoder is not None:  # it has its own lock; bulk passages do not block it
            return self.query_encoder.encode(texts)
        with self._lock:
            return _normalise(self._run(texts, self._query_prompt, QUERY_THREADS, progress=False))

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return self._empty()
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(idx: list[int], group: list[str], threads: int) -> None:
            out[idx] = self._run(group, self._passage_prompt, threads, progress=False)

        self._in_groups(texts, run, progress)
        return _normalise(out)

    def encode_passage_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: bool = False
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors and, from the same pass, a vector for each character span of each
        passage (`spans[i]`, offsets in `texts[i]`): the mean of the last hidden states of the
        tokens the span overlaps, L2-normalised ("late chunking").

        Why: a sentence read inside its passage knows what its pronouns and elisions refer to,
        which the sentence encoded alone does not; the answer model weighs both (issue 10). A
        span no token of the pass covers (a windowed over-long passage, a model that is not a
        plain mean-pooled transformer) gets a row of NaN: the caller falls back to the span's
        own vector.
        """
        texts = list(texts)
        late = [np.full((len(s), self.dim), np.nan, np.float32) for s in spans]
        if not texts:
            return self._empty(), late
        model = self.model
        from embeddings.windowing import _mean_pooled_pipeline

        if getattr(model, "tokenizer", None) is None or not _mean_pooled_pipeline(model):
            return self.encode_passages(texts, progress), late
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(idx: list[int], group: list[str], threads: int) -> None:
            vecs, states = self._run_states(group, threads)
            out[idx] = vecs
            for i, pair in zip(idx, states, strict=True):
                if pair is not None:
                    late[i] = _span_means(*pair, spans[i])

        self._in_groups(texts, run, progress)
        return _normalise(out), late

    def _in_groups(
        self, texts: list[str], run: Callable[[list[int], list[str], int], None], progress: bool
    ) -> None:
        """Longest first (less padding), `GROUP` at a time, each group on the thread count the
        chooser picks from the timings of the groups before.

        A re-probe of the setting not in favour runs on the group's first `PROBE` texts only,
        the rest on the favourite: probing a whole group on one thread where two are ~1.8x
        faster cost a build ~9 % (one group in 8), and a 200-passage call a quarter."""
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        chooser = self.thread_chooser

        def timed_run(idx: list[int], threads: int) -> None:
            group = [texts[i] for i in idx]
            began = time.perf_counter()
            run(idx, group, threads)
            chooser.record(threads, time.perf_counter() - began, sum(len(t) for t in group))

        with self._lock, progress_bar(len(texts), "Embedding", "passage", progress) as bar:
            for start in range(0, len(order), GROUP):
                idx = order[start : start + GROUP]
                if len(idx) < PROBE:  # tiny calls are mostly overhead: don't learn from them
                    run(idx, [texts[i] for i in idx], chooser.best())
                else:
                    threads, favourite = chooser.pick(), chooser.best()
                    if threads != favourite and len(idx) >= 2 * PROBE:
                        timed_run(idx[:PROBE], threads)
                        timed_run(idx[PROBE:], favourite)
                    else:
                        timed_run(idx, threads)
                bar.update(len(idx))

    def _run_states(
        self, texts: list[str], threads: int
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray] | None]]:
        """Passage vectors (unnormalised) and each passage's (token states, token character
        offsets in the text) from one model call; None where the text is windowed or the
        tokens cannot be matched to the model's."""
        import torch

        from embeddings.windowing import _special_wrap

        model = self.model
        prompt = (model.prompts.get(self._passage_prompt) or "") if self._passage_prompt else ""
        tok = model.tokenizer
        enc = tok([prompt + t for t in texts], return_offsets_mapping=True, verbose=False)
        width = (self._max_tokens or 10**9) - 2
        head, tail = _special_wrap(tok)
        n_special = len(head) + len(tail)
        fits = [i for i, ids in enumerate(enc["input_ids"]) if len(ids) - n_special <= width]
        vecs = np.empty((len(texts), self.dim), dtype=np.float32)
        states: list[tuple[np.ndarray, np.ndarray] | None] = [None] * len(texts)
        rest = sorted(set(range(len(texts))) - set(fits))
        if rest:
            vecs[rest] = self._run([texts[i] for i in rest], self._passage_prompt, threads,
                                   progress=False)
        if not fits:
            return vecs, states
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            kwargs: dict[str, Any] = {"output_value": None, "convert_to_numpy": False,
                                      "show_progress_bar": False}
            if self._passage_prompt:
                kwargs["prompt_name"] = self._passage_prompt
            outs = model.encode([texts[i] for i in fits], **kwargs)
        finally:
            torch.set_num_threads(previous)
        for i, o in zip(fits, outs, strict=True):
            vecs[i] = o["sentence_embedding"].float().cpu().numpy()
            n = int(o["attention_mask"].sum())
            ids = enc["input_ids"][i]
            if n != len(ids) or o["input_ids"][:n].tolist() != list(ids):
                continue
            offsets = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
            states[i] = (o["token_embeddings"][:n].float().cpu().numpy(), offsets - len(prompt))
        return vecs, states

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.dim), dtype=np.float32)

    def _run(self, texts: list[str], prompt_name: str | None, threads: int, *, progress: bool) -> np.ndarray:
        """One model call at ``threads`` (torch's pool, and the engine's own OpenMP pool)."""
        import torch

        from embeddings.windowing import encode_with_windows

        first = self.model[0]
        if hasattr(first, "passage_threads"):
            first.query_threads = first.passage_threads = threads
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            vecs = encode_with_windows(
                self.model, texts, prompt_name=prompt_name, max_tokens=self._max_tokens, progress=progress
            )
        finally:
            torch.set_num_threads(previous)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)

    def __repr__(self) -> str:
        return f"Encoder(id={self.id!r}, dim={self.dim})"


def _span_means(states: np.ndarray, offsets: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """The normalised mean of the token states each span overlaps (NaN where none does); the
    special tokens (empty) and the prompt's (ending before the text, offset 0) never count."""
    out = np.full((len(spans), states.shape[1]), np.nan, np.float32)
    real = offsets[:, 1] > offsets[:, 0]
    for k, (lo, hi) in enumerate(spans):
        sel = real & (offsets[:, 1] > lo) & (offsets[:, 0] < hi)
        if sel.any():
            v = states[sel].mean(axis=0)
            out[k] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def _normalise(vecs: np.ndarray) -> np.ndarray:
    """Unit length in fp32, even when the model ran in bf16 (norms off by up to ~1e-3)."""
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)


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


def _prompt_names(prompts: dict | None) -> tuple[str | None, str | None]:
    """Use e5-style prompts only when the model defines them; others encode raw text."""
    prompts = {k: v for k, v in (prompts or {}).items() if v}
    query = "query" if "query" in prompts else None
    passage = next((k for k in ("passage", "document") if k in prompts), None)
    return query, passage


def load_st_encoder(
    name_or_path: str, id: str | None = None, model_kwargs: dict[str, Any] | None = None,
    lazy: bool = False,
) -> Encoder:
    """Load any sentence-transformers model from disk (folder or hub cache). With `lazy`, a
    plain transformer + pooling folder is only read for its settings now and loaded on first
    use (see `Encoder`); any other is loaded at once."""
    offline_env()
    folder = _resolve_local(name_or_path)
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise SeedQAError(
            f"'{name_or_path}' is not a sentence-transformers model folder "
            "(no modules.json or config.json)"
        )
    settings = _settings(folder) if lazy else None
    if settings is not None:
        dim, query, passage, max_len = settings
        return Encoder(None, id or f"st:{folder}", query_prompt=query, passage_prompt=passage,
                       max_tokens=max_len, dim=dim,
                       loader=lambda: _load_st(folder, name_or_path, model_kwargs))
    model = _load_st(folder, name_or_path, model_kwargs)
    query, passage = _prompt_names(getattr(model, "prompts", None))
    max_len = getattr(model, "max_seq_length", None)
    return Encoder(
        model,
        id or f"st:{folder}",
        query_prompt=query,
        passage_prompt=passage,
        max_tokens=int(max_len) if max_len else None,
    )


def _load_st(folder: Path, name_or_path: str, model_kwargs: dict[str, Any] | None) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # the model's "Loading weights" bar and load report are noise in a CLI or chat log
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        return SentenceTransformer(
            str(folder), device="cpu", local_files_only=True, model_kwargs=model_kwargs
        )
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SeedQAError(f"could not load model '{name_or_path}': {first}") from exc


_PLAIN = (["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling"],
          ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
           "sentence_transformers.models.Normalize"])


def _settings(folder: Path) -> tuple[int, str | None, str | None, int | None] | None:
    """(dim, query prompt name, passage prompt name, max tokens) of a plain transformer +
    pooling folder, as the loaded model would give them, from its files; None for any other
    layout (a Dense layer changes the dimension, custom modules may do anything)."""
    import json

    def read(name: str) -> dict:
        path = folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        if [m.get("type") for m in modules] not in _PLAIN:
            return None
        pooling = read(f"{modules[1]['path']}/config.json")
        dim = pooling.get("embedding_dimension", pooling.get("word_embedding_dimension"))
        prompts = read("config_sentence_transformers.json").get("prompts") or {}
        max_len = read("sentence_bert_config.json").get("max_seq_length")
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    if not isinstance(dim, int) or not isinstance(prompts, dict):
        return None
    return dim, *_prompt_names(prompts), int(max_len) if isinstance(max_len, int) else None
