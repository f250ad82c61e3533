"""`seedqa eval`: score the engine on a gold question file and write a report folder.

The engine and the report writer (matplotlib) load inside the command, so `seedqa --help` stays
fast.
"""

from __future__ import annotations

from pathlib import Path

import click

from qa.core.errors import SeedQAError
from qa.core.modes import MODES
from ui.cli.common import docs_option, fail, index_option, model_option, open_engine, store_option


def parse_modes(mode: str | None, compare: str | None) -> list[str]:
    """The modes to run, in order: `--compare a,b,c`, else `--mode`, else hybrid."""
    if mode and compare:
        raise click.UsageError("use --mode or --compare, not both")
    if not compare:
        return [mode or "hybrid"]
    modes = list(dict.fromkeys(m.strip().lower() for m in compare.split(",") if m.strip()))
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise click.BadParameter(
            f"{', '.join(bad) or 'nothing'} is not a mode; give a comma-separated list of "
            f"{', '.join(MODES)}",
            param_hint="--compare",
        )
    return modes


@click.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@docs_option
@index_option
@model_option
@store_option
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval-out"),
    show_default=True,
    help="Folder for report.json, report.md, results.csv and the plots.",
)
@click.option("--mode", type=click.Choice(MODES), default=None, help="Retrieval mode [hybrid].")
@click.option("--compare", default=None, metavar="MODE,MODE,...", help="Run several modes.")
@click.option("--top-k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--progress/--no-progress", default=True, help="Progress bars on stderr.")
def eval_cmd(
    file: Path,
    docs: Path,
    index: Path | None,
    model: str | None,
    out_dir: Path,
    mode: str | None,
    compare: str | None,
    top_k: int,
    progress: bool,
) -> None:
    """Answer the questions of FILE (JSONL with id, question, answers) and score the answers.

    Prints the overall table (one column per mode) and writes the report folder. Gold answers
    are read for scoring only; the engine is given each question's text alone.
    """
    from qa.evaluate import evaluate, load_gold
    from ui.report import overall_table, write_report

    modes = parse_modes(mode, compare)
    try:
        gold = load_gold(file)  # a bad gold file fails before the model loads, not after
    except SeedQAError as e:
        fail(str(e), 2)
    engine = open_engine(docs, index, model)
    try:
        report = evaluate(
            engine,
            gold,
            modes,
            top_k=top_k,
            progress=progress,
            settings={"gold": str(file), "docs": str(docs), "index": str(index) if index else None,
                      "model": model},
        )
        paths = write_report(report, out_dir)
    except SeedQAError as e:
        fail(str(e), 1)
    except OSError as e:
        fail(f"cannot write the report to {out_dir}: {e.strerror or e}", 1)
    click.echo(overall_table(report))
    click.echo(f"\nwrote {', '.join(str(p) for p in paths.values())}")
