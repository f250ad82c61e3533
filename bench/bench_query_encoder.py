"""The question encoder, judged by answers: the model as indexed (`same`) vs its ONNX copies.

Both variants answer the same questions from the same index in one process, set by set, so the
quality columns differ only by the query vectors, and the latency columns are interleaved
(question by question, alternating which variant goes first) on this noisy 2-core machine.
Quality on the fit questions decides the default (`embeddings.default_model.QUERY_DEFAULT`): a
faster variant is kept only if no figure moves by more than 0.01.

    .venv/bin/python bench/bench_query_encoder.py [--sets dev,seeds_fit,cmrc2018,drcd]
        [--work .seedqa-train]

`cmrc2018`/`drcd` are the fit parts `seedqa train` imported into `--work`; add `seeds_report`
or the report parts only to report, never to choose.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["SEEDQA_QUERY_VARIANT"] = "same"  # the engine opens with the full model; we swap

from qa.evaluate import evaluate, load_gold  # noqa: E402

KEYS = ("recall@1", "sentence_accuracy", "span_f1", "refusal_recall", "false_refusal_rate")


def sets(work: Path, names: list[str]) -> dict[str, tuple[Path, Path, Path | None]]:
    known = {
        "dev": (ROOT / "seeds", ROOT / "data" / "dev_questions.jsonl", None),
        "seeds_fit": (ROOT / "seeds", ROOT / "data" / "seeds_fit.jsonl", None),
        "seeds_report": (ROOT / "seeds", ROOT / "data" / "seeds_report.jsonl", None),
    }
    for name in ("cmrc2018", "drcd"):
        folder = work / f"{name}-fit"
        known[name] = (folder / "docs", folder / "questions.jsonl", None)
    return {n: known[n] for n in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="dev,seeds_fit,cmrc2018,drcd")
    ap.add_argument("--work", type=Path, default=ROOT / ".seedqa-train")
    ap.add_argument("--latency-questions", type=int, default=60)
    args = ap.parse_args()
    from embeddings.convert import ensure_default_model
    from embeddings.onnx_query import OnnxQueryEncoder
    from qa.engine import SeedQA

    variants = {"same": None, **{k: OnnxQueryEncoder(ensure_default_model(), k)
                                 for k in ("fp32", "int8")}}
    out: dict = {}
    for name, (docs, questions, index) in sets(args.work, args.sets.split(",")).items():
        engine = SeedQA.open(docs, index_dir=index, progress=False)
        gold = load_gold(questions)
        figures, times = {}, {v: [] for v in variants}
        for variant, enc in variants.items():
            engine.encoder.query_encoder = enc
            figures[variant] = evaluate(engine, gold, ["hybrid"], progress=False)["overall"]
        names = list(variants)
        for i, item in enumerate(gold[: args.latency_questions]):
            for variant in names[i % 3:] + names[: i % 3]:
                engine.encoder.query_encoder = variants[variant]
                t0 = time.perf_counter()
                engine.encoder.encode_queries([item.question])
                times[variant].append((time.perf_counter() - t0) * 1000)
        engine.encoder.query_encoder = None
        out[name] = {v: {**{k: figures[v].get(k) for k in KEYS},
                         "encode_ms_p50": round(statistics.median(times[v]), 2)}
                     for v in figures}
        print(f"\n## {name} ({figures['same']['n']} questions)")
        print(f"{'metric':22}{'same':>10}{'fp32':>10}{'diff':>10}{'int8':>10}{'diff':>10}")
        for k in (*KEYS, "encode_ms_p50"):
            a, b, c = (out[name][v][k] for v in ("same", "fp32", "int8"))
            if all(isinstance(v, float) for v in (a, b, c)):
                print(f"{k:22}{a:>10.3f}{b:>10.3f}{b - a:>+10.3f}{c:>10.3f}{c - a:>+10.3f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
