"""`seedqa chat`: open the engine on a folder and serve the chat window in the browser.

Gradio and the engine are imported inside the command: `seedqa ask` should not pay for importing
a web framework. Option values are checked before the engine is opened, so
a typo in `--auth` costs no index load.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import click

from qa.core.errors import SeedQAError
from qa.core.offline import offline_env
from ui.cli.common import (
    docs_option,
    fail,
    index_option,
    live_option,
    model_option,
    open_engine,
    store_option,
)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`USER:PASS` -> (user, pass); raises SeedQAError with a one-line fix otherwise."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        # The value is not echoed back: it may hold a real password.
        raise SeedQAError(
            "--auth expects USER:PASS with both parts non-empty, e.g. --auth alice:s3cret"
        )
    return user.strip(), password


def parse_share_server(value: str | None) -> str | None:
    """`HOST:PORT` of a self-hosted frp server, checked before anything starts."""
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SeedQAError(
            f"--share-server expects HOST:PORT (e.g. frp.example.org:7000), got {value!r}"
        )
    return value



def _port_free(host: str, port: int) -> bool:
    """Whether `host:port` can be bound now: checked before the engine loads, to fail fast."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError:
        return False
    return True


def _port_taken(host: str, port: int) -> None:
    fail(f"cannot serve on {host}:{port} (port in use or address not available); "
         "choose another with --port.")


@click.command("chat")
@docs_option
@index_option
@model_option
@store_option
@live_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=7860, show_default=True, help="Port."
)
@click.option("--share", is_flag=True, help="Also ask Gradio for a temporary public link.")
@click.option("--auth", default=None, metavar="USER:PASS", help="Require this login.")
@click.option(
    "--share-server",
    default=None,
    metavar="HOST:PORT",
    help="Self-hosted frp server for --share instead of Gradio's.",
)
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=50, show_default=True,
              help="Largest file the chat window accepts.")
@click.option("--max-upload-files", type=click.IntRange(1), default=20, show_default=True,
              help="Most files in one upload.")
@click.option("--allow-upload", is_flag=True,
              help="Allow uploads on a --share link without --auth (off by default there).")
@click.option("--no-upload", is_flag=True, help="No document panel: answer only.")
def chat_cmd(
    docs: Path,
    index: Path | None,
    model: str | None,
    host: str,
    port: int,
    share: bool,
    auth: str | None,
    share_server: str | None,
    max_upload_mb: float,
    max_upload_files: int,
    allow_upload: bool,
    no_upload: bool,
) -> None:
    """Chat with the documents in a browser: cited, verbatim answers. Files can be added to (or
    removed from) DOCS in the window; on a public --share link without --auth only with
    --allow-upload, since anyone with the link could write to the folder. With --from-milvus
    (one of several chat servers answering from one Milvus) there is no documents panel: the
    documents are not here, and the index changes where it is built."""
    try:
        login = parse_auth(auth)
        server = parse_share_server(share_server)
    except SeedQAError as e:
        fail(str(e), 2)
    if server and not share:
        click.echo("Note: --share-server has no effect without --share.", err=True)
    live = bool(click.get_current_context().meta.get("seedqa.from_milvus"))
    upload = not no_upload and not live and (allow_upload or not share or login is not None)
    if share and login is None and not no_upload and not allow_upload and not live:
        click.echo("Note: uploads are off on a public link without --auth (--allow-upload turns "
                   "them on).", err=True)
    if not _port_free(host, port):
        _port_taken(host, port)
    offline_env()  # before Gradio is imported: it reads these at import time
    from ui.app import build_app, launch

    click.echo("Opening the index Milvus names live ..." if live
               else f"Opening the documents in {docs} ...", err=True)
    try:
        engine = open_engine(docs, index, model)
        app = build_app(engine, upload=upload, max_upload_mb=max_upload_mb,
                        max_upload_files=max_upload_files)
    except SeedQAError as e:
        fail(str(e))
    warm_up = getattr(engine, "warm_up", None)
    if warm_up is not None:  # while the server starts and nobody asks yet
        threading.Thread(target=warm_up, name="seedqa-warm-up", daemon=True).start()
    try:
        launch(app, host=host, port=port, share=share, auth=login, share_server=server)
    except OSError:  # taken between the check and the bind
        _port_taken(host, port)
