"""Where `seedqa train` gets its questions: imported public sets and our own, with features cached.

Features are cached per set in the work folder, keyed by the code that computes them and the
encoder, so a change of training settings retrains in seconds while a change of features or
encoder recomputes them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from qa.core.errors import SeedQAError
from qa.evaluate import GoldItem, load_gold
from qa.lexical import add_words, quoted_terms
from qa.metrics import strip_ws
from qa.near_miss import entity_pool, make_near_misses
from qa.squad import import_squad
from qa.train import MADE_MARKS, collect, load_set, save_set, split_of, stack

SEED = 0
HOLDOUT = 0.1
REPORT_FRACTION = 0.3
# share of answerable training questions that get a near-miss twin (`qa.near_miss`)
NEAR_MISS_SHARE = 0.5
# share of those twins whose changed place, person or organisation is named elsewhere in the
# corpus but not in the source question's document (`qa.near_miss`: the hard kind)
HARD_SHARE = 0.5
# Other draws of the held-out paragraphs of the public sets' fit articles (holdout seeds): each
# turns other questions of the same articles into real unanswerable ones, whose sibling paragraphs
# stay in, the kind a report part's refusals face; only those questions join the set (`~held`).
HOLDOUT_VIEWS = (1, 2, 3, 4, 5, 6)
# each draw's questions weigh this much (six draws weigh as three): out of fold on the fit parts
# (3 fold seeds) three draws at full weight, six at full weight and six at half weight were
# within 0.01 of each other on accuracy and refusal recall, and six at half weight refused the
# most DRCD questions of the three
HOLDOUT_VIEW_WEIGHT = 0.5
TWIN, HELD = MADE_MARKS
# (name, docs, questions, cross-validation group: by article `doc` or by question `id`
# [, views: (docs, questions) of other holdout draws of the same articles])
Spec = tuple


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
        views = []
        for k in HOLDOUT_VIEWS:
            view = work / f"{name}-fit{HELD}{k}"
            if not (view / "questions.jsonl").exists():
                import_squad(src, view, HOLDOUT, SEED, "fit", REPORT_FRACTION, name,
                             holdout_seed=k)
            views.append((view / "docs", view / "questions.jsonl"))
        specs.append((name, dest / "docs", dest / "questions.jsonl", "doc", views))
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
    # and how files become chunks (loading, cleaning, sentence ends), which the index tracks
    from qa.index_build import pipeline_id
    h.update(pipeline_id().encode())
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
    in the same cross-validation group as their source, as unanswerable examples, and the
    unanswerable questions of its other holdout draws (a spec's fifth entry, `HOLDOUT_VIEWS`).
    """
    work.mkdir(parents=True, exist_ok=True)
    out, sources = [], {}
    key = _code_key(model)
    loaded = [(spec, *_read(Path(spec[2]))) for spec in specs]
    pool = entity_pool(i.question for _spec, items, _digest in loaded for i in items)
    # twins draw their new values from every set's questions, so a set's cached twins are only
    # valid with the same question files beside it
    pool_key = hashlib.sha256(" ".join(d for *_r, d in loaded).encode()).hexdigest()[:8]
    for spec, items, digest in loaded:
        name, docs, questions = spec[0], Path(spec[1]), Path(spec[2])
        group_by = spec[3] if len(spec) > 3 else (
            "doc" if len({i.doc for i in items}) >= 10 else "id")
        cache = work / f"features-{name}-{digest}-{key}-{pool_key}.npz"
        sources[name] = {"docs": _shown(docs), "questions": _shown(questions), "sha256": digest,
                         "group_by": group_by}
        views = spec[4] if len(spec) > 4 else []
        if cache.exists():
            fs = load_set(cache, name)
            add_words(fs.terms)
        else:
            fs = _own_features(name, docs, items, pool, group_by, cache, model, progress)
        held = [_view_features(name, docs, Path(vd), Path(vq), k, items, work, key, model,
                               progress, sources)
                for k, (vd, vq) in enumerate(views, 1)]
        out.append(stack(name, [fs, *held]) if held else fs)
    return out, sources


def _view_features(name: str, docs: Path, view_docs: Path, view_questions: Path, k: int,
                   items, work: Path, key: str, model: str | None, progress: bool,
                   sources: dict):
    """The unanswerable questions of another holdout draw (`HOLDOUT_VIEWS`), over an index of
    that draw's documents; questions the set's own draw already holds out are left out, so no
    question counts twice. The index shares the set's index folder: its vectors are remembered by
    content (`qa.vector_cache`), so a draw re-embeds nothing."""
    from qa.engine import SeedQA
    from qa.index import default_index_dir

    view_items, digest = _read(view_questions)
    own = {i.id for i in items if not i.answers}
    kept = [GoldItem(f"{i.id}{HELD}{k}", i.question, (), "unanswerable", i.style, i.doc)
            for i in view_items if not i.answers and i.id not in own]
    sources[name].setdefault("holdout_views", []).append(
        {"docs": _shown(view_docs), "questions": _shown(view_questions), "sha256": digest,
         "unanswerable": len(kept)})
    cache = work / f"features-{name}{HELD}{k}-{digest}-{key}.npz"
    if cache.exists():
        fs = load_set(cache, f"{name}{HELD}{k}")
    else:
        engine = SeedQA.open(view_docs, index_dir=default_index_dir(docs), model=model,
                             progress=progress)
        fs = collect(engine, kept, f"{name}{HELD}{k}", lambda i: i.doc or i.id, progress)
        save_set(cache, fs)
    fs.qweight = np.full(fs.n_questions, HOLDOUT_VIEW_WEIGHT)  # set here: not part of the cache
    return fs


def _own_features(name: str, docs: Path, items, pool, group_by: str, cache: Path,
                  model: str | None, progress: bool):
    """A set's own questions and their near-miss twins, over an index of its documents."""
    from qa.engine import SeedQA
    from qa.features import simple

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
    return fs


__all__ = ["default_sets", "feature_sets", "split_of"]
