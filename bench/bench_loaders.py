"""How fast the PDF, DOCX and HTML loaders read: pages/s, paragraphs/s, blocks/s.

Generates the files in a temporary folder with the test builders (`tests/unit/test_loaders.py`:
reportlab with the WenQuanYi TTF or `STSong-Light`, python-docx, a GB18030 page): a PDF of
`--pages` pages (the test report's 4 pages, one of them a scan, then two-column pages of 24
three-line paragraphs), a Word file and a web page of `--blocks` paragraphs each. Each loader
reads its file `--runs` times; the median is reported. The last line is one JSON object.

    .venv/bin/python bench/bench_loaders.py [--pages 50] [--blocks 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.documents import read_paragraphs  # noqa: E402
from tests.unit.test_loaders import (  # noqa: E402
    make_handbook_docx,
    make_page_html,
    make_report_pdf,
)


def _time(path: Path, runs: int) -> tuple[float, list]:
    times, paras = [], []
    for _ in range(runs):
        t = time.perf_counter()
        paras = list(read_paragraphs(path, path.name))
        times.append(time.perf_counter() - t)
    return statistics.median(times), paras


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--blocks", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    logging.getLogger("qa").setLevel(logging.ERROR)  # the fixture's scanned page is expected

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pdf = make_report_pdf(tmp / "report.pdf", extra_pages=max(args.pages - 4, 0))
        docx = make_handbook_docx(tmp / "handbook.docx", extra_paragraphs=args.blocks)
        html = make_page_html(tmp / "page.html", extra_blocks=args.blocks)

        t_pdf, paras = _time(pdf, args.runs)
        pages = max(args.pages, 4)
        chars = sum(len(p.text) for p in paras)
        print(f"pdf:  {pages} pages, {len(paras)} text boxes, {chars} characters, "
              f"{t_pdf:.2f} s: {pages / t_pdf:.1f} pages/s")

        t_docx, paras = _time(docx, args.runs)
        n_docx = sum(1 for p in paras if not p.is_heading)
        print(f"docx: {n_docx} paragraphs and table rows, {t_docx:.2f} s: "
              f"{n_docx / t_docx:.0f} paragraphs/s")

        t_html, paras = _time(html, args.runs)
        n_html = sum(1 for p in paras if not p.is_heading)
        print(f"html: {n_html} blocks, {t_html:.2f} s: {n_html / t_html:.0f} blocks/s")

    print(json.dumps({
        "pdf_pages": pages,
        "pdf_pages_per_s": round(pages / t_pdf, 1),
        "pdf_chars": chars,
        "docx_paragraphs": n_docx,
        "docx_paragraphs_per_s": round(n_docx / t_docx),
        "html_blocks": n_html,
        "html_blocks_per_s": round(n_html / t_html),
        "runs": args.runs,
    }))


if __name__ == "__main__":
    main()
