"""PDF files: text boxes in reading order, cited by page and by line within the page.

`pdfminer.six` (MIT) reads the text layer: it ships the Adobe-GB1/CNS1/Japan1/Korea1 CMaps that
Chinese fonts without a ToUnicode map need, and gives each character and line its position, so
the reading order is ours to decide. pdfminer's own order (`boxes_flow`) interleaves the boxes of
two columns whose paragraphs happen to line up; here a page is cut recursively (an XY cut):
columns first (a vertical gap no box crosses), then bands (a horizontal gap), where neighbouring
bands that share their columns are read as one two-column block. So a left column is read to
its end before the right one, and a full-width headline or footer stays where it is.

Each text box is one paragraph. Its lines are numbered within the page in that reading order
(a left column's lines before the right column's), which is what a citation `p.3:12-15` means.
Hard line breaks are joined without a space next to a CJK character and with one space between
Latin words; the spaces pdfminer infers from gaps between two CJK characters (justified text) are
dropped, while the PDF's own characters, U+3000 and full-width punctuation included, are kept as
they are (no NFKC: it would turn `，` into `,` and break verbatim quotes).

A page whose text layer is empty or mostly `(cid:N)` / private-use characters (a scan, or a font
without any Unicode map) is not indexed; one warning names such pages, and the rest of the file
is read. A page that pdfminer fails on is skipped the same way; a file it cannot open at all
raises `DocumentError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

from qa.core.errors import DocumentError
from qa.core.records import Paragraph

log = logging.getLogger(__name__)
# pdfminer logs every odd object it repairs (a missing CropBox, a bad xref) as a warning; none of
# it is something a user can act on, and it would arrive as unformatted lines on stderr.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

# CJK characters and full-width punctuation: no space is put or kept between them across a break.
_CJK = (
    "\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3190-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
    "\u2018\u2019\u201c\u201d\u2014\u2026\u00b7"
)
_CJK_RE = re.compile(f"[{_CJK}]")
_CID_RE = re.compile(r"\(cid:\d+\)")
_ENDS = " \t\r\n\f\v\u00a0\u3000"

#: A page is unusable when more than this share of its characters are `(cid:N)` or private-use.
MAX_BAD_SHARE = 0.5
#: A page mostly covered by images with fewer usable characters than this is taken for a scan
#: (its only text a page number or a stamp).
SCAN_MIN_CHARS = 20


def _is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.match(ch))


def _private(ch: str) -> bool:
    o = ord(ch)
    return 0xE000 <= o <= 0xF8FF or o >= 0xF0000


def join_break(prev: str, nxt: str) -> str:
    """What replaces a hard line break between `prev` and `nxt`: nothing next to a CJK character
    or after a hyphen, else one space (between Latin words)."""
    if not prev or not nxt:
        return ""
    a, b = prev[-1], nxt[0]
    if _is_cjk(a) or _is_cjk(b):
        return ""
    if a == "-" and len(prev) > 1 and prev[-2].isalpha():
        return ""
    return " "


# ---------------------------------------------------------------------------------- reading order


def _vertical_split(boxes: Sequence) -> list[list]:
    """The columns of `boxes`: groups separated by an x range that no box covers, left to right."""
    order = sorted(boxes, key=lambda b: b.x0)
    cols: list[list] = [[order[0]]]
    right = order[0].x1
    for b in order[1:]:
        if b.x0 > right:
            cols.append([b])
        else:
            cols[-1].append(b)
        right = max(right, b.x1)
    return cols


def _horizontal_split(boxes: Sequence) -> list[list]:
    """The bands of `boxes`: groups separated by a y range that no box covers, top to bottom."""
    order = sorted(boxes, key=lambda b: -b.y1)
    bands: list[list] = [[order[0]]]
    bottom = order[0].y0
    for b in order[1:]:
        if b.y1 < bottom:
            bands.append([b])
        else:
            bands[-1].append(b)
        bottom = min(bottom, b.y0)
    return bands


def reading_order(boxes: Sequence) -> list:
    """`boxes` (anything with x0, y0, x1, y1; y up) in reading order: columns left to right, each
    read to its end; full-width bands top to bottom."""
    if len(boxes) <= 1:
        return list(boxes)
    cols = _vertical_split(boxes)
    if len(cols) > 1:
        return [b for c in cols for b in reading_order(c)]
    bands = _horizontal_split(boxes)
    if len(bands) == 1:  # boxes overlapping both ways: top to bottom, then left to right
        return sorted(boxes, key=lambda b: (-b.y1, b.x0))
    # neighbouring bands that keep a common column gap are one multi-column block
    groups: list[list] = [bands[0]]
    for band in bands[1:]:
        merged = groups[-1] + band
        if len(_vertical_split(merged)) > 1:
            groups[-1] = merged
        else:
            groups.append(band)
    return [b for g in groups for b in reading_order(g)]


# ------------------------------------------------------------------------------------ the loader


def _line_text(line) -> tuple[str, int, int]:
    """A text line's characters as pdfminer reads them, without the spaces it infers between two
    CJK characters (gaps of justified text) and without `(cid:N)` stand-ins; also the counts of
    non-space characters and of unusable ones (`(cid:N)`, private use)."""
    from pdfminer.layout import LTAnno

    parts: list[str] = []
    total = bad = 0
    items = list(line)
    for i, item in enumerate(items):
        t = item.get_text()
        if isinstance(item, LTAnno):
            if t == " " and parts and parts[-1] and _is_cjk(parts[-1][-1]):
                nxt = items[i + 1].get_text() if i + 1 < len(items) else ""
                if nxt and _is_cjk(nxt[0]):
                    continue
            if t == "\n":
                continue
            parts.append(t)
            continue
        if t.startswith("(cid:"):
            total += 1
            bad += 1
            continue
        if not t.isspace():
            total += len(t)
            bad += sum(1 for ch in t if _private(ch))
        parts.append(t)
    text = "".join(parts)
    if "(cid:" in text:
        text = _CID_RE.sub("", text)
    return text, total, bad


def _page_paragraphs(layout, doc: str, pno: int) -> tuple[list[Paragraph], bool]:
    """The paragraphs of one laid-out page, and whether its text layer is usable."""
    from pdfminer.layout import LTFigure, LTImage, LTTextBox, LTTextLine

    boxes = [el for el in layout if isinstance(el, LTTextBox)]
    img_area = sum(el.width * el.height for el in layout if isinstance(el, (LTFigure, LTImage)))
    page_area = max(layout.width * layout.height, 1.0)
    paras: list[Paragraph] = []
    total = bad = 0
    lineno = 0
    for box in reading_order(boxes):
        text = ""
        breaks: list[tuple[int, int]] = []
        first = last = 0
        for line in box:
            if not isinstance(line, LTTextLine):
                continue
            piece, n, nbad = _line_text(line)
            total += n
            bad += nbad
            piece = piece.strip(_ENDS) if not text else piece.rstrip(_ENDS)
            if not piece.strip(_ENDS):
                continue
            lineno += 1
            if text:
                piece = piece.lstrip(" \t")
                text += join_break(text, piece)
            else:
                first = lineno
            breaks.append((len(text), lineno))
            text += piece
            last = lineno
        if text:
            paras.append(Paragraph(doc=doc, title="", text=text, line_start=first,
                                   line_end=last, section=pno, breaks=tuple(breaks), page=pno))
    usable = total - bad
    if usable == 0 or bad > MAX_BAD_SHARE * total:
        return [], False
    if img_area > 0.5 * page_area and usable < SCAN_MIN_CHARS:
        return [], False
    return paras, True


def _ranges(pages: list[int]) -> str:
    """`3, 7-9` for pages [3, 7, 8, 9]."""
    out: list[str] = []
    start = prev = pages[0]
    for p in pages[1:] + [None]:
        if p is not None and p == prev + 1:
            prev = p
            continue
        out.append(str(start) if start == prev else f"{start}-{prev}")
        if p is not None:
            start = prev = p
    return ", ".join(out)


class PdfLoader:
    """`.pdf` files: one paragraph per text box, `page` and page lines on each."""

    suffixes: ClassVar[tuple[str, ...]] = (".pdf",)

    def __init__(self, laparams=None) -> None:
        self.laparams = laparams

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]:
        from pdfminer.converter import PDFPageAggregator
        from pdfminer.layout import LAParams
        from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
        from pdfminer.pdfpage import PDFPage
        from pdfminer.pdfparser import PDFParser

        # boxes_flow=None: pdfminer's own box ordering is replaced by `reading_order` (and skipping
        # it saves its quadratic grouping of boxes)
        laparams = self.laparams or LAParams(boxes_flow=None)
        unusable: list[int] = []
        failed: list[tuple[int, str]] = []
        with open(path, "rb") as fh:
            try:
                document = PDFDocument(PDFParser(fh))
                pages = PDFPage.create_pages(document)
                rsrc = PDFResourceManager(caching=True)
                device = PDFPageAggregator(rsrc, laparams=laparams)
                interpreter = PDFPageInterpreter(rsrc, device)
            except PDFPasswordIncorrect:
                raise DocumentError("the PDF is encrypted with a password") from None
            except Exception as exc:  # pdfminer raises many kinds on a damaged file
                raise DocumentError(f"not a readable PDF ({_why(exc)})") from None
            pno = 0
            while True:
                try:
                    page = next(pages)
                except StopIteration:
                    break
                except Exception as exc:
                    if pno == 0:
                        raise DocumentError(f"not a readable PDF ({_why(exc)})") from None
                    failed.append((pno + 1, _why(exc)))
                    break  # the page tree itself is broken past here
                pno += 1
                try:
                    interpreter.process_page(page)
                    paras, ok = _page_paragraphs(device.get_result(), doc, pno)
                except Exception as exc:
                    failed.append((pno, _why(exc)))
                    continue
                if not ok:
                    unusable.append(pno)
                    continue
                yield from paras
        if pno == 0:
            raise DocumentError("the PDF has no pages")
        if unusable:
            which = f"page {unusable[0]} has" if len(unusable) == 1 else (
                f"pages {_ranges(unusable)} have")
            log.warning(f"{doc}: {which} no usable text layer (scanned?); not indexed")
        for p, why in failed:
            log.warning(f"{doc}: page {p} could not be read ({why}); not indexed")


def _why(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {msg}"[:200] if msg else type(exc).__name__
