"""Near-miss questions made from answerable ones, so the answer model learns to refuse them.

A near miss asks about something the documents almost say: another year, another place, another
person or organisation than the one they name. Public reading-comprehension sets have almost no
such questions, and our own hand-written ones are few, so a model trained on them alone answers
a question about 2021 with a sentence about 2020. Here each answerable training question may get
a twin with one constraint changed to a value that occurs nowhere in the documents: then no
sentence can answer the twin, and every candidate is a negative example.

Only training uses this (`qa.training_data`), and only on fit parts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from qa.lexical import pos_tokens, to_simplified

_YEAR = re.compile(r"(?<!\d)((?:1[5-9]|20)\d\d)(?=年)")
_NUMBER = re.compile(r"(?<![\d.])(\d{1,4})(?![\d.年])")
_KINDS = {"ns": "place", "nr": "person", "nt": "organization"}
# roles a question may ask about; `副主席` and `主席` are different people
ROLES = ("主席", "会长", "书记", "部长", "主任", "秘书长", "局长", "市长", "院长", "校长",
         "董事长", "总经理", "理事长", "团长", "所长", "社长", "总裁", "厅长", "处长", "县长")


def entity_pool(questions: Iterable[str]) -> dict[str, list[str]]:
    """Places, persons and organisations named in questions, by kind (for replacements)."""
    pool: dict[str, set[str]] = {k: set() for k in _KINDS.values()}
    for text in questions:
        for w, flag, _s, _e in pos_tokens(to_simplified(text)):
            kind = _KINDS.get(flag)
            if kind and len(w) >= 2:
                pool[kind].add(w)
    return {k: sorted(v) for k, v in pool.items()}


def near_miss(question: str, corpus: str, pool: dict[str, list[str]],
              rng: random.Random, document: str | None = None) -> tuple[str, str] | None:
    """(changed question, what was changed) or None when nothing could be changed safely.

    The new value must occur nowhere in `corpus` (whitespace-free, simplified), so the changed
    question is unanswerable by construction. With `document` (the source question's own
    document), a changed place, person or organisation is instead one the corpus does name, but
    not that document: the hard kind of near miss, where the word is known to the index (so
    "absent from the documents" cannot give it away) and only its context contradicts it.
    """
    text = to_simplified(question)
    years = _YEAR.findall(text)
    if years:
        y = years[0]
        for delta in rng.sample([-3, -2, -1, 1, 2, 3, 5, -5], 8):
            new = str(int(y) + delta)
            if new not in corpus:
                return text.replace(y, new, 1), f"year {y}->{new}"
    role = _changed_role(text, corpus, rng)
    if role is not None:
        return role
    entities = [(w, _KINDS[f]) for w, f, _s, _e in pos_tokens(text)
                if f in _KINDS and len(w) >= 2 and w in corpus]
    if entities:
        w, kind = rng.choice(entities)
        options = [o for o in pool.get(kind, []) if o != w and o not in corpus]
        if document is not None:  # else (none named elsewhere) the usual kind
            options = [o for o in pool.get(kind, []) if o != w and o in corpus
                       and o not in document and w not in o and o not in w] or options
        if options:
            new = rng.choice(options)
            return text.replace(w, new, 1), f"{kind} {w}->{new}"
    numbers = [n for n in _NUMBER.findall(text) if n in corpus]
    if numbers:
        n = rng.choice(numbers)
        for delta in (7, 13, 3, 11):
            new = str(int(n) + delta)
            if new not in corpus:
                return text.replace(n, new, 1), f"number {n}->{new}"
    return None


def _changed_role(text: str, corpus: str, rng: random.Random) -> tuple[str, str] | None:
    """`副主席` -> `主席` when the documents never name a 主席 without 副, `主席` -> `副主席` when
    they never name a 副主席, else another role the documents never name."""
    for r in ROLES:
        if f"副{r}" in text:
            if not re.search(f"(?<!副){r}", corpus):
                return text.replace(f"副{r}", r, 1), f"role 副{r}->{r}"
            return None
        if r in text:
            if f"副{r}" not in corpus:
                return text.replace(r, f"副{r}", 1), f"role {r}->副{r}"
            others = [o for o in ROLES if o != r and o not in corpus]
            if others:
                new = rng.choice(others)
                return text.replace(r, new, 1), f"role {r}->{new}"
    return None


def make_near_misses(items: Sequence, corpus: str, pool: dict[str, list[str]],
                     share: float, seed: int, documents: dict[str, str] | None = None,
                     hard_share: float = 0.0) -> list[tuple[object, str, str]]:
    """(source item, changed question, change) for a seeded `share` of the answerable items;
    of those, a `hard_share` changed to a value named elsewhere in `documents` (by item.doc)."""
    rng = random.Random(f"near-miss:{seed}")
    hard_rng = random.Random(f"near-miss-hard:{seed}")
    out = []
    for item in items:
        if not item.answers or rng.random() >= share:
            continue
        document = (documents or {}).get(item.doc)
        hard = document is not None and hard_rng.random() < hard_share
        found = near_miss(item.question, corpus, pool, rng, document if hard else None)
        if found is not None:
            out.append((item, found[0], found[1]))
    return out
