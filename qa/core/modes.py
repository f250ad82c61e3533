"""Retrieval modes, defined once: every way in validates and lists them from here."""

from __future__ import annotations

from enum import StrEnum

from qa.core.errors import SeedQAError


class Mode(StrEnum):
    """How passages are ranked. A string enum, so `Mode.HYBRID == "hybrid"` and JSON stays plain."""

    HYBRID = "hybrid"
    DENSE = "dense"
    LEXICAL = "lexical"

    @classmethod
    def parse(cls, value: object) -> Mode:
        """`value` as a mode, or a one-line error listing the valid ones."""
        try:
            return cls(value)
        except ValueError:
            raise SeedQAError(f"unknown mode '{value}'; use one of: {', '.join(MODES)}") from None


MODES: tuple[str, ...] = tuple(m.value for m in Mode)
