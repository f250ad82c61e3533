"""Where a question's time goes: medians per stage over the dev questions, after warm-up.

    .venv/bin/python bench/profile_answer.py [--docs seeds] [--rounds 5]

Each stage is timed on its own, in the order `SeedQA.answer` runs them: question parsing (clean,
script, jieba, type), the encoder call, dense search, BM25, fusion (the rest of `rank`), the
candidate features, the answer model, the span, the citations and the chat window's HTML. The
stages' sum is printed beside a plain `answer()` timed in the same rounds, so nothing hides
between them. Medians over rounds × questions, because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEV = ROOT / "data" / "dev_questions.jsonl"
STAGES = ("parse", "encoder", "dense", "bm25", "fusion", "features", "model", "span",
          "citations", "render", "sum", "answer()")


def profile_one(engine, question: str) -> dict[str, float]:
    """Milliseconds per stage for one question (the same steps as `SeedQA.answer`)."""
    from qa.engine import LEXICAL_WEIGHT, LEXICAL_WEIGHT_FOREIGN
    from qa.features import candidates_and_features
    from qa.question import parse
    from qa.retrieve import fetch_size, rank
    from qa.span_model import choose_span
    from ui import render

    t: dict[str, float] = {}

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        t[name] = (now - t0) * 1000
        return now

    t0 = time.perf_counter()
    q = parse(question)
    t0 = lap("parse", t0)
    qvec = engine.encoder.encode_queries([q.search_text])[0]
    t0 = lap("encoder", t0)
    engine.index.passages.search(qvec[None, :], fetch_size(5))
    t0 = lap("dense", t0)
    engine.index.lexical.search(q.tokens, fetch_size(5))
    t0 = lap("bm25", t0)
    weight = LEXICAL_WEIGHT if q.chinese else LEXICAL_WEIGHT_FOREIGN
    hits = rank(engine.index, qvec, q.tokens, "hybrid", 5, weight)
    t0 = lap("fusion", t0)
    # `rank` repeats the two searches: what remains after them is the fusion itself
    t["fusion"] = max(t["fusion"] - t["dense"] - t["bm25"], 0.0)
    cands, x = candidates_and_features(engine.index, q, qvec, hits)
    t0 = lap("features", t0)
    probs = engine.model.probabilities(x)
    best = int(probs.argmax()) if len(probs) else 0
    t0 = lap("model", t0)
    if cands:
        c = cands[best]
        choose_span(c.text, q, (c.span.start, c.span.end) if c.span else None)
    t0 = lap("span", t0)
    [engine._citation(engine.index, n, h) for n, h in enumerate(hits, start=1)]
    t0 = lap("citations", t0)
    a = engine.answer(question)
    t1 = time.perf_counter()
    render.answer_html(a)
    render.sources_html(a)
    lap("render", t1)
    t["sum"] = sum(t[s] for s in STAGES[:10])
    t0 = time.perf_counter()
    engine.answer(question)
    lap("answer()", t0)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", default=str(ROOT / "seeds"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from qa.engine import SeedQA

    engine = SeedQA.open(args.docs, progress=False)
    questions = [json.loads(line)["question"] for line in DEV.read_text("utf-8").splitlines()
                 if line.strip()]
    for q in questions:  # warm-up: caches, lazy loads
        profile_one(engine, q)
    samples: dict[str, list[float]] = {s: [] for s in STAGES}
    for _ in range(args.rounds):
        for q in questions:
            for k, v in profile_one(engine, q).items():
                samples[k].append(v)
    medians = {s: round(statistics.median(v), 2) for s, v in samples.items()}
    print(f"{len(questions)} dev questions x {args.rounds} rounds, medians in ms")
    for s in STAGES:
        print(f"  {s:10} {medians[s]:8.2f}")
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
