"""Answer latency on the seeds, one run: FAISS + bm25s files, milvus-lite with the index folder,
and milvus-lite with nothing but the Milvus file (`open_live` from another folder, chunk records
read from Milvus). The real encoder; the milvus indexes reuse the FAISS build's vector cache, so
only the stores differ. Medians of per-question wall times over `data/seeds_report.jsonl`.

    .venv/bin/python bench/bench_milvus_answer.py [--questions 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embeddings import load_encoder  # noqa: E402
from qa.engine import SeedQA  # noqa: E402
from qa.index import open_index, open_live  # noqa: E402


def _p50(engine: SeedQA, questions: list[str]) -> tuple[float, list[dict]]:
    engine.answer(questions[0])  # warm: the answer model, caches
    times, answers = [], []
    for q in questions:
        t0 = time.perf_counter()
        answers.append(engine.answer(q).to_json())
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, answers


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=60)
    args = ap.parse_args()
    rows = [json.loads(x) for x in (ROOT / "data/seeds_report.jsonl").read_text().splitlines()
            if x.strip()]
    questions = [r["question"] for r in rows][: args.questions]
    encoder = load_encoder(None)
    docs = ROOT / "seeds"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        out = {}
        faiss = open_index(docs, tmp / "faiss", encoder, progress=False)
        out["faiss"], want = _p50(SeedQA(faiss, encoder, docs), questions)
        for cache in (tmp / "faiss").glob("cache-*"):
            shutil.copytree(cache, tmp / "milvus" / cache.name)
        t0 = time.perf_counter()
        milvus = open_index(docs, tmp / "milvus", encoder, progress=False, vector_store="milvus")
        out["milvus_build_s"] = round(time.perf_counter() - t0, 2)
        out["milvus_lite"], got = _p50(SeedQA(milvus, encoder, docs), questions)
        out["same_as_faiss"] = sum(a == b for a, b in zip(got, want, strict=True))
        milvus.passages.close()
        os.environ["SEEDQA_MILVUS_URI"] = str(tmp / "milvus" / "milvus.db")
        from qa.stores.milvus_live import set_name

        os.environ["SEEDQA_MILVUS_SET"] = set_name(tmp / "milvus")
        remote = open_live(tmp / "elsewhere", encoder)
        out["milvus_lite_no_folder"], got = _p50(SeedQA(remote, encoder, tmp / "none"), questions)
        out["same_as_faiss_no_folder"] = sum(a == b for a, b in zip(got, want, strict=True))
        out["questions"] = len(questions)
        print(json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
