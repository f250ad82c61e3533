"""Where seedqa keeps what it builds once per machine: the converted model, its ONNX copies and
the compiled answer models. One place, so `SEEDQA_CACHE` moves all of it."""

from __future__ import annotations

import os
from pathlib import Path


def root() -> Path:
    """`$SEEDQA_CACHE/models`, default `~/.cache/seedqa/models`."""
    return Path(os.environ.get("SEEDQA_CACHE") or "~/.cache/seedqa").expanduser() / "models"
