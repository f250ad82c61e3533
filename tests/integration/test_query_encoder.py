"""Questions through ONNX Runtime (`embeddings.onnx_query`) against the torch model they copy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from embeddings.convert import ensure_default_model  # noqa: E402
from embeddings.default_model import choose_query_variant, load_converted  # noqa: E402
from embeddings.onnx_query import (  # noqa: E402
    MODEL_FILE,
    WEIGHTS_FILE,
    OnnxQueryEncoder,
    ensure_onnx,
)
from qa.core import workload  # noqa: E402
from qa.core.errors import SeedQAError  # noqa: E402

QUESTIONS = [
    "江苏商会在海外发起了什么活动？",
    "宁波市工商联主席是谁？",
    "What did the chamber of commerce donate?",
    "北侖區壓鑄模具產業集群上榜了嗎？",
    "2020年全市新增多少家商会",
]


@pytest.fixture(scope="module")
def torch_fp32():
    return load_converted("fp32")


def test_fp32_gives_the_torch_model_s_vectors(torch_fp32):
    onnx = OnnxQueryEncoder(ensure_default_model(), "fp32")
    ref = torch_fp32._run(QUESTIONS, "query", 1, progress=False)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    got = onnx.encode(QUESTIONS)
    assert got.dtype == np.float32 and got.shape == (len(QUESTIONS), 384)
    assert np.min(np.sum(got * ref, axis=1)) > 0.99999
    # one question alone is the same vector as within a padded batch
    alone = np.vstack([onnx.encode([q]) for q in QUESTIONS])
    assert np.min(np.sum(alone * got, axis=1)) > 0.99999


def test_the_default_encoder_answers_questions_through_onnx():
    from embeddings import load_encoder
    from embeddings.default_model import QUERY_DEFAULT

    enc = load_encoder()
    assert enc.query_encoder is not None and f"onnx-{QUERY_DEFAULT}-" in enc.query_id
    assert enc.query_id.startswith(enc.id)  # the index key stays the passage model's id
    q = enc.encode_queries(QUESTIONS[:2])
    p = enc.encode_passages(["江苏商会在海外发起募捐，采购防疫物资支援国内。"])
    assert q.shape == (2, 384) and float(q[0] @ p[0]) > float(q[1] @ p[0])


def test_the_int8_graph_is_fused_with_its_weights_apart():
    # the fusions are what make a question cheap; a transformers or onnxruntime upgrade that
    # silently stopped them would still give right vectors, only slower
    import onnx

    out = ensure_onnx(ensure_default_model(), "int8")
    graph = onnx.load(str(out / MODEL_FILE), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("QAttention") == 12 and ops.count("SkipLayerNormalization") == 24
    assert "Softmax" not in ops and len(ops) < 300  # 811 before attention was fused
    assert (out / MODEL_FILE).stat().st_size < 2_000_000  # the graph; tensors are mapped
    assert (out / WEIGHTS_FILE).stat().st_size > 100_000_000


def test_a_lone_question_and_one_among_others_get_the_same_vector():
    # a lone question runs on two threads, one among other answers on one (`qa.core.workload`);
    # the answer must not depend on which
    enc = OnnxQueryEncoder(ensure_default_model(), "int8", threads=2)
    assert enc.wide_session is not enc.session
    lone = np.vstack([enc.encode([q]) for q in QUESTIONS])
    with workload.answering(), workload.answering():
        assert workload.active() == 2
        crowded = np.vstack([enc.encode([q]) for q in QUESTIONS])
    assert np.array_equal(lone, crowded)


@pytest.mark.parametrize("damaged", [MODEL_FILE, WEIGHTS_FILE])
def test_a_damaged_onnx_folder_is_rebuilt(tmp_path, damaged):
    # a copy of the converted model in a private cache, so the shared ONNX folder is untouched
    src = ensure_default_model()
    folder = tmp_path / src.name
    shutil.copytree(src, folder)
    # an earlier build version's folder and lock, as an upgrade leaves them; the other kind stays
    stale = tmp_path / f"{folder.name}-onnx-fp32-v1"
    (stale / "sub").mkdir(parents=True)
    (tmp_path / f"{stale.name}.lock").touch()
    other = tmp_path / f"{folder.name}-onnx-int8-v1"
    newer = tmp_path / f"{folder.name}-onnx-fp32-v99"  # a later seedqa's, sharing the cache
    other.mkdir()
    newer.mkdir()
    out = ensure_onnx(folder, "fp32")
    assert not stale.exists() and not (tmp_path / f"{stale.name}.lock").exists()
    assert other.exists() and newer.exists() and out.exists()
    size = (out / damaged).stat().st_size
    with open(out / damaged, "r+b") as fh:
        fh.truncate(size // 2)  # as a crash or a full disk would leave it
    again = ensure_onnx(folder, "fp32")
    assert again == out and (again / damaged).stat().st_size == size
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".tmp-")]


def test_an_unknown_variant_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("SEEDQA_QUERY_VARIANT", "int4")
    with pytest.raises(SeedQAError, match="SEEDQA_QUERY_VARIANT='int4' is not one of fp32, int8"):
        choose_query_variant()
