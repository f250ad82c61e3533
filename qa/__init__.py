"""seedqa's question answering: documents, chunks, lexical search, retrieval, answers, evaluation.

`SeedQA` (in `qa.engine`) is the one entry point the ways in (`ui`) use.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import qa` stays cheap for the CLI's --help and for pure modules like metrics.
    if name == "SeedQA":
        from qa.engine import SeedQA

        return SeedQA
    raise AttributeError(name)
