"""A folder of one PDF, one Word file and one web page, indexed and asked (with the fake encoder):
each answer is a verbatim sentence of its file, cited to the right page and lines, or heading path
and block; the scanned page is warned about once while the rest is answered."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from qa.engine import SeedQA
from qa.index import open_index
from tests.fakes import FakeEncoder
from tests.unit.test_loaders import make_handbook_docx, make_page_html, make_report_pdf

SCAN_WARNING = (
    "seedqa: warning: report.pdf: page 3 has no usable text layer (scanned?); not indexed"
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> tuple[SeedQA, str]:
    root = tmp_path_factory.mktemp("formats")
    docs = root / "docs"
    docs.mkdir()
    make_report_pdf(docs / "report.pdf")
    make_handbook_docx(docs / "handbook.docx")
    make_page_html(docs / "page.html")
    # the warnings go to whatever sys.stderr is at the time: catch them for the scan check
    old, sys.stderr = sys.stderr, io.StringIO()
    try:
        enc = FakeEncoder()
        index = open_index(docs, root / "idx", enc, progress=False)
        err = sys.stderr.getvalue()
    finally:
        sys.stderr = old
    return SeedQA(index, enc, docs), err


CASES = [
    # question, verbatim answer, label of the answer sentence, page, section, block, lines
    ("会员会费标准为每年多少元？", "会员会费标准为每年五百元，须于三月底前缴纳完毕。",
     "report.pdf p.2:3-4", 2, None, None, (3, 4)),
    ("理事会多久召开一次全体会议？", "理事会每半年召开一次全体会议。",
     "report.pdf p.2:8-9", 2, None, None, (8, 9)),
    ("报告的数据截至什么时候？", "第四页说明：本报告的数据截至二〇二三年十二月三十一日。",
     "report.pdf p.4:1", 4, None, None, (1, 1)),
    ("入会申请经谁审议通过后发给会员证书？", "入会申请由秘书处初审，经理事会审议通过后发给会员证书。",
     "handbook.docx § 第三章 会员服务 > 入会 ¶2", None, "第三章 会员服务 > 入会", 2, (0, 0)),
    ("会费如何管理使用？", "会费专款专用，接受监事会监督。",
     "handbook.docx § 第四章 财务 > 会费管理 ¶1", None, "第四章 财务 > 会费管理", 1, (0, 0)),
    ("宁波商会成立于哪一年？", "宁波商会成立于一九九八年，会址位于宁波市海曙区。",
     "page.html § 商会简介 ¶1", None, "商会简介", 1, (0, 0)),
    ("副会长有几名？", "副会长五名，由会员大会选举产生。",
     "page.html § 商会简介 > 组织机构 ¶2", None, "商会简介 > 组织机构", 2, (0, 0)),
]


@pytest.mark.parametrize("question,sentence,label,page,section,block,lines", CASES,
                         ids=[c[2] for c in CASES])
def test_answer_is_verbatim_and_cited(engine, question, sentence, label, page, section, block,
                                      lines):
    qa, _ = engine
    a = qa.answer(question, threshold=0.0)
    assert not a.refused
    assert a.answer == sentence
    loc = a.location
    assert loc.label() == label
    assert (loc.page, loc.section, loc.block, (loc.line_start, loc.line_end)) == (
        page, section, block, lines)
    cited = a.citations[a.source - 1]
    assert cited.doc == label.split()[0]
    assert cited.text[loc.char_start:loc.char_end] == sentence
    assert (cited.page, cited.block) == (page, block)
    assert cited.location.section == section
    if page is not None:  # the passage's lines hold the sentence's lines, on the same page
        assert cited.line_start <= lines[0] <= lines[1] <= cited.line_end
    j = a.to_json()
    assert (j["location"]["page"], j["location"]["section"], j["location"]["block"]) == (
        page, section, block)


def test_scanned_page_warned_once_while_indexing(engine):
    _, err = engine
    assert err.count(SCAN_WARNING) == 1, err
    assert "skipping" not in err


def test_every_file_is_indexed_and_no_chunk_spans_pages(engine):
    qa, _ = engine
    docs = {c.doc for c in qa.chunks}
    assert docs == {"report.pdf", "handbook.docx", "page.html"}
    assert {c.page for c in qa.chunks if c.doc == "report.pdf"} == {1, 2, 4}
    assert all(c.block for c in qa.chunks if c.doc != "report.pdf")
    assert not any(Path(c.doc).suffix == ".pdf" and c.block for c in qa.chunks)


TOWER_TXT = """\
The Eiffel Tower

The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris, France. It is
named after the engineer Gustave Eiffel, whose company designed and built the tower.

The tower is 330 metres tall, about the same height as an 81-storey building.

More than 6 million people visit the tower every year.
"""


@pytest.fixture(scope="module")
def english_and_markdown(tmp_path_factory) -> SeedQA:
    from tests.unit.test_loaders import NOTES_MD

    root = tmp_path_factory.mktemp("english")
    docs = root / "docs"
    docs.mkdir()
    (docs / "tower.txt").write_text(TOWER_TXT, encoding="utf-8")
    (docs / "notes.md").write_text(NOTES_MD, encoding="utf-8")
    enc = FakeEncoder()
    return SeedQA(open_index(docs, root / "idx", enc, progress=False), enc, docs)


@pytest.mark.parametrize("question,sentence,label", [
    ("How many people visit the tower every year?",
     "More than 6 million people visit the tower every year.", "tower.txt:8"),
    ("Who is the Eiffel Tower named after?",
     "It is named after the engineer Gustave Eiffel, whose company designed and built the tower.",
     "tower.txt:3-4"),
    ("数据库迁移到了哪个版本？", "数据库迁移到 PostgreSQL 15，耗时3天，详见迁移记录。", "notes.md:7"),
])
def test_english_and_markdown_answers_are_one_sentence_cited_by_line(
        english_and_markdown, question, sentence, label):
    a = english_and_markdown.answer(question, threshold=0.0)
    assert not a.refused
    assert a.answer == sentence  # one sentence, not the whole document
    assert a.location.label() == label
    cited = a.citations[a.source - 1]
    assert cited.text[a.location.char_start:a.location.char_end] == sentence
