"""Markdown files (.md, .markdown): headings, paragraphs, list items, quotes and table rows, each
cited by its lines like a text file (`notes.md:5-6`), under its heading path.

Read as plain text, Markdown leaves its marks in what seedqa shows: `#` in every section title,
`**` and link targets in answers, and a list's items run together into one paragraph. The
parser is `markdown-it-py` (MIT; Gradio already depends on it), CommonMark plus tables: every
block token carries the source lines it came from (`token.map`), so citations still point at
lines. Inline marks are dropped and their text kept (a link's text, not its address; an image's
alt text); a soft line break joins as the text cleaner joins hard-wrapped lines (nothing next to
a CJK character, a space between Latin words). Code blocks and raw HTML are not prose to answer
from and are skipped. A table row is one passage of its cells labelled by the header's
(`姓名：张三；职务：会长`), as in Word files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from qa.core.records import Paragraph
from qa.loaders.docx import MAX_HEADING_CHARS, Sections, row_passage, split_long
from qa.loaders.pdf import join_break
from qa.loaders.text import detect_encoding

_TEXT = {"text", "code_inline"}
_BREAK = {"softbreak", "hardbreak"}


def inline_text(token, first_line: int) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The text of an inline token without its marks, and the (offset, line) of each source line
    in it (`Paragraph.breaks`)."""
    lines = [""]
    for child in token.children or ():
        if child.type in _TEXT:
            lines[-1] += child.content
        elif child.type == "image":
            lines[-1] += child.content  # the alt text
        elif child.type in _BREAK:
            lines.append("")
    out = ""
    breaks: list[tuple[int, int]] = []
    for k, line in enumerate(lines):
        line = line.strip()
        if not line:
            continue
        if out:
            out += join_break(out, line)
        breaks.append((len(out), first_line + k))
        out += line
    return out, tuple(breaks)


def _pieces(text: str, breaks: tuple[tuple[int, int], ...]) -> Iterator[tuple[str, tuple]]:
    """`text` cut like any over-long paragraph (`split_long`), each piece with its own breaks."""
    pos = 0
    for piece in split_long(text):
        start = text.find(piece, pos)
        end = start + len(piece)
        pos = end
        inside = [(o - start, ln) for o, ln in breaks if start < o < end]
        before = [ln for o, ln in breaks if o <= start]
        head = ((0, before[-1]),) if before else ()
        yield piece, head + tuple(inside)


class _Sections:
    """A Markdown file's heading path (`Sections` of the Word loader), with lines for citing."""

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self.path = Sections(doc)

    def heading(self, level: int, text: str, breaks: tuple) -> Iterator[Paragraph]:
        if len(text) > MAX_HEADING_CHARS:
            yield from self.body(text, breaks)
            return
        path = self.path.open(level, text)
        yield Paragraph(doc=self.doc, title=" ".join(path), text=text,
                        line_start=breaks[0][1], line_end=breaks[-1][1],
                        section=self.path.section, is_heading=True, breaks=breaks,
                        headings=path)

    def body(self, text: str, breaks: tuple) -> Iterator[Paragraph]:
        path = self.path.path
        for piece, own in _pieces(text, breaks):
            yield Paragraph(doc=self.doc, title=" ".join(path), text=piece,
                            line_start=own[0][1], line_end=own[-1][1],
                            section=self.path.section, breaks=own, headings=path)


def _cells(tokens: list, i: int) -> tuple[list[str], int, int]:
    """The cells of the table row opening at `tokens[i]`, its first line and the index past it."""
    cells: list[str] = []
    line = tokens[i].map[0] + 1 if tokens[i].map else 0
    i += 1
    while tokens[i].type != "tr_close":
        if tokens[i].type == "inline":
            cells.append(inline_text(tokens[i], line)[0])
        i += 1
    return cells, line, i + 1


def paragraphs(text: str, doc: str) -> Iterator[Paragraph]:
    """The paragraphs of Markdown source `text`, in order."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    sections = _Sections(doc)
    header: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            body, breaks = inline_text(tokens[i + 1], tok.map[0] + 1)
            if body:
                yield from sections.heading(int(tok.tag[1:]), body, breaks)
            i += 3
        elif tok.type == "thead_open":
            while tokens[i].type != "tr_open":
                i += 1
            header, _line, i = _cells(tokens, i)
        elif tok.type == "tr_open":
            cells, line, i = _cells(tokens, i)
            row = row_passage(header, cells)
            if row:
                yield from sections.body(row, ((0, line),))
        elif tok.type == "inline" and tok.map:
            body, breaks = inline_text(tok, tok.map[0] + 1)
            if body:
                yield from sections.body(body, breaks)
            i += 1
        else:
            i += 1


class MarkdownLoader:
    """`.md` / `.markdown` files: blocks under their headings, cited by line."""

    suffixes: ClassVar[tuple[str, ...]] = (".md", ".markdown")

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]:
        enc = detect_encoding(path)
        with open(path, encoding=enc, errors="replace", newline=None) as fh:
            text = fh.read()
        yield from paragraphs(text, doc)
