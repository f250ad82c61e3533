"""A question asked for the first time against the same question asked again.

    .venv/bin/python bench/bench_first_ask.py [--rounds 3]

Why: the other benches repeat the dev questions, so from the second round on every per-question
cache (question parsing, the sentence/question comparisons of the features) is warm, which no
user's next question finds. Here the dev questions warm the index's sentences first, then each
of our seeds fit questions is asked once (first time) and again (repeat), in one process; the
medians of both, and the first English question of the process (after one Chinese question)
with and without `SeedQA.warm_up`, are printed. Rounds reopen the engine in a new process each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")

_ONE = r"""
import json, sys, time, statistics
from qa.engine import SeedQA
root, warm = sys.argv[1], sys.argv[2] == "1"
e = SeedQA.open(root + "/seeds", progress=False)
dev = [json.loads(l)["question"] for l in open(root + "/data/dev_questions.jsonl") if l.strip()]
new = [json.loads(l) for l in open(root + "/data/seeds_fit.jsonl") if l.strip()]
english = [r["question"] for r in new if r.get("style") == "english"]
chinese = [r["question"] for r in new if r.get("style") != "english"]
def ms(q):
    t = time.perf_counter(); e.answer(q); return (time.perf_counter() - t) * 1000
ms(dev[0])  # what any first question loads (jieba's dictionary, the ONNX session's first run)
if warm:
    e.warm_up()
first_english = ms(english[0])
for q in dev * 2:
    ms(q)
first = [ms(q) for q in chinese]
again = [ms(q) for q in chinese]
print(json.dumps({"first": statistics.median(first), "again": statistics.median(again),
                  "first_english": first_english, "n": len(chinese)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs: dict[str, list[dict]] = {"0": [], "1": []}
    for _ in range(args.rounds):
        for warm in runs:
            out = subprocess.run([sys.executable, "-c", _ONE, str(ROOT), warm], env=env,
                                 capture_output=True, text=True, check=True).stdout
            runs[warm].append(json.loads(out.strip().splitlines()[-1]))
    rows = runs["0"] + runs["1"]
    first = statistics.median(r["first"] for r in rows)
    again = statistics.median(r["again"] for r in rows)
    print(f"{rows[0]['n']} Chinese seeds fit questions, {len(rows)} processes, medians in ms")
    print(f"  asked the first time   {first:7.1f}")
    print(f"  asked again            {again:7.1f}")
    for warm, label in (("0", "without warm_up"), ("1", "after warm_up")):
        e = statistics.median(r["first_english"] for r in runs[warm])
        print(f"  first English question of a process, {label}: {e:7.1f}")
    print(json.dumps({"first_ms": round(first, 2), "again_ms": round(again, 2),
                      "first_english_cold_ms": round(statistics.median(
                          r["first_english"] for r in runs["0"]), 1),
                      "first_english_warm_ms": round(statistics.median(
                          r["first_english"] for r in runs["1"]), 1)}))


if __name__ == "__main__":
    main()
