"""A million passages on one machine: exact FAISS vs IVF-SQ8, and BM25, at 100k and 1M.

    .venv/bin/python bench/bench_stores_scale.py [--sizes 100000,1000000] [--bm25-sizes ...]
                                          [--parts faiss,bm25] [--queries 200] [--dir TMP]

Synthetic data, so the figures depend on size and shape, not on text:
- vectors: 384-d float32 unit vectors from a two-level gaussian mixture (50 topics x 100
  subtopics, embeddings cluster by topic); held-out queries come from the same mixture but are
  never stored;
- BM25: passages of ~80 token ids (Poisson) drawn from a Zipf(1) law over 200k ids, given to
  `qa.stores.token_ids.TokenIdWriter` as tokens `t<id>` batch by batch (no tokenizer in the
  way); queries are 6 distinct tokens of a held-out passage, searched with `Bm25Store.search`.

Every build and every load runs in its own child process, so RSS figures are that step's alone:
"RSS +" is resident growth over the child's start, "peak +" its high-water mark (ru_maxrss),
"anon +" the part not backed by a file (a memory-mapped index shows up in RSS as page cache the
kernel can drop, not in anon). FAISS is built with `FaissStore.build` from vectors generated
batch by batch (as the index build reads them back from its staging file), so build seconds
include generating them twice for an IVF (training sample, then filling), FAISS training, the
nprobe measurement and writing the file. Query latency is one question at a time,
top-10, after 5 warm-up questions, with FAISS's default
OpenMP threads and again with one; recall@10 is against the exact flat index's answers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
# topic + subtopic + noise (norms 1, 0.7, 1): a passage's nearest neighbour is at cosine ~0.65,
# its 10th at ~0.55, a random passage at ~0 -- about what sentence embeddings show; with one flat
# level of well-separated gaussians instead, an IVF finds everything with nprobe=1
TOPICS = 50
SUBTOPICS = 100
SUB_WEIGHT = 0.7
NOISE = 1.0
VOCAB = 200_000
DOC_LEN = 80
QUERY_TOKENS = 6
BATCH = 50_000  # passages generated at a time
VEC_BATCH = 10_000  # vectors generated (and added) at a time: small next to the index
WARMUP = 5


# ---------------------------------------------------------------- data (regenerated per child)


def vector_batches(n: int, seed: int):
    """(start, block) of clustered unit vectors, the same for a given (n, seed) in any process."""
    r = np.random.default_rng(7)
    topics = r.standard_normal((TOPICS, DIM)).astype(np.float32)
    subtopics = r.standard_normal((TOPICS * SUBTOPICS, DIM)).astype(np.float32)
    topics /= np.linalg.norm(topics, axis=1, keepdims=True)
    subtopics /= np.linalg.norm(subtopics, axis=1, keepdims=True)
    for start in range(0, n, VEC_BATCH):
        rng = np.random.default_rng([seed, start])
        m = min(VEC_BATCH, n - start)
        k = rng.integers(0, TOPICS * SUBTOPICS, m)
        x = topics[k // SUBTOPICS] + SUB_WEIGHT * subtopics[k]
        x += (NOISE / np.sqrt(DIM)) * rng.standard_normal((m, DIM), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        yield start, x


def held_out_vectors(k: int) -> np.ndarray:
    return np.concatenate([x for _, x in vector_batches(k, seed=99)])


def token_doc_batches(n: int, seed: int):
    """`n` passages as lists of token ids 0..VOCAB-1, `BATCH` passages at a time."""
    cdf = np.cumsum(1.0 / np.arange(1, VOCAB + 1))
    cdf /= cdf[-1]
    for start in range(0, n, BATCH):
        rng = np.random.default_rng([seed, start])
        m = min(BATCH, n - start)
        lens = np.maximum(rng.poisson(DOC_LEN, m), 5)
        flat = np.minimum(np.searchsorted(cdf, rng.random(int(lens.sum()))), VOCAB - 1).tolist()
        ends = np.cumsum(lens).tolist()
        yield [flat[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def token_docs(n: int, seed: int) -> list[list[int]]:
    """`n` passages as lists of token ids 0..VOCAB-1 (Python ints: what bm25s iterates)."""
    return [d for batch in token_doc_batches(n, seed) for d in batch]


def token_queries(k: int) -> list[list[int]]:
    rng = np.random.default_rng(5)
    out = []
    for doc in token_docs(k, seed=98):
        distinct = np.unique(doc)
        out.append(rng.choice(distinct, min(QUERY_TOKENS, len(distinct)), replace=False).tolist())
    return out


# ---------------------------------------------------------------- measurements


def rss() -> tuple[int, int]:
    """(resident, resident not backed by a file) in bytes."""
    import psutil

    m = psutil.Process().memory_info()
    return m.rss, m.rss - m.shared


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def latencies(fn, queries) -> tuple[float, float, list]:
    for q in queries[:WARMUP]:
        fn(q)
    times, results = [], []
    for q in queries:
        t0 = time.perf_counter()
        results.append(fn(q))
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95)), results


def child_faiss_build(n: int, kind: str, folder: Path) -> dict:
    from qa.stores.faiss_store import FaissStore

    (r0, a0), spent = rss(), 0.0
    # as the index build does: vectors read back in batches (there from a staging file), an
    # IVF trained on a sample and filled batch by batch (generating them is timed too)
    t0 = time.perf_counter()
    store = FaissStore.build(DIM, n, lambda: (x for _, x in vector_batches(n, seed=0)),
                             index_type=kind)
    store.save(folder)
    spent += time.perf_counter() - t0
    r1, a1 = rss()
    return {"build_s": spent, "rss_mb": (r1 - r0) / 1e6, "anon_mb": (a1 - a0) / 1e6,
            "peak_mb": (peak_rss() - r0) / 1e6, "file_mb": folder_mb(folder), "info": store.info}


def child_faiss_serve(folder: Path, queries: int) -> dict:
    from qa.stores.faiss_store import FaissStore

    q = held_out_vectors(queries)
    r0, a0 = rss()
    t0 = time.perf_counter()
    store = FaissStore.load(folder, mmap=True)
    load_s = time.perf_counter() - t0
    r1, a1 = rss()
    p50, p95, found = latencies(lambda v: store.search(v[None, :], 10)[1][0], q)
    r2, a2 = rss()
    np.save(folder / "found.npy", np.array(found))
    import faiss

    # one question at a time on a shared 2-core box: OpenMP threads can cost more than they save
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    p50_1, _, _ = latencies(lambda v: store.search(v[None, :], 10)[1][0], q)
    faiss.omp_set_num_threads(threads)
    return {"load_s": load_s, "load_rss_mb": (r1 - r0) / 1e6, "load_anon_mb": (a1 - a0) / 1e6,
            "serve_rss_mb": (r2 - r0) / 1e6, "serve_anon_mb": (a2 - a0) / 1e6,
            "p50_ms": p50, "p95_ms": p95, "p50_1t_ms": p50_1}


def child_bm25_build(n: int, folder: Path) -> dict:
    from qa.stores.bm25_store import Bm25Store
    from qa.stores.token_ids import TokenIdWriter

    # as the index build does: token lists written as ids batch by batch (generating them is
    # timed too), then bm25s' matrices built from the id files in blocks (`Bm25Store.build`)
    r0, a0 = rss()
    t0 = time.perf_counter()
    writer = TokenIdWriter(folder)
    for batch in token_doc_batches(n, seed=0):
        writer.add([[f"t{i}" for i in d] for d in batch])
    tokens = writer.close()
    t1 = time.perf_counter()
    Bm25Store.build(folder, range(n), tokens)
    index_s = time.perf_counter() - t1
    r1, a1 = rss()
    return {"index_s": index_s, "save_s": t1 - t0,
            "rss_mb": (r1 - r0) / 1e6, "peak_mb": (peak_rss() - r0) / 1e6,
            "peak_total_mb": peak_rss() / 1e6, "file_mb": folder_mb(folder)}


def child_bm25_serve(folder: Path, queries: int, backend: str) -> dict:
    from qa.stores.bm25_store import Bm25Store

    q = [[f"t{i}" for i in tokens] for tokens in token_queries(queries)]
    r0, a0 = rss()
    t0 = time.perf_counter()
    store = Bm25Store.load(folder)
    load_s = time.perf_counter() - t0
    r1, a1 = rss()

    def one(tokens):
        return store.search(tokens, 10)

    p50, p95, _ = latencies(one, q)
    r2, a2 = rss()
    return {"load_s": load_s, "load_rss_mb": (r1 - r0) / 1e6, "load_anon_mb": (a1 - a0) / 1e6,
            "serve_rss_mb": (r2 - r0) / 1e6, "serve_anon_mb": (a2 - a0) / 1e6,
            "p50_ms": p50, "p95_ms": p95}


# ---------------------------------------------------------------- driver


def run_child(*args: str) -> dict:
    """One step in a fresh interpreter; its last stdout line is the JSON result."""
    cmd = [sys.executable, __file__, "--child", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"child {args} failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def recall_vs(found: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean([len(np.intersect1d(f, e)) / len(e) for f, e in zip(found, exact,
                                                                              strict=True)]))


def faiss_part(sizes: list[int], queries: int, tmp: Path) -> None:
    print("## FAISS: exact flat vs auto (IVF-SQ8)\n")
    print(f"{DIM}-d clustered unit vectors, {queries} held-out single queries, top-10, "
          f"loaded with mmap; IVF_MIN={os.environ.get('SEEDQA_IVF_MIN', '100000')}\n")
    print("| N | index | build s | file MB | build RSS + MB (peak +) | load s (mmap) "
          "| load RSS + MB | p50 ms | p95 ms | p50 ms 1 thread | serving RSS + MB (anon +) | recall@10 "
          "| nlist / nprobe (own recall) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        exact = None
        for kind in ("flat", "auto"):
            folder = tmp / f"faiss-{kind}-{n}"
            b = run_child("faiss-build", str(n), kind, str(folder))
            s = run_child("faiss-serve", str(folder), str(queries))
            found = np.load(folder / "found.npy")
            exact = found if kind == "flat" else exact
            info = b["info"]
            shape = (f"{info['nlist']} / {info['nprobe']} ({info['recall_at_10']:.3f})"
                     if info["type"] != "flat" else "-")
            print(f"| {n:,} | {kind} → {info['type']} | {b['build_s']:.1f} | {b['file_mb']:.0f} "
                  f"| {b['rss_mb']:.0f} ({b['peak_mb']:.0f}) | {s['load_s']:.3f} "
                  f"| {s['load_rss_mb']:.0f} | {s['p50_ms']:.2f} | {s['p95_ms']:.2f} "
                  f"| {s['p50_1t_ms']:.2f} "
                  f"| {s['serve_rss_mb']:.0f} ({s['serve_anon_mb']:.0f}) "
                  f"| {recall_vs(found, exact):.3f} | {shape} |", flush=True)
            for p in folder.iterdir():
                p.unlink()
    print()


def bm25_part(sizes: list[int], queries: int, tmp: Path) -> None:
    backends = ["numpy"]
    print("## BM25 (qa.stores.bm25_store: ids written per batch, bm25s files built in blocks)\n")
    print(f"~{DOC_LEN} Zipf(1) tokens a passage over {VOCAB:,} ids; {queries} queries of "
          f"{QUERY_TOKENS} tokens, top-10, one at a time (`Bm25Store.search`); loaded with "
          "mmap. 'save s' is writing the token ids, 'index s' building the matrices.\n")
    print("| N | index s | index RSS + MB (peak +; process peak) | save s | files MB "
          "| load s (mmap) | load RSS + MB | backend | p50 ms | p95 ms "
          "| serving RSS + MB (anon +) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        folder = tmp / f"bm25-{n}"
        b = run_child("bm25-build", str(n), str(folder))
        for backend in backends:
            s = run_child("bm25-serve", str(folder), str(queries), backend)
            print(f"| {n:,} | {b['index_s']:.1f} | {b['rss_mb']:.0f} ({b['peak_mb']:.0f}; "
                  f"{b['peak_total_mb']:.0f}) | {b['save_s']:.1f} | {b['file_mb']:.0f} "
                  f"| {s['load_s']:.3f} | {s['load_rss_mb']:.0f} | {backend} "
                  f"| {s['p50_ms']:.1f} | {s['p95_ms']:.1f} "
                  f"| {s['serve_rss_mb']:.0f} ({s['serve_anon_mb']:.0f}) |", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    print()


def child(args: list[str]) -> None:
    step, rest = args[0], args[1:]
    if step == "faiss-build":
        out = child_faiss_build(int(rest[0]), rest[1], Path(rest[2]))
    elif step == "faiss-serve":
        out = child_faiss_serve(Path(rest[0]), int(rest[1]))
    elif step == "bm25-build":
        out = child_bm25_build(int(rest[0]), Path(rest[1]))
    elif step == "bm25-serve":
        out = child_bm25_serve(Path(rest[0]), int(rest[1]), rest[2])
    else:
        raise SystemExit(f"unknown step {step}")
    print(json.dumps(out))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--bm25-sizes", default=None, help="BM25 sizes if not --sizes")
    ap.add_argument("--parts", default="faiss,bm25")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temp dir)")
    a = ap.parse_args()
    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",")]
    bm25_sizes = [int(s.replace("_", "")) for s in (a.bm25_sizes or a.sizes).split(",")]
    parts = a.parts.split(",")
    import faiss

    print(f"# bench_scale: sizes {sizes}, {os.cpu_count()} cores, faiss {faiss.__version__} "
          f"({faiss.omp_get_max_threads()} threads)\n", flush=True)
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        t0 = time.perf_counter()
        if "faiss" in parts:
            faiss_part(sizes, a.queries, Path(tmp))
        if "bm25" in parts:
            bm25_part(bm25_sizes, a.queries, Path(tmp))
        print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
