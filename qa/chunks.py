"""Split cleaned paragraphs into sentences and pack whole sentences into retrieval chunks.

A chunk never cuts a sentence and never crosses a section (heading), so a retrieved passage reads
as one piece of one article and an answer sentence is always whole. Paragraphs inside a chunk are
joined with a newline, exactly as in the cleaned document, so every chunk's text occurs verbatim
in `documents.clean_text(file)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from qa.core.punctuation import sentence_ends
from qa.core.records import Chunk, Paragraph, Sentence

TARGET_CHARS = 250
MAX_CHARS = 400

def split_sentences(text: str) -> list[tuple[int, int]]:
    """`(start, end)` offsets of the sentences of `text`; a closing quote stays with its sentence.

    Offsets rather than strings, so callers can map each sentence back to its source lines.
    """
    spans = []
    start = 0
    for end in [*sentence_ends(text), len(text)]:
        s = start
        # leading whitespace belongs to no sentence
        while s < end and text[s].isspace():
            s += 1
        if s < end:
            spans.append((s, end))
        start = end
    return spans


def _sections(paragraphs: Iterable[Paragraph]) -> Iterator[list[Paragraph]]:
    current: list[Paragraph] = []
    key = None
    for p in paragraphs:
        # a chunk never spans two pages or two blocks: its citation names one of each
        k = (p.doc, p.section, p.page, p.block)
        if key is not None and k != key and current:
            yield current
            current = []
        key = k
        if not p.is_heading and p.text.strip():
            current.append(p)
    if current:
        yield current


def build_chunks(
    paragraphs: Iterable[Paragraph],
    target: int = TARGET_CHARS,
    max_chars: int = MAX_CHARS,
    first_id: int = 0,
) -> Iterator[Chunk]:
    """Pack the sentences of each section into chunks of about `target` characters.

    A chunk closes once it reaches `target`, or before a sentence that would push it past
    `max_chars`; a single longer sentence becomes a chunk of its own rather than being cut.
    """
    next_id = first_id
    for section in _sections(paragraphs):
        pieces: list[tuple[Paragraph, int, int]] = []  # (paragraph, start, end) of sentences
        size = 0
        for para in section:
            for s, e in split_sentences(para.text):
                length = e - s
                if pieces and size + length > max_chars:
                    yield _make_chunk(next_id, pieces)
                    next_id += 1
                    pieces, size = [], 0
                pieces.append((para, s, e))
                size += length
                if size >= target:
                    yield _make_chunk(next_id, pieces)
                    next_id += 1
                    pieces, size = [], 0
        if pieces:
            yield _make_chunk(next_id, pieces)
            next_id += 1


def _make_chunk(cid: int, pieces: list[tuple[Paragraph, int, int]]) -> Chunk:
    """Join sentences as the cleaned document has them: contiguous within a paragraph, a newline
    between paragraphs."""
    text = ""
    sentences: list[Sentence] = []
    paras: list[Paragraph] = []
    prev: tuple[Paragraph, int] | None = None
    for para, s, e in pieces:
        if prev is not None:
            if prev[0] is para:
                text += para.text[prev[1] : s]  # whitespace between sentences, verbatim
            else:
                text += "\n"
        if not paras or paras[-1] is not para:
            paras.append(para)
        ls, le = para.lines_of(s, e)
        start = len(text)
        text += para.text[s:e]
        sentences.append(Sentence(para.text[s:e], start, len(text), ls, le))
        prev = (para, e)
    first = pieces[0][0]
    return Chunk(
        id=cid,
        doc=first.doc,
        title=first.title,
        text=text,
        line_start=sentences[0].line_start,
        line_end=max(s.line_end for s in sentences),
        sentences=tuple(sentences),
        context="\n".join(p.text for p in paras),
        page=first.page,
        headings=first.headings,
        block=first.block,
    )
