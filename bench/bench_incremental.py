"""A full index build against an incremental re-index of the same folder after a few edits.

The folder is 20 documents cut from the seeds' paragraphs (real Chinese text); the edit is the
one the incremental index is for: 3 files changed, 1 added, 1 deleted. Both builds use the real
default encoder in one process (loaded once, not timed), the full build into a fresh index folder
with an empty vector cache, the incremental one on top of it. Reported: seconds, passages in the
index per second of build, files read and passages embedded; medians over --rounds.

    .venv/bin/python bench/bench_incremental.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.documents import clean_text  # noqa: E402
from qa.index import open_index  # noqa: E402


def make_folder(folder: Path, n: int = 20) -> None:
    paras = [p for f in sorted((ROOT / "seeds").glob("*.txt")) for p in clean_text(f).split("\n")
             if len(p) > 30]
    per = max(1, len(paras) // n)
    for i in range(n):
        body = "\n\n".join(paras[i * per:(i + 1) * per])
        (folder / f"doc{i:02}.txt").write_text(f"第{i}篇\n\n{body}\n", encoding="utf-8")


def edit(folder: Path) -> None:
    for i in (2, 9, 15):  # changed: a sentence added to each
        p = folder / f"doc{i:02}.txt"
        p.write_text(p.read_text(encoding="utf-8") + f"\n补充说明第{i}条：本文件已于今年修订。\n",
                     encoding="utf-8")
    (folder / "doc20.txt").write_text("新增文件\n\n北仑模具行业协会今年新增会员三十家。\n",
                                      encoding="utf-8")
    (folder / "doc05.txt").unlink()


class Counting:
    def __init__(self, enc) -> None:
        self.enc, self.id, self.dim, self.n = enc, enc.id, enc.dim, 0

    def encode_passages(self, texts, progress=False):
        self.n += len(texts)
        return self.enc.encode_passages(texts)

    def encode_queries(self, texts):
        return self.enc.encode_queries(texts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    from embeddings import load_encoder

    enc = load_encoder(None)
    rows = []
    for _ in range(args.rounds):
        base = Path(tempfile.mkdtemp(prefix="seedqa-incr-"))
        docs = base / "docs"
        docs.mkdir()
        make_folder(docs)
        full_enc = Counting(enc)
        t0 = time.perf_counter()
        full = open_index(docs, base / "idx", full_enc, progress=False)
        full_s = time.perf_counter() - t0
        edit(docs)
        inc_enc = Counting(enc)
        t0 = time.perf_counter()
        inc = open_index(docs, base / "idx", inc_enc, progress=False)
        inc_s = time.perf_counter() - t0
        rows.append({"full_s": full_s, "full_passages": len(full.chunks),
                     "full_embedded": full_enc.n, "incremental_s": inc_s,
                     "incremental_passages": len(inc.chunks), "incremental_embedded": inc_enc.n})
        shutil.rmtree(base, ignore_errors=True)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    med["full_passages_per_s"] = med["full_passages"] / med["full_s"]
    med["incremental_passages_per_s"] = med["incremental_passages"] / med["incremental_s"]
    med["speedup"] = med["full_s"] / med["incremental_s"]
    print(f"20 files from the seeds; edit: 3 changed, 1 added, 1 deleted; medians of {args.rounds}")
    print(f"full build:   {med['full_s']:.1f} s, {med['full_passages']:.0f} passages "
          f"({med['full_passages_per_s']:.1f}/s), {med['full_embedded']:.0f} texts embedded")
    print(f"incremental:  {med['incremental_s']:.1f} s, {med['incremental_passages']:.0f} passages "
          f"({med['incremental_passages_per_s']:.1f}/s), {med['incremental_embedded']:.0f} texts "
          f"embedded; {med['speedup']:.1f}x faster")
    print(json.dumps({k: round(v, 3) for k, v in med.items()}))


if __name__ == "__main__":
    main()
