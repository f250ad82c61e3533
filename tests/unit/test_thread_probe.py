"""Bulk encoding re-probes the thread setting not in favour on a few texts, not a whole group."""

from __future__ import annotations

import time

from embeddings.encoder import GROUP, PROBE, Encoder
from embeddings.threads import ThreadChooser


def _encoder() -> Encoder:
    enc = Encoder(None, "fake", query_prompt=None, passage_prompt=None, loader=lambda: None, dim=4)
    enc.thread_chooser = ThreadChooser((2, 1), reprobe_every=4)
    return enc


def test_the_setting_not_in_favour_runs_on_a_probe_of_the_group_only():
    enc = _encoder()
    calls: list[tuple[int, int]] = []
    texts = [f"第{i}段" + "商会" * (i % 5) for i in range(GROUP * 6)]
    done: set[int] = set()

    def run(idx, group, threads):
        assert [texts[i] for i in idx] == group
        done.update(idx)
        calls.append((len(idx), threads))
        time.sleep(len(idx) * 0.0004 / threads)  # two threads twice as fast, as on a quiet box

    enc._in_groups(texts, run, progress=False)
    assert done == set(range(len(texts)))  # every text once
    assert calls[0] == (GROUP, 2)  # nothing measured: the first option, on a whole group
    assert calls[1:3] == [(PROBE, 1), (GROUP - PROBE, 2)]  # the other one tried on a probe
    # from then on whole groups on the favourite, and every re-probe of the other is a probe
    assert all(n == PROBE for n, t in calls if t == 1)
    assert sum(n for n, t in calls if t == 1) <= len(texts) // 4


def test_a_probe_that_wins_takes_over():
    enc = _encoder()
    enc.thread_chooser.record(2, seconds=3.0, work=100)  # two threads measured slow (a busy box)
    enc.thread_chooser.record(1, seconds=1.0, work=100)
    calls: list[tuple[int, int]] = []
    enc._in_groups([f"文本{i}" for i in range(GROUP * 2)],
                   lambda idx, group, threads: calls.append((len(idx), threads)), progress=False)
    assert calls[0] == (GROUP, 1)


def test_small_calls_use_the_favourite_and_teach_nothing():
    enc = _encoder()
    calls: list[tuple[int, int]] = []
    enc._in_groups(["一", "二"], lambda idx, group, threads: calls.append((len(idx), threads)),
                   progress=False)
    assert calls == [(2, 2)]
    assert all(c is None for c in enc.thread_chooser.cost.values())
