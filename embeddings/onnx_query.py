"""Questions through an ONNX Runtime copy of the default model, in fp32 or with int8 weights.

Why queries only: a question is one short text encoded while the user waits, where torch's
per-call overhead and bf16 kernels cost more than ONNX Runtime's fused graph (fp32: the same
vectors, cosine 0.9999999, ~1.3x faster per question here) or its int8 kernels (~0.6x fp32's
time; each layer's GELU-output projection stays fp32, see `fp32_nodes`);
passages are encoded once, in bulk, at index time, where torch is as fast. The
index therefore does not depend on this choice (its cache key, `Encoder.id`, is unchanged); the
choice shows in `Encoder.query_id`.

Why judged by answers, not cosine: `bench/bench_query_encoder.py` runs `seedqa eval` with each
on the fit questions; see `embeddings.default_model.QUERY_DEFAULT` for what it showed.

Built once from the converted folder (`embeddings.convert`) into `<folder>-onnx-<kind>-v<BUILD_VERSION>`, in a
temp folder renamed into place after its manifest is sealed, under a file lock, as the converted
model is; it needs `onnx` only to build and `onnxruntime` to run.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from qa.core import versioned, workload
from qa.core.errors import SeedQAError, StaleIndex

log = logging.getLogger(__name__)

BUILD_VERSION = "4"  # 2: BiasGelu, SkipLayerNormalization fused; 4: attention too, weights apart
MODEL_FILE = "model.onnx"
WEIGHTS_FILE = "model.weights"  # the graph's tensors, memory-mapped by ONNX Runtime
MAX_TOKENS = 512
KINDS = ("fp32", "int8")


def onnx_dir_for(folder: Path, kind: str) -> Path:
    return folder.with_name(f"{folder.name}-onnx-{kind}-v{BUILD_VERSION}")


def _expected(folder: Path, kind: str) -> dict:
    source = versioned.read_manifest(folder)
    return {"source": folder.name, "source_built_at": source.get("built_at"), "kind": kind,
            "build_version": BUILD_VERSION}


def _ok(out: Path, expected: dict) -> bool:
    try:
        manifest = versioned.read_manifest(out)
        if {k: manifest.get(k) for k in expected} != expected:
            return False
        versioned.verify(out, manifest, content=False)
        return True
    except (StaleIndex, KeyError, TypeError, AttributeError, OSError, ValueError):
        return False


def export(folder: Path, out: Path, kind: str) -> None:
    """The converted model's transformer (token states) as ONNX with ONNX Runtime's BERT fusions;
    for `int8`, its weights then quantised per channel (activations per call). The tensors are
    written beside the graph (`WEIGHTS_FILE`).

    Why fuse: a question is ~20 tokens, so the encoder's time is mostly per-operator overhead,
    not arithmetic; folding each layer's bias+GELU and residual+LayerNorm into single kernels
    cuts the graph by a third and the time per question by about a quarter, with the same
    vectors (cosine 1.0 to the unfused graph on the dev and seeds questions). Attention fuses
    only from the eager attention code (torch's SDPA exports as ~40 small operators a layer that
    the fuser does not recognise): int8 graph 811 -> 218 operators, a question 8.74 -> 8.35 ms
    on one thread and 5.71 -> 4.91 ms on two (30 dev questions, lowest of 7 medians, one run).
    The embeddings are left unfused: the fused embedding layer quantises its table its own way,
    which cost two of DRCD's fit unanswerables (refusal recall .667 -> .649, over the 0.01
    allowed), and in fp32 its 384 MB table is read in whole by the kernel's read-ahead.

    Why the tensors apart: ONNX Runtime then memory-maps them instead of copying them into each
    session, so the int8 session costs ~42 MB of private memory instead of ~164 MB, and a second
    session (see `OnnxQueryEncoder`) ~43 MB more.
    """
    import json

    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # no "Loading weights" bar in a CLI or chat log
    hf_logging.disable_progress_bar()
    bert = AutoModel.from_pretrained(str(folder), attn_implementation="eager").eval()

    class States(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert  # a submodule, so its weights export as initialisers

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=ids, attention_mask=mask).last_hidden_state

    ids = torch.tensor([[0, 100, 200, 2], [0, 300, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    raw = out / "model.raw.onnx"
    fp32 = out / "model.fp32.onnx"
    # the exporter warns about tracing details of the graph that do not apply to this model
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(States(), (ids, mask), str(raw), input_names=["ids", "mask"],
                          output_names=["states"], opset_version=17, dynamo=False,
                          dynamic_axes={"ids": axes, "mask": axes, "states": axes})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    fusions = FusionOptions("bert")
    fusions.enable_embed_layer_norm = False
    # opt_level 1: the fusions only; ONNX Runtime applies its own graph optimisations at load
    fused = optimize_model(str(raw), model_type="bert", opt_level=1,
                           num_heads=int(config["num_attention_heads"]),
                           hidden_size=int(config["hidden_size"]), optimization_options=fusions)
    fused.save_model_to_file(str(fp32))
    raw.unlink()
    final = fp32
    if kind == "int8":
        final = out / "model.int8.onnx"
        # the fused operators are outside ONNX's type inference: their outputs are float
        quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8,
                         per_channel=True, nodes_to_exclude=fp32_nodes(fused.model),
                         extra_options={"DefaultTensorType": 1})
        fp32.unlink()
    model = onnx.load(str(final))
    final.unlink()
    onnx.save_model(model, str(out / MODEL_FILE), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=WEIGHTS_FILE, size_threshold=1024)
    shutil.copy(folder / "tokenizer.json", out / "tokenizer.json")


def fp32_nodes(model) -> list[str]:
    """The MatMuls left in fp32 in the int8 model: those that project each layer's GELU output
    back to the hidden size.

    Why: their input is the one activation with heavy outliers (GELU of 1,536 channels), which
    per-call 8-bit quantisation of activations rounds worst. Measured on 300 CMRC fit questions
    against the fp32 graph: all MatMuls in int8, 1 - cosine median 0.0027 (min cosine 0.9929);
    these 12 of 96 kept fp32, 0.0010 (min 0.9982); the last two layers kept fp32 instead, 0.0024.
    """
    return [n.name for n in model.graph.node if n.op_type == "MatMul"
            and "/output/dense/" in n.name and "/attention/" not in n.name]


def _remove_older_builds(out: Path) -> None:
    """Delete the folders (and lock files) of earlier build versions of the same model and kind.

    Why: each is 140-470 MB, and an upgraded seedqa never reads them again. A process of an
    older seedqa still answering from one keeps its memory-mapped or loaded copy (on POSIX a
    removed file stays readable to whoever has it open). Later versions are left alone: a newer
    seedqa sharing the cache would otherwise rebuild its own each time this one ran.
    """
    stem = out.name[: -len(f"-v{BUILD_VERSION}")]
    for old in out.parent.glob(f"{stem}-v*"):
        version = old.name[len(stem) + 2:].removesuffix(".lock")
        if version.isdigit() and int(version) < int(BUILD_VERSION):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def ensure_onnx(folder: Path, kind: str) -> Path:
    """The ONNX folder of `folder` (the converted model) in `kind`, built on first use."""
    out = onnx_dir_for(folder, kind)
    expected = _expected(folder, kind)
    if _ok(out, expected):
        return out
    try:
        with versioned.locked(out.with_name(out.name + ".lock")):
            if _ok(out, expected):
                return out
            log.info("building the %s query model in %s (one time, ~20 s)", kind, out)
            tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
            try:
                export(folder, tmp, kind)
                files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
                versioned.seal(tmp, {**expected, "files": files, "built_at": time.time()})
                if out.exists():
                    shutil.rmtree(out)
                os.replace(tmp, out)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            _remove_older_builds(out)
    except ImportError as exc:
        raise SeedQAError(f"the ONNX query model needs {exc.name}; pip install onnx onnxruntime, "
                          "or set SEEDQA_QUERY_VARIANT=same") from None
    except OSError as exc:
        raise SeedQAError(f"cannot build the ONNX query model in {out.parent}: "
                          f"{exc.strerror or exc}; set SEEDQA_CACHE to a writable folder") from None
    return out


class OnnxQueryEncoder:
    """Mean-pooled, normalised e5 query vectors from the ONNX model: a lone question on up to
    `threads` cores, one core each while other answers are under way (`qa.core.workload`).

    Why two sessions: a second thread nearly halves a lone question's vector (int8, fused graph:
    8.6 -> 4.9 ms on an idle box), but under the 50-user chat load it took the core the other
    answers' Python work runs on (43-49 answers/s against 58 with one thread). A session's
    thread count is fixed when it is made, so there is one of each; they share the memory-mapped
    weights (the second costs ~43 MB). ONNX Runtime does not stall at a barrier the way torch's
    OpenMP pool does (see `embeddings.encoder`), so this is a choice of throughput, not safety.
    """

    def __init__(self, folder: Path, kind: str = "fp32", prefix: str = "query: ",
                 threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        out = ensure_onnx(folder, kind)
        self.id = f"onnx-{kind}-v{BUILD_VERSION}"
        self.tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.threads = max(1, threads if threads is not None else workload.cores())

        def session(n: int):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = n, 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            return ort.InferenceSession(str(out / MODEL_FILE), opts,
                                        providers=["CPUExecutionProvider"])

        self.session = session(1)
        self.wide_session = session(self.threads) if self.threads > 1 else self.session
        self.prefix = prefix
        self._lock = threading.Lock()
        # int8 quantises each call's activations with one scale for the whole call (all its
        # texts and their padding): a question grouped with others would get another vector
        # than alone, so it runs alone; fp32 vectors do not depend on the group
        self.max_group = 1 if kind == "int8" else MAX_GROUP

    def encode(self, texts: list[str]) -> np.ndarray:
        """One vector per text. Several texts are run in groups of similar token length, each
        padded to its longest: one long question padded into a group of short ones would
        multiply the group's cost (a 300-token question among 15 of 20 tokens: ~15x)."""
        encs = self.tokenizer.encode_batch([self.prefix + t for t in texts])
        vecs: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(encs)
        for group in _groups([len(e.ids) for e in encs], self.max_group):
            for i, v in zip(group, self._run([encs[i] for i in group]), strict=True):
                vecs[i] = v
        return np.stack(vecs)

    def _run(self, encs: list) -> np.ndarray:
        """One session call for `encs`, padded to the longest; mean-pooled and normalised."""
        width = max(len(e.ids) for e in encs)
        ids = np.ones((len(encs), width), dtype=np.int64)  # 1 = <pad> in the e5 vocabulary
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        session = self.wide_session if workload.threads_for_one(self.threads) > 1 \
            else self.session
        with self._lock:
            states = session.run(None, {"ids": ids, "mask": mask})[0]
        m = mask[..., None].astype(np.float32)
        vecs = (states * m).sum(1) / m.sum(1)
        return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)


# Texts in one session call: padding past this share of the real tokens starts a new call, and
# so does this many texts (measured on 2 cores: groups of 4-8 similar questions cost ~15% less
# per question than one call each; a mixed group of 16 cost more than 16 calls).
MAX_PADDING = 0.25
MAX_GROUP = 8


def _groups(lengths: list[int], max_group: int = MAX_GROUP) -> list[list[int]]:
    """Indices of `lengths` in groups of similar length (shortest first), each group's padded
    size (count x longest) within `MAX_PADDING` of its real size."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups: list[list[int]] = []
    real = 0
    for i in order:
        g = groups[-1] if groups else None
        if g is not None and len(g) < max_group and \
                (len(g) + 1) * lengths[i] <= (1 + MAX_PADDING) * (real + lengths[i]):
            g.append(i)
            real += lengths[i]
        else:
            groups.append([i])
            real = lengths[i]
    return groups
