"""The records that flow through seedqa: documents -> paragraphs -> chunks -> answers.

They live in the core so that every layer (loading, indexing, retrieval, answering, batch, UI)
agrees on one shape; provenance is one type, `SourceLocation`, carried from the loader to the
answer, and formatted in one place (`SourceLocation.label`) for the CLI, JSON and HTML. The JSON a
user sees (`seedqa ask --json`, the `/ask` API, batch rows) is produced only by `Answer.to_json`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field

REFUSAL = "资料中没有找到答案。"


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """Where a piece of text sits in its source file: what a citation points at.

    `page` is set by formats that have pages (PDF); `headings` is the section path for formats
    that have headings (DOCX, HTML; a text file's headline); `block` is the paragraph or block
    number within that section, for formats without lines (DOCX, HTML); `line_start`/`line_end`
    are 1-based and inclusive, within the page when there are pages, else within the file, and 0
    where the format has no lines; `char_start`/`char_end` are the text's offsets in its passage
    (the cited chunk).
    """

    doc: str
    line_start: int
    line_end: int
    page: int | None = None
    headings: tuple[str, ...] = ()
    char_start: int = 0
    char_end: int = 0
    block: int | None = None

    @property
    def section(self) -> str | None:
        return " > ".join(self.headings) if self.headings else None

    def label(self) -> str:
        """The one formatter of a location, for the CLI, JSON and HTML alike:
        `file:12-15`, `file:12`, `report.pdf p.3:12-15`, `handbook.docx § 第三章 > 会员服务 ¶2`."""
        if self.block is not None:
            section = f" § {self.section}" if self.headings else ""
            return f"{self.doc}{section} ¶{self.block}"
        where = self.doc if self.page is None else f"{self.doc} p.{self.page}"
        if not self.line_start:
            return where
        if self.line_end and self.line_end != self.line_start:
            return f"{where}:{self.line_start}-{self.line_end}"
        return f"{where}:{self.line_start}"

    def to_json(self) -> dict:
        return {
            "doc": self.doc,
            "page": self.page,
            "section": self.section,
            "block": self.block,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "char_start": self.char_start,
            "char_end": self.char_end,
        }


def _path(headings: tuple[str, ...], title: str) -> tuple[str, ...]:
    """The section path of a chunk or citation: its headings, else (a text file) its title."""
    return headings or ((title,) if title else ())


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A cleaned paragraph with enough provenance to cite `file:line` in the original file.

    `breaks` maps character offsets in `text` to the original 1-based line they came from, as
    sorted `(offset, line)` pairs; cleaning joins and drops characters, so a line range for any
    slice of `text` must be looked up, not recomputed.
    """

    doc: str
    title: str
    text: str
    line_start: int
    line_end: int
    section: int
    is_heading: bool = False
    breaks: tuple[tuple[int, int], ...] = ()
    page: int | None = None
    headings: tuple[str, ...] = ()  # the section path, where the format has one (else `title`)
    block: int | None = None  # paragraph/block number within the section, for formats w/o lines

    def line_of(self, offset: int) -> int:
        """Original line of the character at `offset` in `text`."""
        if not self.breaks:
            return self.line_start
        offsets = [b[0] for b in self.breaks]
        i = bisect_right(offsets, max(offset, 0)) - 1
        return self.breaks[max(i, 0)][1]

    def lines_of(self, start: int, end: int) -> tuple[int, int]:
        """Original inclusive line range of `text[start:end]`."""
        return self.line_of(start), self.line_of(max(start, end - 1))


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a chunk; `start`/`end` are its offsets in `Chunk.text`."""

    text: str
    start: int
    end: int
    line_start: int
    line_end: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """The unit of retrieval: whole sentences of one section, packed to a target size.

    `context` is the full paragraph(s) the chunk was cut from, shown when a user expands a source.
    """

    id: int
    doc: str
    title: str
    text: str
    line_start: int
    line_end: int
    sentences: tuple[Sentence, ...]
    context: str = ""
    page: int | None = None
    headings: tuple[str, ...] = ()
    block: int | None = None

    def location(self, start: int = 0, end: int | None = None) -> SourceLocation:
        """Provenance of `text[start:end]` (the whole chunk by default)."""
        end = len(self.text) if end is None else end
        lines = (self.line_start, self.line_end)
        for s in self.sentences:  # a sentence's own lines when the slice is one sentence
            if s.start == start and s.end == end:
                lines = (s.line_start, s.line_end)
        return SourceLocation(self.doc, *lines, self.page, _path(self.headings, self.title), start,
                              end, self.block)


@dataclass(slots=True)
class Citation:
    """A numbered source passage behind an answer (or, for a refusal, a closest passage)."""

    n: int
    doc: str
    title: str
    line_start: int
    line_end: int
    text: str
    score: float
    context: str = ""
    chunk_id: int = -1
    page: int | None = None
    headings: tuple[str, ...] = ()
    block: int | None = None

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(
            self.doc, self.line_start, self.line_end, self.page, _path(self.headings, self.title),
            0, len(self.text), self.block,
        )

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "doc": self.doc,
            "title": self.title,
            "page": self.page,
            "section": self.location.section,
            "block": self.block,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "location": self.location.label(),
            "text": self.text,
            "score": round(float(self.score), 4),
        }


@dataclass(slots=True)
class Answer:
    """What `SeedQA.answer` returns and every way in presents.

    `answer` is a verbatim sentence from citation `source` (or `REFUSAL` when `refused`);
    `span` is the minimal part of `answer` that answers the question, at
    `answer[span_start:span_end]` (the whole sentence when no tighter span fits).
    `location` is where the answer sentence itself sits: its own lines and its offsets in the
    cited passage (`citations[source - 1].text[char_start:char_end] == answer`), so no way in has
    to search for it again.
    `message` carries a user-facing note about the question itself (empty, cut to length, ...).
    """

    question: str
    answer: str
    refused: bool
    confidence: float
    citations: list[Citation] = field(default_factory=list)
    span: str = ""
    span_start: int = 0
    span_end: int = 0
    source: int | None = None
    qtype: str = ""
    message: str = ""
    location: SourceLocation | None = None

    def to_json(self) -> dict:
        """The stable object of `seedqa ask --json`, batch rows and the `/ask` API."""
        return {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "confidence": round(float(self.confidence), 4),
            "span": self.span,
            "span_start": self.span_start,
            "span_end": self.span_end,
            "source": self.source,
            "qtype": self.qtype,
            "message": self.message,
            "location": self.location.to_json() if self.location else None,
            "citations": [c.to_json() for c in self.citations],
        }
