"""Index build time, query latency and peak memory of seedqa on a documents folder.

Each build runs in a fresh subprocess (a cold cache, its own peak RSS); query latency is measured
after warm-up over the dev questions, repeated, and reported as medians, because the machine is
shared and single timings are noise.

    .venv/bin/python bench/bench_index.py [--docs seeds] [--builds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "data" / "dev_questions.jsonl"

_BUILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from qa.engine import SeedQA
eng = SeedQA.open(sys.argv[1], index_dir=sys.argv[2], progress=False)
t1 = time.perf_counter()
print(json.dumps({"build_s": t1 - t0, "chunks": len(eng.chunks),
                  "sentences": int(eng.index.sentence_offsets[-1]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_QUERY = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from qa.engine import SeedQA
eng = SeedQA.open(sys.argv[1], index_dir=sys.argv[2], progress=False)
load_s = time.perf_counter() - t0
qs = [json.loads(l)["question"] for l in open(sys.argv[3], encoding="utf-8") if l.strip()]
for q in qs[:5]:
    eng.answer(q)  # warm-up: jieba dictionary, torch kernels
rounds = int(sys.argv[4])
lat = []
for _ in range(rounds):
    for q in qs:
        t = time.perf_counter(); eng.answer(q); lat.append((time.perf_counter() - t) * 1000)
lat.sort()
print(json.dumps({"load_s": load_s, "p50_ms": lat[len(lat) // 2],
                  "p95_ms": lat[int(len(lat) * 0.95) - 1], "n": len(lat),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", default=str(ROOT / "seeds"))
    ap.add_argument("--builds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--questions", default=str(DEV))
    args = ap.parse_args()

    builds, queries = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.builds):
            index_dir = Path(tmp) / f"idx{i}"  # new folder: nothing cached, everything embedded
            builds.append(_run(_BUILD, args.docs, str(index_dir)))
        for _ in range(3):
            queries.append(_run(_QUERY, args.docs, str(Path(tmp) / "idx0"), args.questions,
                                str(args.rounds)))

    med = statistics.median
    b0 = builds[0]
    print(f"documents: {args.docs}  ({b0['chunks']} passages, {b0['sentences']} sentences)")
    runs = ", ".join(f"{b['build_s']:.1f}" for b in builds)
    print(f"{'index build (cold, s)':28s} median {med(b['build_s'] for b in builds):7.1f}   runs {runs}")
    texts = b0["chunks"] + b0["sentences"]
    print(f"{'  = texts embedded / s':28s} median {texts / med(b['build_s'] for b in builds):7.1f}")
    print(f"{'peak RSS during build (MB)':28s} median {med(b['peak_mb'] for b in builds):7.0f}")
    print(f"{'load built index (s)':28s} median {med(q['load_s'] for q in queries):7.2f}")
    print(f"{'query p50 (ms)':28s} median {med(q['p50_ms'] for q in queries):7.1f}   "
          f"({queries[0]['n']} questions x 3 processes)")
    print(f"{'query p95 (ms)':28s} median {med(q['p95_ms'] for q in queries):7.1f}")
    print(f"{'peak RSS answering (MB)':28s} median {med(q['peak_mb'] for q in queries):7.0f}")


if __name__ == "__main__":
    main()
