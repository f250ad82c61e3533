"""The whole pipeline at 10k, 100k and 1M passages: build, open and answer with seedqa's own code.

    .venv/bin/python bench/bench_scale.py N [--work /tmp/seedqa-scale] [--questions 1000] ...
    .venv/bin/python bench/bench_build_scale.py [--sizes 10000,100000,1000000]
        [--work /tmp/seedqa-scale] [--questions 1000] [--max-minutes 60] [--rss-cap-gb 12]
        [--reuse-index] [--stub shaped|bigram]

`bench/bench_stores_scale.py` measures the stores alone on synthetic vectors; this drives
`qa.index.open_index` (which builds: chunk records on disk, batches of 1,024 chunks embedded
through the on-disk vector cache, FAISS exact or IVF-SQ8 by size, float16 sentence memmap,
bm25s, jieba in a process pool above 20k passages) and `qa.engine.SeedQA.answer`. The last line
printed is one JSON object per size (`n`, `build_passages_per_s`, `build_peak_rss_mb`, `disk_mb`,
`open_s`, `p50_ms`, `p95_ms`, `answer_rss_mb`, `recall_at_10`, ...).

Documents (`WORK/docs-N/`, reused while `WORK/docs-N.json` says they are complete and of the same
generator version), 200 paragraphs a file, one line each, separated by blank lines:
- the 1,256 Wikipedia paragraphs of `../shared/external/` as written (CMRC 2018 trial, DRCD dev in
  traditional characters; `pubNNNN.txt`), whose 4,500 questions are the ones asked;
- N minus those generated paragraphs of 250-400 characters: filled with sentences until the
  chunker's 250-character target without passing its 400-character maximum, so the chunker makes
  one chunk of each. Sentences are recombined from the clauses of the seed documents
  (`seeds/*.txt`, cleaned by seedqa's own loader) and of the public sets' paragraphs, split into
  sentences and the sentences into clauses at ，；：, 3-4 clauses a sentence, with every number's
  digits redrawn and every person name (jieba `nr`, 3 characters, common surname) replaced by a
  random one: sampling whole sentences would repeat each one thousands of times and the
  content-keyed vector cache would embed each repeat once, hiding most of the embedding work a
  real corpus costs. So the public paragraphs' words recur all through the distractors.
Questions: `--questions` of the public sets' questions in a seeded order (after 5 warm-up ones);
each knows its paragraph, so "gold cited" (its paragraph among the 5 citations) and "gold in
answer" (a gold answer inside the answer sentence) are reported. With the stub encoder they are a
sanity check, not seedqa's quality (see `bench/quality.py` for that).

Encoder: a stub (`ShapedBigramEncoder`, 384-d), deterministic, ~100k passages/s. Character
unigrams and bigrams are feature-hashed (two signed coordinates each), then mapped by a ridge
regression onto the real encoder's vectors, fitted once on the ~1,350 real paragraphs of the seeds
and the public sets and 2,500 of their sentences, embedded by the default encoder (~2 minutes;
cached as `WORK/stub-shape-*.npz`). Raw hashed vectors are nearly orthogonal (mean cosine 0.04,
half their variance in 132 dimensions) while e5's crowd in a narrow cone (mean cosine 0.82, half
in 54), so an IVF over the raw stub needed nprobe 1,024 of 1,282 lists at 1M, a near-exhaustive
scan no real index needs. On the 8,608 sentences of the public sets' fit parts (IVF-SQ8, 371
lists) the shaped stub is still harder for IVF than e5 itself: recall@10 at nprobe 16 / 32 / 64 is
0.762 / 0.881 / 0.951 against e5's 0.883 / 0.941 / 0.976 (raw stub 0.553 / 0.663 / 0.786), so
the nprobe it gets is not flattering. `--stub bigram` runs the raw hashed stub. All time inside the
encoder is counted and reported apart: answer latencies are `answer()` minus its encoder call;
build seconds include the encoder (its share is shown).

Each step runs in a child process (this script with `--child`):
- build: the index folder is deleted first (vector cache included), then `open_index` builds it.
  Peak RSS of the child itself is its `ru_maxrss`; jieba's pool workers (children of a forkserver
  child) are sampled by the parent every 0.25 s with psutil: the largest worker and the largest
  sum of all of them. The parent kills the build if the tree's RSS passes `--rss-cap-gb` (a
  shared machine without swap) or the size's time budget (`--max-minutes`) runs out, and reports
  what it saw. The child prints a status line every 30 s.
- serve: a fresh process opens the index (seconds, RSS after open: resident and anonymous,
  i.e. not backed by a file), answers 5 warm-up questions then `--questions` one at a time,
  RSS sampled every 20 ms while answering.
- recall (IVF only): recall@10 of the ANN passage search for the questions' own vectors against
  an exact scan of all passage vectors (re-encoded from the chunk records), beside the
  recall@10 the build measured with stored vectors as queries (`passage_index.recall_at_10`).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import math
import os
import random
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
PARAS_PER_FILE = 200
EXTERNAL = ROOT.parent / "shared" / "external"
EXTERNAL_SETS = ("cmrc2018_trial.json", "DRCD_dev.json")
GEN_VERSION = 4  # 3: clauses of the public sets too; 4: their paragraphs verbatim, and their questions
RESERVOIR = 1000  # question candidates kept while generating
WARMUP = 5
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
            "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺"
            "顾毛郝龚邵万钱严覃武戴莫孔向汤庄")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国玉兰红春梅海波宁斌宇浩凯鹏辉晨阳欣怡涵思远博志宏佑峰云如德胜利"
_NUM = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CLAUSE_END = re.compile(r"(?<=[，；：])")


def gb(b: float) -> str:
    return f"{b / 2**30:.2f}"


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for f in files:
            with contextlib.suppress(OSError):
                total += os.stat(os.path.join(root, f)).st_size
    return total


# ---------------------------------------------------------------- encoder stub

_MIX = np.uint64(0x9E3779B97F4A7C15)


def embed(texts: list[str]) -> np.ndarray:
    """Feature-hashed character unigrams (weight 0.5) and bigrams (1.0), two signed coordinates
    each, L2-normalised float32: vectorised, no Python loop over characters."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, DIM), np.float32)
    lens = np.fromiter((len(t) for t in texts), np.int64, n)
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32).astype(np.uint64)
    rows = np.repeat(np.arange(n, dtype=np.int64), lens)
    same = rows[:-1] == rows[1:]
    feats = [((cps + np.uint64(1)) * _MIX, rows, 0.5),
             ((cps[:-1] * np.uint64(1_000_003) + cps[1:])[same] * _MIX, rows[:-1][same], 1.0)]
    out = np.zeros(n * DIM, np.float64)
    for h, r, w in feats:
        for shift in (40, 20):
            col = ((h >> np.uint64(shift)) % np.uint64(DIM)).astype(np.int64)
            sign = ((h >> np.uint64(shift - 8)) & np.uint64(1)).astype(np.float64) * (2 * w) - w
            out += np.bincount(r * DIM + col, weights=sign, minlength=n * DIM)
    v = out.reshape(n, DIM).astype(np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)


class BigramEncoder:
    """A fast deterministic `qa.core.Encoder` that counts the time spent in it."""

    id = "bench:bigram-hash-384"
    dim = DIM

    def __init__(self) -> None:
        self.seconds = 0.0
        self.texts = 0
        self.last = 0.0

    def vectors(self, texts: list[str]) -> np.ndarray:
        return embed(texts)

    def _timed(self, texts) -> np.ndarray:
        t0 = time.perf_counter()
        v = self.vectors(list(texts))
        self.last = time.perf_counter() - t0
        self.seconds += self.last
        self.texts += len(v)
        return v

    def encode_queries(self, texts) -> np.ndarray:
        return self._timed(texts)

    def encode_passages(self, texts, progress: bool = False) -> np.ndarray:
        return self._timed(texts)


def public_sets(external: Path | None = None, required: bool = False) -> list[tuple[str, dict]]:
    """(file name, SQuAD data) of each public set under `external` (default `EXTERNAL`)."""
    out = []
    for name in EXTERNAL_SETS:
        path = (external or EXTERNAL) / name
        if path.exists():
            out.append((name, json.loads(path.read_text(encoding="utf-8"))))
        elif required:
            raise SystemExit(f"{path} is missing: the scale bench asks the public sets' questions")
    return out


SHAPE_PASSAGES, SHAPE_SENTENCES, SHAPE_RIDGE = 1500, 2500, 1.0
SHAPE_ENV = "SEEDQA_BENCH_STUB_SHAPE"  # the fitted shape's file, for the child processes


def real_texts(seed: int = 0) -> list[str]:
    """Paragraphs (cut at the chunker's 400-character maximum) and sentences of the seeds and
    the public sets, as the stub's shape is fitted on."""
    from qa.chunks import split_sentences
    from qa.documents import read_paragraphs

    paras = [p.text for f in sorted((ROOT / "seeds").glob("*.txt"))
             for p in read_paragraphs(f, f.name) if not p.is_heading]
    for _name, data in public_sets():
        paras += [p["context"] for a in data["data"] for p in a["paragraphs"]]
    rng = random.Random(seed)
    picked = rng.sample(paras, min(SHAPE_PASSAGES, len(paras)))
    sents = [p[s:e] for p in paras for s, e in split_sentences(p) if e - s >= 8]
    return [p[:400] for p in picked] + rng.sample(sents, min(SHAPE_SENTENCES, len(sents)))


def fit_shape(work: Path) -> Path:
    """Fit (once per work folder and real encoder) the linear map that gives hashed vectors the
    real encoder's geometry; returns the file the children load."""
    from embeddings.load import load_encoder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    real = load_encoder()
    tag = re.sub(r"[^A-Za-z0-9]+", "-", real.id)
    out = work / f"stub-shape-{tag}.npz"
    if out.exists():
        return out
    texts = real_texts()
    t0 = time.perf_counter()
    y = np.asarray(real.encode_passages(texts), np.float32)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x = embed(texts)
    mu = y.mean(0)
    w = np.linalg.solve(x.T @ x + SHAPE_RIDGE * np.eye(DIM), x.T @ (y - mu)).astype(np.float32)
    radius = float(np.linalg.norm(y - mu, axis=1).mean())
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, w=w, mu=mu.astype(np.float32), radius=np.float32(radius),
             encoder=np.array(real.id), texts=np.int64(len(texts)))
    os.replace(tmp, out)
    print(f"stub shape: fitted on {len(texts):,} real texts embedded by {real.id} in "
          f"{time.perf_counter() - t0:.0f} s -> {out}", flush=True)
    return out


class ShapedBigramEncoder(BigramEncoder):
    """Hashed vectors mapped onto the real encoder's geometry (see the module's docstring)."""

    def __init__(self, shape: Path) -> None:
        super().__init__()
        z = np.load(shape)
        self.w, self.mu, self.radius = z["w"], z["mu"], float(z["radius"])
        digest = hashlib.sha256(self.w.tobytes()).hexdigest()[:10]
        self.id = f"bench:bigram-hash-384-shaped-{digest}"

    def vectors(self, texts: list[str]) -> np.ndarray:
        p = embed(texts) @ self.w
        p *= self.radius / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)
        p += self.mu
        return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-9)


def make_encoder(work: Path, stub: str) -> BigramEncoder:
    if stub == "bigram":
        return BigramEncoder()
    shape = os.environ.get(SHAPE_ENV)
    if not shape:
        raise SystemExit(f"{SHAPE_ENV} is not set: the parent fits the stub's shape first")
    return ShapedBigramEncoder(Path(shape))


# ---------------------------------------------------------------- synthetic documents


class Clauses:
    """Clause templates from the seeds and the public sets: literal text with number and name
    slots."""

    def __init__(self, seeds: Path, external: Path | None = None) -> None:
        from qa.chunks import split_sentences
        from qa.core.punctuation import SENTENCE_ENDS
        from qa.documents import read_paragraphs
        from qa.lexical import _get_jieba
        from qa.posseg_fast import install

        _get_jieba()
        install()  # the numpy Viterbi: DRCD's traditional text is mostly words jieba must guess
        import jieba.posseg

        self.templates: list[list[tuple[str, str]]] = []  # [(kind, text)], kind "", "num", "name"
        texts = [p.text for f in sorted(seeds.glob("*.txt")) for p in read_paragraphs(f, f.name)
                 if not p.is_heading]
        # the public sets' Wikipedia paragraphs (DRCD in traditional characters, as written):
        # tens of thousands of clauses, so words and BM25 postings are spread as in a real
        # archive rather than drawn from the seeds' ~600 clauses
        for _name, data in public_sets(external):
            texts += [p["context"] for a in data["data"] for p in a["paragraphs"]]
        for text in texts:
            for s, e in split_sentences(text):
                for clause in _CLAUSE_END.split(text[s:e]):
                    body = re.sub(r"[，；：。！？;!?,]+$", "", clause.strip())
                    if (len(body) < 4 or "■" in body or any(c in body for c in SENTENCE_ENDS)
                            or body.count("“") != body.count("”")
                            or body.count("（") != body.count("）")
                            or not re.search(r"[\u4e00-\u9fff]", body)):
                        continue
                    self.templates.append(self._slots(body, jieba.posseg))
        if not self.templates:
            raise SystemExit(f"no clauses found in {seeds}/*.txt")

    @classmethod
    def cached(cls, path: Path) -> Clauses:
        """The templates, parsed once per generator version (tagging 37k clauses takes minutes)
        and kept in the work folder for the other sizes."""
        if path.exists():
            out = cls.__new__(cls)
            out.templates = [[tuple(p) for p in t] for t in json.loads(path.read_text("utf-8"))]
            return out
        out = cls(ROOT / "seeds")
        path.write_text(json.dumps(out.templates, ensure_ascii=False), encoding="utf-8")
        return out

    @staticmethod
    def _slots(body: str, posseg) -> list[tuple[str, str]]:
        pieces: list[tuple[str, str]] = []
        for w, flag in posseg.lcut(body):
            if flag == "nr" and len(w) == 3 and w[0] in SURNAMES:
                pieces.append(("name", w))
                continue
            pos = 0
            for m in _NUM.finditer(w):
                if m.start() > pos:
                    pieces.append(("", w[pos:m.start()]))
                pieces.append(("num", m.group()))
                pos = m.end()
            if pos < len(w):
                pieces.append(("", w[pos:]))
        merged: list[tuple[str, str]] = []
        for kind, text in pieces:  # adjacent literals as one piece
            if merged and kind == "" and merged[-1][0] == "":
                merged[-1] = ("", merged[-1][1] + text)
            else:
                merged.append((kind, text))
        return merged

    def clause(self, rng: random.Random) -> tuple[str, list[tuple[str, str, int, int]]]:
        """(text, [(kind, value, start, end)]) of one clause with its slots refilled."""
        out, slots, pos = [], [], 0
        for kind, text in self.templates[rng.randrange(len(self.templates))]:
            if kind == "num":
                text = "".join(c if c == "." else str(rng.randrange(10)) for c in text)
                if len(text) > 1 and text[0] == "0":
                    text = str(rng.randrange(1, 10)) + text[1:]
            elif kind == "name":
                text = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(2))
            if kind:
                slots.append((kind, text, pos, pos + len(text)))
            out.append(text)
            pos += len(text)
        return "".join(out), slots


def generate(n: int, docs: Path, meta_path: Path, seed: int = 0) -> dict:
    """Write `n` paragraphs into `docs` (streamed, one file of `PARAS_PER_FILE` at a time)."""
    from qa.chunks import MAX_CHARS, TARGET_CHARS

    shutil.rmtree(docs, ignore_errors=True)
    meta_path.unlink(missing_ok=True)
    docs.mkdir(parents=True)
    clauses = Clauses.cached(docs.parent / f"clauses-v{GEN_VERSION}.json")
    rng = random.Random(seed)
    reservoir: list[dict] = []
    seen = chars = sentences = 0
    t0 = time.perf_counter()
    public, asked = public_paragraphs()
    if n <= len(public):
        raise SystemExit(f"N must exceed the {len(public):,} paragraphs of the public sets")
    for fno in range(math.ceil(len(public) / PARAS_PER_FILE)):
        part = public[fno * PARAS_PER_FILE:(fno + 1) * PARAS_PER_FILE]
        (docs / f"pub{fno:04d}.txt").write_text("\n\n".join(part) + "\n", encoding="utf-8")
        chars += sum(len(t) for t in part)
    n_gen = n - len(public)
    files = math.ceil(len(public) / PARAS_PER_FILE) + math.ceil(n_gen / PARAS_PER_FILE)
    for fno in range(math.ceil(n_gen / PARAS_PER_FILE)):
        name = f"doc{fno:05d}.txt"
        paras = []
        for j in range(min(PARAS_PER_FILE, n_gen - fno * PARAS_PER_FILE)):
            size, sents, cands = 0, [], []
            while size < TARGET_CHARS:
                parts = [clauses.clause(rng) for _ in range(rng.choice((3, 3, 4)))]
                text = "，".join(t for t, _ in parts) + "。"
                if size + len(text) > MAX_CHARS:
                    continue
                for k, (t, slots) in enumerate(parts):
                    prev = parts[k - 1][0] + "，" if k else ""
                    cands.extend((prev, t, s) for s in slots)
                sents.append(text)
                size += len(text)
            paras.append("".join(sents))
            chars += size
            sentences += len(sents)
            if cands:  # one candidate question per paragraph, reservoir-sampled over the corpus
                names = [c for c in cands if c[2][0] == "name"]
                prev, t, (kind, value, s, e) = rng.choice(names or cands)
                q = {"q": prev + t[:s] + ("谁" if kind == "name" else "多少") + t[e:] + "？",
                     "value": value, "doc": name, "line": 2 * j + 1, "kind": kind}
                seen += 1
                if len(reservoir) < RESERVOIR:
                    reservoir.append(q)
                else:
                    r = rng.randrange(seen)
                    if r < RESERVOIR:
                        reservoir[r] = q
        tmp = docs / f".{name}.tmp"
        tmp.write_text("\n\n".join(paras) + "\n", encoding="utf-8")
        tmp.rename(docs / name)
    meta = {"n": n, "version": GEN_VERSION, "seed": seed, "files": files,
            "chars": chars, "sentences": sentences, "clause_templates": len(clauses.templates),
            "bytes": folder_bytes(docs), "seconds": round(time.perf_counter() - t0, 1),
            "public_paragraphs": len(public),
            "questions": random.Random(seed).sample(asked, len(asked)),
            "generated_questions": reservoir}
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return meta


def ensure_docs(n: int, work: Path) -> tuple[Path, dict, bool]:
    docs, meta_path = work / f"docs-{n}", work / f"docs-{n}.json"
    if meta_path.exists() and docs.is_dir():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("n") == n and meta.get("version") == GEN_VERSION:
            return docs, meta, True
    return docs, generate(n, docs, meta_path), False


def public_paragraphs() -> tuple[list[str], list[dict]]:
    """The public sets' paragraphs as written (one line each, in `pubNNNN.txt` files of
    `PARAS_PER_FILE`) and their questions, each knowing its paragraph's file and line."""
    paras: list[str] = []
    asked: list[dict] = []
    for name, data in public_sets(required=True):
        for art in data["data"]:
            for p in art["paragraphs"]:
                i = len(paras)
                paras.append(" ".join(p["context"].split()))
                doc, line = f"pub{i // PARAS_PER_FILE:04d}.txt", 2 * (i % PARAS_PER_FILE) + 1
                for qa in p["qas"]:
                    golds = sorted({a["text"].strip() for a in qa["answers"] if a["text"].strip()})
                    if golds:
                        asked.append({"q": qa["question"], "value": golds, "doc": doc,
                                      "line": line, "kind": name.split("_")[0]})
    return paras, asked


def questions_for(meta: dict, k: int) -> tuple[list[dict], list[dict]]:
    """(warm-up questions, measured questions): the public sets' questions, in a seeded order."""
    pool = meta["questions"]
    if len(pool) < k + WARMUP:
        raise SystemExit(f"only {len(pool)} questions; ask for fewer")
    return pool[:WARMUP], pool[WARMUP:WARMUP + k]


# ---------------------------------------------------------------- children


def paths(work: Path, n: int) -> tuple[Path, Path]:
    return work / f"docs-{n}", work / f"index-{n}"


def rss_now(proc=None) -> tuple[int, int]:
    """(resident, resident not backed by a file) in bytes."""
    import psutil

    m = (proc or psutil.Process()).memory_info()
    return m.rss, m.rss - m.shared


def quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


def child_build(work: Path, n: int, stub: str) -> dict:
    import psutil

    from qa.index import open_index

    quiet_logging()
    docs, index_dir = paths(work, n)
    enc = make_encoder(work, stub)
    me = psutil.Process()
    t0 = time.perf_counter()
    done = threading.Event()

    def status() -> None:
        while not done.wait(30):
            kids = []
            for c in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    kids.append(c.memory_info().rss)
            r, an = rss_now(me)
            print(f"  [build {n:,}] {time.perf_counter() - t0:6.0f} s: RSS main "
                  f"{gb(r)} GB (anon {gb(an)}), load {os.getloadavg()[0]:.1f}, workers {len(kids)} x "
                  f"{gb(max(kids, default=0))} GB max ({gb(sum(kids))} sum); encoded "
                  f"{enc.texts:,} texts ({enc.seconds:.0f} s); index folder "
                  f"{gb(folder_bytes(index_dir))} GB", file=sys.stderr, flush=True)

    threading.Thread(target=status, daemon=True).start()
    index = open_index(docs, index_dir, enc, progress=False)
    wall = time.perf_counter() - t0
    done.set()
    m = index.manifest
    cache = [p for p in index_dir.iterdir() if p.name.startswith("cache-")]
    return {"wall_s": wall, "build_seconds": m.get("build_seconds"), "enc_s": enc.seconds,
            "enc_texts": enc.texts, "chunks": m["chunks"], "sentences": m["sentences"],
            "passage_index": m.get("passage_index"), "peak_main": peak_self(),
            "peak_children_rusage": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024,
            "cpu_main": cpu_s(resource.RUSAGE_SELF), "cpu_children": cpu_s(resource.RUSAGE_CHILDREN),
            "version_bytes": folder_bytes(index.folder),
            "cache_bytes": sum(folder_bytes(p) for p in cache)}


def cpu_s(who: int) -> float:
    u = resource.getrusage(who)
    return u.ru_utime + u.ru_stime


def peak_self() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child_serve(work: Path, n: int, k: int, stub: str) -> dict:
    from qa.engine import SeedQA
    from qa.index import open_index

    quiet_logging()
    docs, index_dir = paths(work, n)
    meta = json.loads((work / f"docs-{n}.json").read_text(encoding="utf-8"))
    warm, measured = questions_for(meta, k)
    enc = make_encoder(work, stub)
    r0, a0 = rss_now()
    t0 = time.perf_counter()
    index = open_index(docs, index_dir, enc, progress=False)
    open_s = time.perf_counter() - t0
    if enc.texts:
        raise SystemExit(f"open_index rebuilt the index ({enc.texts} texts encoded)")
    r1, a1 = rss_now()
    qa = SeedQA(index, enc, docs)
    peak = [r1, a1]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            r, a = rss_now()
            peak[0], peak[1] = max(peak[0], r), max(peak[1], a)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t_warm = time.perf_counter()
    for q in warm:
        qa.answer(q["q"])
    warm_s = time.perf_counter() - t_warm
    total, encs, gold, value, refused = [], [], 0, 0, 0
    related = 0
    for q in measured:
        t = time.perf_counter()
        a = qa.answer(q["q"])
        total.append(time.perf_counter() - t)
        encs.append(enc.last)
        refused += a.refused
        related += 1
        gold += any(c.doc == q["doc"] and c.line_start == q["line"] for c in a.citations)
        value += (not a.refused) and any(v in a.answer for v in q["value"])
    done.set()
    sampler.join()
    r2, a2 = rss_now()
    total_ms, enc_ms = np.array(total) * 1000, np.array(encs) * 1000
    excl = total_ms - enc_ms
    return {"open_s": open_s, "rss_open": r1, "anon_open": a1, "rss_start": r0, "anon_start": a0,
            "rss_answer_max": peak[0], "anon_answer_max": peak[1], "rss_end": r2, "anon_end": a2,
            "warm_s": warm_s, "p50": float(np.percentile(excl, 50)),
            "p95": float(np.percentile(excl, 95)), "max": float(excl.max()),
            "p50_total": float(np.percentile(total_ms, 50)),
            "p95_total": float(np.percentile(total_ms, 95)),
            "enc_p50": float(np.percentile(enc_ms, 50)), "questions": len(measured),
            "related": related, "gold_cited": gold, "value_in_span": value, "refused": refused,
            "passage_index": index.manifest.get("passage_index"), "peak_self": peak_self()}


def child_recall(work: Path, n: int, k: int, stub: str) -> dict:
    """recall@10 of the passage index for the questions' vectors vs an exact scan."""
    from qa.index import open_index
    from qa.index_build import passage_text
    from qa.question import parse

    quiet_logging()
    docs, index_dir = paths(work, n)
    meta = json.loads((work / f"docs-{n}.json").read_text(encoding="utf-8"))
    _, measured = questions_for(meta, k)
    enc = make_encoder(work, stub)
    index = open_index(docs, index_dir, enc, progress=False)
    qv = enc.encode_queries([parse(q["q"]).search_text for q in measured])
    _, ann = index.passages.search(qv, 10)
    best_s = np.full((len(qv), 10), -np.inf, np.float32)
    best_i = np.full((len(qv), 10), -1, np.int64)
    batch: list[str] = []
    first = 0
    t0 = time.perf_counter()

    def scan(first: int, texts: list[str]) -> None:
        nonlocal best_s, best_i
        s = qv @ enc.vectors(texts).T
        ids = np.broadcast_to(np.arange(first, first + len(texts)), s.shape)
        s_all, i_all = np.hstack([best_s, s]), np.hstack([best_i, ids])
        top = np.argpartition(-s_all, 9, axis=1)[:, :10]
        best_s = np.take_along_axis(s_all, top, axis=1)
        best_i = np.take_along_axis(i_all, top, axis=1)

    for c in index.chunks:
        batch.append(passage_text(c))
        if len(batch) == 8192:
            scan(first, batch)
            first += len(batch)
            batch = []
    if batch:
        scan(first, batch)
    from qa.stores.faiss_store import recall_at

    return {"recall_questions": recall_at(ann, best_i), "scan_s": time.perf_counter() - t0,
            "queries": len(qv)}


# ---------------------------------------------------------------- driver


def kill_tree(pid: int) -> None:
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()


def run_child(step: str, work: Path, n: int, k: int, deadline: float, cap: int,
              stub: str = "shaped") -> dict:
    """Run one step in a fresh interpreter, sampling its process tree's RSS; the step writes its
    result to a JSON file. On timeout or RSS cap the tree is killed and `error` says why."""
    import psutil

    out = work / f"result-{step}-{n}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--child", step, "--n", str(n), "--work", str(work),
           "--questions", str(k), "--out", str(out), "--stub", stub]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    peak = {"main": 0, "main_anon": 0, "worker": 0, "workers_sum": 0, "tree": 0,
            "n_workers": 0}
    loads = [os.getloadavg()[0]]
    kid_cpu: dict[int, float] = {}  # last CPU seconds seen of each descendant
    error = None
    t0 = time.perf_counter()
    try:
        ps = psutil.Process(proc.pid)
    except psutil.Error:
        ps = None
    while proc.poll() is None:
        if ps is not None:
            with contextlib.suppress(psutil.Error):
                mi = ps.memory_info()
                main = mi.rss
                peak["main_anon"] = max(peak["main_anon"], mi.rss - mi.shared)
                kids = []
                for c in ps.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        kids.append(c.memory_info().rss)
                        ct = c.cpu_times()
                        kid_cpu[c.pid] = ct.user + ct.system
                peak["main"] = max(peak["main"], main)
                peak["worker"] = max(peak["worker"], max(kids, default=0))
                peak["workers_sum"] = max(peak["workers_sum"], sum(kids))
                peak["tree"] = max(peak["tree"], main + sum(kids))
                peak["n_workers"] = max(peak["n_workers"], len(kids))
                if main + sum(kids) > cap:
                    error = (f"killed: process tree RSS {gb(main + sum(kids))} GB passed the "
                             f"{gb(cap)} GB cap after {time.perf_counter() - t0:.0f} s")
            if time.perf_counter() > deadline:
                error = f"killed: time budget ran out after {time.perf_counter() - t0:.0f} s"
            if error:
                kill_tree(proc.pid)
                proc.wait()
                break
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    loads.append(os.getloadavg()[0])
    peak["load"] = loads
    peak["workers_cpu"] = sum(kid_cpu.values())
    if error is None and proc.returncode != 0:
        error = f"exit code {proc.returncode} after {wall:.0f} s"
    result = json.loads(out.read_text()) if error is None and out.exists() else {}
    return {**result, "sampled": peak, "error": error, "step_wall_s": wall}


def print_tables(rows: list[dict]) -> None:
    print("\n| N (target / chunks) | index | build s | passages/s | build peak RSS GB main / "
          "workers (max one; sum) | open s | RSS after open GB (anon) | answer p50 / p95 ms "
          "excl. encoder | RSS answering GB (anon) | recall@10 recorded |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, s, rc = r.get("build") or {}, r.get("serve") or {}, r.get("recall") or {}
        pi = (s.get("passage_index") or b.get("passage_index") or {})
        kind = pi.get("type", "?")
        if kind.startswith("ivf"):
            kind += f" nlist {pi.get('nlist')} nprobe {pi.get('nprobe')}"
        chunks = f"{b['chunks']:,}" if "chunks" in b else "-"
        if b.get("error"):
            build = f"FAILED ({b['error']})"
            pps = "-"
        else:
            build = f"{b['wall_s']:.0f} (encoder {b['enc_s']:.0f})"
            pps = f"{b['chunks'] / b['wall_s']:,.0f}"
        sp = b.get("sampled") or {}
        peak = (f"{gb(b.get('peak_main', sp.get('main', 0)))} / {gb(sp.get('worker', 0))}; "
                f"{gb(sp.get('workers_sum', 0))}")
        if s and not s.get("error"):
            opened = f"{s['open_s']:.2f}"
            rss_open = f"{gb(s['rss_open'])} ({gb(s['anon_open'])})"
            lat = f"{s['p50']:.1f} / {s['p95']:.1f}"
            rss_ans = f"{gb(s['rss_answer_max'])} ({gb(s['anon_answer_max'])})"
        else:
            opened = rss_open = lat = rss_ans = (f"FAILED ({s['error']})" if s else "-")
        rec = pi.get("recall_at_10")
        rec = f"{rec:.3f}" if rec is not None else ("exact" if pi.get("type") == "flat" else "-")
        if "recall_questions" in rc:
            rec += f" (questions: {rc['recall_questions']:.3f})"
        print(f"| {r['n']:,} / {chunks} | {kind} | {build} | {pps} | {peak} | {opened} "
              f"| {rss_open} | {lat} | {rss_ans} | {rec} |")
    print("\nDetails:\n")
    print("| N | docs MB (files) | generated s | sentences | texts encoded | index version GB "
          "| vector cache GB | build CPU s main / workers | answer p50 / p95 ms incl. encoder (encoder p50) | max ms excl. "
          "| warm-up s (5 q) | gold cited / gold in answer / refused | RSS open→end GB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, s, g = r.get("build") or {}, r.get("serve") or {}, r["gen"]
        gen = f"{g['seconds']:.0f}" + (" (reused)" if r["reused"] else "")
        sents = f"{b['sentences']:,}" if "sentences" in b else "-"
        texts = f"{b['enc_texts']:,}" if "enc_texts" in b else "-"
        vb = gb(b["version_bytes"]) if "version_bytes" in b else "-"
        cb = gb(b["cache_bytes"]) if "cache_bytes" in b else "-"
        cpu = (f"{b['cpu_main']:.0f} / {b['sampled'].get('workers_cpu', 0):.0f}"
               if "cpu_main" in b else "-")
        if s and not s.get("error"):
            tot = f"{s['p50_total']:.1f} / {s['p95_total']:.1f} ({s['enc_p50']:.2f})"
            hits = f"{s['gold_cited']}/{s['related']} / {s['value_in_span']}/{s['related']} / " \
                   f"{s['refused']}/{s['questions']}"
            extra = f"{s['max']:.0f} | {s['warm_s']:.1f} | {hits} | {gb(s['rss_open'])}→{gb(s['rss_end'])}"
        else:
            tot, extra = "-", "- | - | - | -"
        print(f"| {r['n']:,} | {g['bytes'] / 1e6:.0f} ({g['files']}) | {gen} | {sents} | {texts} "
              f"| {vb} | {cb} | {cpu} | {tot} | {extra} |")
    print(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--work", default="/tmp/seedqa-scale")
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--max-minutes", type=float, default=60.0,
                    help="time budget per size (generation, build, open/answer, recall)")
    ap.add_argument("--rss-cap-gb", type=float, default=12.0,
                    help="kill a step whose process tree passes this resident size")
    ap.add_argument("--reuse-index", action="store_true",
                    help="do not rebuild when WORK/index-N already holds a built index")
    ap.add_argument("--stub", choices=("shaped", "bigram"), default="shaped",
                    help="the build's encoder: hashed bigrams shaped like the real encoder's "
                         "vectors (default), or raw")
    ap.add_argument("--child", choices=("shape", "build", "serve", "recall"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    work = Path(a.work)
    if a.child:
        fn = {"shape": lambda: str(fit_shape(work)),
              "build": lambda: child_build(work, a.n, a.stub),
              "serve": lambda: child_serve(work, a.n, a.questions, a.stub),
              "recall": lambda: child_recall(work, a.n, a.questions, a.stub)}[a.child]
        Path(a.out).write_text(json.dumps(fn(), ensure_ascii=False))
        return

    import faiss

    sizes = [int(s.replace("_", "")) for s in a.sizes.split(",")]
    work.mkdir(parents=True, exist_ok=True)
    stub_id = BigramEncoder.id
    if a.stub == "shaped":
        # in a child: the real encoder's ~1.5 GB would otherwise count in every later child's
        # ru_maxrss (Linux carries it over fork and exec)
        out = work / "result-shape.json"
        subprocess.run([sys.executable, __file__, "--child", "shape", "--work", str(work),
                        "--out", str(out)], cwd=ROOT, check=True)
        os.environ[SHAPE_ENV] = json.loads(out.read_text(encoding="utf-8"))
        stub_id = make_encoder(work, a.stub).id
    cap = int(a.rss_cap_gb * 2**30)
    print(f"# bench_build_scale: sizes {sizes}, {os.cpu_count()} cores, faiss {faiss.__version__} "
          f"({faiss.omp_get_max_threads()} threads), SEEDQA_IVF_MIN="
          f"{os.environ.get('SEEDQA_IVF_MIN', '(default 100000)')}, encoder stub "
          f"{stub_id}, work {work}, {time.strftime('%Y-%m-%d %H:%M')}\n", flush=True)
    rows = []
    for n in sizes:
        t_size = time.perf_counter()
        deadline = t_size + a.max_minutes * 60
        docs, meta, reused = ensure_docs(n, work)
        print(f"## N = {n:,}: docs {docs} ({'reused' if reused else 'generated'}: "
              f"{meta['files']} files, {meta['bytes'] / 1e6:.0f} MB, {meta['sentences']:,} "
              f"sentences, {meta['clause_templates']} clause templates, "
              f"{meta['seconds']:.0f} s)", flush=True)
        row = {"n": n, "gen": meta, "reused": reused}
        rows.append(row)
        _, index_dir = paths(work, n)
        if not (a.reuse_index and (index_dir / "CURRENT").exists()):
            shutil.rmtree(index_dir, ignore_errors=True)
            b = run_child("build", work, n, a.questions, deadline, cap, a.stub)
            row["build"] = b
            sp = b["sampled"]
            print(f"build: {b.get('error') or 'ok'}; wall {b['step_wall_s']:.0f} s; load average "
                  f"{sp['load'][0]:.1f} at start, {sp['load'][1]:.1f} at end; sampled peak "
                  f"RSS main {gb(sp['main'])} GB (anon {gb(sp['main_anon'])}), {sp['n_workers']} worker processes: largest "
                  f"{gb(sp['worker'])} GB, sum {gb(sp['workers_sum'])} GB, tree "
                  f"{gb(sp['tree'])} GB", flush=True)
            if not b.get("error"):
                print(f"build: {b['chunks']:,} chunks, {b['sentences']:,} sentences, "
                      f"{b['enc_texts']:,} texts encoded in {b['enc_s']:.0f} s; "
                      f"manifest build_seconds {b['build_seconds']}; CPU s main "
                      f"{b['cpu_main']:.0f}, workers {sp['workers_cpu']:.0f} (sampled); main ru_maxrss "
                      f"{gb(b['peak_main'])} GB, children ru_maxrss "
                      f"{gb(b['peak_children_rusage'])} GB; passage_index "
                      f"{json.dumps(b['passage_index'])}", flush=True)
            else:
                print_tables(rows)
                continue
        else:
            row["build"] = {"error": "reused the existing index (--reuse-index)", "sampled": {}}
        s = run_child("serve", work, n, a.questions, deadline, cap, a.stub)
        row["serve"] = s
        if s.get("error"):
            print(f"serve: {s['error']}", flush=True)
        else:
            print(f"open: {s['open_s']:.2f} s, RSS {gb(s['rss_start'])} → {gb(s['rss_open'])} GB "
                  f"(anon {gb(s['anon_open'])}); passage_index {json.dumps(s['passage_index'])}",
                  flush=True)
            print(f"answer: {s['questions']} questions, excl. encoder p50 {s['p50']:.1f} ms, p95 "
                  f"{s['p95']:.1f} ms, max {s['max']:.1f} ms; incl. encoder p50 "
                  f"{s['p50_total']:.1f} / p95 {s['p95_total']:.1f} ms; RSS while answering max "
                  f"{gb(s['rss_answer_max'])} GB (anon {gb(s['anon_answer_max'])}); "
                  f"ru_maxrss {gb(s['peak_self'])} GB", flush=True)
            if (s.get("passage_index") or {}).get("type", "flat") != "flat":
                rc = run_child("recall", work, n, a.questions, deadline, cap, a.stub)
                row["recall"] = rc
                print(f"recall: {rc.get('error') or ''} questions' recall@10 "
                      f"{rc.get('recall_questions', float('nan')):.3f} vs an exact scan "
                      f"({rc.get('scan_s', 0):.0f} s)", flush=True)
        print(f"N = {n:,} took {time.perf_counter() - t_size:.0f} s", flush=True)
        print_tables(rows)
    out = [summary(r, stub_id) for r in rows]
    print(json.dumps(out if len(out) > 1 else out[0]))


def summary(row: dict, encoder: str) -> dict:
    """The figures the scale issue asks for, as one flat record (None where a step failed)."""
    b, s, rc = row.get("build") or {}, row.get("serve") or {}, row.get("recall") or {}
    ok_b, ok_s = b and not b.get("error"), s and not s.get("error")
    pi = (s.get("passage_index") if ok_s else None) or b.get("passage_index") or {}
    mb = 1 / 2**20
    disk = b.get("version_bytes") if ok_b else None
    return {
        "n": row["n"],
        "build_passages_per_s": round(b["chunks"] / b["wall_s"], 1) if ok_b else None,
        "build_peak_rss_mb": round(max(b["peak_main"], b["sampled"].get("tree", 0)) * mb)
        if ok_b else None,
        "disk_mb": round(disk * mb) if disk else None,
        "open_s": round(s["open_s"], 3) if ok_s else None,
        "p50_ms": round(s["p50"], 1) if ok_s else None,
        "p95_ms": round(s["p95"], 1) if ok_s else None,
        "answer_rss_mb": round(s["rss_answer_max"] * mb) if ok_s else None,
        "recall_at_10": (1.0 if pi.get("type") == "flat" else rc.get("recall_questions")),
        "recall_at_10_build": pi.get("recall_at_10"),
        "index": pi.get("type"), "nprobe": pi.get("nprobe"), "nlist": pi.get("nlist"),
        "questions": s.get("questions") if ok_s else None,
        "gold_cited": s.get("gold_cited") if ok_s else None,
        "gold_in_answer": s.get("value_in_span") if ok_s else None,
        "encoder": encoder,
    }


if __name__ == "__main__":
    main()
