"""The core every layer imports and that imports nothing else of ours: errors, records, the
retrieval modes, the backend protocols, registries, the versioned index folder and the offline
switch. Keeping it dependency-free is what lets `embeddings`, the stores and the loaders stay
independent of the application above them.
"""

from qa.core.errors import DocumentError, SeedQAError, StaleIndex
from qa.core.modes import MODES, Mode
from qa.core.protocols import Answerer, Encoder, LexicalStore, Loader, VectorStore
from qa.core.records import REFUSAL, Answer, Chunk, Citation, Paragraph, Sentence, SourceLocation
from qa.core.registry import Registry

__all__ = [
    "MODES", "REFUSAL", "Answer", "Answerer", "Chunk", "Citation", "DocumentError", "Encoder",
    "LexicalStore", "Loader", "Mode", "Paragraph", "Registry", "SeedQAError", "Sentence",
    "SourceLocation", "StaleIndex", "VectorStore",
]
