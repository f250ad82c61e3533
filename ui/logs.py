"""How the library's log records and progress reach a person: one line each on stderr.

`qa` and `embeddings` only log (`logging.getLogger(__name__)`) and report progress through a
hook; the ways in call `setup()` once, which turns a warning into `seedqa: warning: ...`, any other
record into `seedqa: ...`, and progress into tqdm bars on stderr.
"""

from __future__ import annotations

import logging
import sys

from qa.core import progress

LOGGERS = ("qa", "embeddings", "ui")


class OneLineHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (so a test capturing stderr sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            kind = "warning: " if record.levelno >= logging.WARNING else ""
            print(f"seedqa: {kind}{record.getMessage()}", file=sys.stderr, flush=True)
        except Exception:  # a broken stderr must not break answering
            self.handleError(record)


def _tqdm_bar(total: int, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)


def setup(level: int = logging.INFO, bars: bool = True) -> None:
    """Route seedqa's records to stderr as one line each (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not any(isinstance(h, OneLineHandler) for h in logger.handlers):
            logger.addHandler(OneLineHandler())
    progress.install(_tqdm_bar if bars else None)
