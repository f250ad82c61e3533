"""Which files of a documents folder are indexed, under which names, and within what limits.

The walk finds every file some loader reads (`qa.loaders`), skipping hidden folders (the index
lives in `.seedqa/`) and symlink loops; the size policy refuses what must not be read (a named
pipe, a device, a file over `MAX_FILE_MB`); `read_paragraphs` hands a file to its loader.
Anything that cannot be indexed raises `DocumentError`, which the indexer turns into one warning
naming the file.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from qa.core.errors import DocumentError
from qa.core.records import Paragraph
from qa.loaders import loader_for, suffixes

log = logging.getLogger(__name__)

INDEX_DIRNAME = ".seedqa"

# Why a size limit: indexing embeds every passage and every sentence, a few dozen texts per second
# on a small CPU, so a 20 MB document (about 7 million characters, ~100,000 texts) already costs
# about an hour and several hundred MB of vectors; a larger one is almost always a mistake (a log,
# a dump, a whole book collection in one file). It is skipped with one warning naming the limit.
MAX_FILE_MB = 20
def check_file(path: Path) -> os.stat_result:
    """Stat `path` (following symlinks) and refuse what must not be read as a document.

    A named pipe or device named `x.txt` would block the indexer forever on `open`; a file over
    `MAX_FILE_MB` would take hours to embed. Raises `DocumentError` (or `OSError` when the file
    is gone, unreadable or a symlink loop); the caller skips the file with one warning.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise DocumentError("not a regular file")
    limit = MAX_FILE_MB * 1024 * 1024
    if st.st_size > limit:
        raise DocumentError(
            f"{st.st_size / 2**20:.0f} MB is over the {MAX_FILE_MB} MB limit for one document; "
            "split it into smaller files"
        )
    return st


def iter_files(folder: Path) -> list[Path]:
    """Every file below `folder` that a loader reads, sorted, skipping the index folder and loops.

    `os.walk(followlinks=True)` with a set of visited real directories guards against symlink
    loops, which would otherwise make a walk never end.

    A named pipe, socket or device with a document's name is left out here (with one warning),
    because even hashing it for the folder's fingerprint would block; files that merely fail to
    open (a dangling symlink, one removed meanwhile) are listed and skipped when read.
    """
    folder = Path(folder)
    found: list[Path] = []
    seen: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            log.warning(f"skipping {doc_name(Path(root), folder)}: symlink loop")
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(suffixes()) and not name.startswith("."):
                path = Path(root) / name
                try:
                    special = not stat.S_ISREG(os.stat(path).st_mode)
                except OSError:
                    special = False  # reported, once, by whoever reads it
                if special:
                    log.warning(f"skipping {doc_name(path, folder)}: not a regular file")
                    continue
                found.append(path)
    return found


def read_paragraphs(path: Path, doc: str) -> Iterator[Paragraph]:
    """Cleaned paragraphs of one file, with provenance, from the loader of its suffix.

    Raises `DocumentError` (or `OSError`) for a file that cannot be read as a document.
    """
    loader = loader_for(path)
    if loader is None:
        raise DocumentError(f"no loader reads {Path(path).suffix or 'files without a suffix'}")
    check_file(path)
    yield from loader.load(path, doc)


def doc_name(path: Path, folder: Path) -> str:
    """The name citations use: the file's path relative to the documents folder."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.name


def clean_text(path: Path) -> str:
    """The cleaned document: its paragraphs joined by newlines (what chunk texts occur in)."""
    return "\n".join(p.text for p in read_paragraphs(path, path.name))
