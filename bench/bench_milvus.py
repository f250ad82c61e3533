"""milvus-lite as a vector store and as a BM25 lexical store: insert throughput and search
latency beside FAISS and bm25s, one run.

    .venv/bin/python bench/bench_milvus.py [--n 5000] [--dim 384] [--queries 200] [--tokens 120]

Vectors: random unit vectors (the figures do not depend on the text). Lexical: synthetic
passages of `--tokens` tokens drawn from a Zipf law over a 20,000-word vocabulary (the seeds
average 123 jieba tokens a passage, questions 11), queries of 11 tokens drawn the same way.
The Milvus file lives in a temp dir. Medians of the per-query times; insert = items per second
of `save` (collection creation included) and of a later upsert straight into Milvus; for bm25s,
of building its index (it re-indexes the whole corpus on any change).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qa.stores.bm25_store import Bm25Store  # noqa: E402
from qa.stores.faiss_store import FaissStore  # noqa: E402
from qa.stores.milvus_lexical import MilvusBm25Store  # noqa: E402
from qa.stores.milvus_store import MilvusStore  # noqa: E402

VOCAB = 20_000
QUERY_TOKENS = 11


def _vectors(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _search_ms(store, queries: np.ndarray) -> float:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        store.search(q[None, :], 10)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _tokens(n: int, length: int, seed: int) -> list[list[str]]:
    """`n` token lists of about `length` Zipf-distributed words (a few common, most rare)."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.2, size=(n, length)), VOCAB)
    lengths = rng.integers(length // 2, length + length // 2 + 1, size=n)
    return [[f"w{r}" for r in row[:m]] for row, m in zip(ranks.tolist(), lengths, strict=True)]


def _ms(fn, items) -> float:
    times = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _lexical(a: argparse.Namespace, tmp: Path, out: dict) -> None:
    """BM25 in Milvus beside bm25s: build/insert rate, search and doc_freq latency."""
    corpus = _tokens(a.n, a.tokens, 0)
    queries = [q[:QUERY_TOKENS] for q in _tokens(a.queries, QUERY_TOKENS * 2, 2)]
    words = [q[0] for q in queries]
    t0 = time.perf_counter()
    bm25 = Bm25Store(range(a.n), corpus)
    out["bm25s_build_passages_per_s"] = round(a.n / (time.perf_counter() - t0))
    out["bm25s_search_p50_ms"] = round(_ms(lambda q: bm25.search(q, 50), queries), 3)
    out["bm25s_doc_freq_p50_ms"] = round(_ms(bm25.doc_freq, words), 4)
    milvus = MilvusBm25Store(range(a.n), corpus)
    t0 = time.perf_counter()
    milvus.save(tmp / "idx" / "v-1" / "lexical")
    out["milvus_bm25_save_passages_per_s"] = round(a.n / (time.perf_counter() - t0))
    out["milvus_bm25_search_p50_ms"] = round(_ms(lambda q: milvus.search(q, 50), queries), 3)
    # the first lookup of each word goes to Milvus; later ones are cached in the process
    out["milvus_bm25_doc_freq_p50_ms"] = round(_ms(milvus.doc_freq, dict.fromkeys(words)), 3)
    same = sum(list(bm25.search(q, 10)[1]) == list(milvus.search(q, 10)[1]) for q in queries)
    out["lexical_same_top10"] = f"{same}/{len(queries)}"
    more = _tokens(a.n // 5, a.tokens, 1)
    t0 = time.perf_counter()
    milvus.add(range(a.n, a.n + len(more)), more)
    out["milvus_bm25_upsert_passages_per_s"] = round(len(more) / (time.perf_counter() - t0))
    milvus.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--tokens", type=int, default=120, help="mean tokens a lexical passage")
    a = ap.parse_args()
    v, w = _vectors(a.n, a.dim, 0), _vectors(a.n, a.dim, 1)
    queries = v[: a.queries]
    out = {"n": a.n, "dim": a.dim}
    with tempfile.TemporaryDirectory() as tmp:
        milvus = MilvusStore.create(a.dim)
        milvus.add(range(a.n), v)
        t0 = time.perf_counter()
        milvus.save(Path(tmp) / "idx" / "v-1" / "passages")
        out["milvus_save_vectors_per_s"] = round(a.n / (time.perf_counter() - t0))
        out["milvus_search_p50_ms"] = round(_search_ms(milvus, queries), 3)
        t0 = time.perf_counter()
        milvus.add(range(a.n, 2 * a.n), w)
        out["milvus_upsert_vectors_per_s"] = round(a.n / (time.perf_counter() - t0))
        faiss = FaissStore.create(a.dim)
        t0 = time.perf_counter()
        faiss.add(range(a.n), v)
        out["faiss_add_vectors_per_s"] = round(a.n / (time.perf_counter() - t0))
        out["faiss_search_p50_ms"] = round(_search_ms(faiss, queries), 3)
        if hasattr(milvus, "close"):
            milvus.close()
        _lexical(a, Path(tmp) / "lexical", out)
    for k, val in out.items():
        print(f"{k:34s} {val}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
