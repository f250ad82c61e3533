"""The chat window as a person uses it: headless Chromium (Debian's) driving a real server.

Covers asking with Enter, the highlighted answer and its citation marker, the sources panel and
its expandable paragraph, a follow-up question, clearing, and that hostile document text stays
text. Also refreshes docs/screenshot.png, the picture the README shows.
"""

from __future__ import annotations

import io
import shutil
import threading
import time

import pytest

from tests.browser.conftest import SCREENSHOT, ask, last_bot, open_chat
from tests.conftest import free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
]

class Recording:
    """The engine, plus a record of every (question, history) the app passed to it."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.chunks = engine.chunks
        self.default_threshold = engine.default_threshold
        self.calls: list[tuple[str, list[str] | None]] = []
        self.lock = threading.Lock()

        self.slow: dict[str, float] = {}  # question -> seconds to hold its answer back

    def answer(self, question, history=None, **kwargs):
        with self.lock:
            self.calls.append((question, list(history) if history else None))
        time.sleep(self.slow.get(question, 0.0))
        return self.engine.answer(question, history=history, **kwargs)


def serve(engine, examples: list[str] | None = None):
    from ui.app import build_app, launch

    app = build_app(engine, examples=examples)
    return launch(app, port=free_port(), block=False, out=io.StringIO())


@pytest.fixture(scope="module")
def recording(seed_engine):
    return Recording(seed_engine)


@pytest.fixture(scope="module")
def seed_app(recording):
    served = serve(recording)  # examples derived and verified, as `seedqa chat` does
    yield served
    served.close()


def test_chat_flow(page, seed_app, recording, seed_engine):
    open_chat(page, seed_app.local_url)

    q1 = "北仑有多少家模具企业？"
    ask(page, q1)
    want = seed_engine.answer(q1)
    assert not want.refused
    bot = last_bot(page)
    assert "近2000家" in bot.inner_text()
    assert bot.locator("mark").first.inner_text() == want.span
    assert f"[{want.source}]" in bot.locator(".sq-cite").first.inner_text()
    assert page.locator("#sq-chat [data-testid='user']").last.inner_text().strip() == q1
    # Screen readers get the text, not the markup the message is built from.
    page.wait_for_function(
        "() => !document.querySelector(\"#sq-chat [data-testid='bot'][aria-label*='<']\")"
    )
    assert "近2000家" in (bot.get_attribute("aria-label") or "")

    sources = page.locator("#sq-sources")
    cited = next(c for c in want.citations if c.n == want.source)
    assert cited.doc in sources.inner_text()
    assert cited.location.label() in sources.inner_text()
    # the answer names its sentence's own lines, inside the cited passage's range
    assert want.location.label() in bot.inner_text()
    assert cited.line_start <= want.location.line_start <= want.location.line_end <= cited.line_end
    main = sources.locator(".sq-src-main")
    assert "近2000家" in main.locator("mark").first.inner_text()

    # The full paragraph is folded away until the reader opens it.
    context = main.locator(".sq-context")
    assert not context.is_visible()
    main.locator("summary").click()
    context.wait_for(state="visible")
    assert cited.context.split("\n")[0][:20] in context.inner_text()

    # A follow-up: the app must hand the engine the earlier questions.
    q2, q3 = "骆驼商会所在辖区的工业总产值是多少？", "从业人员呢？"
    ask(page, q2)
    ask(page, q3)
    assert page.locator("#sq-chat [data-testid='bot']").count() == 3
    asked = [c for c in recording.calls if c[0] == q3]
    assert asked and asked[-1][1] == [q1, q2]
    follow = seed_engine.answer(q3, history=[q1, q2])
    shown = last_bot(page).inner_text()
    assert follow.answer in shown
    if not follow.refused:
        district = seed_engine.answer(q2)
        same = {c.chunk_id for c in district.citations if c.n == district.source}
        got = {c.chunk_id for c in follow.citations if c.n == follow.source}
        if not district.refused:
            assert got == same, "the follow-up should come from the district's passage"
        assert "约3.2万人" in follow.answer

    page.locator("#sq-sources .sq-src-main summary").click()
    page.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.locator("#sq-clear").click()
    page.wait_for_function(
        "() => document.querySelectorAll(\"#sq-chat [data-testid='bot'], "
        "#sq-chat [data-testid='user']\").length === 0"
    )
    assert "提问后" in page.locator("#sq-sources").inner_text()
    # After clearing, a new question starts a new conversation: no stale history.
    ask(page, q1)
    assert recording.calls[-1] == (q1, None)
    assert page.outside_requests == [], "the page fetched something from outside this machine"


def test_a_question_sent_while_an_answer_is_coming_is_answered_after_it(page, seed_app,
                                                                         recording):
    first, second = "北仑有多少家模具企业？", "骆驼商会所在辖区的工业总产值是多少？"
    recording.slow[first] = 3.0
    try:
        open_chat(page, seed_app.local_url)
        box = page.locator("#sq-input textarea")
        box.fill(first)
        box.press("Enter")
        last_bot(page).locator(".sq-pending").wait_for()  # the first answer is on its way
        box.fill(second)  # typed meanwhile: the first answer must not wipe it
        page.wait_for_function(
            """() => !document.querySelector("#sq-chat [data-testid='bot'] .sq-pending")"""
        )
        assert box.input_value() == second
        assert page.locator("#sq-chat [data-testid='bot']").count() == 1
        box.press("Enter")
        page.wait_for_function(
            """() => {
                const bots = document.querySelectorAll("#sq-chat [data-testid='bot']");
                return bots.length === 2 && !bots[1].querySelector('.sq-pending');
            }"""
        )
        assert "近2000家" in page.locator("#sq-chat [data-testid='bot']").first.inner_text()
        # sent while the first was still coming: deferred, then answered, not dropped
        recording.slow[first] = 3.0
        box.fill(first)
        box.press("Enter")
        last_bot(page).locator(".sq-pending").wait_for()
        box.fill(second)
        box.press("Enter")
        page.wait_for_function(
            """() => {
                const bots = document.querySelectorAll("#sq-chat [data-testid='bot']");
                return bots.length === 4 && !bots[3].querySelector('.sq-pending');
            }"""
        )
        users = page.locator("#sq-chat [data-testid='user']")
        assert [users.nth(i).inner_text().strip() for i in range(4)] == [
            first, second, first, second]
        assert recording.calls[-1] == (second, [first, second, first])
    finally:
        recording.slow.clear()


def test_example_question_is_answered(page, seed_app):
    open_chat(page, seed_app.local_url)
    examples = page.locator("#sq-chat .example")
    assert examples.count() > 0, "no example question survived verification"
    examples.first.click()
    page.wait_for_function(
        """() => {
            const bots = document.querySelectorAll("#sq-chat [data-testid='bot']");
            return bots.length && !bots[bots.length - 1].querySelector('.sq-pending');
        }"""
    )
    assert "资料中没有找到答案" not in last_bot(page).inner_text()
    assert last_bot(page).locator("mark").count() == 1


HOSTILE_DOC = """星河测试公司简介

星河测试公司成立于2015年，总部位于杭州西湖区。星河测试公司现有员工320人，<img src=x onerror=alert(1)>主要生产智能水表。

公司的宣传口号是<script>alert(2)</script>“让每一滴水都有数”，官网地址见[点我](http://evil.example/)。
"""


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    from qa.engine import SeedQA

    base = tmp_path_factory.mktemp("hostile")
    docs = base / "docs"
    docs.mkdir()
    (docs / "evil.txt").write_text(HOSTILE_DOC, encoding="utf-8")
    engine = SeedQA.open(docs, index_dir=base / "index", progress=False)
    served = serve(engine, examples=[])
    yield served
    served.close()
    shutil.rmtree(base, ignore_errors=True)


def test_hostile_document_text_stays_text(page, hostile_app):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_chat(page, hostile_app.local_url)
    ask(page, "星河测试公司现有员工多少人？<img src=x onerror=alert(3)>")
    ask(page, "星河测试公司的宣传口号是什么？")
    page.locator("#sq-sources summary").first.click()
    page.wait_for_timeout(500)

    sources = page.locator("#sq-sources").inner_text()
    assert "<img src=x onerror=alert(1)>" in sources
    assert "<script>alert(2)</script>" in sources or "[点我](http://evil.example/)" in sources
    user = page.locator("#sq-chat [data-testid='user']").first.inner_text()
    assert "<img src=x onerror=alert(3)>" in user
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#sq-chat script, #sq-sources script").count() == 0
    assert page.locator("a[href*='evil.example']").count() == 0
    assert dialogs == []
