"""Saved web pages (.html, .htm): the page's text blocks under their heading path, cited by path
and block number like a Word file.

`beautifulsoup4` (MIT) over `lxml` (BSD) parses whatever a browser would, however broken. The
bytes are decoded here, not by the parser: UTF-8 when they decode as UTF-8 (most pages, whatever
their meta tag claims), else the charset of the `<meta charset>` / `http-equiv` tag (GB2312 and
GBK read as their superset GB18030), else GB18030. Scripts, styles and page furniture (nav,
header, footer, aside, noscript) are dropped; h1-h6 build the heading path; every block element
(p, li, td, pre, blockquote, a div without block children, ...) is one paragraph, its text taken
with `get_text("")`: `get_text(" ")` would put a space between every two inline elements, which
in Chinese means between characters. Whitespace runs collapse to one space, or to nothing where
a source line break falls between two CJK characters (as browsers render it); `<br>` is a break.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from qa.core.errors import DocumentError
from qa.core.records import Paragraph
from qa.loaders.docx import Sections
from qa.loaders.pdf import join_break

DROP = frozenset({
    "script", "style", "nav", "footer", "header", "aside", "noscript",
    "head", "template", "svg", "iframe", "canvas", "object", "select",
})
HEADINGS = {f"h{i}": i for i in range(1, 7)}
BLOCKS = frozenset({
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "hgroup", "hr", "html",
    "legend", "li", "main", "menu", "ol", "p", "pre", "section", "summary", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "ul",
}) | frozenset(HEADINGS)

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_WS = re.compile(r"[ \t\n\r\f]+")
_ENDS = " \t\r\n\f\u00a0\u3000"
_GB = {"gb2312", "gbk", "gb18030", "x-gbk", "cp936", "euc-cn", "gb_2312-80", "csgb2312"}


def decode(data: bytes) -> str:
    """The text of an HTML file's bytes: UTF-8 if they decode as such, else the meta tag's
    charset, else GB18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise DocumentError("binary file (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    enc = "gb18030"
    m = _META_CHARSET.search(data[:16384])
    if m:
        name = m.group(1).decode("ascii", "ignore").lower()
        if name not in _GB:
            try:
                codecs.lookup(name)
                enc = name
            except LookupError:
                pass
    return data.decode(enc, errors="replace")


def collapse(text: str) -> str:
    """Whitespace runs as one space, or none where a run holding a line break sits between two
    CJK characters; the ends trimmed."""
    def gap(m: re.Match) -> str:
        run = m.group(0)
        if "\n" not in run and "\r" not in run:
            return " "
        left, right = text[m.start() - 1 : m.start()], text[m.end() : m.end() + 1]
        return join_break(left, right) if left and right else ""

    return _WS.sub(gap, text).strip(_ENDS)


def _has_block(tag) -> bool:
    return any(getattr(d, "name", None) in BLOCKS for d in tag.descendants)


class _Walker:
    def __init__(self, doc: str) -> None:
        self.sections = Sections(doc)
        self.buffer: list[str] = []

    def flush(self) -> Iterator[Paragraph]:
        if self.buffer:
            text = collapse("".join(self.buffer))
            self.buffer = []
            yield from self.sections.body(text)

    def walk(self, el) -> Iterator[Paragraph]:
        from bs4 import NavigableString, Tag

        for child in el.children:
            if isinstance(child, Tag):
                name = child.name.lower() if child.name else ""
                if name in DROP:
                    continue
                if name in HEADINGS:
                    yield from self.flush()
                    yield from self.sections.heading(HEADINGS[name],
                                                     collapse(child.get_text("")))
                elif name in BLOCKS or _has_block(child):
                    yield from self.flush()
                    yield from self.walk(child)
                    yield from self.flush()
                else:  # inline: part of the text around it
                    self.buffer.append(child.get_text(""))
            elif type(child) is NavigableString:  # not a comment, doctype or CDATA
                self.buffer.append(str(child))


class HtmlLoader:
    """`.html` / `.htm` files: text blocks under the page's headings."""

    suffixes: ClassVar[tuple[str, ...]] = (".html", ".htm")

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]:
        from bs4 import BeautifulSoup

        text = decode(Path(path).read_bytes())
        soup = BeautifulSoup(text, "lxml")
        for tag in soup.find_all(DROP):
            tag.decompose()
        for br in soup.find_all("br"):
            br.replace_with("\n")
        walker = _Walker(doc)
        try:
            yield from walker.walk(soup)
        except RecursionError:
            raise DocumentError("HTML nested too deeply to read") from None
        yield from walker.flush()
