"""The chat app's API, concurrency, HTML escaping and option checks, against a real Gradio server.

The server runs in this process on a free loopback port over the session's real engine; the API
is exercised through `gradio_client`, exactly as an outside program would call it.
"""

from __future__ import annotations

import html
import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.core.records import REFUSAL, Answer, Citation
from tests.conftest import dev_questions, free_port
from ui import render

XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script>"
MD_LINK = "[x](http://evil.example/)"
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")

NASTY = f"北仑{XSS_IMG}有近2000家{XSS_SCRIPT}模具企业{MD_LINK}。"
# The only tags render.py may ever emit.
ALLOWED_TAGS = {"div", "p", "span", "mark", "code", "details", "summary"}



def serve(engine, examples: list[str] | None = None):
    """Start the chat app on a free port without blocking; the caller closes it."""
    from ui.app import build_app, launch

    app = build_app(engine, examples=[] if examples is None else examples)
    return launch(app, port=free_port(), block=False, out=io.StringIO())


@pytest.fixture(scope="module")
def served(seed_engine):
    s = serve(seed_engine)
    yield s
    s.close()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served.local_url, verbose=False, download_files=False)


# --- /ask API ----------------------------------------------------------------------------------


def test_ask_returns_answer_json(client, seed_engine):
    got = client.predict("北仑有多少家模具企业？", api_name="/ask")
    want = seed_engine.answer("北仑有多少家模具企业？").to_json()
    assert set(got) == set(want)
    assert got == want
    assert not got["refused"]
    assert "近2000家" in got["answer"]
    assert got["source"] in {c["n"] for c in got["citations"]}
    assert got["answer"][got["span_start"] : got["span_end"]] == got["span"]


def test_ask_refuses_with_closest_passages(client):
    got = client.predict("白小T的创始人是谁？", api_name="/ask")
    assert got["refused"] and got["answer"] == REFUSAL
    assert got["citations"], "a refusal still lists the closest passages"


def test_ask_passes_history(client, seed_engine):
    first = "骆驼商会所在辖区有多少从业人员？"
    got = client.predict("工业总产值呢？", [first], api_name="/ask")
    assert got == seed_engine.answer("工业总产值呢？", history=[first]).to_json()


def test_ask_rejects_unknown_mode(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="mode"):
        client.predict("北仑有多少家模具企业？", None, 5, "magic", api_name="/ask")


def test_only_ask_is_public(client):
    """The UI's own events are private; the API page documents one stable endpoint."""
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(named) == {"/ask"}
    assert [p["parameter_name"] for p in named["/ask"]["parameters"]][:2] == ["question", "history"]


# --- concurrency -------------------------------------------------------------------------------


def test_ten_concurrent_users_get_single_user_answers(served, client):
    """Ten users at once get exactly what each would get alone, and those answers are right."""
    from gradio_client import Client

    single: dict[str, dict] = {}
    correct: list[str] = []
    for q in dev_questions():
        if not q["answers"] or len(correct) >= 10:
            continue
        single[q["question"]] = got = client.predict(q["question"], api_name="/ask")
        if not got["refused"] and any(g in got["answer"] for g in q["answers"]):
            correct.append(q["question"])
    assert len(correct) >= 5, f"only {len(correct)} dev questions answered correctly"
    questions = (correct * 2)[:10]

    def one(q: str) -> dict:
        return Client(served.local_url, verbose=False).predict(q, api_name="/ask")

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(one, questions, timeout=300))
    assert results == [single[q] for q in questions]


class _SlowCounting:
    """Wraps the engine to measure how many answers run at the same time."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.chunks = engine.chunks
        self.default_threshold = engine.default_threshold
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def answer(self, *args, **kwargs) -> Answer:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(0.5)
            return self.engine.answer(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


def test_queue_answers_several_users_at_once(seed_engine):
    from gradio_client import Client

    counting = _SlowCounting(seed_engine)
    s = serve(counting)
    try:
        clients = [Client(s.local_url, verbose=False) for _ in range(6)]
        with ThreadPoolExecutor(max_workers=6) as pool:
            jobs = [
                pool.submit(c.predict, "北仑有多少家模具企业？", api_name="/ask") for c in clients
            ]
            results = [j.result(timeout=120) for j in jobs]
    finally:
        s.close()
    assert all("近2000家" in r["answer"] for r in results)
    assert counting.peak >= 2, "the queue ran the answers one at a time"


# --- rendering ---------------------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)

    def handle_data(self, data):
        self.text.append(data)


def _parse(markup: str) -> _Tags:
    p = _Tags()
    p.feed(markup)
    p.close()
    return p


def _nasty_answer(refused: bool = False) -> Answer:
    cit = Citation(
        n=1,
        doc=f"evil{XSS_IMG}.txt",
        title=f"标题{XSS_SCRIPT}",
        line_start=3,
        line_end=5,
        text=f"前文{MD_LINK}。{NASTY}后文。",
        score=0.9,
        context=f"完整段落{XSS_IMG}。{NASTY}后文。",
    )
    if refused:
        return Answer(f"问{XSS_IMG}", REFUSAL, True, 0.1, [cit], message=f"注意{MD_LINK}")
    start = NASTY.index("近2000家")
    return Answer(
        question=f"问{XSS_IMG}",
        answer=NASTY,
        refused=False,
        confidence=0.8,
        citations=[cit],
        span="近2000家",
        span_start=start,
        span_end=start + len("近2000家"),
        source=1,
    )


@pytest.mark.parametrize(
    "markup",
    [
        render.question_html(NASTY),
        render.answer_html(_nasty_answer()),
        render.answer_html(_nasty_answer(refused=True)),
        render.sources_html(_nasty_answer()),
        render.sources_html(_nasty_answer(refused=True)),
        render.error_html(NASTY),
    ],
    ids=["question", "answer", "refusal", "sources", "refusal-sources", "error"],
)
def test_render_keeps_untrusted_text_as_text(markup):
    parsed = _parse(markup)
    assert parsed.tags <= ALLOWED_TAGS
    assert parsed.attrs <= {"class", "data-n"}
    assert "<script" not in markup and "<img" not in markup
    assert "](" not in markup and "http://" not in markup, "Markdown link syntax survived"
    shown = "".join(parsed.text)
    assert XSS_IMG in shown or XSS_SCRIPT in shown or MD_LINK in shown


def test_sources_show_location_score_highlight_and_context():
    a = _nasty_answer()
    markup = render.sources_html(a)
    shown = html.unescape("".join(_parse(markup).text))
    assert f"evil{XSS_IMG}.txt:3-5" in shown
    assert "相关度 0.90" in shown
    assert XSS_IMG in shown and XSS_SCRIPT in shown and MD_LINK in shown
    assert re.search(r"<mark>近2000家</mark>", markup)
    assert "<details" in markup and "完整段落" in shown


def test_answer_marks_span_and_cites_source():
    markup = render.answer_html(_nasty_answer())
    assert "<mark>近2000家</mark>" in markup
    assert '<span class="sq-cite">[1]</span>' in markup
    refused = render.answer_html(_nasty_answer(refused=True))
    assert REFUSAL in refused and "[1]" in refused and "<mark>" not in refused


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_text_escape_roundtrips_and_neutralises(s):
    out = render.text(s)
    assert not set(out) & set("<>\"'[]()`*_$|")
    assert html.unescape(out) == s


def test_location_format():
    c = Citation(1, "a.txt", "", 12, 15, "", 0.0)
    assert c.location.label() == "a.txt:12-15"
    c.line_end = 12
    assert c.location.label() == "a.txt:12"
    c.page = 3
    assert c.location.label() == "a.txt p.3:12"


# --- example questions -------------------------------------------------------------------------


def test_examples_are_answered_by_the_engine(seed_engine):
    from qa.examples import example_questions

    t0 = time.monotonic()
    examples = example_questions(seed_engine, limit=3, budget_s=20)
    assert time.monotonic() - t0 < 30
    assert examples, "no example question could be derived from the seed documents"
    for q in examples:
        assert not seed_engine.answer(q).refused, q


def test_examples_respect_the_time_budget():
    from qa.examples import candidates, example_questions

    names = "甲乙丙丁戊己庚辛壬癸"
    chunks = [
        type(
            "C",
            (),
            {"doc": f"d{i % 2}", "text": f"{n}字号测试工厂现有员工{100 + i}人。", "sentences": ()},
        )()
        for i, n in enumerate(names)
    ]
    assert len(candidates(chunks)) == len(names)

    class Slow:
        def __init__(self) -> None:
            self.chunks = chunks
            self.calls = 0

        def answer(self, q, **kw):
            self.calls += 1
            time.sleep(0.2)
            return Answer(q, REFUSAL, True, 0.0)

    slow = Slow()
    t0 = time.monotonic()
    assert example_questions(slow, budget_s=0.5) == []
    assert time.monotonic() - t0 < 1.0
    assert slow.calls < len(names)


# --- option checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--auth", "nocolon"],
        ["--auth", ":secret"],
        ["--auth", "alice:"],
        ["--share", "--share-server", "nohostport"],
    ],
)
def test_bad_options_fail_in_one_line(args):
    from ui.cli.chat import chat_cmd

    result = CliRunner().invoke(chat_cmd, args)
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("seedqa: error: --")
    assert "secret" not in result.output, "a malformed --auth must not echo the password"
