"""The exceptions every layer raises; the ways in turn `SeedQAError` into one line for the user.

Why here: errors cross every layer (a loader's unreadable file becomes an indexing warning, an
encoder's missing model a CLI error), so they live in the core that all layers import.
"""


class SeedQAError(Exception):
    """A user-facing error: bad input, missing model, unusable folder or index. Its message is
    one line that says what went wrong and what to do."""


class DocumentError(Exception):
    """A file that cannot be read as a document; the indexer skips it with one warning."""


class StaleIndex(Exception):
    """An index on disk that cannot be used as is; the message says why (shown to the user)."""
