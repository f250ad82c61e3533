"""Where passages are kept and searched: vector stores and lexical stores, found by name.

The index manifest records each store's `kind`, so an index is loaded with the backend that
wrote it. A new backend is one module implementing `qa.core.VectorStore` (or `LexicalStore`)
plus one `register` line here.
"""

from qa.core.registry import Registry

VECTOR_STORES = Registry("vector store")
VECTOR_STORES.register("faiss", "qa.stores.faiss_store:FaissStore")
VECTOR_STORES.register("milvus", "qa.stores.milvus_store:MilvusStore")

LEXICAL_STORES = Registry("lexical store")
LEXICAL_STORES.register("bm25", "qa.stores.bm25_store:Bm25Store")

DEFAULT_VECTOR_STORE = "faiss"
DEFAULT_LEXICAL_STORE = "bm25"
