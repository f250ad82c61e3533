"""The one place that switches seedqa's dependencies offline.

seedqa never downloads a model or data set at run time: with these set, a model that is not on
disk fails at once with a clear message instead of hanging on the network, and the chat window
makes no outside calls (analytics, version checks). Libraries read them at import time, so the
ways in call `offline_env()` before importing transformers or Gradio.
"""

import os


def offline_env() -> None:
    """Set the hub's offline switches; call before anything imports transformers or the hub."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
