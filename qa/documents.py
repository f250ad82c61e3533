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
import re
import shutil
import stat
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
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


_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def safe_name(name: str) -> str:
    """A file name that stays inside the documents folder, whatever a browser sent.

    Only the last path component is kept (`../../etc/passwd.txt` -> `passwd.txt`), normalised to
    NFC (one spelling of `é`), stripped of control and path characters, of leading dots (no
    hidden or relative names) and of bidirectional-override characters that disguise a suffix.
    Raises `DocumentError` when nothing usable is left.
    """
    base = unicodedata.normalize("NFC", str(name)).replace("\\", "/").split("/")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch) not in ("Cf", "Cc", "Cs"))
    base = _UNSAFE.sub("_", base).strip().lstrip(".").strip()
    if not base or Path(base).suffix == "" or len(base.encode()) > 200:
        raise DocumentError(f"'{name}' is not a usable file name")
    return base


@dataclass
class Added:
    """What an upload did: the names now in the folder, and each refused file with its reason."""

    added: list[str]
    refused: list[tuple[str, str]]


def add_documents(
    docs: Path, uploads: list[tuple[str, Path]], max_mb: float, max_files: int
) -> Added:
    """Copy uploaded files into `docs`, each under a safe name, refusing what breaks a limit.

    `uploads` are (name as the user gave it, path of the received copy). A file of a kind no
    loader reads, over `max_mb`, or beyond the first `max_files` is refused by name; the others
    are still added. A name already in the folder is replaced (an edited file, uploaded again).
    """
    added: list[str] = []
    refused: list[tuple[str, str]] = []
    for i, (name, src) in enumerate(uploads):
        shown = Path(str(name)).name or str(name)
        if i >= max_files:
            refused.append((shown, f"more than {max_files} files in one upload"))
            continue
        try:
            safe = safe_name(name)
            if Path(safe).suffix.lower() not in suffixes():
                raise DocumentError(f"seedqa does not read {Path(safe).suffix} files; use one of "
                                    f"{', '.join(suffixes())}")
            size = os.stat(src).st_size
            if size > max_mb * 1024 * 1024:
                raise DocumentError(f"{size / 2**20:.1f} MB is over the {max_mb:g} MB limit")
            tmp = docs / f".upload-{os.getpid()}-{safe}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, docs / safe)  # a half-copied file never appears under its name
            added.append(safe)
        except (DocumentError, OSError) as exc:
            refused.append((shown, str(exc) if isinstance(exc, DocumentError) else
                            (exc.strerror or str(exc))))
    return Added(added, refused)


def remove_document(docs: Path, name: str) -> None:
    """Delete one document of the folder by the name the file list shows."""
    path = (Path(docs) / name).resolve()
    if path.parent != Path(docs).resolve() or not path.is_file():
        raise DocumentError(f"'{name}' is not a document in {docs}")
    path.unlink()
