"""Progress bars as a hook: the library says how far it got, the ways in decide how to show it.

Like logging, and for the same reason: `qa` and `embeddings` never write to the terminal
themselves (a library printing into a server log or a test's output is noise nobody asked for);
the CLI installs a tqdm bar on stderr (`ui.logs.setup`), anything else gets silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol, TypeVar

T = TypeVar("T")


class Bar(Protocol):
    def update(self, n: int = 1) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass


BarFactory = Callable[..., AbstractContextManager[Bar]]
_factory: BarFactory | None = None


def install(factory: BarFactory | None) -> None:
    """Use `factory(total=, desc=, unit=)` for every bar from now on (None: no bars)."""
    global _factory
    _factory = factory


def bar(total: int, desc: str, unit: str, enabled: bool = True) -> AbstractContextManager[Bar]:
    """A context manager yielding a bar with `update(n)`; silent unless a way in installed one."""
    if not enabled or _factory is None:
        return nullcontext(_Silent())
    return _factory(total=total, desc=desc, unit=unit)


def track(items: Iterable[T], total: int, desc: str, unit: str, enabled: bool = True) -> Iterator[T]:
    """`items`, advancing a bar by one for each."""
    with bar(total, desc, unit, enabled) as b:
        for item in items:
            yield item
            b.update(1)
