"""Which model folders the default encoder may read without loading (`embeddings.encoder`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.encoder import Encoder, _settings

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"


def folder(tmp_path: Path, modules: list[str], pooling: dict | None = None,
           prompts: dict | None = None, max_len: int | None = 256) -> Path:
    mods = [{"idx": i, "name": str(i), "path": "" if i == 0 else f"{i}_M", "type": t}
            for i, t in enumerate(modules)]
    (tmp_path / "modules.json").write_text(json.dumps(mods))
    if pooling is not None:
        (tmp_path / "1_M").mkdir()
        (tmp_path / "1_M" / "config.json").write_text(json.dumps(pooling))
    if prompts is not None:
        (tmp_path / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts}))
    if max_len is not None:
        (tmp_path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_len}))
    return tmp_path


def test_a_plain_folder_gives_its_settings(tmp_path):
    f = folder(tmp_path, [TRANSFORMER, POOLING], {"embedding_dimension": 384},
               {"query": "query: ", "document": "passage: ", "empty": ""})
    assert _settings(f) == (384, "query", "document", 256)


def test_older_pooling_files_and_no_prompts(tmp_path):
    f = folder(tmp_path, [TRANSFORMER, POOLING], {"word_embedding_dimension": 768}, None, None)
    assert _settings(f) == (768, None, None, None)


@pytest.mark.parametrize("modules, pooling", [
    ([TRANSFORMER, POOLING, "sentence_transformers.models.Dense"], {"embedding_dimension": 384}),
    ([TRANSFORMER, "my_package.CustomPooling"], {"embedding_dimension": 384}),
    ([TRANSFORMER, POOLING], None),  # no pooling config: the dimension is unknown
    ([TRANSFORMER, POOLING], {"embedding_dimension": "384"}),
])
def test_any_other_folder_is_loaded_at_once(tmp_path, modules, pooling):
    assert _settings(folder(tmp_path, modules, pooling)) is None


def test_a_lazy_encoder_needs_its_dimension():
    with pytest.raises(ValueError, match="a loader and the dim"):
        Encoder(None, "x", query_prompt=None, passage_prompt=None, loader=lambda: None)
    enc = Encoder(None, "x", query_prompt=None, passage_prompt=None, loader=lambda: "model",
                  dim=8)
    assert not enc.loaded and enc.model == "model" and enc.loaded and enc.dim == 8
