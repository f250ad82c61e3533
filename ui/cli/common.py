"""What every subcommand shares: the `--docs`/`--index`/`--model` options, the one-line error,
and opening the engine. Subcommands import this module, never each other.

`ask`, `index`, `eval` and `chat` all open the same engine, so they must spell and document these
options identically.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from qa.core.errors import SeedQAError

docs_option = click.option(
    "--docs",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("seeds"),
    show_default=True,
    help="Folder of documents (.txt/.md) to answer from.",
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


def _remember(ctx: click.Context, param: click.Parameter, value: str) -> str:
    ctx.meta[f"seedqa.{param.name}"] = value
    return value


_store = click.option(
    "--store",
    type=click.Choice(["faiss", "milvus"]),
    default="faiss",
    show_default=True,
    expose_value=False,
    callback=_remember,
    help="Where the vectors live: FAISS files in the index folder, or Milvus (milvus-lite file "
    "INDEX/milvus.db, or SEEDQA_MILVUS_URI=http://host:19530 with SEEDQA_MILVUS_TOKEN).",
)
_index_type = click.option(
    "--index-type",
    "index_type",
    type=click.Choice(["auto", "flat", "ivf"]),
    default="auto",
    show_default=True,
    expose_value=False,
    callback=_remember,
    help="FAISS passage index: exact below SEEDQA_IVF_MIN passages (100,000) and IVF with 8-bit "
    "vectors from there (auto), or always one of them; a built index of another type is rebuilt.",
)


def store_option(f):
    """`--store` and `--index-type`, on every command that builds or opens an index."""
    return _store(_index_type(f))


def fail(message: str, code: int = 1) -> NoReturn:
    """The CLI's one-line error (`seedqa: error: ...`) and a non-zero exit, never a traceback."""
    click.echo(f"seedqa: error: {message}", err=True)
    sys.exit(code)


def open_engine(docs: str | Path, index: str | Path | None, model: str | None,
                rebuild: bool = False, verify: bool = False):
    """Open the engine for a command, turning a user-fixable failure into a one-line error."""
    from qa.engine import SeedQA

    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx else {}
    try:
        return SeedQA.open(Path(docs), index_dir=index, model=model, progress=True,
                           rebuild=rebuild, vector_store=meta.get("seedqa.store") or "faiss",
                           index_type=meta.get("seedqa.index_type") or "auto", verify=verify)
    except SeedQAError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
