"""Cleaning rules on the real seed text, and loading odd files."""

from __future__ import annotations

import re

import pytest

from qa.documents import clean_text, iter_files, read_paragraphs
from qa.loaders.text import detect_encoding
from tests.conftest import SEEDS

DOC_A = SEEDS / "000_89178abc7061ee5b.txt"
DOC_B = SEEDS / "003_62967dd215b8f47b.txt"


def _nows(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.fixture(scope="module")
def clean_a() -> str:
    return clean_text(DOC_A)


@pytest.fixture(scope="module")
def clean_b() -> str:
    return clean_text(DOC_B)


def test_hard_wrapped_lines_are_joined_without_spaces_between_cjk(clean_a):
    raw = DOC_A.read_text(encoding="utf-8")
    assert "江苏省工商联与中国出口\n信用保险公司" in raw
    assert "江苏省工商联与中国出口信用保险公司江苏分公司" in clean_a


def test_latin_words_across_a_line_break_keep_one_space(tmp_path):
    f = tmp_path / "en.txt"
    f.write_text(
        "The quick brown\nfox jumps over the\nlazy dog. 中文\n继续写。\n", encoding="utf-8"
    )
    assert clean_text(f) == "The quick brown fox jumps over the lazy dog. 中文继续写。"


def test_an_english_document_keeps_its_title_and_paragraphs_apart(tmp_path):
    f = tmp_path / "tower.txt"
    f.write_text(
        "The Eiffel Tower\n\nThe tower is in Paris. It is\n330 metres tall.\n\n"
        "It was built by his company from\n\n1887 to 1889.\n\nMore than 6 million people visit it.\n",
        encoding="utf-8",
    )
    paras = list(read_paragraphs(f, f.name))
    assert [(p.text, p.is_heading) for p in paras] == [
        ("The Eiffel Tower", True),
        ("The tower is in Paris. It is 330 metres tall.", False),
        # a sentence cut by a blank line is rejoined, with the space a line break stood for
        ("It was built by his company from 1887 to 1889.", False),
        ("More than 6 million people visit it.", False),
    ]
    assert {p.title for p in paras[1:]} == {"The Eiffel Tower"}


def test_justified_spaces_between_cjk_are_dropped(clean_a):
    raw = DOC_A.read_text(encoding="utf-8")
    assert "海外江苏商\n会 2020 年 累 计 捐 赠 款 物 金 额" in raw
    assert "海外江苏商会2020年累计捐赠款物金额1004.53万元。" in clean_a
    assert "累 计" not in clean_a


def test_deliberate_spaces_in_headlines_are_kept(clean_a, clean_b):
    assert "强化自身建设 增强服务能力" in clean_a
    assert "拓展服务手段 增强服务能力" in clean_a
    assert "百舸争流千帆竞 奋楫笃行正当时" in clean_b


def test_headline_printed_twice_is_collapsed(clean_a):
    head = "江苏全力护航民营企业国际化发展"
    assert head + head in DOC_A.read_text(encoding="utf-8")
    assert head + head not in clean_a
    assert clean_a.count(head) == 1


def test_sentence_cut_by_a_blank_line_is_rejoined(clean_a, clean_b):
    # 003: "...总量的97%，" / blank line / "在稳住经济大盘..."
    assert "占经营主体总量的97%，在稳住经济大盘" in clean_b
    # 000: "（以下简称" / blank line / "“江苏信保”）在南京..."
    assert "（以下简称“江苏信保”）在南京签署深化战略合作协议。" in clean_a


def test_only_layout_changes_every_other_character_is_kept(clean_a, clean_b):
    def undouble(line: str) -> str:
        line = _nows(line)
        half = len(line) // 2
        return line[:half] if len(line) % 2 == 0 and line[:half] == line[half:] else line

    for path, cleaned in ((DOC_A, clean_a), (DOC_B, clean_b)):
        raw = "".join(undouble(ln) for ln in path.read_text(encoding="utf-8").splitlines())
        assert _nows(cleaned) == raw


def test_headings_become_titles_of_the_paragraphs_below():
    paras = list(read_paragraphs(DOC_B, DOC_B.name))
    p = next(p for p in paras if "从业人员约3.2万人" in p.text)
    assert p.title == "党建引领 把准商会发展“定盘星”"
    assert not p.is_heading
    heads = [p.text for p in paras if p.is_heading]
    assert "服务赋能 当好会员服务“店小二”" in heads


def test_paragraph_line_ranges_point_at_the_original_lines():
    for path in (DOC_A, DOC_B):
        lines = path.read_text(encoding="utf-8").splitlines()
        for p in read_paragraphs(path, path.name):
            original = _nows("".join(lines[p.line_start - 1 : p.line_end]))
            text = _nows(p.text)
            assert text in original or original in text + text, (p.line_start, p.text[:30])
            # every character offset maps to a line inside the range, in order
            seen = [p.line_of(i) for i in range(0, len(p.text), 7)]
            assert seen == sorted(seen)
            assert all(p.line_start <= ln <= p.line_end for ln in seen)


def test_gb18030_file_is_decoded(tmp_path):
    f = tmp_path / "gb.txt"
    f.write_bytes("宁波市工商联引导商会改革。\n".encode("gb18030"))
    assert detect_encoding(f) == "gb18030"
    assert clean_text(f) == "宁波市工商联引导商会改革。"


def test_bom_and_mixed_line_endings(tmp_path):
    f = tmp_path / "bom.txt"
    f.write_bytes("\ufeff第一段第一行\r\n接着写。\r\n\r\n第二段。\r第三段\n写完。\n".encode())
    paras = [p.text for p in read_paragraphs(f, f.name)]
    assert paras == ["第一段第一行接着写。", "第二段。", "第三段写完。"]


def test_only_files_a_loader_reads_are_listed_and_the_index_folder_is_skipped(tmp_path):
    (tmp_path / "a.txt").write_text("甲。", encoding="utf-8")
    (tmp_path / "b.md").write_text("乙。", encoding="utf-8")
    (tmp_path / "c.xlsx").write_text("丙。", encoding="utf-8")
    (tmp_path / ".seedqa").mkdir()
    (tmp_path / ".seedqa" / "x.txt").write_text("丁。", encoding="utf-8")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "d.txt").write_text("戊。", encoding="utf-8")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert names == ["a.txt", "b.md", "sub/d.txt"]
