"""`seedqa import-squad`: a SQuAD-format set (CMRC 2018, DRCD, ...) as a documents folder and a
gold question file, ready for `seedqa eval --docs DIR/docs DIR/questions.jsonl` and `seedqa train`.
"""

from __future__ import annotations

from pathlib import Path

import click

from qa.core.errors import SeedQAError
from qa.squad import PARTS, import_squad
from ui.cli.common import fail


@click.command("import-squad")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write docs/ and questions.jsonl into.")
@click.option("--holdout", type=float, default=0.1, show_default=True,
              help="Fraction of paragraphs left out of docs/; their questions become unanswerable.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the splits.")
@click.option("--part", type=click.Choice(PARTS), default="all", show_default=True,
              help="Articles to write: all, or the fit / report side of a split by article.")
@click.option("--report-fraction", type=float, default=0.3, show_default=True,
              help="Share of articles on the report side (with --part).")
@click.option("--name", default=None, help="The set's name for the `style` field [file stem].")
def import_cmd(file: Path, out: Path, holdout: float, seed: int, part: str,
               report_fraction: float, name: str | None) -> None:
    """Write FILE's articles as OUT/docs/*.txt and its questions as OUT/questions.jsonl."""
    try:
        s = import_squad(file, out, holdout, seed, part, report_fraction, name)
    except SeedQAError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"cannot write to {out}: {exc.strerror or exc}", 1)
    click.echo(
        f"{s.articles} articles, {s.paragraphs_kept} paragraphs kept, "
        f"{s.paragraphs_held_out} held out; {s.answerable} answerable and {s.unanswerable} "
        f"unanswerable questions ({s.dropped} dropped: answer found elsewhere) -> {out}"
    )
