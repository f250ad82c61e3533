"""`seedqa index` and `seedqa ask`: build the index of a folder; answer one question, a stream of
them with follow-ups, or a batch file.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import click

from qa.core.errors import SeedQAError
from qa.core.modes import MODES
from ui.cli.common import (
    docs_option,
    fail,
    index_option,
    live_option,
    model_option,
    open_engine,
    store_option,
)


@click.command()
@docs_option
@index_option
@model_option
@store_option
@click.option("--rebuild", is_flag=True, help="Rebuild even if the index is up to date.")
@click.option("--verify", is_flag=True,
              help="Hash every index file (an index over 64 MB is otherwise checked by sizes at "
              "open); a damaged one is rebuilt.")
def index(docs: str, index: str | None, model: str | None, rebuild: bool, verify: bool) -> None:
    """Build (or refresh) the index of DOCS. Unchanged passages are never re-embedded."""
    engine = open_engine(docs, index, model, rebuild=rebuild, verify=verify)
    m = engine.index.manifest
    kind = m.get("passage_index") or {}
    click.echo(
        f"{m['chunks']} passages from {m['files']} files, encoder {m['encoder']}, "
        f"{kind.get('type', 'flat')} search, index {engine.index.folder}"
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
        where = f"出处 [{ans.source}] {ans.location.label()} · " if ans.location else ""
        click.echo(f"{where}置信度 {ans.confidence:.2f}")
    for c in ans.citations:
        title = f" {c.title}" if c.title else ""
        click.echo(f"[{c.n}] {c.location.label()}{title} (score {c.score:.3f})")
        snippet = c.text.replace("\n", " ")
        click.echo(f"    {snippet[:120]}{'…' if len(snippet) > 120 else ''}")


@click.command()
@click.argument("question", required=False)
@docs_option
@index_option
@model_option
@store_option
@live_option
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
        fail("give either a QUESTION or --batch FILE, not both", 2)
    if out and not batch:
        fail("--out goes with --batch FILE", 2)
    if batch:
        from ui.batch import check_paths, run_batch

        if not Path(batch).is_file():
            fail(f"batch file '{batch}' does not exist", 2)
        try:  # a wrong extension fails before the model loads
            check_paths(Path(batch), Path(out) if out else None)
        except SeedQAError as exc:
            fail(str(exc), 2)
        engine = open_engine(docs, index, model)
        try:
            failed = run_batch(engine, Path(batch), Path(out) if out else None, top_k=top_k, mode=mode)
        except SeedQAError as exc:
            fail(str(exc), 2)
        sys.exit(1 if failed else 0)
    engine = open_engine(docs, index, model)
    if question is not None:
        try:
            _print_answer(engine.answer(question, top_k=top_k, mode=mode, threshold=threshold), as_json)
        except SeedQAError as exc:
            fail(str(exc), 2)
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
