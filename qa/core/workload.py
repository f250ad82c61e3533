"""How many answers this process is computing right now, for stages that size their threads to it.

Why a process-wide count rather than an argument: the stage that cares (the question encoder,
`embeddings.onnx_query`) sits under the `Encoder` protocol, two layers below the engine that
knows whether other answers are under way. A lone question may use every core for its vector
(the int8 encoder: ~8.6 ms on one thread, ~4.9 ms on two), but while other answers are computed
beside it, a second encoder thread takes the core their Python work runs on (50-user chat load:
43-49 answers/s with two threads against 58 with one; issue 15's notes).

Not for LightGBM: two threads halve scoring ~140 spans alone (0.95 -> 0.50 ms), but its OpenMP
threads spin after each call while ONNX Runtime's spin in the next question's encoder, and the
profile went from 5.0 + 1.6 ms (encoder + span) to 9.5 + 3.8 ms.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0


@contextmanager
def answering() -> Iterator[None]:
    """Count the caller's answer (or group of answers) as under way until the block ends."""
    global _active
    with _lock:
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1


def active() -> int:
    """Answers under way now, the caller's own included."""
    return _active


def cores() -> int:
    """Cores this process may use, at most 2: measured on 2 cores only, and one question's
    stages have little work to share among more."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(2, n))


def threads_for_one(most: int) -> int:
    """Threads one stage of an answer may use: `most` while it is the only answer under way
    (or none is counted: a caller outside the engine), else 1."""
    return most if _active <= 1 else 1
