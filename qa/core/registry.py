"""Registries: backends are found by name (stores) or by file suffix (loaders).

An entry is a `module:attribute` string imported on first use, so listing the backends costs
nothing and a backend's heavy dependency (faiss, pymilvus, pdfminer) loads only when it is used.
Adding a backend is one new module plus one `register` line.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from qa.core.errors import SeedQAError


class Registry:
    """Named factories of one kind (`"vector store"`, `"loader"`), resolved lazily."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str | object] = {}

    def register(self, name: str, target: str | object) -> None:
        """`target` is the factory itself or a `"package.module:Attribute"` path to it."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def get(self, name: str):
        """The factory registered as `name`; a one-line error naming the known ones otherwise."""
        try:
            target = self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise SeedQAError(f"unknown {self.kind} '{name}'; known: {known}") from None
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target
