"""jieba's part-of-speech Viterbi, vectorised with numpy, giving the very same tags.

Answering tags every candidate sentence with `jieba.posseg` (`qa.lexical.pos_tokens`), and a
profile of 100 answers at 10k passages (bench/profile_answer.py) spent 78% of the time in its
pure-Python HMM Viterbi (`jieba.posseg.viterbi.viterbi`): for each character it takes a Python
`max` over ~250 previous states for each of up to ~250 next states. Here each step is one numpy
operation over the (previous x next) state matrix.

Same result, not merely close: every score is the same float64 sum in the same order
(`(V[y0] + trans[y0][y]) + emit[y][char]`), and ties are broken as Python's `max` over
`(score, state)` tuples breaks them (the larger state tuple wins); the original's set
iteration order never decides anything. The tests compare both on every seed sentence. Input
the fast path does not cover (no state with a transition) goes to the original.
"""

from __future__ import annotations

import threading

import numpy as np

MIN_FLOAT = -3.14e100  # jieba.posseg.viterbi's constants
MIN_INF = float("-inf")

_lock = threading.Lock()
_original = None


class _Tables:
    """jieba's HMM dictionaries as arrays over state numbers (built once per model)."""

    def __init__(self, trans_p: dict, start_p: dict, emit_p: dict) -> None:
        self.names = list(trans_p.keys())
        self.index = {s: i for i, s in enumerate(self.names)}
        n = len(self.names)
        self.trans = np.full((n, n), MIN_INF)
        self.has = np.zeros((n, n), dtype=bool)  # y is a key of trans_p[x]
        for x, row in trans_p.items():
            for y, p in row.items():
                if y in self.index:
                    self.trans[self.index[x], self.index[y]] = p
                    self.has[self.index[x], self.index[y]] = True
        self.complete = all(y in self.index for row in trans_p.values() for y in row)
        self.has_next = np.array([len(trans_p[x]) > 0 for x in self.names])
        # Python's max over (score, state) keeps the largest state among equal scores
        self.rank = np.empty(n, dtype=np.int64)
        self.rank[sorted(range(n), key=lambda i: self.names[i])] = np.arange(n)
        self.start_p, self.emit_p = start_p, emit_p
        self._emit: dict[str, np.ndarray] = {}
        self._states: dict[str, np.ndarray | None] = {}
        self.memo: dict[tuple[int, str], tuple[float, tuple]] = {}  # (states id, run) -> result

    def emit(self, ch: str) -> np.ndarray:
        row = self._emit.get(ch)
        if row is None:
            row = np.array([self.emit_p[y].get(ch, MIN_FLOAT) for y in self.names])
            self._emit[ch] = row
        return row

    def states(self, table: dict, ch: str) -> np.ndarray | None:
        """The state numbers jieba allows for `ch` (a mask), None for all of them."""
        if ch not in self._states:
            allowed = table.get(ch)
            if allowed is None or any(s not in self.index for s in allowed):
                mask = None
            else:
                mask = np.zeros(len(self.names), dtype=bool)
                mask[[self.index[s] for s in allowed]] = True
            self._states[ch] = mask
        return self._states[ch]


_tables: dict[int, _Tables] = {}


def _tables_for(trans_p: dict, start_p: dict, emit_p: dict) -> _Tables:
    key = id(trans_p)
    tb = _tables.get(key)
    if tb is None or tb.start_p is not start_p or tb.emit_p is not emit_p:
        tb = _tables[key] = _Tables(trans_p, start_p, emit_p)
    return tb


# Runs of characters jieba's dictionary does not split recur across sentences (names, and in
# traditional text most words: `國家`, `這個`): at 1M passages of mixed-script text a question tags
# ~50 new sentences, ~230 such runs. The route of a run depends only on the run and the (fixed)
# model, so it is computed once; the memo is dropped whole when it reaches this many runs.
MEMO_MAX = 200_000


def viterbi(obs: str, states: dict, start_p: dict, trans_p: dict, emit_p: dict):
    """`jieba.posseg.viterbi.viterbi`, same arguments, same (prob, route)."""
    tb = _tables_for(trans_p, start_p, emit_p)
    key = (id(states), obs)
    found = tb.memo.get(key)
    if found is None:
        found = _viterbi(tb, obs, states, start_p, trans_p, emit_p)
        if len(tb.memo) >= MEMO_MAX:
            tb.memo.clear()
        tb.memo[key] = (found[0], tuple(found[1]))
    return found[0], list(found[1])


def _viterbi(tb: _Tables, obs: str, states: dict, start_p: dict, trans_p: dict, emit_p: dict):
    if not tb.complete or not obs:
        return _original(obs, states, start_p, trans_p, emit_p)
    mask0 = tb.states(states, obs[0])
    cur = np.flatnonzero(mask0) if mask0 is not None else np.arange(len(tb.names))
    try:
        v = np.array([tb.start_p[tb.names[y]] for y in cur]) + tb.emit(obs[0])[cur]
    except KeyError:
        return _original(obs, states, start_p, trans_p, emit_p)
    back: list[np.ndarray] = []
    n_states = len(tb.names)
    for t in range(1, len(obs)):
        keep = tb.has_next[cur]
        prev, vp = cur[keep], v[keep]
        if not len(prev):  # the original fails here (max of nothing): let it
            return _original(obs, states, start_p, trans_p, emit_p)
        expect = tb.has[prev].any(axis=0)
        mask = tb.states(states, obs[t])
        nxt = np.flatnonzero(expect if mask is None else mask & expect)
        if not len(nxt):
            nxt = np.flatnonzero(expect) if expect.any() else np.arange(n_states)
        scores = (vp[:, None] + tb.trans[np.ix_(prev, nxt)]) + tb.emit(obs[t])[nxt][None, :]
        best = scores.max(axis=0)
        ranks = np.where(scores == best[None, :], tb.rank[prev][:, None], -1)
        bp = np.full(n_states, -1, dtype=np.int64)
        bp[nxt] = prev[ranks.argmax(axis=0)]
        back.append(bp)
        cur, v = nxt, best
    top = v.max()
    state = int(cur[np.where(v == top, tb.rank[cur], -1).argmax()])
    route = [None] * len(obs)
    for i in range(len(obs) - 1, -1, -1):
        route[i] = tb.names[state]
        if i:
            state = int(back[i - 1][state])
    return float(top), route


def install() -> None:
    """Make `jieba.posseg` use this Viterbi (idempotent; the tags do not change)."""
    global _original
    import sys

    import jieba.posseg

    with _lock:
        if _original is None:
            _original = sys.modules["jieba.posseg.viterbi"].viterbi
        jieba.posseg.viterbi = viterbi
