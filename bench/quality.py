"""Answer quality on the report parts, all in one run: seedqa (hybrid, dense, lexical) beside the
BM25-sentence peer, per set.

    .venv/bin/python bench/quality.py [--work DIR] [--sets seeds,cmrc2018,drcd,dev] [--out FILE]

The report parts are the ones the answer model never saw: the `report` side of the split by
article of CMRC 2018 and DRCD (imported here with the training recipe's seed and fractions) and
the report half of our own seeds questions (`data/seeds_report.jsonl`). `dev` is the public dev
file, which the model *was* fitted on: shown for reference only. Prints one table per set and,
last, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.evaluate import evaluate  # noqa: E402
from qa.squad import import_squad  # noqa: E402
from qa.training_data import HOLDOUT, REPORT_FRACTION, SEED  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "external"
KEYS = ("recall@1", "recall@5", "sentence_accuracy", "span_em", "span_f1", "refusal_precision",
        "refusal_recall", "false_refusal_rate", "latency_ms_p50", "latency_ms_p95")


def _peer():
    spec = importlib.util.spec_from_file_location("bm25_peer", ROOT / "bench" / "bm25_peer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def report_sets(work: Path, names: list[str]) -> dict[str, tuple[Path, Path]]:
    out = {}
    for name in names:
        if name == "seeds":
            out[name] = (ROOT / "seeds", ROOT / "data" / "seeds_report.jsonl")
        elif name == "dev":
            out[name] = (ROOT / "seeds", ROOT / "data" / "dev_questions.jsonl")
        else:
            src = {"cmrc2018": EXTERNAL / "cmrc2018_trial.json", "drcd": EXTERNAL / "DRCD_dev.json"}[name]
            dest = work / f"{name}-report"
            if not (dest / "questions.jsonl").exists():
                import_squad(src, dest, HOLDOUT, SEED, "report", REPORT_FRACTION, name)
            out[name] = (dest / "docs", dest / "questions.jsonl")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/seedqa-quality"))
    ap.add_argument("--sets", default="seeds,cmrc2018,drcd,dev")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from qa.engine import SeedQA

    peer = _peer()
    results = {}
    for name, (docs, questions) in report_sets(args.work, args.sets.split(",")).items():
        index = args.work / f"index-{name}" if name not in ("seeds", "dev") else None
        engine = SeedQA.open(docs, index_dir=index, progress=True)
        report = evaluate(engine, questions, ["hybrid", "dense", "lexical"], progress=False)
        peer_metrics, _rows = peer.evaluate(docs, questions)
        cols = {m: report["modes"][m]["overall"] for m in ("hybrid", "dense", "lexical")}
        cols["bm25_peer"] = peer_metrics
        results[name] = {"n": report["overall"]["n"],
                         "n_unanswerable": report["overall"]["n_unanswerable"], **cols}
        print(f"\n## {name} (report part: {questions}; {report['overall']['n']} questions, "
              f"{report['overall']['n_unanswerable']} unanswerable)")
        print(f"{'metric':22}" + "".join(f"{c:>11}" for c in cols))
        for k in KEYS:
            row = [cols[c].get(k) for c in cols]
            print(f"{k:22}" + "".join(f"{v:>11.3f}" if isinstance(v, float) else f"{'-':>11}"
                                      for v in row))
        if report["by_style"]:
            print("by style (hybrid sentence accuracy / refusal recall): " + ", ".join(
                f"{s}: {v.get('sentence_accuracy')}/{v.get('refusal_recall')}"
                for s, v in report["modes"]["hybrid"]["by_style"].items()))
    line = json.dumps(results, ensure_ascii=False)
    if args.out:
        args.out.write_text(line + "\n", encoding="utf-8")
    print(line)


if __name__ == "__main__":
    main()
