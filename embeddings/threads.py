"""Pick 1 or 2 compute threads for bulk encoding by timing real work, not by guessing.

Why adaptive: on the 2-core dev box the best setting flips with the neighbours' load
(bench/bench_encoder.py, bf16, 200 passages of ~250 chars):

    quiet box (load ~0.7):  1 thread 23.1 passages/s   2 threads 34.8/s  (2 wins, 1.5x)
    busy box  (load ~4.5):  1 thread 23.5 passages/s   2 threads 14.6/s  (1 wins, 1.6x)

With 2 threads every GEMM ends in an OpenMP barrier; when the other core is taken by another
process, the whole batch waits for the descheduled thread. So bulk encoding runs in groups,
keeps a moving average of seconds per character for each setting, uses the cheaper one, and
re-tries the other now and then because the load changes.
"""

from __future__ import annotations

import threading


class ThreadChooser:
    """Chooses between thread counts by measured cost per unit of work (e.g. characters)."""

    def __init__(self, options: tuple[int, ...] = (2, 1), reprobe_every: int = 8, weight: float = 0.5):
        self.options = options
        self.reprobe_every = reprobe_every
        self.weight = weight
        self.cost: dict[int, float | None] = dict.fromkeys(options)
        self._picks = 0
        self._lock = threading.Lock()

    def best(self) -> int:
        known = {n: c for n, c in self.cost.items() if c is not None}
        return min(known, key=known.__getitem__) if known else self.options[0]

    def pick(self) -> int:
        """Untried options first, then the best, with a periodic re-probe of the others."""
        with self._lock:
            self._picks += 1
            for n, c in self.cost.items():
                if c is None:
                    return n
            best = self.best()
            if self._picks % self.reprobe_every == 0:
                others = [n for n in self.options if n != best]
                return others[(self._picks // self.reprobe_every) % len(others)]
            return best

    def record(self, threads: int, seconds: float, work: float) -> None:
        if work <= 0 or seconds <= 0:
            return
        per_unit = seconds / work
        with self._lock:
            old = self.cost.get(threads)
            self.cost[threads] = per_unit if old is None else (1 - self.weight) * old + self.weight * per_unit
