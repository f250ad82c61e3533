"""The count of answers under way (`qa.core.workload`) that the question encoder sizes its
threads by: it must come back to zero whatever happens inside, and count every thread."""

from __future__ import annotations

import threading

import pytest

from qa.core import workload


def test_nested_and_failing_blocks_are_counted_and_released():
    assert workload.active() == 0
    with workload.answering():
        assert workload.active() == 1
        with pytest.raises(RuntimeError), workload.answering():
            assert workload.active() == 2
            raise RuntimeError("an answer failed")
        assert workload.active() == 1
    assert workload.active() == 0


def test_answers_on_many_threads_are_all_counted():
    inside = threading.Barrier(9)
    leave = threading.Event()
    seen: list[int] = []

    def work() -> None:
        with workload.answering():
            inside.wait()
            leave.wait()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    inside.wait()  # all eight are inside their block
    seen.append(workload.active())
    leave.set()
    for t in threads:
        t.join()
    assert seen == [8] and workload.active() == 0
