"""Word files (.docx): paragraphs and table rows in document order, cited by heading path and
paragraph number (`handbook.docx § 第三章 会员服务 > 入会 ¶2`).

`python-docx` (MIT) reads the body in document order (`iter_inner_content`: paragraphs and
tables interleaved as written). A paragraph is a heading when its outline level says so (set on
the paragraph, or on its style or a style it is based on) or its style is `Heading N` / `标题 N`
(`Title` / `标题` is the level above 1); headings build a path, and each heading starts a new
section whose body paragraphs are numbered from 1. A table row is one passage of its cells
labelled by the first row's cells (`姓名：张三；职务：会长`), with its own number. Word files have
no lines, so `line_start = line_end = 0`; what a citation names is the path and the number.

`Sections` (the heading path, section counter and block numbers) is shared with the HTML loader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

from qa.core.errors import DocumentError
from qa.core.punctuation import CLOSERS, SENTENCE_ENDS
from qa.core.records import Paragraph
from qa.loaders.newspaper import MAX_PARAGRAPH_CHARS
from qa.loaders.pdf import join_break

#: A "heading" longer than this is a body paragraph given a heading style by mistake.
MAX_HEADING_CHARS = 100

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*([1-9])$", re.IGNORECASE)
_TITLE_STYLE = re.compile(r"^(?:title|标题)$", re.IGNORECASE)
_ENDS = " \t\r\n\f\v\u00a0\u3000"
_CUT_SENTENCE = re.compile(f"[{SENTENCE_ENDS}…][{CLOSERS}]*")
_CUT_CLAUSE = re.compile(r"[，、：,:]|\s")


def one_line(text: str) -> str:
    """`text` with its line breaks joined (no space next to CJK, one between Latin words), runs
    of ASCII spaces and tabs inside a line kept as they are, ends trimmed."""
    out = ""
    for line in text.splitlines():
        line = line.strip(_ENDS) if not out else line.rstrip(_ENDS).lstrip(" \t")
        if not line:
            continue
        out += join_break(out, line) + line if out else line
    return out


def split_long(text: str, limit: int = MAX_PARAGRAPH_CHARS) -> Iterator[str]:
    """`text` in pieces of at most `limit` characters, cut after a sentence end (else a clause
    mark or space, else anywhere); nothing is dropped or added, so each piece stays verbatim."""
    while len(text) > limit:
        window = text[:limit]
        cut = limit
        for rx in (_CUT_SENTENCE, _CUT_CLAUSE):
            ends = [m.end() for m in rx.finditer(window) if m.end() >= limit // 4]
            if ends:
                cut = ends[-1]
                break
        yield text[:cut]
        text = text[cut:].lstrip(" ")
    if text:
        yield text


class Sections:
    """The heading path, section counter and block numbers of a document without lines.

    `heading(level, text)` opens a section under the nearest heading of a lower level;
    `body(text)` numbers a paragraph within the current section.
    """

    def __init__(self, doc: str) -> None:
        self.doc = doc
        self.stack: list[tuple[int, str]] = []
        self.section = 0
        self.block = 0

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.stack)

    def open(self, level: int, text: str) -> tuple[str, ...]:
        """Start a section under the nearest heading of a lower level; its heading path."""
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        self.section += 1
        self.block = 0
        return self.path

    def heading(self, level: int, text: str) -> Iterator[Paragraph]:
        text = one_line(text)
        if not text:
            return
        if len(text) > MAX_HEADING_CHARS:
            yield from self.body(text)
            return
        path = self.open(level, text)
        yield Paragraph(doc=self.doc, title=" ".join(path), text=text, line_start=0, line_end=0,
                        section=self.section, is_heading=True, headings=path)

    def body(self, text: str) -> Iterator[Paragraph]:
        if not text:
            return
        self.block += 1
        path = self.path
        for piece in split_long(text):
            yield Paragraph(doc=self.doc, title=" ".join(path), text=piece, line_start=0,
                            line_end=0, section=self.section, headings=path, block=self.block)


def row_passage(header: list[str], cells: list[str]) -> str:
    """A table row as one passage: `表头1：内容1；表头2：内容2` (a cell without a header, or
    under a header equal to itself, stands alone; empty cells are left out)."""
    parts = []
    for i, cell in enumerate(cells):
        if not cell:
            continue
        head = header[i] if i < len(header) else ""
        parts.append(f"{head}：{cell}" if head and head != cell else cell)
    return "；".join(parts)


def _outline(el) -> int | None:
    """The `w:outlineLvl` of a paragraph's or a style's properties (0-8 headings, 9 body)."""
    vals = el.xpath("./w:pPr/w:outlineLvl/@w:val")
    try:
        return int(vals[0]) if vals else None
    except ValueError:
        return None


def _style_levels(document) -> dict[str, int]:
    """Heading level by paragraph style id, for every style that makes a heading."""
    from docx.enum.style import WD_STYLE_TYPE

    levels: dict[str, int] = {}
    for style in document.styles:
        try:
            if style.type != WD_STYLE_TYPE.PARAGRAPH:
                continue
        except (ValueError, KeyError):
            continue
        level = None
        s, seen = style, set()
        while s is not None and s.style_id not in seen:  # the style, then what it is based on
            seen.add(s.style_id)
            name = (s.name or "").strip()
            if m := _HEADING_STYLE.match(name):
                level = int(m.group(1))
            elif _TITLE_STYLE.match(name):
                level = 0
            else:
                lvl = _outline(s.element)
                if lvl is not None:
                    level = lvl + 1 if lvl < 9 else None
                    if lvl >= 9:
                        break
            if level is not None:
                break
            s = s.base_style
        if level is not None:
            levels[style.style_id] = level
    return levels


def _cells(row) -> list[str]:
    """A row's cell texts, a merged cell once."""
    out, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) in seen:
            continue
        seen.add(id(cell._tc))
        out.append(one_line(cell.text))
    return out


def _table(sections: Sections, table) -> Iterator[Paragraph]:
    rows = [_cells(r) for r in table.rows]
    rows = [r for r in rows if any(r)]
    if not rows:
        return
    header, body = (rows[0], rows[1:]) if len(rows) > 1 else ([], rows)
    for cells in body:
        yield from sections.body(row_passage(header, cells))


def paragraphs(items: Iterable, doc: str, levels: dict[str, int]) -> Iterator[Paragraph]:
    """Paragraph records of python-docx body items (paragraphs and tables, in order)."""
    from docx.table import Table

    sections = Sections(doc)
    for item in items:
        if isinstance(item, Table):
            yield from _table(sections, item)
            continue
        p = item._p
        level = None
        lvl = _outline(p)
        if lvl is not None:
            level = lvl + 1 if lvl < 9 else None
        else:
            level = levels.get(p.style) if p.style else None
        if level is not None:
            yield from sections.heading(level, item.text)
        else:
            yield from sections.body(one_line(item.text))


class DocxLoader:
    """`.docx` files: body paragraphs and table rows under their heading path."""

    suffixes: ClassVar[tuple[str, ...]] = (".docx",)

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]:
        import docx
        from docx.opc.exceptions import PackageNotFoundError

        try:
            document = docx.Document(str(path))
            levels = _style_levels(document)
            items = list(document.iter_inner_content())
        except PackageNotFoundError:  # not a zip file (an old binary .doc renamed, say)
            raise DocumentError("not a .docx file (not a Word package)") from None
        except Exception as exc:  # a zip but not a Word package, a damaged part
            raise DocumentError(f"not a readable .docx file ({_why(exc)})") from None
        try:
            yield from paragraphs(items, doc, levels)
        except Exception as exc:  # a malformed part met while reading (a broken table grid)
            raise DocumentError(f"damaged .docx file ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__)[:200]
