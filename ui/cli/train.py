"""`seedqa train`: retrain the answer model from the fit parts of the question sets.

With no `--set`, the recipe behind the shipped model: the fit parts of CMRC 2018 and DRCD from
`../shared/external/` (imported with `qa.squad`, seed 0, 30 % of articles kept aside for
reporting, 10 % of paragraphs held out, and six more draws of held-out paragraphs for more
unanswerable questions), the fit half of our own seeds questions and the public dev questions,
all over indexes built with the default encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from qa.core.errors import SeedQAError
from ui.cli.common import fail, model_option

ROOT = Path(__file__).resolve().parents[2]  # the repository
EXTERNAL = ROOT.parent / "shared" / "external"



@click.command("train")
@click.option("--set", "sets", multiple=True, nargs=3, metavar="NAME DOCS QUESTIONS",
              help=("A question set to train on (repeatable); default: the fit sides of "
                    "../shared/external CMRC 2018 and DRCD, data/seeds_fit.jsonl, "
                    "data/dev_questions.jsonl."))
@click.option("--work", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".seedqa-train"), show_default=True,
              help="Folder for imported sets, their indexes and cached features.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the model [qa/models].")
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True)
@model_option
@click.option("--progress/--no-progress", default=True)
def train_cmd(sets, work: Path, out: Path | None, folds: int, model: str | None,
              progress: bool) -> None:
    """Train the answer choice on real questions; write the model and its record."""
    from qa.chooser import MODEL_DIR
    from qa.train import train
    from qa.training_data import default_sets, feature_sets

    try:
        specs = [(n, Path(d), Path(q)) for n, d, q in sets] or default_sets(work, ROOT, EXTERNAL)
        fsets, sources = feature_sets(specs, work, model, progress)
        meta = train(fsets, out or MODEL_DIR, folds=folds, sources=sources)
    except SeedQAError as exc:
        fail(str(exc))
    click.echo(json.dumps(meta["cross_validated"], ensure_ascii=False, indent=1))
    click.echo(f"threshold {meta['threshold']:.4f}; wrote {out or MODEL_DIR}")
