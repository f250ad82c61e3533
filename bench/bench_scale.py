"""A million passages on one machine, the issue's way: `bench_scale.py N`.

    .venv/bin/python bench/bench_scale.py 1000000 [--work /tmp/seedqa-scale] [--questions 1000]
        [--reuse-index] [--stub shaped|bigram] [--max-minutes 60]

Builds, opens and answers at one size with `bench/bench_build_scale.py` (its docstring says how
the documents, the questions and the stub encoder are made) and ends with one JSON line of the
figures. The stores alone on synthetic vectors: `bench/bench_stores_scale.py`.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_build_scale  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or not args[0].replace("_", "").isdigit():
        raise SystemExit("usage: bench_scale.py N [bench_build_scale.py options]")
    sys.argv = [bench_build_scale.__file__, "--sizes", args[0], *args[1:]]
    bench_build_scale.main()
