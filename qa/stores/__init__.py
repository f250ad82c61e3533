"""Where passages are kept and searched: vector stores and lexical stores, found by name.

The index manifest records each store's `kind`, so an index is loaded with the backend that
wrote it. A new backend is one module implementing `qa.core.VectorStore` (or `LexicalStore`)
plus one `register` line here.
"""

from qa.core.registry import Registry

VECTOR_STORES = Registry("vector store")
VECTOR_STORES.register("faiss", "qa.stores.faiss_store:FaissStore")
VECTOR_STORES.register("milvus", "qa.stores.milvus_store:MilvusStore")
VECTOR_STORES.register("array", "qa.stores.array_store:ArrayStore")

LEXICAL_STORES = Registry("lexical store")
LEXICAL_STORES.register("bm25", "qa.stores.bm25_store:Bm25Store")
LEXICAL_STORES.register("milvus-bm25", "qa.stores.milvus_lexical:MilvusBm25Store")

DEFAULT_VECTOR_STORE = "faiss"
# Sentence vectors are read by id, never searched: beside local FAISS they go to a memory-mapped
# array; a remote store keeps them itself, so a second machine needs no local files.
SENTENCE_STORES = {"faiss": "array"}


# The lexical store that goes with a vector store: BM25 files beside local FAISS, BM25 inside
# Milvus beside Milvus (so a second process needs only the pointer files).
LEXICAL_FOR: dict[str, str] = {"milvus": "milvus-bm25"}


def sentence_store(vector_store: str) -> str:
    return SENTENCE_STORES.get(vector_store, vector_store)


def lexical_store(vector_store: str) -> str:
    return LEXICAL_FOR.get(vector_store, DEFAULT_LEXICAL_STORE)
DEFAULT_LEXICAL_STORE = "bm25"
