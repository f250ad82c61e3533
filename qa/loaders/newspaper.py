"""Undo newspaper layout, keeping every other character and the line it came from.

Seed documents are scanned newspaper pages: paragraphs hard-wrapped at a narrow column, some
lines justified with spaces between CJK characters, a headline printed twice, and sentences cut
in two by a page/column break (a blank line). Answers must be verbatim source text and citations
must point at `file:line`, so cleaning only removes layout and records, for every character kept,
which original line it came from. It works on numbered lines, whatever loader read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from qa.core.punctuation import CLOSERS, SENTENCE_ENDS, ends_sentence
from qa.core.records import Paragraph

_CJK = (
    "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
    "\u2018\u2019\u201c\u201d\u2014\u2026\u00b7"
)
_CJK_RE = re.compile(f"[{_CJK}]")
# A space with a CJK character (or CJK punctuation) on both sides.
_CJK_GAP = re.compile(f"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}0-9])|(?<=[{_CJK}0-9])[ \t\u3000]+(?=[{_CJK}])")
_TERMINAL = SENTENCE_ENDS + "…"  # a paragraph may also close on an ellipsis
_CLOSERS = CLOSERS
_CLOSED_RE = re.compile(
    f"([{_TERMINAL}][{_CLOSERS}]*|[{_TERMINAL}\\s][（(][^（）()]{{1,20}}[）)])$"
)
_SENTENCE_PUNCT = set("，。；！？、：,;!?")
_LATIN_END = re.compile(r"[A-Za-z]$")
_LATIN_START = re.compile(r"^[A-Za-z]")
# a heading in Latin script: a capital or digit first, two letters in a row somewhere
_LATIN_HEADING = re.compile(r"^[A-Z0-9].*[A-Za-z]{2}")
# a Latin word or number that a line break (or a blank line) cut from the next line's word
_LATIN_LEFT = re.compile(r"(?:[A-Za-z]|(?:^|[\sA-Za-z])\d+|[A-Za-z0-9][.,;:!?%)\"'])$")
_LATIN_RIGHT = re.compile(r"^[A-Za-z]")
_DIGIT_RIGHT = re.compile(r"^\d")
MAX_HEADING = 40
# Why paragraph and block caps: a file without blank lines (one paragraph per line, or one giant
# line) or without sentence ends would otherwise become one paragraph of the whole file, held
# in memory as a block of lines, rebuilt by quadratic string concatenation and copied into the
# `context` of every chunk cut from it (on disk and in memory). The longest seed paragraph is 529
# characters and the longest seed block 23 lines, so the caps never touch normal text.
MAX_PARAGRAPH_CHARS = 2000
MAX_BLOCK_LINES = 500


@dataclass
class Line:
    """One numbered line of a source file, as a loader read it."""

    no: int
    text: str


@dataclass
class _Para:
    """A paragraph under construction: text plus (offset, line) provenance."""

    text: str = ""
    breaks: list[tuple[int, int]] = field(default_factory=list)
    first: int = 0
    last: int = 0
    heading: bool = False

    def append(self, piece: str, line: int, sep: str = "") -> None:
        if not self.breaks:
            self.first = line
        self.text += sep
        self.breaks.append((len(self.text), line))
        self.text += piece
        self.last = line

    def extend(self, other: _Para, sep: str = "") -> None:
        self.text += sep
        base = len(self.text)
        self.text += other.text
        self.breaks.extend((base + off, ln) for off, ln in other.breaks)
        self.last = other.last


def _is_justified(line: str) -> bool:
    """A line whose words are mostly single characters spread out by spaces (`累 计 捐 赠`)."""
    tokens = line.split()
    if len(tokens) < 4:
        return False
    short = sum(1 for t in tokens if len(t) <= 2)
    return short / len(tokens) >= 0.6


def _unjustify(line: str, multi_line: bool) -> str:
    """Drop layout spaces between CJK characters; keep spaces between Latin words.

    In a hard-wrapped column every space between two CJK characters is layout; in a free-standing
    line (a headline such as `强化自身建设 增强服务能力`) only a justified run is.
    """
    stripped = line.strip()
    justified = _is_justified(stripped)
    if multi_line or justified:
        stripped = _CJK_GAP.sub("", stripped)
    if justified:
        # digits glued into a justified CJK run: `会 2020 年 累 计` -> `会2020年累计`
        stripped = re.sub(r"(?<=\S)[ \t\u3000]+(?=\S)", _gap_keeper(stripped), stripped)
    return stripped


def _gap_keeper(line: str):
    def repl(m: re.Match) -> str:
        s, e = m.start(), m.end()
        left, right = line[s - 1 : s], line[e : e + 1]
        if _LATIN_END.search(left) and _LATIN_START.search(right):
            return " "
        return ""

    return repl


def _collapse_doubled(text: str) -> str:
    """`XX` or `X X` -> `X`: a headline the layout printed twice in a row."""
    n = len(text)
    if n >= 8 and n % 2 == 0 and text[: n // 2] == text[n // 2 :]:
        return text[: n // 2]
    parts = text.split(" ")
    if len(parts) == 2 and parts[0] == parts[1] and len(parts[0]) >= 4:
        return parts[0]
    return text


def _latin_title(text: str) -> bool:
    """`The Eiffel Tower`, `Real world`: a capital first, and in a line of more than three words
    every word of four letters or more capitalised (`It was built from` is a cut sentence)."""
    if not _LATIN_HEADING.match(text):
        return False
    words = text.split()
    return len(words) <= 3 or all(not w[:1].islower() for w in words if len(w) >= 4)


def _looks_like_heading(text: str) -> bool:
    if not text or len(text) > MAX_HEADING:
        return False
    if not _CJK_RE.search(text) and not _latin_title(text):
        return False
    if any(ch in _SENTENCE_PUNCT for ch in text) or text.endswith(("—", "-", "…")):
        return False
    if ends_sentence(text):  # `The tower is tall.`: a sentence, not a title
        return False
    return not text.startswith(("■", "（", "(", "【"))


def _is_byline(text: str) -> bool:
    """`■夏应杰`: an author line, a paragraph of its own that never continues into the text."""
    return text.startswith("■")


def is_closed(text: str) -> bool:
    """Whether a paragraph ends a sentence, so a following paragraph starts a new one."""
    return bool(_CLOSED_RE.search(text.rstrip())) or _is_byline(text) or ends_sentence(text)


def _join_sep(left: str, right: str) -> str:
    """The separator a hard line break stood for: one space between Latin words (`is` `330`,
    `tall.` `It`, `from 1887` `to`), else none (`截至2020` `年`, `1004.` `53万元`)."""
    if _LATIN_END.search(left) and (_LATIN_START.search(right) or _DIGIT_RIGHT.search(right)):
        return " "
    if _LATIN_LEFT.search(left) and _LATIN_RIGHT.search(right):
        return " "
    return ""


def _block_paragraphs(block: list[Line]) -> list[_Para]:
    """Join one blank-line-delimited block of lines into paragraphs.

    A short line ending a sentence inside a hard-wrapped block ends its paragraph (the next
    paragraph started without a blank line); a block of short unpunctuated lines is a run of
    headings (title + subtitle).
    """
    multi = len(block) > 1
    lines: list[tuple[int, str]] = []
    prev = ""
    for ln in block:
        # A headline-like line that opens the block or follows a finished sentence keeps its
        # deliberate spaces (`拓展服务手段 增强服务能力`); column text loses layout spaces.
        own_line = not prev or is_closed(prev)
        column = multi and not (own_line and _looks_like_heading(ln.text.strip()))
        text = _collapse_doubled(_unjustify(ln.text, column))
        if text:
            lines.append((ln.no, text))
            prev = text
    if not lines:
        return []
    if multi and all(_looks_like_heading(t) for _, t in lines) and len(lines) <= 3:
        widths = sorted(len(t) for _, t in lines)
        if widths[-1] <= MAX_HEADING and not _wrapped_column(lines):
            out = []
            for no, t in lines:
                p = _Para(heading=True)
                p.append(t, no)
                out.append(p)
            return out
    width = max(len(t) for _, t in lines)
    paras: list[_Para] = []
    cur = _Para()
    for i, (no, t) in enumerate(lines):
        if cur.text and (_is_byline(t) or _looks_like_heading(t) and is_closed(cur.text)):
            paras.append(cur)
            cur = _Para()
        cur.append(t, no, _join_sep(cur.text, t) if cur.text else "")
        last = i == len(lines) - 1
        ends = is_closed(t) and len(t) < 0.8 * width or _is_byline(t)
        if not last and multi and ends:
            paras.append(cur)
            cur = _Para()
    paras.append(cur)
    for p in paras:
        p.text = _collapse_doubled(p.text)
        p.heading = len(p.breaks) == 1 and _looks_like_heading(p.text)
    return paras


def _wrapped_column(lines: list[tuple[int, str]]) -> bool:
    """Lines of (nearly) equal width are a hard-wrapped column, not a stack of headings."""
    if len(lines) < 2:
        return False
    widths = [len(t) for _, t in lines[:-1]]
    return len(set(widths)) == 1 and widths[0] >= 10 and len(lines[-1][1]) <= widths[0]


def _blocks(lines: Iterable[Line], max_lines: int = MAX_BLOCK_LINES) -> Iterator[list[Line]]:
    """Runs of non-blank lines. A run longer than `max_lines` is cut after a line that ends a
    sentence (or, failing that, at twice the cap), so a file without blank lines is never held
    whole; the next run starts a new sentence, so the cut changes no paragraph's text."""
    block: list[Line] = []
    for ln in lines:
        if ln.text.strip():
            block.append(ln)
            if len(block) >= max_lines and (is_closed(ln.text) or len(block) >= 2 * max_lines):
                yield block
                block = []
        elif block:
            yield block
            block = []
    if block:
        yield block


_CUT_SENTENCE = re.compile(f"[{_TERMINAL}][{_CLOSERS}]*")
_CUT_CLAUSE = re.compile(r"[，、：,:]|\s")


def _cut_point(text: str, limit: int) -> int:
    """Where to cut an over-long paragraph: after the last sentence end before `limit`, else
    after the last clause mark or space, else at `limit` (a run of text without any)."""
    window = text[:limit]
    for rx in (_CUT_SENTENCE, _CUT_CLAUSE):
        ends = [m.end() for m in rx.finditer(window) if m.end() >= limit // 4]
        if ends:
            return ends[-1]
    return limit


def _split_long(p: _Para, limit: int = MAX_PARAGRAPH_CHARS) -> Iterator[_Para]:
    """`p` as pieces of at most `limit` characters, each with its own line provenance.

    Characters are only divided between pieces, never dropped or added, so every piece is still
    verbatim cleaned text and its `breaks` still map each offset to its original line.
    """
    if len(p.text) <= limit:
        yield p
        return
    text, breaks = p.text, p.breaks
    start, i = 0, 0
    while start < len(text):
        end = len(text) if len(text) - start <= limit else start + _cut_point(text[start:], limit)
        while i + 1 < len(breaks) and breaks[i + 1][0] <= start:
            i += 1
        piece = _Para(text=text[start:end], heading=False)
        piece.breaks = [(0, breaks[i][1])]
        j = i + 1
        while j < len(breaks) and breaks[j][0] < end:
            if breaks[j][0] > start:
                piece.breaks.append((breaks[j][0] - start, breaks[j][1]))
            j += 1
        piece.first, piece.last = piece.breaks[0][1], piece.breaks[-1][1]
        yield piece
        start = end


def _raw_paragraphs(lines: Iterable[Line]) -> Iterator[_Para]:
    """Paragraphs with sentences cut by a blank line rejoined, none over `MAX_PARAGRAPH_CHARS`.

    Text that never closes a sentence stops being joined at the cap, so a file of unpunctuated
    blocks cannot grow into one paragraph of the whole file.
    """
    pending: _Para | None = None
    for block in _blocks(lines):
        for whole in _block_paragraphs(block):
            for p in _split_long(whole):
                if pending is None:
                    pending = p
                    continue
                if (
                    not pending.heading
                    and not p.heading
                    and not is_closed(pending.text)
                    and len(pending.text) + len(p.text) <= MAX_PARAGRAPH_CHARS
                ):
                    pending.extend(p, _join_sep(pending.text, p.text))
                    continue
                yield pending
                pending = p
    if pending is not None:
        yield pending


def clean(lines: Iterable[Line], doc: str) -> Iterator[Paragraph]:
    """Cleaned paragraphs of one file's numbered lines, each with its heading (`title`) and
    the original lines of every character."""
    headings: list[str] = []
    title = ""
    section = 0
    started = False
    for p in _raw_paragraphs(lines):
        if p.heading:
            if started:
                section += 1
                headings = []
                started = False
            # a title and its subtitle name the section together; a longer stack of headings
            # is a page's worth of headlines, of which the last two are nearest the text
            headings.append(p.text)
            title = " ".join(headings[-2:])
        else:
            started = True
        yield Paragraph(
            doc=doc,
            title=title,
            text=p.text,
            line_start=p.first,
            line_end=p.last,
            section=section,
            is_heading=p.heading,
            breaks=tuple(p.breaks),
        )
