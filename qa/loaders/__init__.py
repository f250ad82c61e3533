"""Loaders turn one kind of file into paragraphs with provenance, found by file suffix.

A new format (PDF, DOCX, HTML) is one module implementing `qa.core.Loader` plus one `register`
line here naming its suffixes; the module (and its parser library) is imported only when a file
of that kind is read.
"""

from __future__ import annotations

from pathlib import Path

from qa.core.protocols import Loader
from qa.core.registry import Registry

LOADERS = Registry("loader")
_BY_SUFFIX: dict[str, str] = {}


def register(name: str, target: str, suffixes: tuple[str, ...]) -> None:
    """Register a loader under `name` for files ending in `suffixes` (lower case, with dot)."""
    LOADERS.register(name, target)
    for s in suffixes:
        _BY_SUFFIX[s.lower()] = name


register("text", "qa.loaders.text:TextLoader", (".txt",))
register("markdown", "qa.loaders.markdown:MarkdownLoader", (".md", ".markdown"))
register("pdf", "qa.loaders.pdf:PdfLoader", (".pdf",))
register("docx", "qa.loaders.docx:DocxLoader", (".docx",))
register("html", "qa.loaders.html:HtmlLoader", (".html", ".htm"))


def suffixes() -> tuple[str, ...]:
    """Every suffix some loader reads: what the documents walk picks up."""
    return tuple(_BY_SUFFIX)


def loader_for(path: Path) -> Loader | None:
    """The loader for `path`'s suffix, or None when no loader reads it."""
    name = _BY_SUFFIX.get(Path(path).suffix.lower())
    return LOADERS.get(name)() if name else None
