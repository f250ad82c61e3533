"""Where `seedqa train` gets its questions: imported public sets and our own, with features cached.

Features are cached per set in the work folder, keyed by the code that computes them and the
encoder, so a change of training settings retrains in seconds while a change of features or
encoder recomputes them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.core.errors import SeedQAError
from qa.evaluate import GoldItem, load_gold
from qa.lexical import add_words, quoted_terms
from qa.metrics import strip_ws
from qa.near_miss import entity_pool, make_near_misses
from qa.squad import import_squad
from qa.train import collect, load_set, save_set, split_of

SEED = 0
HOLDOUT = 0.1
REPORT_FRACTION = 0.3
# share of answerable training questions that get a near-miss twin (`qa.near_miss`)
NEAR_MISS_SHARE = 0.5
# share of those twins whose changed place, person or organisation is named elsewhere in the
# corpus but not in the source question's document (`qa.near_miss`: the hard kind)
HARD_SHARE = 0.5
TWIN = "~near-miss"
# (name, docs, questions, cross-validation group: by article `doc` or by question `id`)
Spec = tuple[str, Path, Path, str]


def default_sets(work: Path, root: Path, external: Path) -> list[Spec]:
    """The shipped model's recipe: fit parts only (the report parts are never read)."""
    specs: list[Spec] = []
    for name, src in (("cmrc2018", external / "cmrc2018_trial.json"),
                      ("drcd", external / "DRCD_dev.json")):
        if not src.exists():
            raise SeedQAError(f"{src} is missing; put the public sets there or pass --set")
        dest = work / f"{name}-fit"
        if not (dest / "questions.jsonl").exists():
            import_squad(src, dest, HOLDOUT, SEED, "fit", REPORT_FRACTION, name)
        specs.append((name, dest / "docs", dest / "questions.jsonl", "doc"))
    seeds_fit = root / "data" / "seeds_fit.jsonl"
    if seeds_fit.exists():
        specs.append(("seeds", root / "seeds", seeds_fit, "id"))
    dev = root / "data" / "dev_questions.jsonl"
    if dev.exists():
        specs.append(("dev", root / "seeds", dev, "id"))
    return specs


def _code_key(model: str | None) -> str:
    import qa.chunks
    import qa.crosslingual
    import qa.engine
    import qa.features
    import qa.lexical
    import qa.metrics
    import qa.near_miss
    import qa.question
    import qa.retrieve
    import qa.spans
    import qa.train

    h = hashlib.sha256(str(model).encode())
    # this module (the twins it adds) and the labelling (`qa.train.collect`, `contains_gold`) too
    for mod in (qa.features, qa.near_miss, qa.question, qa.spans, qa.lexical, qa.retrieve, qa.chunks,
                qa.engine, qa.crosslingual, qa.train, qa.metrics):
        h.update(Path(mod.__file__).read_bytes())
    h.update(Path(__file__).read_bytes())
    return h.hexdigest()[:12]


def _shown(path: Path) -> str:
    """A path as the record shows it: relative to the working folder when inside it, so the
    record does not name the machine it was trained on."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read(questions: Path) -> tuple[list[GoldItem], str]:
    """A question file's items and the digest its cached features are filed under, of the same
    contents: a file edited while training starts would otherwise file the old questions'
    features under the new contents, and every later run would reuse them."""
    before = _digest(questions)
    items = load_gold(questions)
    if _digest(questions) != before:
        raise SeedQAError(f"{questions} changed while it was read; run the command again")
    return items, before


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError as e:
        raise SeedQAError(f"cannot read {path}: {e.strerror or e}") from None


def feature_sets(specs, work: Path, model: str | None, progress: bool = True):
    """One `FeatureSet` per spec (cached), and a record of where each came from.

    Each set also gets near-miss twins of a share of its answerable questions (`qa.near_miss`),
    in the same cross-validation group as their source, as unanswerable examples.
    """
    from qa.engine import SeedQA
    from qa.features import simple

    work.mkdir(parents=True, exist_ok=True)
    out, sources = [], {}
    key = _code_key(model)
    loaded = [(spec, *_read(Path(spec[2]))) for spec in specs]
    pool = entity_pool(i.question for _spec, items, _digest in loaded for i in items)
    for spec, items, digest in loaded:
        name, docs, questions = spec[0], Path(spec[1]), Path(spec[2])
        group_by = spec[3] if len(spec) > 3 else (
            "doc" if len({i.doc for i in items}) >= 10 else "id")
        cache = work / f"features-{name}-{digest}-{key}.npz"
        sources[name] = {"docs": _shown(docs), "questions": _shown(questions), "sha256": digest,
                         "group_by": group_by}
        if cache.exists():
            fs = load_set(cache, name)
            add_words(fs.terms)
            out.append(fs)
            continue
        engine = SeedQA.open(docs, model=model, progress=progress)
        texts = [(c.doc, simple(f"{c.title}{c.text}")) for c in engine.chunks]
        corpus = strip_ws("".join(t for _doc, t in texts))
        documents: dict[str, list[str]] = {}
        for doc, t in texts:
            documents.setdefault(doc, []).append(t)
        twins = [
            GoldItem(f"{item.id}{TWIN}", changed, (), "unanswerable", "near_miss_made", item.doc)
            for item, changed, _change in make_near_misses(
                items, corpus, pool, NEAR_MISS_SHARE, SEED,
                {d: strip_ws("".join(t)) for d, t in documents.items()}, HARD_SHARE)
        ]
        if group_by == "doc":
            def group_of(i):
                return i.doc or i.id.removesuffix(TWIN)
        else:
            def group_of(i):
                return i.id.removesuffix(TWIN)
        fs = collect(engine, [*items, *twins], name, group_of, progress)
        fs.terms = quoted_terms(engine.chunks)
        save_set(cache, fs)
        out.append(fs)
    return out, sources


__all__ = ["default_sets", "feature_sets", "split_of"]
