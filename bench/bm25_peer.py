"""The simple baseline seedqa must beat: BM25 over paragraphs, then the best-overlapping sentence.

Deliberately plain, so that any gain of seedqa over it is seedqa's own:

* passages are the blank-line-separated blocks of every .txt/.md file under DOCS_DIR, as written
  (each block stripped, empty ones skipped; no cleaning, no script conversion);
* tokens are jieba search-mode tokens (`jieba.cut_for_search`), lower-cased, without tokens that
  are only whitespace or punctuation;
* paragraphs are ranked by `bm25s` (default Lucene BM25, k1=1.5, b=0.75);
* the answer is the sentence of the top paragraph (split after 。！？!?；;, delimiter kept) that
  shares the most distinct question tokens, the first one on ties. It never refuses.

Every question is scored with `qa.metrics.judge` (the answer is also the span; the top 5
paragraphs are the passages) and the lot with `qa.metrics.aggregate`, as `seedqa eval` does.
Latency is per question: tokenising the question, scoring, and picking the sentence (the index
is built once, before timing).

    .venv/bin/python bench/bm25_peer.py DOCS_DIR QUESTIONS.jsonl [--json OUT]

Prints a small table and, as its last line, the metrics as one JSON object (--json also writes
that object to OUT).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import bm25s  # noqa: E402

with warnings.catch_warnings():  # jieba imports pkg_resources where setuptools<81 provides it
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import jieba  # noqa: E402
import numpy as np  # noqa: E402

from qa.core.errors import SeedQAError  # noqa: E402
from qa.evaluate import load_gold  # noqa: E402
from qa.metrics import OVERALL_KEYS, Verdict, aggregate, judge  # noqa: E402

jieba.setLogLevel(logging.WARNING)
logging.getLogger("bm25s").setLevel(logging.WARNING)

DOC_SUFFIXES = (".txt", ".md")
TOP_PASSAGES = 5
_DELIMS = "。！？!?；;"
# a sentence: non-delimiters then its run of delimiters, or a trailing piece without one
_SENTENCE = re.compile(f"[^{_DELIMS}]*[{_DELIMS}]+|[^{_DELIMS}]+")


def read_paragraphs(docs_dir: Path) -> list[str]:
    """The stripped, non-empty blank-line-separated blocks of every .txt/.md file, in path order."""
    files = sorted(
        p for p in Path(docs_dir).rglob("*") if p.is_file() and p.suffix.lower() in DOC_SUFFIXES
    )
    paragraphs: list[str] = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        block: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.strip():
                block.append(line)
            elif block:
                paragraphs.append("\n".join(block).strip())
                block = []
    return paragraphs


def _is_noise(token: str) -> bool:
    """Whether a token is whitespace and punctuation only."""
    return all(ch.isspace() or unicodedata.category(ch).startswith("P") for ch in token)


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens, lower-cased, without whitespace/punctuation-only tokens."""
    return [t.lower() for t in jieba.cut_for_search(text) if not _is_noise(t)]


def split_sentences(paragraph: str) -> list[str]:
    """Sentences ending at 。！？!?；; (kept with their delimiter run), stripped, non-empty."""
    return [s.strip() for s in _SENTENCE.findall(paragraph) if s.strip()]


def best_sentence(paragraph: str, question_tokens: Sequence[str]) -> str:
    """The sentence sharing the most distinct question tokens (the first of equals)."""
    wanted = set(question_tokens)
    best, best_overlap = "", -1
    for sentence in split_sentences(paragraph) or [paragraph]:
        overlap = len(wanted & set(tokenize(sentence)))
        if overlap > best_overlap:
            best, best_overlap = sentence, overlap
    return best


class PeerAnswer(NamedTuple):
    answer: str
    passages: list[str]  # the top paragraphs, best first
    latency_ms: float


class BM25Peer:
    """BM25 over a fixed list of paragraphs."""

    def __init__(self, paragraphs: Sequence[str]) -> None:
        if not paragraphs:
            raise SeedQAError("no paragraphs to search (no non-empty .txt/.md files)")
        self.paragraphs = list(paragraphs)
        self.retriever = bm25s.BM25()
        self.retriever.index([tokenize(p) for p in self.paragraphs], show_progress=False)

    def scores(self, question_tokens: Sequence[str]) -> np.ndarray:
        known = [t for t in question_tokens if t in self.retriever.vocab_dict]
        if not known:  # get_scores rejects an empty list
            return np.zeros(len(self.paragraphs), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known))

    def answer(self, question: str, k: int = TOP_PASSAGES) -> PeerAnswer:
        t0 = time.perf_counter()
        q_tokens = tokenize(question)
        scores = self.scores(q_tokens)
        # best first; equal scores keep paragraph order (stable sort of the negated scores)
        order = np.argsort(-scores, kind="stable")[:k]
        passages = [self.paragraphs[i] for i in order]
        sentence = best_sentence(passages[0], q_tokens)
        return PeerAnswer(sentence, passages, (time.perf_counter() - t0) * 1000.0)


def score(peer, gold: Sequence) -> tuple[dict, list[dict]]:
    """(aggregate metrics, per-question records) of any peer with `answer(question)` on gold
    items, scored as `seedqa eval` scores (the top paragraphs are the passages)."""
    peer.answer(gold[0].question)  # warm-up, untimed: jieba loads its dictionary lazily
    verdicts: list[Verdict] = []
    latencies: list[float] = []
    records: list[dict] = []
    for item in gold:
        a = peer.answer(item.question)
        v = judge(a.answer, span=a.answer, refused=False, passages=a.passages,
                  golds=list(item.answers))
        verdicts.append(v)
        latencies.append(a.latency_ms)
        records.append({"id": item.id, "question": item.question, "answer": a.answer,
                        "golds": list(item.answers), **v.to_json()})
    return aggregate(verdicts, latencies), records


def evaluate(docs_dir: Path, questions: Path) -> tuple[dict, list[dict]]:
    """(aggregate metrics, per-question records) of the peer on a gold question file."""
    gold = load_gold(Path(questions))  # a bad gold file fails before the index is built
    return score(BM25Peer(read_paragraphs(Path(docs_dir))), gold)


def format_table(metrics: dict) -> str:
    width = max(len(k) for k in OVERALL_KEYS)
    lines = []
    for key in OVERALL_KEYS:
        value = metrics.get(key)
        if value is None:
            shown = "-"
        elif isinstance(value, float):
            shown = f"{value:.1f}" if key.startswith("latency") else f"{value:.4f}"
        else:
            shown = str(value)
        lines.append(f"{key:<{width}}  {shown}")
    return "\n".join(lines)


def run(prog: str, description: str, evaluate_fn, argv: Sequence[str] | None = None) -> int:
    """The command line of a peer: DOCS_DIR QUESTIONS [--json OUT]; a table, then one JSON line."""
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("docs", type=Path, help="folder of .txt/.md documents")
    ap.add_argument("questions", type=Path, help="gold questions (JSONL, as for `seedqa eval`)")
    ap.add_argument("--json", dest="json_out", type=Path, help="also write the metrics here")
    args = ap.parse_args(argv)
    try:
        if not args.docs.is_dir():
            raise SeedQAError(f"not a folder: {args.docs}")
        metrics, _ = evaluate_fn(args.docs, args.questions)
    except SeedQAError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    line = json.dumps(metrics, ensure_ascii=False)
    if args.json_out:
        args.json_out.write_text(line + "\n", encoding="utf-8")
    print(format_table(metrics))
    print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run("bm25_peer", __doc__.split("\n", 1)[0], evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
