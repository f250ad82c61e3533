"""Answering many questions at once gives each the answer it gets alone.

`SeedQA.answer_batch` encodes a group of questions in one encoder call; the chat app's
`AnswerBatcher` lets concurrent users share those calls. Both exist only for speed, so every test
here compares them with `SeedQA.answer` on the real encoder and index: the same sentence, span,
refusal and citations (a score may move in its last float digits, nothing else may), and for the
batcher, each caller's own error staying its own.
"""

from __future__ import annotations

import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.core.errors import SeedQAError
from tests.conftest import dev_questions, free_port

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

FOLLOW_UP = ("工业总产值呢？", ["骆驼商会所在辖区有多少从业人员？"])
EDGE = [
    "",
    "   ",
    "？？？！！",
    "🤖北仑有多少家\x07模具企业？😀",
    "😀😀😀",
    "How many 模具企业 are there in 北仑?",
    "What is the capital of France?",
    "北仑有多少家模具企业？" * 200,  # past the 300-character cut: a long text among short ones
    "北侖有多少家模具企業？",
]
SCORE_TOLERANCE = 1e-5


def questions() -> list[str]:
    return [q["question"] for q in dev_questions()] + EDGE


def same_answer(got, want) -> None:
    """`got` reads exactly as `want`: only the confidence and the citation scores may differ,
    and only in their last digits."""
    g, w = got.to_json(), want.to_json()
    assert abs(g.pop("confidence") - w.pop("confidence")) < SCORE_TOLERANCE, want.question
    for cg, cw in zip(g["citations"], w["citations"], strict=True):
        assert abs(cg.pop("score") - cw.pop("score")) < SCORE_TOLERANCE, want.question
    assert g == w, want.question


class CountingEncoder:
    """The real encoder, recording the texts of every `encode_queries` call."""

    def __init__(self, encoder) -> None:
        self._enc = encoder
        self.id, self.dim = encoder.id, encoder.dim
        self.calls: list[list[str]] = []

    def encode_queries(self, texts):
        self.calls.append(list(texts))
        return self._enc.encode_queries(texts)

    def encode_passages(self, texts, progress=False):
        return self._enc.encode_passages(texts, progress=progress)


@pytest.fixture
def counted(seed_engine):
    """A second engine over the session's index and model whose encoder calls are recorded."""
    from qa.engine import SeedQA

    enc = CountingEncoder(seed_engine.encoder)
    return SeedQA(seed_engine.index, enc, seed_engine.docs, seed_engine.model), enc


@pytest.fixture(scope="module")
def singles(seed_engine) -> dict[str, object]:
    return {q: seed_engine.answer(q) for q in questions()}


# --- SeedQA.answer_batch -----------------------------------------------------------------------


def test_batch_answers_every_dev_and_edge_question_as_answer_does(seed_engine, singles):
    qs = questions()
    got = seed_engine.answer_batch(qs)
    assert len(got) == len(qs)
    for a, q in zip(got, qs, strict=True):
        same_answer(a, singles[q])
    answered = [a for a in got if not a.refused]
    assert len(answered) >= len(dev_questions()) // 2, "too few answers to compare meaningfully"
    assert any(a.span != a.answer for a in answered), "no answer with a span inside its sentence"
    empty, blank = got[len(dev_questions())], got[len(dev_questions()) + 1]
    assert empty.refused and empty.message and blank.refused


@pytest.mark.parametrize("size", [1, 2, 5, 16])
def test_any_group_size_and_order_gives_the_same_answers(seed_engine, singles, size):
    qs = questions()[::-1]  # long and edge questions first, grouped with various neighbours
    for start in range(0, len(qs), size):
        group = qs[start : start + size]
        for a, q in zip(seed_engine.answer_batch(group), group, strict=True):
            same_answer(a, singles[q])


def test_one_encoder_call_for_the_group_and_none_for_wordless_questions(counted):
    engine, enc = counted
    qs = ["北仑有多少家模具企业？", "", "？？？", "How many 模具企业 are there in 北仑?",
          dev_questions()[0]["question"]]
    got = engine.answer_batch(qs)
    assert len(enc.calls) == 1, "the group must be encoded in one call"
    assert len(enc.calls[0]) == 3, "questions without words need no vector"
    assert got[1].refused and got[2].refused and not got[0].refused
    enc.calls.clear()
    assert all(a.refused for a in engine.answer_batch(["", "！！"]))
    assert enc.calls == [], "no vector is needed when no question has words"


def test_options_per_question(seed_engine):
    """Each question keeps its own mode, top_k, threshold and history."""
    qs = [q["question"] for q in dev_questions()[:6]] + [FOLLOW_UP[0]] * 2
    modes = ["hybrid", "dense", "lexical", "hybrid", "dense", "lexical", "hybrid", "hybrid"]
    tops = [1, 3, 5, 10, 2, 7, 5, 5]
    thresholds = [None, 0.0, None, 1.01, None, 0.0, None, None]
    histories = [None] * 6 + [FOLLOW_UP[1], None]
    got = seed_engine.answer_batch(qs, histories, tops, modes, thresholds)
    for a, q, h, k, m, t in zip(got, qs, histories, tops, modes, thresholds, strict=True):
        same_answer(a, seed_engine.answer(q, history=h, top_k=k, mode=m, threshold=t))
    assert len(got[0].citations) == 1 and len(got[3].citations) == 10
    assert got[3].refused, "a threshold above 1 refuses"
    assert got[6].to_json() != got[7].to_json(), "the history changed nothing"


def test_one_value_applies_to_every_question(seed_engine):
    qs = [q["question"] for q in dev_questions()[:4]]
    got = seed_engine.answer_batch(qs, top_k=2, mode="lexical", threshold=0.0)
    for a, q in zip(got, qs, strict=True):
        same_answer(a, seed_engine.answer(q, top_k=2, mode="lexical", threshold=0.0))
        assert len(a.citations) == 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"top_k": [5, "x"]}, "top_k"),
        ({"mode": ["hybrid", "magic"]}, "mode"),
        ({"threshold": [None, float("nan")]}, "threshold"),
    ],
)
def test_a_bad_option_fails_before_any_work(counted, kwargs, match):
    engine, enc = counted
    with pytest.raises(SeedQAError, match=match):
        engine.answer_batch(["北仑有多少家模具企业？", "工业总产值呢？"], **kwargs)
    assert enc.calls == []


def test_option_lists_must_match_the_questions(seed_engine):
    with pytest.raises(ValueError, match="3 option values for 2 questions"):
        seed_engine.answer_batch(["a", "b"], top_k=[1, 2, 3])
    with pytest.raises(ValueError, match="1 histories for 2 questions"):
        seed_engine.answer_batch(["a", "b"], histories=[None])


# --- the ONNX query encoder's grouping ---------------------------------------------------------


def test_grouping_covers_every_text_once_within_the_padding_limit():
    from embeddings import onnx_query as oq

    rng = np.random.default_rng(0)
    for _ in range(200):
        lengths = [int(x) for x in rng.integers(3, 400, size=int(rng.integers(1, 40)))]
        groups = oq._groups(lengths)
        assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
        for g in groups:
            assert len(g) <= oq.MAX_GROUP
            real = sum(lengths[i] for i in g)
            assert len(g) * max(lengths[i] for i in g) <= (1 + oq.MAX_PADDING) * real + 1e-9
    assert oq._groups([20, 300, 21, 22]) == [[0, 2, 3], [1]]


def test_grouped_query_vectors_equal_single_ones(seed_engine):
    from qa.question import parse

    onnx = getattr(seed_engine.encoder, "query_encoder", None)
    if onnx is None:
        pytest.skip("questions are encoded by the main model here (SEEDQA_QUERY_VARIANT=same)")
    texts = [parse(q).search_text for q in questions() if parse(q).text]
    single = np.stack([onnx.encode([t])[0] for t in texts])
    together = onnx.encode(texts)
    assert together.shape == single.shape
    assert np.abs(together - single).max() < 1e-5
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


# --- the chat app's AnswerBatcher --------------------------------------------------------------


class Gated:
    """The engine, with `answer_batch` held at a gate until released, so that callers pile up
    behind the first group deterministically; records the size of every group."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.chunks = engine.chunks
        self.default_threshold = engine.default_threshold
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        self.singles = 0

    def answer(self, *args, **kwargs):
        self.singles += 1
        return self.engine.answer(*args, **kwargs)

    def answer_batch(self, questions, *args, **kwargs):
        self.sizes.append(len(questions))
        self.entered.set()
        assert self.gate.wait(60)
        return self.engine.answer_batch(questions, *args, **kwargs)


def wait_until(cond, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_batcher_groups_waiting_callers_and_answers_each_as_alone(seed_engine, singles):
    from ui.app import AnswerBatcher

    gated = Gated(seed_engine)
    batcher = AnswerBatcher(gated, max_batch=8, workers=1)
    qs = [q["question"] for q in dev_questions()[:11]] + EDGE[:3]
    with ThreadPoolExecutor(max_workers=len(qs)) as pool:
        first = pool.submit(batcher.answer, qs[0])
        assert gated.entered.wait(30)
        rest = [pool.submit(batcher.answer, q) for q in qs[1:]]
        wait_until(lambda: len(batcher._waiting) == len(qs) - 1)
        gated.gate.set()
        got = [first.result(60)] + [f.result(60) for f in rest]
    assert gated.sizes == [1, 8, 5], "waiting callers must go in groups of at most max_batch"
    assert batcher.groups == 3 and batcher.answered == len(qs) and gated.singles == 0
    for a, q in zip(got, qs, strict=True):
        same_answer(a, singles[q])


def test_batcher_keeps_each_callers_error_its_own(seed_engine):
    from ui.app import AnswerBatcher

    gated = Gated(seed_engine)
    batcher = AnswerBatcher(gated, max_batch=8, workers=1)
    good = [q["question"] for q in dev_questions()[:3]]
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(batcher.answer, good[0])
        assert gated.entered.wait(30)
        jobs = [pool.submit(batcher.answer, q) for q in good[1:]]
        bad_k = pool.submit(batcher.answer, good[0], None, "x")
        bad_mode = pool.submit(batcher.answer, good[1], None, 5, "magic")
        wait_until(lambda: len(batcher._waiting) == 4)
        gated.gate.set()
        answers = [first.result(60)] + [j.result(60) for j in jobs]
        with pytest.raises(SeedQAError, match="top_k"):
            bad_k.result(60)
        with pytest.raises(SeedQAError, match="mode"):
            bad_mode.result(60)
    for a, q in zip(answers, good, strict=True):
        same_answer(a, seed_engine.answer(q))
    assert gated.sizes == [1, 4] and gated.singles == 4, "the failed group is answered singly"


def test_batcher_alone_answers_at_once_and_frees_its_slot(seed_engine):
    from ui.app import AnswerBatcher

    batcher = AnswerBatcher(seed_engine, workers=1)
    for q in ("北仑有多少家模具企业？", "", "白小T的创始人是谁？"):
        same_answer(batcher.answer(q), seed_engine.answer(q))
    assert batcher.groups == 3 and batcher._busy == 0 and not batcher._waiting


def test_batcher_passes_an_unexpected_failure_to_its_caller_only(seed_engine):
    from ui.app import AnswerBatcher

    class Flaky(Gated):
        def answer(self, question, *args, **kwargs):
            if question == "boom":
                self.singles += 1
                raise RuntimeError("engine failed on this one")
            return super().answer(question, *args, **kwargs)

        def answer_batch(self, questions, *args, **kwargs):
            if "boom" in questions:
                self.sizes.append(len(questions))
                raise RuntimeError("engine failed on one of them")
            return super().answer_batch(questions, *args, **kwargs)

    flaky = Flaky(seed_engine)
    batcher = AnswerBatcher(flaky, workers=1)
    q0, q1 = (q["question"] for q in dev_questions()[:2])
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(batcher.answer, q0)
        assert flaky.entered.wait(30)
        boom = pool.submit(batcher.answer, "boom")
        other = pool.submit(batcher.answer, q1)
        wait_until(lambda: len(batcher._waiting) == 2)
        flaky.gate.set()
        same_answer(first.result(60), seed_engine.answer(q0))
        same_answer(other.result(60), seed_engine.answer(q1))
        with pytest.raises(RuntimeError, match="this one"):
            boom.result(60)
    assert flaky.sizes == [1, 2] and flaky.singles == 2
    with pytest.raises(RuntimeError, match="one of them"):  # alone: the group's own error
        batcher.answer("boom")
    assert batcher._busy == 0 and not batcher._waiting, "failed groups must give their slot back"
    same_answer(batcher.answer(q0), seed_engine.answer(q0))


# --- through a real Gradio server ------------------------------------------------------------


class Slowed:
    """The engine, with every group held 0.3 s and its size recorded, so that concurrent
    requests reliably meet in the batcher."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.chunks = engine.chunks
        self.default_threshold = engine.default_threshold
        self.sizes: list[int] = []
        self.lock = threading.Lock()

    def answer(self, *args, **kwargs):
        return self.engine.answer(*args, **kwargs)

    def answer_batch(self, questions, *args, **kwargs):
        with self.lock:
            self.sizes.append(len(questions))
        time.sleep(0.3)
        return self.engine.answer_batch(questions, *args, **kwargs)


def test_many_api_clients_at_once_get_single_user_answers(seed_engine):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from ui.app import build_app, launch

    slowed = Slowed(seed_engine)
    served = launch(build_app(slowed, examples=[]), port=free_port(), block=False,
                    out=io.StringIO())
    try:
        url = served.local_url
        qs = [q["question"] for q in dev_questions()[:12]] + ["", EDGE[5]]
        want = {q: seed_engine.answer(q).to_json() for q in qs}
        follow = seed_engine.answer(FOLLOW_UP[0], history=FOLLOW_UP[1]).to_json()

        def one(q: str) -> dict:
            return Client(url, verbose=False).predict(q, api_name="/ask")

        def bad(args: tuple) -> str:
            try:
                Client(url, verbose=False).predict(*args, api_name="/ask")
            except AppError as e:
                return str(e)
            return "no error"

        with ThreadPoolExecutor(max_workers=len(qs) + 3) as pool:
            got = pool.map(one, qs, timeout=300)
            followed = pool.submit(
                lambda: Client(url, verbose=False).predict(*FOLLOW_UP, api_name="/ask"))
            errors = pool.map(bad, [("北仑有多少家模具企业？", None, "x"),
                                    ("北仑有多少家模具企业？", None, 5, "magic")], timeout=300)
            got, errors = list(got), list(errors)
            followed = followed.result(300)
    finally:
        served.close()
    for g, q in zip(got, qs, strict=True):
        assert g == want[q], q
    assert followed == follow
    assert "top_k" in errors[0] and "mode" in errors[1]
    assert max(slowed.sizes) >= 2, f"requests were never answered together: {slowed.sizes}"
