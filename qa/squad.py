"""Turn a SQuAD-format reading-comprehension set into an open-domain seedqa task.

A SQuAD file pairs each question with the one paragraph that answers it; seedqa searches a whole
folder. Writing every article as a document and the questions as a gold file makes the set a
realistic test: the right passage must be found among all of them. Holding some paragraphs out
of the documents turns their questions into near-miss unanswerables (sibling paragraphs of the
same article stay in), which is exactly the case a refusal must handle. A held-out question is
kept as unanswerable only when none of its gold answers occurs anywhere in the kept documents;
otherwise the documents may well answer it, and it is dropped rather than mislabelled.

Articles are split by a seeded shuffle into a `fit` part (for choosing weights and training) and a
`report` part (only for reporting): no paragraph is on both sides.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

from qa.core.errors import SeedQAError
from qa.metrics import strip_ws

PARTS = ("all", "fit", "report")


@dataclass(frozen=True, slots=True)
class ImportStats:
    articles: int
    paragraphs_kept: int
    paragraphs_held_out: int
    answerable: int
    unanswerable: int
    dropped: int


def _slug(title: str) -> str:
    """A file-name-safe version of an article title (keeps CJK, drops path characters)."""
    s = re.sub(r"[^\w\u3400-\u9fff-]+", "_", title).strip("_")
    return s[:40] or "article"


def _load(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise SeedQAError(f"no such file: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SeedQAError(
            f"{path} is not a SQuAD JSON file ({exc}); expected {{\"data\": [...]}}"
        ) from None
    except OSError as exc:
        raise SeedQAError(f"cannot read {path}: {exc.strerror or exc}") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise SeedQAError(f"{path} has no 'data' list; expected SQuAD format")
    _check_shape(path, articles)
    return articles


def _check_shape(path: Path, articles: list) -> None:
    """Fail with the JSON path of the first entry that is not shaped like SQuAD (not a traceback).

    Missing or null lists are fine (read as empty); a value of the wrong type is not.
    """

    def objects(value: object, where: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise SeedQAError(f"{path}: {where} must be a list of objects; expected SQuAD format")
        return value

    for ai, art in enumerate(objects(articles, "data")):
        for pi, p in enumerate(objects(art.get("paragraphs"), f"data[{ai}].paragraphs")):
            for qi, qa in enumerate(objects(p.get("qas"), f"data[{ai}].paragraphs[{pi}].qas")):
                objects(qa.get("answers"), f"data[{ai}].paragraphs[{pi}].qas[{qi}].answers")


def split_articles(n: int, seed: int, report_fraction: float) -> tuple[set[int], set[int]]:
    """(fit, report) article indices: a seeded shuffle, the last `report_fraction` reported."""
    order = list(range(n))
    random.Random(f"split:{seed}").shuffle(order)
    n_report = round(n * report_fraction)
    return set(order[n_report:]), set(order[:n_report])


def import_squad(
    path: Path,
    out: Path,
    holdout: float = 0.1,
    seed: int = 0,
    part: str = "all",
    report_fraction: float = 0.3,
    name: str | None = None,
    holdout_seed: int | None = None,
) -> ImportStats:
    """Write `out/docs/*.txt` and `out/questions.jsonl` from the SQuAD file at `path`.

    `seed` splits the articles and, unless `holdout_seed` is given, chooses the held-out
    paragraphs: another `holdout_seed` holds out other paragraphs of the same side, which is how
    training gets more real unanswerable questions of the same articles
    (`qa.training_data.HOLDOUT_VIEWS`)."""
    if part not in PARTS:
        raise SeedQAError(f"unknown part {part!r}; use one of {', '.join(PARTS)}")
    if not 0.0 <= holdout < 1.0:
        raise SeedQAError(f"--holdout must be in [0, 1), got {holdout}")
    if not 0.0 <= report_fraction <= 1.0:
        raise SeedQAError(f"--report-fraction must be in [0, 1], got {report_fraction}")
    articles = _load(Path(path))
    style = name or re.sub(r"[^a-z0-9]+", "", Path(path).stem.lower().split("_")[0]) or "squad"
    fit, report = split_articles(len(articles), seed, report_fraction)
    side = fit if part == "fit" else report
    chosen = [i for i in range(len(articles)) if part == "all" or i in side]

    # every paragraph of the chosen articles, then a seeded choice of the held-out ones
    paras = [(ai, pi) for ai in chosen for pi in range(len(articles[ai].get("paragraphs") or []))]
    rng = random.Random(f"holdout:{seed if holdout_seed is None else holdout_seed}")
    held = set(rng.sample(paras, round(len(paras) * holdout))) if paras and holdout else set()

    docs_dir = Path(out) / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for old in docs_dir.glob("*.txt"):
        old.unlink()
    kept_text: list[str] = []
    names: dict[int, str] = {}
    for n, ai in enumerate(chosen):
        art = articles[ai]
        # one line: a line break in a title would shift the title/paragraph layout
        title = " ".join(str(art.get("title") or f"article {ai}").split())
        body = [
            str(p.get("context") or "").strip()
            for pi, p in enumerate(art.get("paragraphs") or [])
            if (ai, pi) not in held
        ]
        body = [b for b in body if b]
        names[ai] = f"{n:04d}_{_slug(title)}.txt"
        if not body:
            continue
        text = title + "\n\n" + "\n\n".join(body) + "\n"
        (docs_dir / names[ai]).write_text(text, encoding="utf-8")
        kept_text.append(strip_ws(text))
    corpus = "\n".join(kept_text)

    rows, answerable, unanswerable, dropped = [], 0, 0, 0
    for ai in chosen:
        for pi, p in enumerate(articles[ai].get("paragraphs") or []):
            for qa in p.get("qas") or []:
                question = str(qa.get("question") or "").strip()
                golds = list(dict.fromkeys(
                    str(a.get("text") or "").strip() for a in qa.get("answers") or []
                ))
                golds = [g for g in golds if g]
                if not question or not golds:
                    continue
                if (ai, pi) in held:
                    if any(strip_ws(g) in corpus for g in golds):
                        dropped += 1
                        continue
                    golds, kind = [], "unanswerable"
                    unanswerable += 1
                else:
                    kind = "answerable"
                    answerable += 1
                rows.append({
                    "id": str(qa.get("id") or f"{ai}-{pi}-{len(rows)}"),
                    "question": question,
                    "answers": golds,
                    "doc": names[ai],
                    "type": kind,
                    "style": style,
                })
    with open(Path(out) / "questions.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return ImportStats(
        articles=len(chosen),
        paragraphs_kept=len(paras) - len(held),
        paragraphs_held_out=len(held),
        answerable=answerable,
        unanswerable=unanswerable,
        dropped=dropped,
    )
