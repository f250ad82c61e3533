"""seedqa's question answering: documents, chunks, indexes and stores, retrieval, answers,
evaluation.

`qa.engine.SeedQA` is the one entry point the ways in (`ui`) use; `qa.core` holds the records,
errors and protocols every layer shares. Importing this package imports nothing else, so the CLI's
`--help` and pure modules such as `qa.metrics` stay cheap.
"""

__version__ = "0.1.0"
