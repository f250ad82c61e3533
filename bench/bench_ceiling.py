"""How close passage encoding runs to this CPU's matrix-multiply ceiling (issue 15's indexing bullet).

Why: indexing speed is the encoder's speed, and the encoder is ~95 % dense matrix products.
If a whole passage pass already runs near what one large bf16/fp32 matrix product reaches on
these cores, no engine or thread setting can double it; only fewer operations can (a smaller
model, fewer or shorter texts). This prints the ceiling (the FFN's shape, [tokens x 384] x
[384 x 1536], 2 threads) beside the default encoder's achieved rate on seed-sized passages, both
as GFLOP/s, medians of alternating rounds.

    .venv/bin/python bench/bench_ceiling.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HIDDEN, FFN, LAYERS = 384, 1536, 12


def model_flops_per_token(tokens: int) -> float:
    """Multiply-adds x 2 of one e5-small layer stack per token: Q, K, V, O (4 d^2), the FFN
    (2 d f), and attention over `tokens` (2 x tokens x d for scores and mix)."""
    return 2.0 * LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN + 2 * tokens * HIDDEN)


def matmul_gflops(dtype, rows: int = 4096, reps: int = 20) -> float:
    import torch

    a = torch.randn(rows, HIDDEN).to(dtype)
    b = torch.randn(HIDDEN, FFN).to(dtype)
    with torch.inference_mode():
        for _ in range(3):
            a @ b
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        dt = time.perf_counter() - t
    return 2.0 * rows * HIDDEN * FFN * reps / dt / 1e9


def main() -> None:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(2)
    from bench.bench_encoder import seed_passages, seed_sentences
    from embeddings.default_model import load_default_encoder

    enc = load_default_encoder()
    tok = enc.model.tokenizer
    prompt = enc.model.prompts.get("passage", "")
    sets = {"passages": seed_passages(200), "sentences": seed_sentences()}
    lengths = {k: [len(tok(prompt + t)["input_ids"]) for t in v] for k, v in sets.items()}
    flops = {k: sum(n * model_flops_per_token(n) for n in v) for k, v in lengths.items()}
    enc.encode_passages(sets["passages"][:16])
    rows: dict[str, list[float]] = {"matmul bf16": [], "matmul fp32": [],
                                    **{f"encoder, {k}": [] for k in sets}}
    for _ in range(args.rounds):
        rows["matmul bf16"].append(matmul_gflops(torch.bfloat16))
        rows["matmul fp32"].append(matmul_gflops(torch.float32))
        for k, texts in sets.items():
            t = time.perf_counter()
            enc.encode_passages(texts)
            rows[f"encoder, {k}"].append(flops[k] / (time.perf_counter() - t) / 1e9)
    print(f"{args.rounds} rounds, load {os.getloadavg()[0]:.1f}; the default encoder "
          f"({enc.id}) as an index build runs it (adaptive threads)")
    print(f"{'':<20} {'GFLOP/s (median)':>17}  runs")
    for name, v in rows.items():
        print(f"{name:<20} {statistics.median(v):>17.0f}  {[round(x) for x in v]}")
    ceiling = statistics.median(rows["matmul bf16"])
    for k, texts in sets.items():
        per = flops[k] / len(texts)
        rate = statistics.median(rows[f"encoder, {k}"])
        print(f"{k}: {len(texts)} of {statistics.mean(lengths[k]):.0f} tokens on average, "
              f"{per / 1e9:.2f} GFLOP each; encoder at {rate / ceiling:.0%} of the bf16 matmul "
              f"ceiling: {rate * 1e9 / per:.1f}/s now, {ceiling * 1e9 / per:.1f}/s at the ceiling")


if __name__ == "__main__":
    main()
