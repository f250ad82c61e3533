"""Browser fixtures: Debian's headless Chromium driven by Playwright (never `playwright install`),
and the few steps every browser test takes (open the chat, ask, read the last answer)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshot.png"
# A bound on a hang, not a speed check: with both cores shared by the two test workers and by
# whatever else runs, one answer through the browser once took over 60 s to show.
TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def browser():
    # never a skip: `make test` installs Debian's chromium, so its absence is a real failure
    assert CHROMIUM.exists(), "Debian chromium is not installed (make system-deps)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    pg.on(
        "request",
        lambda r: (
            outside.append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    pg.outside_requests = outside  # type: ignore[attr-defined]
    yield pg
    context.close()


def open_chat(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("#sq-input textarea")


def ask(page, question: str) -> None:
    """Type a question, press Enter, and wait until its answer replaced the placeholder."""
    before = page.locator("#sq-chat [data-testid='bot']").count()
    box = page.locator("#sq-input textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """n => {
            const bots = document.querySelectorAll("#sq-chat [data-testid='bot']");
            return bots.length > n && !bots[bots.length - 1].querySelector('.sq-pending');
        }""",
        arg=before,
    )


def last_bot(page):
    return page.locator("#sq-chat [data-testid='bot']").last
