"""What every subcommand shares: the `--docs`/`--index`/`--model` options, the one-line error,
and opening the engine. Subcommands import this module, never each other.

`ask`, `index`, `eval` and `chat` all open the same engine, so they must spell and document these
options identically.
"""

from __future__ import annotations

import os
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
    help="Folder of documents (.txt, .md, .pdf, .docx, .html) to answer from.",
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
    help="Where the vectors and the BM25 index live: FAISS and bm25s files in the index folder, "
    "or Milvus (its BM25 function for keywords; milvus-lite file INDEX/milvus.db, or see "
    "--milvus-uri).",
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


_milvus_uri = click.option(
    "--milvus-uri",
    "milvus_uri",
    default=None,
    metavar="URI",
    expose_value=False,
    callback=_remember,
    help="Where --store milvus keeps the index: a local path ending in .db is a milvus-lite file, "
    "http://host:19530 a Milvus server (SEEDQA_MILVUS_TOKEN from the environment for a secured "
    "one). Sets SEEDQA_MILVUS_URI; default: that variable, else INDEX/milvus.db.",
)


live_option = click.option(
    "--from-milvus",
    "from_milvus",
    is_flag=True,
    expose_value=False,
    callback=_remember,
    help="Answer from the index version Milvus names live (--milvus-uri; the set is "
    "SEEDQA_MILVUS_SET, else named after the --index folder): reads neither the documents nor "
    "the index folder, only the encoder (an index built with --store milvus).",
)


def store_option(f):
    """`--store`, `--index-type` and `--milvus-uri`, on every command that builds or opens an
    index."""
    return _store(_index_type(_milvus_uri(f)))


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
    if meta.get("seedqa.milvus_uri"):
        # the stores read it when they connect (`qa.stores.milvus_store._resolve`)
        os.environ["SEEDQA_MILVUS_URI"] = meta["seedqa.milvus_uri"]
    try:
        if meta.get("seedqa.from_milvus"):
            return _open_live(docs, index, model, verify)
        return SeedQA.open(Path(docs), index_dir=index, model=model, progress=True,
                           rebuild=rebuild, vector_store=meta.get("seedqa.store") or "faiss",
                           index_type=meta.get("seedqa.index_type") or "auto", verify=verify)
    except SeedQAError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)


def _open_live(docs: str | Path, index: str | Path | None, model: str | None, verify: bool):
    """`--from-milvus`: the engine over what Milvus names live (`qa.index.open_live`), without
    building: no documents folder or index files are needed here."""
    from embeddings import load_encoder
    from qa.engine import SeedQA
    from qa.index import default_index_dir, open_live

    index_dir = Path(index) if index else default_index_dir(Path(docs))
    encoder = load_encoder(model)
    return SeedQA(open_live(index_dir, encoder, verify=verify), encoder, Path(docs))
