"""The options every command shares (`--docs`, `--index`, `--model`), defined once.

`ask`, `index`, `eval` and `chat` all open the same engine, so they must spell and document these
options identically.
"""

from __future__ import annotations

from pathlib import Path

import click

docs_option = click.option(
    "--docs",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("seeds"),
    show_default=True,
    help="Folder of .txt/.md documents to answer from.",
)

index_option = click.option(
    "--index",
    "index",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Index folder (default: DOCS/.seedqa; built on first use).",
)

model_option = click.option(
    "--model",
    default=None,
    metavar="NAME_OR_PATH",
    help="A local sentence-transformers model (default: the bundled multilingual-e5-small).",
)
