"""Sentence splitting and chunk invariants on the real seed documents."""

from __future__ import annotations

import pytest

from qa.chunks import MAX_CHARS, build_chunks, split_sentences
from qa.documents import clean_text, read_paragraphs
from tests.conftest import SEEDS

FILES = sorted(SEEDS.glob("*.txt"))


def _split(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_split_at_chinese_and_western_ends_with_closing_quote_kept():
    text = "他说：“今年增长了20%。”然后离开了！真的吗？是的;OK! 最后一句"
    assert _split(text) == [
        "他说：“今年增长了20%。”",
        "然后离开了！",
        "真的吗？",
        "是的;",
        "OK!",
        "最后一句",
    ]


def test_semicolon_ends_a_sentence():
    assert _split("一是加强党建；二是注重服务。") == ["一是加强党建；", "二是注重服务。"]


@pytest.fixture(scope="module")
def chunks_by_file():
    return {f: list(build_chunks(read_paragraphs(f, f.name))) for f in FILES}


def test_every_chunk_occurs_verbatim_in_its_cleaned_document(chunks_by_file):
    for f, chunks in chunks_by_file.items():
        cleaned = clean_text(f)
        assert chunks
        for c in chunks:
            assert c.text in cleaned
            assert c.context and c.text.replace("\n", "") in c.context.replace("\n", "")


def test_chunks_are_whole_sentences_and_sentences_tile_the_chunk(chunks_by_file):
    for chunks in chunks_by_file.values():
        for c in chunks:
            assert "".join(s.text for s in c.sentences) == c.text.replace("\n", "")
            for s in c.sentences:
                assert c.text[s.start : s.end] == s.text
                # re-splitting a sentence yields itself: no sentence was cut
                assert _split(s.text) == [s.text]


def test_chunk_sizes_respect_the_target_unless_one_sentence_is_longer(chunks_by_file):
    for chunks in chunks_by_file.values():
        for c in chunks:
            if len(c.sentences) > 1:
                assert len(c.text) <= MAX_CHARS + len(c.sentences)  # newlines between paragraphs


def test_chunks_stay_inside_one_section(chunks_by_file):
    for f, chunks in chunks_by_file.items():
        paras = [p for p in read_paragraphs(f, f.name) if not p.is_heading]
        for c in chunks:
            sections = {
                p.section
                for p in paras
                if p.line_start <= c.line_end and p.line_end >= c.line_start and p.text in c.context
            }
            assert len(sections) == 1, (f.name, c.line_start, sections)


def test_target_size_is_configurable(chunks_by_file):
    f = FILES[0]
    small = list(build_chunks(read_paragraphs(f, f.name), target=80, max_chars=120))
    assert len(small) > len(chunks_by_file[f])


def test_sentence_lines_are_inside_the_chunk_lines(chunks_by_file):
    for chunks in chunks_by_file.values():
        for c in chunks:
            for s in c.sentences:
                assert c.line_start <= s.line_start <= s.line_end <= c.line_end


def test_english_sentences_end_at_a_full_stop_but_not_after_abbreviations_or_initials():
    text = ("The tower is 330 metres tall. It was built by Mr. Eiffel from 1887 to 1889. "
            "See J. K. Rowling, e.g. her first book. It cost $1.5 million.")
    assert _split(text) == [
        "The tower is 330 metres tall.",
        "It was built by Mr. Eiffel from 1887 to 1889.",
        "See J. K. Rowling, e.g. her first book.",
        "It cost $1.5 million.",
    ]


def test_full_stops_inside_chinese_text_end_no_sentence():
    # decimals, addresses, a numbered list and a Latin name in Chinese text stay whole
    for text in ("累计捐款超1.6亿元，详见www.gov.cn。",
                 "例子：1. 羊声 (3)2. 不是气体 (5)这一题的解法是。",
                 "由美国医生阿普伽(Dr. Virginia Apgar)在1952年发明。"):
        assert _split(text) == [text]
