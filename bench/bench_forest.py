"""The two learned models through LightGBM and through compiled trees (`qa.forest`), side by side.

    .venv/bin/python bench/bench_forest.py [--rounds 7]

On the rows the dev questions really produce (each question's candidate sentences for the answer
model, the chosen sentence's candidate spans for the span model), interleaved per call so load
from neighbours hits both alike: the median per call of each, the lowest over rounds, their ratio,
the largest difference between their probabilities, and how long compiling took (into a fresh
temp cache, so it is really compiled).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEV = ROOT / "data" / "dev_questions.jsonl"


def rows(engine, questions: list[str]):
    """(answer-model rows, span rows) per question, as `SeedQA.answer` computes them."""
    from qa.features import model_columns
    from qa.question import parse
    from qa.span_model import spans_and_features

    out = []
    for question in questions:
        found = engine.candidates(question)
        if found is None:
            continue
        cands, x = found
        probs = engine.model.probabilities(x)
        c = cands[int(probs.argmax())]
        _spans, sx = spans_and_features(c.text, parse(question),
                                        (c.span.start, c.span.end) if c.span else None)
        out.append((model_columns(x), sx))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    from qa.chooser import MODEL_DIR, MODEL_FILE
    from qa.engine import SeedQA
    from qa.forest import Forest
    from qa.span_model import MODEL_FILE as SPAN_FILE

    engine = SeedQA.open(ROOT / "seeds", progress=False)
    questions = [json.loads(line)["question"] for line in DEV.read_text("utf-8").splitlines()
                 if line.strip()]
    data = rows(engine, questions)
    report = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SEEDQA_CACHE"] = cache
        for name, file, col in (("answer model", MODEL_FILE, 0), ("span model", SPAN_FILE, 1)):
            t0 = time.perf_counter()
            compiled = Forest(MODEL_DIR / file)
            compile_s = time.perf_counter() - t0
            if compiled.kind != "compiled":
                sys.exit("the compiled trees are unavailable here (see the warning above)")
            plain = Forest(MODEL_DIR / file, compiled=False)
            diff = max(float(abs(compiled.predict(r[col]) - plain.predict(r[col])).max())
                       for r in data)
            best = {"lightgbm": [], "compiled": []}
            for _ in range(args.rounds):
                times = {"lightgbm": [], "compiled": []}
                for r in data:
                    for kind, f in (("lightgbm", plain), ("compiled", compiled)):
                        t = time.perf_counter()
                        f.predict(r[col])
                        times[kind].append((time.perf_counter() - t) * 1000)
                for kind in best:
                    best[kind].append(statistics.median(times[kind]))
            lo = {k: min(v) for k, v in best.items()}
            report[name] = {
                "rows_per_call": statistics.median(len(r[col]) for r in data),
                "lightgbm_ms": round(lo["lightgbm"], 3), "compiled_ms": round(lo["compiled"], 3),
                "ratio": round(lo["compiled"] / lo["lightgbm"], 3),
                "max_abs_diff": diff, "compile_s": round(compile_s, 1),
            }
    print(f"{len(data)} dev questions, lowest of {args.rounds} medians per call")
    for name, r in report.items():
        print(f"  {name:12} {r['rows_per_call']:5.0f} rows  lightgbm {r['lightgbm_ms']:.3f} ms  "
              f"compiled {r['compiled_ms']:.3f} ms  ({r['ratio']:.2f}x)  "
              f"max diff {r['max_abs_diff']:.1e}  compile {r['compile_s']} s")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
