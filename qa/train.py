"""`seedqa train`: learn the answer choice (and its refusal threshold) from real questions.

Reproducible from the data where it lies: the fit parts of the public sets under
`../shared/external/` are imported as open-domain tasks (`qa.squad`, same seed, same split by
article), our own seeds questions contribute their fit part, and every index is built with the
default encoder. Features are cached per set (keyed by the code and the encoder), so retraining
after a change of model settings costs seconds.

Honest numbers: the threshold is chosen on out-of-fold predictions (grouped k-fold, an article or
a question never on both sides), so the figures recorded beside the model are cross-validated
figures of the fit parts; the report parts are never read here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa.chooser import CHECKS, DETERMINISTIC, META_FILE, MODEL_FILE, SKIPS, THRESHOLD_CHECKS
from qa.core.errors import SeedQAError
from qa.features import COLUMNS, FEATURES, model_columns
from qa.metrics import contains_gold

# LightGBM settings: small trees, many examples per leaf (15/300/40 and 7, 31, 63 leaves were
# within noise of each other out of fold).
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "lambda_l2": 1.0,
    **DETERMINISTIC,
}
NUM_ROUNDS = 300
FEATURES_FILE = "answer_features.npz"
MAX_FALSE_REFUSALS = 0.03
# the fold draws (seeds of `group_folds`) whose out-of-fold predictions choose the threshold
FOLD_SEEDS = (0, 1, 2)
# A set of few questions (our own seeds questions: near misses written on purpose) counts as if
# it had this many, so thousands of Wikipedia questions do not drown what it teaches.
MIN_SET_WEIGHT = 500


@dataclass
class FeatureSet:
    """Candidate rows of many questions: `q[i]` is the question of row `i`."""

    name: str
    x: np.ndarray  # rows x COLUMNS (the model's FEATURES, then the checks' own)
    y: np.ndarray  # 1 when the candidate sentence contains a gold answer
    q: np.ndarray  # question index of each row
    groups: list[str]  # per question: the cross-validation group (article or question)
    answerable: np.ndarray  # per question
    # (question, sentence, gold answers, group) of answerable questions whose candidates hold a
    # gold answer: the examples of the learned span
    spans: list[tuple[str, str, list[str], str]] = field(default_factory=list)
    qweight: np.ndarray | None = None  # per question: its weight in fitting and thresholds
    # the corpus' quoted terms the engine taught jieba; a cached set teaches them again, so the
    # span examples are tokenised the same whether the features were computed or loaded
    terms: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # per question (empty in old caches)

    def weights(self) -> np.ndarray:
        return np.ones(self.n_questions) if self.qweight is None else self.qweight

    @property
    def n_questions(self) -> int:
        return len(self.groups)


def split_of(qid: str) -> str:
    """`fit` or `report` for one of our own questions: a fixed hash of its id, half and half."""
    return "fit" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0 else "report"


def collect(engine, items: Sequence, name: str, group_of: Callable[[object], str],
            progress: bool = True) -> FeatureSet:
    """Run every gold question through the engine's candidate stage and label the candidates."""
    from qa.core.progress import track

    xs, ys, qs, groups, answerable, spans, ids = [], [], [], [], [], [], []
    for item in track(items, len(items), f"features {name}", "q", progress):
        found = engine.candidates(item.question)
        if found is None:
            continue
        cands, x = found
        j = len(groups)
        groups.append(group_of(item))
        ids.append(item.id)
        answerable.append(bool(item.answers))
        xs.append(x)
        labels = [contains_gold(c.text, item.answers) if item.answers else False for c in cands]
        ys.append(np.array(labels, dtype=np.int8))
        if any(labels):
            sentence = cands[labels.index(True)].text
            spans.append((item.question, sentence, list(item.answers), groups[-1]))
        qs.append(np.full(len(cands), j, dtype=np.int32))
    return FeatureSet(
        name,
        np.concatenate(xs) if xs else np.zeros((0, len(COLUMNS)), np.float32),
        np.concatenate(ys) if ys else np.zeros(0, np.int8),
        np.concatenate(qs) if qs else np.zeros(0, np.int32),
        groups,
        np.array(answerable, dtype=bool),
        spans,
        ids=ids,
    )


# Marks in the ids of questions training made rather than found in a set: near-miss twins
# (`qa.near_miss`) and held-out questions of other holdout draws (`qa.training_data`). Figures
# tell them apart from a set's own unanswerable questions, which are what a report part holds.
MADE_MARKS = ("~near-miss", "~held")


def stack(name: str, sets: Sequence[FeatureSet]) -> FeatureSet:
    """The rows of several sets as one set of that name: groups, ids and weights as they are
    (rows of the same set drawn from different indexes, e.g. other holdout draws)."""
    xs, ys, qs, groups, ans, spans, qw, ids, terms = [], [], [], [], [], [], [], [], []
    offset = 0
    for s in sets:
        xs.append(s.x)
        ys.append(s.y)
        qs.append(s.q + offset)
        groups += s.groups
        ans.append(s.answerable)
        spans += s.spans
        qw.append(s.weights())
        ids += s.ids if s.ids else [""] * s.n_questions
        terms += s.terms
        offset += s.n_questions
    return FeatureSet(name, np.concatenate(xs), np.concatenate(ys), np.concatenate(qs), groups,
                      np.concatenate(ans), spans, np.concatenate(qw), list(dict.fromkeys(terms)),
                      ids)


def merge(sets: Sequence[FeatureSet]) -> FeatureSet:
    """All sets as one to train on: groups, ids and span groups prefixed by the set's name (no
    group spans two sets), each set weighted as if it had at least `MIN_SET_WEIGHT` questions."""
    return stack("+".join(s.name for s in sets), [
        replace(s, groups=[f"{s.name}:{g}" for g in s.groups],
                ids=[f"{s.name}:{i}" for i in s.ids],
                spans=[(q, t, g, f"{s.name}:{grp}") for q, t, g, grp in s.spans],
                qweight=s.weights() * max(1.0, MIN_SET_WEIGHT / max(s.n_questions, 1)),
                terms=[])
        for s in sets])


def fit_booster(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None):
    """The model on these rows (weighted), deterministic."""
    import lightgbm

    data = lightgbm.Dataset(model_columns(x), label=y, weight=w, feature_name=list(FEATURES),
                            free_raw_data=False)
    return lightgbm.train(PARAMS, data, num_boost_round=NUM_ROUNDS)


def group_folds(groups: Sequence[str], folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each entry: a seeded shuffle of the distinct groups (an article or a
    question), so no group is on both sides of a split."""
    uniq = sorted(set(groups))
    fold_of = dict(zip(uniq, np.random.default_rng(seed).permutation(len(uniq)) % folds,
                       strict=True))
    return np.array([fold_of[g] for g in groups])


def out_of_fold(fs: FeatureSet, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Probabilities for every row from a model that never saw its group (article/question)."""
    row_fold = group_folds(fs.groups, folds, seed)[fs.q]
    probs = np.zeros(len(fs.y))
    w = fs.weights()[fs.q]
    for k in range(folds):
        test = row_fold == k
        if not test.any():
            continue
        booster = fit_booster(fs.x[~test], fs.y[~test], w[~test])
        probs[test] = booster.predict(model_columns(fs.x[test]), num_threads=1)
    return probs


def per_question(fs: FeatureSet, probs: np.ndarray, checks: Sequence[str] | None = None,
                 skips: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(effective best probability, whether the chosen candidate is right) for every question,
    exactly as the engine decides (`AnswerModel.choose`): the first candidate of highest
    probability among those not passed over (`skips`, default `SKIPS`), and 0 when none is left
    or the chosen one's context contradicts the question (`checks`, default `CHECKS`), so it is
    always refused."""
    from qa.chooser import AnswerModel

    skips = SKIPS if skips is None else tuple(skips)
    checks = CHECKS if checks is None else tuple(checks)
    best = np.zeros(fs.n_questions)
    right = np.zeros(fs.n_questions, dtype=bool)
    if not len(probs):
        return best, right
    probs = AnswerModel.lend(fs.x, probs, fs.q)
    eligible = ~AnswerModel.contradictions(fs.x, skips)
    eff = np.where(eligible, probs, -1.0)
    order = np.lexsort((np.arange(len(eff)), -eff, fs.q))  # by question, best first
    first = order[np.r_[True, fs.q[order][1:] != fs.q[order][:-1]]]
    refused = ~eligible[first] | AnswerModel.contradictions(fs.x[first], checks)
    best[fs.q[first]] = np.where(refused, 0.0, probs[first])
    right[fs.q[first]] = fs.y[first].astype(bool)
    return best, right


def figures(best: np.ndarray, right: np.ndarray, answerable: np.ndarray, t: float,
            weights: np.ndarray | None = None, made: np.ndarray | None = None) -> dict:
    """Sentence accuracy and refusal figures of one threshold (as `seedqa eval` counts them),
    each question counted with its weight; with `made` (the near-miss twins training made), also
    the refusal recall of the set's own unanswerable questions alone."""
    w = np.ones(len(best)) if weights is None else weights
    ans, refused = answerable, best < t
    w_ans, w_un = w[ans].sum(), w[~ans].sum()

    def rate(mask: np.ndarray, den: float) -> float | None:
        return round(float(w[mask].sum() / den), 4) if den else None

    out = {
        "n": int(len(best)),
        "sentence_accuracy": rate(right & ~refused & ans, w_ans),
        "false_refusal_rate": rate(refused & ans, w_ans),
        "refusal_recall": rate(refused & ~ans, w_un),
    }
    if made is not None:
        own = ~ans & ~made
        out["refusal_recall_own"] = rate(refused & own, w[own].sum())
    return out


def pick_threshold(best: np.ndarray, answerable: np.ndarray, max_frr: float,
                   weights: np.ndarray | None = None) -> float:
    """The highest threshold whose (weighted) false-refusal rate on answerable questions stays
    ≤ `max_frr`."""
    w = np.ones(len(best)) if weights is None else weights
    order = np.argsort(best[answerable], kind="stable")
    scores, sw = best[answerable][order], w[answerable][order]
    if not len(scores):
        return 0.5
    refused = np.cumsum(sw) / sw.sum()  # share refused when the threshold is just above scores[i]
    k = int(np.searchsorted(refused, max_frr, side="right"))  # questions that may be refused
    return float(scores[min(k, len(scores) - 1)])


def save_set(path: Path, fs: FeatureSet) -> None:
    """A feature set as one compressed file (the span examples as JSON inside it)."""
    np.savez_compressed(path, x=fs.x, y=fs.y, q=fs.q, answerable=fs.answerable,
                        qweight=fs.weights(),
                        groups=np.array(fs.groups, dtype=str),
                        spans=np.array(json.dumps(fs.spans, ensure_ascii=False)),
                        terms=np.array(json.dumps(fs.terms, ensure_ascii=False)),
                        ids=np.array(fs.ids, dtype=str))


def load_set(path: Path, name: str = "cached") -> FeatureSet:
    with np.load(path) as z:
        spans = [tuple(s) for s in json.loads(str(z["spans"]))] if "spans" in z else []
        terms = json.loads(str(z["terms"])) if "terms" in z else []
        ids = [str(i) for i in z["ids"]] if "ids" in z else []
        x = z["x"]
        if x.shape[1] < len(COLUMNS):  # rows from before a check's column: missing there
            x = np.hstack([x, np.full((len(x), len(COLUMNS) - x.shape[1]), np.nan, x.dtype)])
        return FeatureSet(name, x, z["y"], z["q"], [str(g) for g in z["groups"]],
                          z["answerable"], spans, z.get("qweight"), terms, ids)


def save(out: Path, booster, meta: dict, fs: FeatureSet) -> None:
    """The model, its record and the rows it was fitted on (so a test can refit it)."""
    out.mkdir(parents=True, exist_ok=True)
    tmp_model = out / (MODEL_FILE + ".tmp")
    booster.save_model(str(tmp_model))
    save_set(out / FEATURES_FILE, FeatureSet(fs.name, fs.x, fs.y, fs.q, fs.groups, fs.answerable,
                                             qweight=fs.weights()))
    tmp_model.replace(out / MODEL_FILE)
    (out / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")


def train(sets: Sequence[FeatureSet], out: Path, folds: int = 5,
          max_frr: float = MAX_FALSE_REFUSALS, sources: dict | None = None) -> dict:
    """Cross-validate, choose the threshold, fit on everything, write the model and its record."""
    if not sets or not any(s.n_questions for s in sets):
        raise SeedQAError("no training questions; give --set NAME DOCS QUESTIONS")
    t0 = time.perf_counter()
    fs = merge(sets)
    n, draws = fs.n_questions, len(FOLD_SEEDS)
    oofs = [out_of_fold(fs, folds, seed) for seed in FOLD_SEEDS]
    # the threshold: on the model (and `THRESHOLD_CHECKS`) alone; the other checks and skips
    # refuse on top of it, and the figures below count them. Chosen on the out-of-fold
    # predictions of all fold draws together, each question once per draw (so the figures are
    # the draws' mean): one draw's pick moved by 0.015 with the draw alone.
    alone, right_alone = (np.concatenate(a) for a in zip(
        *(per_question(fs, oof, THRESHOLD_CHECKS, ()) for oof in oofs), strict=True))
    answerable, weights = np.tile(fs.answerable, draws), np.tile(fs.weights(), draws)
    threshold = pick_threshold(alone, answerable, max_frr, weights)
    best, right = (np.concatenate(a) for a in zip(*(per_question(fs, oof) for oof in oofs),
                                                  strict=True))
    cv = {"all": figures(best, right, answerable, threshold, weights)}
    cv_alone = {"all": figures(alone, right_alone, answerable, threshold, weights)}
    # the questions `qa.training_data` made (`MADE_MARKS`: twins, other holdout draws), told
    # apart from the set's own unanswerable questions
    made = np.array([any(m in i for m in MADE_MARKS) for i in fs.ids]) \
        if len(fs.ids) == n else None
    start = 0
    for s in sets:
        rows = np.concatenate([np.arange(start, start + s.n_questions) + d * n
                               for d in range(draws)])
        cv[s.name] = figures(best[rows], right[rows], answerable[rows], threshold,
                             made=None if made is None else np.tile(made, draws)[rows])
        start += s.n_questions
    for fig in (*cv.values(), *cv_alone.values()):
        fig["n"] //= draws  # questions, not question-draws
    booster = fit_booster(fs.x, fs.y, fs.weights()[fs.q])
    span_meta = train_spans(fs.spans, Path(out), folds)
    meta = {
        "features": list(FEATURES),
        "threshold": round(threshold, 6),
        "max_false_refusal_rate": max_frr,  # of the model alone (see `THRESHOLD_CHECKS`)
        "checks": list(CHECKS),
        "threshold_checks": list(THRESHOLD_CHECKS),
        "skips": list(SKIPS),
        "params": PARAMS,
        "num_rounds": NUM_ROUNDS,
        "folds": folds,
        "fold_seeds": list(FOLD_SEEDS),
        "trained_on": {
            s.name: {"questions": s.n_questions, "answerable": int(s.answerable.sum()),
                     "candidates": int(len(s.y)), "positive": int(s.y.sum())}
            for s in sets
        },
        "sources": sources or {},
        "cross_validated": cv,  # as the engine decides: model, threshold, checks and skips
        "cross_validated_model_alone": cv_alone,  # the threshold's rule (`THRESHOLD_CHECKS`)
        "span_cross_validated": span_meta["cross_validated"],
        "seconds": round(time.perf_counter() - t0, 1),
    }
    save(Path(out), booster, meta, fs)
    return meta


def train_spans(examples: Sequence[tuple[str, str, list[str], str]], out: Path,
                folds: int = 5) -> dict:
    """Fit the span scorer and record cross-validated EM/F1 of the ways to choose a span.

    `rule_then_learned` (the product: a typed rule where one fits, else the learned span),
    `learned` (always the learned span), `rule_or_sentence` (the rules alone, as before).
    """
    from qa.metrics import best_span_scores
    from qa.span_model import META_FILE as SPAN_META
    from qa.span_model import MODEL_FILE as SPAN_MODEL
    from qa.span_model import SPAN_FEATURES, fit_span_booster, training_rows

    x, y, ex, kept = training_rows(examples)
    if not len(y):
        raise SeedQAError("no span examples: none of the training answers fell on word bounds")
    row_fold = group_folds([k["group"] for k in kept], folds)[ex]
    oof = np.zeros(len(y))
    for k in range(folds):
        test = row_fold == k
        if test.any():
            oof[test] = fit_span_booster(x[~test], y[~test]).predict(x[test], num_threads=1)
    # per example: EM/F1 of the rule span (None where no rule fits), of the learned span, of the
    # whole sentence, and the learned span's score
    starts = np.searchsorted(ex, np.arange(len(kept)))
    rule_s, learned_s, sentence_s, tops = [], [], [], []
    for k, rec in enumerate(kept):
        rows = oof[starts[k]: starts[k] + len(rec["spans"])]
        s, e = rec["spans"][int(np.argmax(rows))]
        tops.append(float(rows.max()))
        sentence = rec["sentence"]
        learned_s.append(best_span_scores(sentence[s:e], rec["golds"]))
        sentence_s.append(best_span_scores(sentence, rec["golds"]))
        rule = rec["rule"]
        rule_s.append(best_span_scores(sentence[rule[0]:rule[1]], rec["golds"]) if rule
                      else (np.nan, np.nan))
    ls, ss, rs = np.array(learned_s), np.array(sentence_s), np.array(rule_s)
    has_rule, top = ~np.isnan(rs[:, 0]), np.array(tops)

    def product(use_rules: bool, cut: float) -> np.ndarray:
        """Mean (EM, F1) of one way to choose: [rule if it fits], else the learned span when
        its score is at least `cut`, else the whole sentence."""
        pick = np.where((top >= cut)[:, None], ls, ss)
        if use_rules:
            pick = np.where(has_rule[:, None], rs, pick)
        return pick.mean(0)

    cuts = np.round(np.linspace(0.0, 0.5, 51), 3)
    ways = {(u, float(c)): product(u, c) for u in (False, True) for c in cuts}
    # the product's way: the best EM + F1 out of fold
    use_rules, min_confidence = max(ways, key=lambda w: ways[w].sum())
    n = max(len(kept), 1)
    totals = {
        "learned": product(False, 0.0) * n,
        "rule_then_learned": product(True, 0.0) * n,
        "rule_or_sentence": np.where(has_rule[:, None], rs, ss).mean(0) * n,
        "chosen": ways[(use_rules, min_confidence)] * n,
    }
    booster = fit_span_booster(x, y)
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / SPAN_MODEL))
    meta = {
        "features": list(SPAN_FEATURES),
        "examples": len(kept),
        "examples_without_exact_candidate": int(sum(
            1 for k in range(len(kept)) if not y[starts[k]: starts[k] + len(kept[k]["spans"])].any())),
        "rows": int(len(y)),
        "cross_validated": {k: {"span_em": round(float(v[0]) / n, 4),
                                "span_f1": round(float(v[1]) / n, 4)} for k, v in totals.items()},
        # the product's way (`chosen`): typed rules first or not, and the learned span's score
        # below which the whole sentence is shown, by EM + F1 out of fold
        "use_rules": bool(use_rules),
        "min_confidence": min_confidence,
    }
    (out / SPAN_META).write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n",
                                 encoding="utf-8")
    return meta
