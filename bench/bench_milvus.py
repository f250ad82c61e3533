"""milvus-lite as a vector store: insert throughput and search latency beside FAISS, one run.

    .venv/bin/python bench/bench_milvus.py [--n 5000] [--dim 384] [--queries 200]

Random unit vectors (the figures do not depend on the text); the Milvus file lives in a temp dir.
Medians of the per-query search times; insert = vectors per second of `save` (collection
creation included) and of a later upsert straight into Milvus.
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

from qa.stores.faiss_store import FaissStore  # noqa: E402
from qa.stores.milvus_store import MilvusStore  # noqa: E402


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
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
    for k, val in out.items():
        print(f"{k:28s} {val}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
