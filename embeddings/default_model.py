"""The default encoder: the converted native e5-small, in the fastest variant that keeps quality.

Variants are runtime precisions of the same converted fp32 folder (see convert.py):

* ``fp32`` -- dequantised weights as stored; cosine to the engine >= 0.9998.
* ``bf16`` -- weights and activations in bfloat16; only worth it where the CPU has native bf16
  dot products (AVX512-BF16 / AMX), detected from /proc/cpuinfo at run time.

Which one is the default is decided by measurement (bench/bench_encoder.py); see ``DEFAULT``.
``SEEDQA_E5_VARIANT=fp32|bf16`` overrides it (bf16 silently falls back to fp32 on CPUs without
native bf16, where it would be emulated and slow).
"""

from __future__ import annotations

import os
from pathlib import Path

from embeddings.encoder import Encoder, load_st_encoder

VARIANTS = ("fp32", "bf16")

# Measured on the dev box (2-core AMD EPYC with AVX512-BF16, no AMX), bench/bench_encoder.py,
# 200 passages of ~250 chars, 3 interleaved rounds per run, medians of 4 runs (load 0.7-3.9):
#   engine 5.4 passages/s, 22.5 ms/query | fp32 8.8/s, 23.6 ms | bf16 22.4/s, 12.8 ms
#   (bf16 / engine per run: 3.5x, 4.8x, 3.8x, 3.5x)
# bf16 keeps cosine >= 0.9998 to the engine, so it is the default where the CPU has bf16; fp32
# (the stored weights) everywhere else. onnxruntime int8 (41/s, 5 ms) was rejected: cosine 0.9957.
DEFAULT = "bf16"


def cpu_has_bf16() -> bool:
    """True when the CPU advertises native bf16 dot products (AVX512-BF16 or AMX-BF16)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def choose_variant() -> str:
    wanted = os.environ.get("SEEDQA_E5_VARIANT", DEFAULT)
    if wanted not in VARIANTS:
        from qa.core.errors import SeedQAError

        raise SeedQAError(f"SEEDQA_E5_VARIANT={wanted!r} is not one of {', '.join(VARIANTS)}")
    if wanted == "bf16" and not cpu_has_bf16():
        return "fp32"
    return wanted


def load_converted(variant: str | None = None, folder: Path | None = None) -> Encoder:
    """Load the converted e5-small (building it on first use) in ``variant``."""
    from embeddings.convert import ensure_default_model, sha256_file, source_bin

    variant = variant or choose_variant()
    folder = folder or ensure_default_model()
    checksum = sha256_file(source_bin())[:8]
    # bf16: loaded straight into bf16, no fp32 copy in memory (named, so torch is imported only
    # when the model is loaded)
    kwargs = {"dtype": "bfloat16"} if variant == "bf16" else None
    return load_st_encoder(str(folder), id=f"e5-small-st:{variant}:{checksum}", model_kwargs=kwargs,
                           lazy=True)


# How questions are encoded (`embeddings.onnx_query`): `fp32` = ONNX Runtime, same vectors;
# `int8` = ONNX Runtime with int8 weights (each layer's GELU-output projection kept fp32); `same`
# = the passage model (torch). Judged by `seedqa eval` (hybrid) on the fit questions, never by
# cosine. First measurement (all 96 MatMuls in int8), sentence accuracy same / fp32 / int8:
#   dev (30) 1.000 / 1.000 / 1.000; seeds fit (90) .939 / .939 / .923; CMRC fit (695) .756 /
#   .754 / .756; DRCD fit (2242) .846 / .845 / .841 -- one of our 65 answerable seeds questions
#   lost (-0.015, over the 0.01 allowed), so fp32 stayed the default.
# With the GELU-output projections in fp32 (1 - cosine to fp32 0.0027 -> 0.0010), fp32 / int8,
# sentence accuracy, span F1, refusal recall, false-refusal rate:
#   dev         1.000 / 1.000   .742 / .742   1.000 / 1.000   0 / 0
#   seeds fit    .939 / .939    .804 / .803    .920 / .920    .015 / .015
#   CMRC fit     .754 / .752    .481 / .480    .862 / .862    .025 / .025
#   DRCD fit     .845 / .842    .624 / .621    .694 / .703    .029 / .030
# Nothing moves by 0.01, and int8 encodes a question in ~0.6x fp32's time
# (bench/bench_question_path.py), so it is the default.
# Again with attention fused (`onnx_query.BUILD_VERSION` 4), today's answer model, same / int8:
#   dev         1.000 / 1.000   .737 / .737   1.000 / 1.000   0 / 0
#   seeds fit    .969 / .969    .824 / .830    .840 / .920    0 / 0
#   CMRC fit     .768 / .776    .505 / .510    .862 / .862    .022 / .022
#   DRCD fit     .844 / .842    .611 / .610    .667 / .667    .027 / .027
# (with the embedding layer fused and quantised as well, DRCD's refusal recall was .649: not kept).
QUERY_VARIANTS = ("fp32", "int8", "same")
QUERY_DEFAULT = "int8"


def choose_query_variant() -> str:
    wanted = os.environ.get("SEEDQA_QUERY_VARIANT", QUERY_DEFAULT)
    if wanted not in QUERY_VARIANTS:
        from qa.core.errors import SeedQAError

        raise SeedQAError(
            f"SEEDQA_QUERY_VARIANT={wanted!r} is not one of {', '.join(QUERY_VARIANTS)}")
    return wanted


def load_default_encoder() -> Encoder:
    encoder = load_converted()
    variant = choose_query_variant()
    if variant != "same":
        from embeddings.convert import ensure_default_model
        from embeddings.onnx_query import OnnxQueryEncoder

        encoder.query_encoder = OnnxQueryEncoder(ensure_default_model(), variant)
        encoder.query_id = f"{encoder.id}+query:{encoder.query_encoder.id}"
    return encoder
