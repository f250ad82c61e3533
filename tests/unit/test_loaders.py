"""The PDF, DOCX and HTML loaders on fixtures made here (reportlab, python-docx, a GB18030 string):
reading order, pages and lines, heading paths and block numbers, charsets, and the citations.

The builders (`make_report_pdf`, `make_handbook_docx`, `make_page_html`) are shared with
`tests/integration/test_formats.py` and `bench/bench_loaders.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa.chunks import build_chunks
from qa.core.errors import DocumentError
from qa.documents import iter_files, read_paragraphs
from qa.loaders import loader_for, suffixes

WQY = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
_CJK_SPACE = re.compile(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]")

# ------------------------------------------------------------------------------------- fixtures

# page 1: a heading and one paragraph mixing Chinese, Latin words and a U+3000 space
P1 = [
    "二〇二三年度报告",
    None,
    "本公司二〇二三年实现营业收入十二亿元，同比增长百分之十二。",
    "Annual revenue grew by twelve percent to 1.2 billion",
    "yuan.　全角空格在此保留，标点“，”也保留。",
]
# page 2: a full-width heading over two columns whose paragraphs line up (pdfminer's own order
# reads them across: left 1, right 1, left 2, right 2)
P2_HEAD = "第二章　会员与理事会"
LEFT = [
    ["会员大会每年召开一次，由理事会", "负责召集。会员会费标准为每年", "五百元，须于三月底前缴纳完毕。"],
    ["会员享有选举权和被选举权，可以", "参加本会组织的各项活动。"],
]
RIGHT = [
    ["理事会由十五名理事组成，每届", "任期四年，可以连选连任。理事会", "每半年召开一次全体会议。"],
    ["秘书处设在杭州市西湖区文三路，", "负责本会的日常事务。"],
]
P4 = ["第四页说明：本报告的数据截至二〇二三年十二月三十一日。"]


def cjk_font() -> str:
    """A registered reportlab font that draws Chinese: the WenQuanYi TTF where installed, else
    the built-in `STSong-Light` CID font."""
    from reportlab.pdfbase import pdfmetrics

    if WQY.exists():
        from reportlab.pdfbase.ttfonts import TTFont

        if "wqy" not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont("wqy", str(WQY), subfontIndex=0))
        return "wqy"
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _lines(c, x: float, y: float, lines, size: float = 11, leading: float = 15) -> float:
    for line in lines:
        if line:
            c.drawString(x, y, line)
        y -= leading
    return y


def _scan(c, w: float, h: float) -> None:
    """A page that is only a picture (a scan): a grey image over most of the page."""
    from PIL import Image, ImageDraw
    from reportlab.lib.utils import ImageReader

    img = Image.new("L", (300, 420), 235)
    draw = ImageDraw.Draw(img)
    for y in range(40, 400, 14):
        draw.line((30, y, 270, y), fill=60, width=3)
    c.drawImage(ImageReader(img), 36, 36, w - 72, h - 72)


def make_report_pdf(path: Path, extra_pages: int = 0) -> Path:
    """report.pdf: p.1 a normal page, p.2 a heading over two columns, p.3 a scan (no text
    layer), p.4 a normal page; then `extra_pages` pages of two-column text (for the bench)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = cjk_font()
    w, h = A4
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(font, 12)
    _lines(c, 72, h - 72, P1, leading=16)
    c.showPage()
    c.setFont(font, 14)
    c.drawString(72, h - 60, P2_HEAD)
    c.setFont(font, 11)
    for x, col in ((60, LEFT), (320, RIGHT)):
        y = h - 100
        for para in col:
            y = _lines(c, x, y, para) - 15
    c.showPage()
    _scan(c, w, h)
    c.showPage()
    c.setFont(font, 12)
    _lines(c, 72, h - 72, P4)
    c.showPage()
    for n in range(extra_pages):
        c.setFont(font, 10.5)
        for x in (50, 310):
            y = h - 60
            for k in range(12):
                _lines(c, x, y, [f"第{n + 5}页第{k + 1}段：这是用于测速的中文段落，", "内容包括会员服务、理事会议",
                                 "和年度报告的主要数据，共三行。"], leading=14)
                y -= 60
        c.showPage()
    c.save()
    return Path(path)


def make_cid_pdf(path: Path) -> Path:
    """A PDF whose p.1 is readable and whose p.2 uses a CID font with no Unicode map at all
    (its text comes out as `(cid:N)`), as a font subset without a ToUnicode table does."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    font = cjk_font()
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    w, h = A4
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont(font, 12)
    c.drawString(72, h - 72, "第一页的文字可以读出。")
    c.showPage()
    c.setFont("STSong-Light", 12)
    c.drawString(72, h - 72, "第二页的字体没有任何字符映射，读出来只是字形编号。")
    c.showPage()
    c.save()
    if font == "STSong-Light":  # the readable page needs another font: use Helvetica instead
        c = canvas.Canvas(str(path), pagesize=A4)
        c.setFont("Helvetica", 12)
        c.drawString(72, h - 72, "The first page can be read.")
        c.showPage()
        c.setFont("STSong-Light", 12)
        c.drawString(72, h - 72, "第二页的字体没有任何字符映射，读出来只是字形编号。")
        c.showPage()
        c.save()
    data = Path(path).read_bytes()
    # same lengths, so the cross-reference offsets stay right: an unknown character collection
    data = data.replace(b"/UniGB-UCS2-H", b"/Identity-H  ").replace(b"(GB1)", b"(XX1)")
    Path(path).write_bytes(data)
    return Path(path)


def make_handbook_docx(path: Path, extra_paragraphs: int = 0) -> Path:
    """handbook.docx: a preface, Heading 1 `第三章 会员服务`, Heading 2 `入会` with paragraphs
    and a table, a `标题 1` styled heading, and a paragraph made a heading by outline level."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    d.add_paragraph("本手册适用于全体会员。")
    d.add_heading("第三章 会员服务", level=1)
    d.add_paragraph("本章说明商会为会员提供的服务。")
    d.add_paragraph("")  # empty paragraphs are not counted
    d.add_heading("入会", level=2)
    d.add_paragraph("申请入会的企业须填写入会申请表。")
    p = d.add_paragraph("入会申请由秘书处初审，")
    p.add_run().add_break()
    p.add_run("经理事会审议通过后发给会员证书。")
    t = d.add_table(rows=3, cols=3)
    for i, row in enumerate([["职务", "姓名", "电话"], ["会长", "张三", "0571-1234"],
                             ["秘书长", "李四", ""]]):
        for j, v in enumerate(row):
            t.cell(i, j).text = v
    d.add_paragraph("会员证书每三年换发一次。")
    cn = d.styles.add_style("标题 1", WD_STYLE_TYPE.PARAGRAPH)
    d.add_paragraph("第四章 财务", style=cn)
    d.add_paragraph("商会财务每年向会员大会报告。")
    p = d.add_paragraph("会费管理")
    lvl = OxmlElement("w:outlineLvl")
    lvl.set(qn("w:val"), "1")
    p._p.get_or_add_pPr().append(lvl)
    d.add_paragraph("会费专款专用，接受监事会监督。")
    for n in range(extra_paragraphs):
        if n % 20 == 0:
            d.add_heading(f"附录{n // 20 + 1}", level=1)
        d.add_paragraph(f"附录第{n + 1}段：本段用于测速，内容是会员服务的说明文字，共两句。第二句在此。")
    d.save(str(path))
    return Path(path)


PAGE_HTML = """<!DOCTYPE html>
<html><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>宁波商会</title>
<script>document.write("脚本里的文字");</script>
<style>p {{ color: red }}</style>
</head><body>
<nav><a href="/">首页</a> <a href="/news">新闻中心</a></nav>
<header>欢迎访问宁波商会网站</header>
<h1>商会简介</h1>
<p>宁波商会成立于<b>一九九八</b>年，
会址位于宁波市海曙区。</p>
<div>商会现有会员企业<span>八百余家</span>。</div>
<h2>组织机构</h2>
<ul><li>商会设会长一名。</li><li>副会长<em>五名</em>，由会员大会选举产生。</li></ul>
<p>商会下设秘书处、<a href="#">会员部</a>和联络部。</p>
<noscript>请启用脚本</noscript>
<aside>相关链接</aside>
{extra}
<footer>版权所有 宁波商会</footer>
</body></html>
"""


def make_page_html(path: Path, extra_blocks: int = 0) -> Path:
    """page.html: GB18030 bytes with a gb2312 meta charset, nav/script/footer to be dropped."""
    extra = "\n".join(
        (f"<h2>附录{n // 20 + 1}</h2>" if n % 20 == 0 else "")
        + f"<p>附录第{n + 1}段：本段用于测速，内容是<b>会员服务</b>的说明文字。</p>"
        for n in range(extra_blocks)
    )
    Path(path).write_bytes(PAGE_HTML.format(extra=extra).encode("gb18030"))
    return Path(path)


def _paras(path: Path):
    return list(read_paragraphs(path, path.name))


def _label(path: Path, sentence: str) -> str:
    """The citation label of `sentence`, through chunks as the index builds them."""
    for chunk in build_chunks(_paras(path)):
        for s in chunk.sentences:
            if s.text == sentence:
                return chunk.location(s.start, s.end).label()
    raise AssertionError(f"{sentence!r} is in no chunk")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return make_report_pdf(tmp_path_factory.mktemp("pdf") / "report.pdf")


@pytest.fixture(scope="module")
def handbook(tmp_path_factory) -> Path:
    return make_handbook_docx(tmp_path_factory.mktemp("docx") / "handbook.docx")


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return make_page_html(tmp_path_factory.mktemp("html") / "page.html")


# ------------------------------------------------------------------------------------- registry


def test_the_new_formats_are_registered_and_walked(tmp_path):
    for s in (".pdf", ".docx", ".html", ".htm", ".txt", ".md"):
        assert s in suffixes()
    assert type(loader_for(Path("a.PDF"))).__name__ == "PdfLoader"
    assert type(loader_for(Path("a.docx"))).__name__ == "DocxLoader"
    assert type(loader_for(Path("a.htm"))).__name__ == "HtmlLoader"
    for name in ("a.pdf", "b.docx", "c.html", "d.htm", "e.doc"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in iter_files(tmp_path)] == ["a.pdf", "b.docx", "c.html", "d.htm"]


# ------------------------------------------------------------------------------------------ PDF


def test_pdf_pages_lines_and_text(report, capsys):
    paras = _paras(report)
    assert {p.page for p in paras} == {1, 2, 4}
    assert all(p.section == p.page and p.title == "" and p.block is None for p in paras)
    p1 = [p for p in paras if p.page == 1]
    assert [p.text for p in p1] == [
        "二〇二三年度报告",
        "本公司二〇二三年实现营业收入十二亿元，同比增长百分之十二。"
        "Annual revenue grew by twelve percent to 1.2 billion "
        "yuan.　全角空格在此保留，标点“，”也保留。",
    ]
    body = p1[1]
    assert (body.line_start, body.line_end) == (2, 4)
    assert body.breaks == ((0, 2), (len(P1[2]), 3), (len(P1[2]) + len(P1[3]) + 1, 4))
    start = body.text.index("yuan.")
    assert body.lines_of(0, start) == (2, 3) and body.lines_of(start, start + 5) == (4, 4)
    p4 = [p for p in paras if p.page == 4]
    assert [(p.text, p.line_start, p.line_end) for p in p4] == [(P4[0], 1, 1)]


def test_pdf_two_columns_are_read_left_column_first(report):
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextBox

    page2 = [p for p in _paras(report) if p.page == 2]
    texts = [p.text for p in page2]
    assert texts == [P2_HEAD] + ["".join(x) for x in LEFT + RIGHT]
    # lines numbered in reading order: the left column's before the right column's
    assert [(p.line_start, p.line_end) for p in page2] == [(1, 1), (2, 4), (5, 6), (7, 9),
                                                           (10, 11)]
    # the fixture is the hard case: pdfminer's own box order reads across the columns
    layout = list(extract_pages(report, page_numbers=[1], laparams=LAParams()))[0]
    own = [el.get_text()[:4] for el in layout if isinstance(el, LTTextBox)]
    assert own[1:] == [LEFT[0][0][:4], RIGHT[0][0][:4], LEFT[1][0][:4], RIGHT[1][0][:4]]


def test_pdf_no_spaces_between_chinese_characters(report):
    for p in _paras(report):
        assert not _CJK_SPACE.search(p.text), p.text
        assert "(cid:" not in p.text


def test_pdf_scanned_page_is_warned_once_and_the_rest_loaded(report, capsys):
    capsys.readouterr()
    paras = _paras(report)
    err = capsys.readouterr().err
    warning = "seedqa: warning: report.pdf: page 3 has no usable text layer (scanned?); not indexed"
    assert err.count(warning) == 1, err
    assert err.count("seedqa: warning") == 1, err
    assert any(p.page == 4 for p in paras)


def test_pdf_page_of_cid_garbage_is_not_indexed(tmp_path, capsys):
    f = make_cid_pdf(tmp_path / "cid.pdf")
    capsys.readouterr()
    paras = _paras(f)
    assert [p.page for p in paras] == [1]
    assert "cid.pdf: page 2 has no usable text layer (scanned?); not indexed" in (
        capsys.readouterr().err)


def test_pdf_labels_name_page_and_lines(report):
    assert _label(report, "会员会费标准为每年五百元，须于三月底前缴纳完毕。") == "report.pdf p.2:3-4"
    assert _label(report, "理事会每半年召开一次全体会议。") == "report.pdf p.2:8-9"
    assert _label(report, P4[0]) == "report.pdf p.4:1"
    # a chunk never spans two pages
    for chunk in build_chunks(_paras(report)):
        assert chunk.page in (1, 2, 4)
        assert chunk.text in "\n".join(p.text for p in _paras(report) if p.page == chunk.page)


def test_unreadable_pdf_is_a_document_error(tmp_path):
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(DocumentError, match="not a readable PDF"):
        _paras(bad)
    html = tmp_path / "html.pdf"
    html.write_text("<html><body>不是PDF</body></html>", encoding="utf-8")
    with pytest.raises(DocumentError):
        _paras(html)


# ----------------------------------------------------------------------------------------- DOCX


def test_docx_headings_blocks_and_table(handbook):
    got = [(p.section, p.block, p.is_heading, p.headings, p.text) for p in _paras(handbook)]
    h3 = ("第三章 会员服务",)
    join = h3 + ("入会",)
    assert got == [
        (0, 1, False, (), "本手册适用于全体会员。"),
        (1, None, True, h3, "第三章 会员服务"),
        (1, 1, False, h3, "本章说明商会为会员提供的服务。"),
        (2, None, True, join, "入会"),
        (2, 1, False, join, "申请入会的企业须填写入会申请表。"),
        (2, 2, False, join, "入会申请由秘书处初审，经理事会审议通过后发给会员证书。"),
        (2, 3, False, join, "职务：会长；姓名：张三；电话：0571-1234"),
        (2, 4, False, join, "职务：秘书长；姓名：李四"),
        (2, 5, False, join, "会员证书每三年换发一次。"),
        (3, None, True, ("第四章 财务",), "第四章 财务"),
        (3, 1, False, ("第四章 财务",), "商会财务每年向会员大会报告。"),
        (4, None, True, ("第四章 财务", "会费管理"), "会费管理"),
        (4, 1, False, ("第四章 财务", "会费管理"), "会费专款专用，接受监事会监督。"),
    ]
    for p in _paras(handbook):
        assert p.title == " ".join(p.headings)
        assert (p.line_start, p.line_end, p.breaks, p.page) == (0, 0, (), None)


def test_docx_labels_name_heading_path_and_paragraph(handbook):
    assert _label(handbook, "入会申请由秘书处初审，经理事会审议通过后发给会员证书。") == (
        "handbook.docx § 第三章 会员服务 > 入会 ¶2")
    # a table row is one passage (its `；` still ends sentences within it)
    row = [c for c in build_chunks(_paras(handbook)) if c.block == 3 and c.headings[-1] == "入会"]
    assert [c.text for c in row] == ["职务：会长；姓名：张三；电话：0571-1234"]
    assert _label(handbook, "电话：0571-1234") == "handbook.docx § 第三章 会员服务 > 入会 ¶3"
    assert _label(handbook, "本手册适用于全体会员。") == "handbook.docx ¶1"
    # each paragraph is its own chunk: its citation names one block
    chunks = list(build_chunks(_paras(handbook)))
    assert len(chunks) == 9 and all(c.block for c in chunks)


def test_unreadable_docx_is_a_document_error(tmp_path):
    bad = tmp_path / "old.docx"
    bad.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)  # an old binary .doc
    with pytest.raises(DocumentError, match="not a .docx file"):
        _paras(bad)


# ----------------------------------------------------------------------------------------- HTML


def test_html_gb18030_with_meta_charset_drops_furniture(page):
    got = [(p.section, p.block, p.is_heading, p.headings, p.text) for p in _paras(page)]
    intro = ("商会简介",)
    org = intro + ("组织机构",)
    assert got == [
        (1, None, True, intro, "商会简介"),
        (1, 1, False, intro, "宁波商会成立于一九九八年，会址位于宁波市海曙区。"),
        (1, 2, False, intro, "商会现有会员企业八百余家。"),
        (2, None, True, org, "组织机构"),
        (2, 1, False, org, "商会设会长一名。"),
        (2, 2, False, org, "副会长五名，由会员大会选举产生。"),
        (2, 3, False, org, "商会下设秘书处、会员部和联络部。"),
    ]
    text = "".join(p.text for p in _paras(page))
    for dropped in ("脚本", "首页", "欢迎访问", "版权所有", "相关链接", "请启用", "color"):
        assert dropped not in text


def test_html_charset_rules(tmp_path):
    from qa.loaders.html import decode

    s = "<meta charset='big5'><p>會員大會</p>"
    assert decode(s.encode("utf-8")) == s  # valid UTF-8 wins over the tag
    assert decode(s.encode("big5")) == s  # else the tag's charset
    plain = "<p>会员大会每年召开一次。</p>"
    assert decode(plain.encode("gb18030")) == plain  # else GB18030
    f = tmp_path / "x.htm"
    f.write_bytes(("<p>甲乙丙</p><p>One <i>two</i>\nthree</p><div>天<br>地</div>"
                   "<div>行一\n行二</div>").encode())
    assert [p.text for p in _paras(f)] == ["甲乙丙", "One two three", "天地", "行一行二"]


def test_html_label_names_heading_path_and_block(page):
    assert _label(page, "副会长五名，由会员大会选举产生。") == "page.html § 商会简介 > 组织机构 ¶2"


def test_pdf_gaps_of_justified_chinese_are_not_spaces(tmp_path):
    """Characters set apart (justified text) come out of pdfminer with inferred spaces between
    them; between two CJK characters those are dropped, between Latin words they stay."""
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    font = cjk_font()
    f = tmp_path / "justified.pdf"
    c = canvas.Canvas(str(f))
    c.setFont(font, 12)
    x = 72.0
    for ch in "海外商会累计捐赠款物。":
        c.drawString(x, 700, ch)
        x += stringWidth(ch, font, 12) + 5
    c.drawString(72, 684, "Annual report 年度报告")
    c.save()
    assert [p.text for p in _paras(f)] == ["海外商会累计捐赠款物。Annual report 年度报告"]


# ------------------------------------------------------------------------------------- Markdown

NOTES_MD = """\
# 项目周报

## 本周进展

- 完成了**用户登录**模块的开发，
  共修复缺陷12个。
- 数据库迁移到 `PostgreSQL 15`，耗时3天，详见[迁移记录](https://example.com/m)。

```
print("不是正文")
```

## Team

The release moved to
Friday. <b>Nobody</b> objected.

| 姓名 | 职务 |
| --- | --- |
| 王小明 | 负责人 |
"""


def test_markdown_blocks_without_marks_cited_by_line(tmp_path):
    f = tmp_path / "notes.md"
    f.write_text(NOTES_MD, encoding="utf-8")
    assert type(loader_for(f)).__name__ == "MarkdownLoader"
    paras = _paras(f)
    assert [(p.text, p.is_heading, p.headings) for p in paras] == [
        ("项目周报", True, ("项目周报",)),
        ("本周进展", True, ("项目周报", "本周进展")),
        # list items apart, marks dropped, a link's text kept and its address not, lines joined
        ("完成了用户登录模块的开发，共修复缺陷12个。", False, ("项目周报", "本周进展")),
        ("数据库迁移到 PostgreSQL 15，耗时3天，详见迁移记录。", False, ("项目周报", "本周进展")),
        # the code block is not prose; a heading of a lower level closes its sibling
        ("Team", True, ("项目周报", "Team")),
        ("The release moved to Friday. Nobody objected.", False, ("项目周报", "Team")),
        ("姓名：王小明；职务：负责人", False, ("项目周报", "Team")),
    ]
    assert _label(f, "完成了用户登录模块的开发，共修复缺陷12个。") == "notes.md:5-6"
    assert _label(f, "Nobody objected.") == "notes.md:16"
    assert _label(f, "姓名：王小明；") == "notes.md:20"
    assert paras[2].title == "项目周报 本周进展"


def test_markdown_long_paragraph_is_cut_with_its_lines(tmp_path):
    f = tmp_path / "long.md"
    body = "\n".join(f"第{i}行的文字写得很长很长，一直写到这一行结束为止。" for i in range(1, 121))
    f.write_text("# 标题\n\n" + body + "\n", encoding="utf-8")
    paras = _paras(f)[1:]
    assert len(paras) > 1 and max(len(p.text) for p in paras) <= 2000
    assert "".join(p.text for p in paras) == "".join(body.split("\n"))
    for p in paras:  # every piece starts on the line its first character came from
        first = p.text[: p.text.index("行")]
        assert p.line_start == int(first.removeprefix("第")) + 2
