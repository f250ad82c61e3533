"""The first `Loader`: plain text files, read line by line (Markdown has its own, `markdown`).

Files are streamed (a 50 MB file is never held as several copies), decoded as UTF-8 (BOM
allowed) or, failing that, GB18030; universal newlines handle `\\r\\n`, `\\r` and mixes. The
numbered lines go through the newspaper cleaner (`qa.loaders.newspaper`), which keeps each character's
line for citations.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from qa.core.errors import DocumentError
from qa.core.records import Paragraph
from qa.loaders.newspaper import Line, clean


def detect_encoding(path: Path, block: int = 1 << 18) -> str:
    """`utf-8-sig` if the whole file decodes as UTF-8, else `gb18030`; binary files raise.

    Decoding incrementally keeps memory flat for large files. The caller (`qa.documents`) has
    already refused pipes and files over the size limit.
    """
    dec = codecs.getincrementaldecoder("utf-8")()
    ok = True
    with open(path, "rb") as fh:
        head = fh.read(8192)
        if b"\x00" in head:
            raise DocumentError("binary file (NUL bytes)")
        data = head
        while data:
            if ok:
                try:
                    dec.decode(data)
                except UnicodeDecodeError:
                    ok = False
                    break
            data = fh.read(block)
        if ok:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                ok = False
    if ok:
        return "utf-8-sig"
    # GB18030 decodes almost any byte string; reject files that look like binary noise.
    with open(path, "rb") as fh:
        sample = fh.read(1 << 16)
    text = sample.decode("gb18030", errors="replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\r\n\t\f"))
    if text and bad / len(text) > 0.05:
        raise DocumentError("not text in UTF-8 or GB18030")
    return "gb18030"


def iter_lines(path: Path) -> Iterator[Line]:
    """Numbered lines of a text file."""
    enc = detect_encoding(path)
    with open(path, "rb") as raw:
        stream = io.TextIOWrapper(raw, encoding=enc, errors="replace", newline=None)
        for no, line in enumerate(stream, start=1):
            yield Line(no, line.rstrip("\n"))


class TextLoader:
    """`.txt` files: decoded, then cleaned of newspaper layout."""

    suffixes: ClassVar[tuple[str, ...]] = (".txt",)

    def load(self, path: Path, doc: str) -> Iterator[Paragraph]:
        return clean(iter_lines(path), doc)
