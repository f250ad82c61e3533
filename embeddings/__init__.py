"""Sentence embeddings for seedqa: one :class:`Encoder` API over every supported model.

Importing this package is cheap (numpy only); torch and sentence-transformers load on the first
:func:`load_encoder` call.
"""

from embeddings.encoder import Encoder, load_encoder

__all__ = ["Encoder", "load_encoder"]
