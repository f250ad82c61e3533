"""Peak memory and time of indexing one very large document (default 50 MB), stage by stage.

Why stages in separate subprocesses: `ru_maxrss` is a high-water mark, so each stage needs a
fresh process to report its own peak; the baseline (interpreter + imports) is reported too, so
the growth a stage causes can be read off.

Why the embedding step is projected: the real encoder embeds a few dozen texts per second on the
2-core box, and indexing embeds every passage and every sentence, so embedding 50 MB would take
hours. The full indexing path is therefore run with a stub encoder (same shapes, no model), and
the real encoder's rate is measured on a sample of the file's own passages and sentences.

By default seedqa skips a document over `qa.documents.MAX_FILE_MB` with one warning; this bench
raises the limit inside its subprocesses to measure what indexing such a file would cost.

    .venv/bin/python bench/bench_large_doc.py [--mb 50] [--sample 64] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------- the document


def _seed_material() -> tuple[list[str], list[str]]:
    """Sentences and headlines of the seed documents: real newspaper Chinese to recombine."""
    from qa.chunks import split_sentences
    from qa.documents import read_paragraphs

    sentences, headlines = [], []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for p in read_paragraphs(path, path.name):
            if p.is_heading:
                headlines.append(p.text)
                continue
            sentences += [p.text[s:e] for s, e in split_sentences(p.text) if e - s >= 6]
    return sentences, headlines


def _vary_numbers(sentence: str, rng: random.Random) -> str:
    """Change the figures so the file is not the seed text repeated verbatim."""
    return re.sub(r"\d+", lambda m: str(rng.randint(1, 10 ** len(m.group())) - 1), sentence)


def _wrap(paragraph: str, width: int, rng: random.Random) -> list[str]:
    """Hard-wrap at a column width, sometimes justified with spaces between characters."""
    lines = [paragraph[i : i + width] for i in range(0, len(paragraph), width)]
    out = []
    for line in lines:
        if len(line) == width and rng.random() < 0.05:
            line = " ".join(line)
        out.append(line)
    return out


def generate(path: Path, mb: float, seed: int = 7) -> int:
    """Write a newspaper-like, hard-wrapped Chinese text file of about `mb` MB; returns bytes.

    Articles: a headline (sometimes printed twice, as the scans have it), a byline, paragraphs
    of 2-7 seed sentences with varied figures, hard-wrapped at 20-36 characters, blank lines
    between paragraphs and now and then a blank line cutting a sentence in two.
    """
    rng = random.Random(seed)
    sentences, headlines = _seed_material()
    target = int(mb * 1024 * 1024)
    written = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        while written < target:
            width = rng.randint(20, 36)
            head = rng.choice(headlines)
            block = [head + head if rng.random() < 0.2 else head, ""]
            block += [f"■{rng.choice('赵钱孙李周吴郑王')}{rng.choice('文明华建国立新')}", ""]
            for _ in range(rng.randint(4, 12)):
                para = "".join(
                    _vary_numbers(rng.choice(sentences), rng) for _ in range(rng.randint(2, 7))
                )
                lines = _wrap(para, width, rng)
                if len(lines) > 3 and rng.random() < 0.1:
                    lines.insert(rng.randint(1, len(lines) - 1), "")
                block += lines + [""]
            text = "\n".join(block) + "\n\n"
            fh.write(text)
            written += len(text.encode("utf-8"))
    return written


# ---------------------------------------------------------------------------- the stages

_PRELUDE = r"""
import json, resource, sys, time
from pathlib import Path
import qa.documents
qa.documents.MAX_FILE_MB = 1 << 20   # measure the cost the size limit normally avoids
path = Path(sys.argv[1])
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = peak_mb()
t0 = time.perf_counter()
"""

_STAGES = {
    "imports only": r"""
out = {}
""",
    "read + clean (streamed)": r"""
from qa.documents import read_paragraphs
n = chars = 0
for p in read_paragraphs(path, path.name):
    n += 1; chars += len(p.text)
out = {"paragraphs": n, "chars": chars}
""",
    "read + clean + chunk": r"""
from qa.index_build import collect_chunks
chunks, skipped = collect_chunks(path.parent, [path])
out = {"chunks": len(chunks), "sentences": sum(len(c.sentences) for c in chunks)}
""",
    "read + clean + chunk + BM25": r"""
from qa.index_build import collect_chunks, passage_text
from qa.lexical import register_terms, tokenize
from qa.stores.bm25_store import Bm25Store
chunks, skipped = collect_chunks(path.parent, [path])
register_terms(chunks)
Bm25Store(range(len(chunks)), [tokenize(passage_text(c)) for c in chunks])
out = {"chunks": len(chunks)}
""",
    "full index build (stub encoder)": r"""
import numpy as np
from qa.index_build import build_index
class Stub:
    id, dim = "stub-encoder", 384
    def encode_passages(self, texts, progress=False):
        rng = np.random.default_rng(len(texts))
        v = rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)
folder = build_index(path.parent, Path(sys.argv[2]), Stub(), progress=False, files=[path])
m = json.loads((folder / "manifest.json").read_text())
size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
out = {"chunks": m["chunks"], "sentences": m["sentences"], "index_mb": size / 2**20}
""",
    "real encoder on a sample": r"""
from qa.index_build import collect_chunks, passage_text
from embeddings import load_encoder
import itertools, random
n = int(sys.argv[3])
chunks = []
from qa.chunks import build_chunks
from qa.documents import read_paragraphs
for c in itertools.islice(build_chunks(read_paragraphs(path, path.name)), 5000):
    chunks.append(c)
rng = random.Random(1)
picked = rng.sample(chunks, min(n, len(chunks)))
passages = [passage_text(c) for c in picked]
sentences = [s.text for c in picked for s in c.sentences][: 4 * n]
enc = load_encoder(None)
enc.encode_passages(passages[:4])  # warm-up
t = time.perf_counter(); enc.encode_passages(passages); tp = time.perf_counter() - t
t = time.perf_counter(); enc.encode_passages(sentences); ts = time.perf_counter() - t
out = {"passages_per_s": len(passages) / tp, "sentences_per_s": len(sentences) / ts}
""",
}

_EPILOGUE = r"""
out.update(seconds=time.perf_counter() - t0, peak_mb=peak_mb(), base_mb=base)
print(json.dumps(out))
"""


def run_stage(name: str, doc: Path, index_dir: Path, sample: int) -> dict:
    code = _PRELUDE + textwrap.dedent(_STAGES[name]) + _EPILOGUE
    proc = subprocess.run(
        [sys.executable, "-c", code, str(doc), str(index_dir), str(sample)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
             "TOKENIZERS_PARALLELISM": "false"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"stage {name!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the generated document")
    ap.add_argument("--sample", type=int, default=64, help="passages for the encoder rate")
    ap.add_argument("--keep", default=None, help="write the document here and keep it")
    ap.add_argument("--stages", default=",".join(_STAGES), help="comma-separated stage names")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        doc = Path(args.keep) if args.keep else docs / "large.txt"
        t = time.perf_counter()
        size = generate(doc, args.mb)
        print(f"generated {doc.name}: {size / 2**20:.1f} MB in {time.perf_counter() - t:.1f} s")
        results = {}
        for name in args.stages.split(","):
            results[name] = r = run_stage(name, doc, Path(tmp) / "index", args.sample)
            extra = {k: v for k, v in r.items() if k not in ("seconds", "peak_mb", "base_mb")}
            print(f"{name:32s} {r['seconds']:8.1f} s   peak RSS {r['peak_mb']:7.0f} MB "
                  f"(+{r['peak_mb'] - r['base_mb']:.0f} over start)   "
                  + "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in extra.items()),
                  flush=True)
        full = results.get("full index build (stub encoder)")
        rate = results.get("real encoder on a sample")
        if full and rate:
            hours = (full["chunks"] / rate["passages_per_s"]
                     + full["sentences"] / rate["sentences_per_s"]) / 3600
            print(f"projected embedding time with the real encoder: {hours:.1f} h "
                  f"({full['chunks']} passages at {rate['passages_per_s']:.1f}/s + "
                  f"{full['sentences']} sentences at {rate['sentences_per_s']:.1f}/s)")
        print(f"document: {size / 2**20:.1f} MB on disk")


if __name__ == "__main__":
    main()
