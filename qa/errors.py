"""One exception type for every failure a user can fix.

Its message is a single line that says what went wrong and what to do; the CLI and the chat app
print it as is instead of a traceback.
"""


class SeedQAError(Exception):
    """A user-facing error: bad input, missing model, unusable folder or index."""
