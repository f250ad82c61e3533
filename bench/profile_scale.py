"""cProfile of `SeedQA.answer` on an index built by `bench/bench_build_scale.py`.

    PYTHONPATH=. .venv/bin/python bench/profile_scale.py N [--work /tmp/seedqa-scale]
        [--questions 100] [--top 30]

Opens WORK/index-N (never builds: it stops if the index would be rebuilt), answers 5 warm-up
questions, then profiles `--questions` answers one at a time and prints the functions by
cumulative and by own time: what to look at when answer latency grows with the corpus.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_build_scale import (  # noqa: E402
    SHAPE_ENV,
    make_encoder,
    paths,
    questions_for,
    quiet_logging,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--work", default="/tmp/seedqa-scale")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--stub", choices=("shaped", "bigram"), default="shaped",
                    help="the encoder the index was built with (see bench_build_scale.py)")
    a = ap.parse_args()
    from qa.engine import SeedQA
    from qa.index import open_index

    quiet_logging()
    work = Path(a.work)
    docs, index_dir = paths(work, a.n)
    meta = json.loads((work / f"docs-{a.n}.json").read_text(encoding="utf-8"))
    warm, measured = questions_for(meta, a.questions)
    shapes = sorted(Path(a.work).glob("stub-shape-*.npz"))
    if a.stub == "shaped" and len(shapes) == 1:
        os.environ.setdefault(SHAPE_ENV, str(shapes[0]))
    enc = make_encoder(Path(a.work), a.stub)
    index = open_index(docs, index_dir, enc, progress=False)
    if enc.texts:
        raise SystemExit("the index was rebuilt: build it with bench_build_scale.py first")
    qa = SeedQA(index, enc, docs)
    for q in warm:
        qa.answer(q["q"])
    prof = cProfile.Profile()
    prof.enable()
    for q in measured:
        qa.answer(q["q"])
    prof.disable()
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats(key).print_stats(a.top)
        print(out.getvalue())


if __name__ == "__main__":
    main()
