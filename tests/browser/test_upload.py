"""Adding documents in the chat window: a PDF uploaded in the browser is indexed without a restart
and answered with a citation to its page; an over-limit file is refused by name; a file can be
removed again. Also refreshes docs/pdf_citation.png."""

from __future__ import annotations

import io

import pytest

from qa.engine import SeedQA
from qa.index import open_index
from tests.browser.conftest import ROOT, ask, last_bot, open_chat
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

PDF_SCREENSHOT = ROOT / "docs" / "pdf_citation.png"
FACT = "青松镇商会今年新建了十二个企业服务站，覆盖全镇所有工业园区。"


def _pdf(path) -> None:
    """A one-page Chinese PDF made offline (reportlab's built-in CID font, nothing embedded)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("STSong-Light", 14)
    c.drawString(72, 760, "青松镇商会工作简报")
    c.drawString(72, 720, FACT)
    c.drawString(72, 700, "该商会还为会员企业开展了三场融资对接活动。")
    c.save()


@pytest.fixture
def upload_app(built, seed_engine):
    from ui.app import build_app, launch

    docs, index_dir = built
    engine = SeedQA(open_index(docs, index_dir, seed_engine.encoder, progress=False),
                    seed_engine.encoder, docs)
    app = build_app(engine, examples=[], max_upload_mb=0.05, max_upload_files=3)
    served = launch(app, port=free_port(), block=False, out=io.StringIO())
    yield served, engine, docs
    served.close()


def _open_docs(page) -> None:
    page.locator("#sq-docs-panel").get_by_text("文档").first.click()
    page.wait_for_selector("#sq-upload input[type=file]", state="attached")


def _upload(page, paths) -> None:
    page.locator("#sq-upload input[type=file]").set_input_files([str(p) for p in paths])
    page.wait_for_function(
        "() => { const s = document.querySelector('#sq-upload-status');"
        " return s && /已加入|未加入/.test(s.innerText) && !/正在/.test(s.innerText); }",
        timeout=300_000,
    )


def test_pdf_uploaded_in_the_window_is_answered_with_its_page(page, upload_app, tmp_path):
    served, engine, docs = upload_app
    pdf = tmp_path / "简报.pdf"
    _pdf(pdf)
    big = tmp_path / "big.txt"
    big.write_text("很长的文件。" * 20_000, encoding="utf-8")  # ~360 KB, over the 0.05 MB limit
    open_chat(page, served.local_url)
    _open_docs(page)
    assert "每个不超过 0.05 MB，一次最多 3 个" in page.locator("#sq-docs-panel").inner_text()

    _upload(page, [pdf, big])
    status = page.locator("#sq-upload-status").inner_text()
    assert "已加入：简报.pdf" in status
    assert "未加入 big.txt" in status and "over the 0.05 MB limit" in status
    assert (docs / "简报.pdf").is_file() and not (docs / "big.txt").exists()
    assert "简报.pdf" in page.locator("#sq-files").inner_text()

    ask(page, "青松镇商会今年新建了多少个企业服务站？")
    bot = last_bot(page)
    assert "十二个企业服务站" in bot.inner_text()
    assert "简报.pdf p.1" in bot.inner_text()  # the answer's own citation names the page
    assert "简报.pdf p.1" in page.locator("#sq-sources .sq-src-main").inner_text()
    PDF_SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(PDF_SCREENSHOT))  # the picture of a PDF citation the README shows

    # removed again: gone from the list and no longer answered from
    page.locator("#sq-remove input").fill("简报.pdf")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="移除").click()
    page.wait_for_function(
        "() => /已移除/.test(document.querySelector('#sq-upload-status').innerText)")
    assert not (docs / "简报.pdf").exists()
    assert all(c.doc != "简报.pdf" for c in engine.chunks)
