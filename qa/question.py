"""Understand a question before searching: clean it, classify what it asks for, resolve follow-ups.

The expected answer type (quantity, date, person, ...) steers which sentence is chosen, which span
is cut from it, and whether the chosen sentence can answer at all: a `多少家` question whose best
sentence holds no count of `家` is a near miss, not an answer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from qa.lexical import STOPWORDS, pos_tokens, to_simplified, tokenize, words

MAX_QUESTION_CHARS = 300

# Order matters: the first pattern that matches decides (`哪一年` is a date, not a `哪` place).
_TYPE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("date", re.compile(r"何时|什么时候|哪一?年|哪个?月|几月|哪一?天|几号|几日|何年|哪个时间|什么时间|when|(?:what|which) (?:year|month|day|date)", re.I)),
    ("reason", re.compile(r"为什么|为何|什么原因|原因是|因为什么|什么目的|目的是|why", re.I)),
    ("list", re.compile(r"哪些|哪几|which ones", re.I)),
    ("quantity", re.compile(r"多少|几[个家名位场项次件年万千百十所户人只台条种批届]?|多大|多高|多长|多重|多远|how many|how much", re.I)),
    ("person", re.compile(r"谁|哪位|什么人|who", re.I)),
    ("place", re.compile(r"哪里|在哪|哪儿|什么地方|哪个地方|哪个?[省市县区镇村国]|where", re.I)),
    ("organization", re.compile(r"哪家|哪个(机构|单位|部门|组织|商会|协会|公司|企业|中心|团体)|什么(机构|单位|部门|组织)|哪一?个?(商会|协会|部门|单位)", re.I)),
    ("definition", re.compile(r"什么|啥|怎样的|怎么样的|如何|哪种|哪个|哪|what|how", re.I)),
]

_FOLLOW_UP = re.compile(r"^(那|那么|还有|另外|而|此外|其)|呢[？?]?$|^(它|他|她|该|其|这个|那个)")
# Lone surrogates (`\ud800`) are included: JSON lets an API caller send one, Python keeps it in a
# str, and the tokenizer raises a TypeError on it instead of answering.
_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff\ud800-\udfff]"
)
# Characters looked at before normalising: NFKC and the regexes cost time in the length of the
# input, so a 10 MB paste is cut first (generously: NFKC can shrink text, e.g. combining marks).
_PRE_CAP = MAX_QUESTION_CHARS * 8

def is_chinese(text: str) -> bool:
    """Whether most letters of `text` are CJK (decides how much to trust jieba/BM25)."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    cjk = sum(1 for ch in letters if "\u3400" <= ch <= "\u9fff")
    return cjk / len(letters) >= 0.3


@dataclass
class Question:
    """A question ready for retrieval and answer extraction."""

    raw: str
    text: str  # cleaned, simplified, capped
    qtype: str
    chinese: bool
    search_text: str  # what is embedded and tokenised (includes follow-up context)
    tokens: list[str] = field(default_factory=list)  # BM25 tokens of search_text
    terms: list[str] = field(default_factory=list)  # content words of this question
    weights: list[float] = field(default_factory=list)  # part-of-speech weight of each term
    context_terms: list[str] = field(default_factory=list)  # words carried over from history
    measure: str = ""  # classifier after 多少/几 (`家`, `人`, ...), for unit checks
    head: str = ""  # noun the question asks about (`机制` in `什么机制`)
    anchor: str = ""  # word just before the question word (`建立` in `建立什么机制`)
    truncated: bool = False


def clean(text: str) -> tuple[str, bool]:
    """NFKC-fold, drop control characters, collapse whitespace, cap the length.

    The cap keeps a pasted 20,000-character "question" from costing seconds of tokenising and
    encoding; the first few hundred characters carry the question. Input beyond `_PRE_CAP` is
    dropped before any other work, so the cost is bounded whatever the size of the input.
    """
    text = text or ""
    cut = len(text) > _PRE_CAP and bool(text[_PRE_CAP:].strip())
    text = unicodedata.normalize("NFKC", text[:_PRE_CAP])
    text = _CONTROL.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    truncated = cut or len(text) > MAX_QUESTION_CHARS
    return text[:MAX_QUESTION_CHARS].rstrip(), truncated


def classify(text: str) -> str:
    """The expected answer type of a question, from its question words."""
    for qtype, pat in _TYPE_PATTERNS:
        if pat.search(text):
            return qtype
    return "other"


# Nouns name what must match (a missing `创始人` means the documents do not say); verbs and
# adverbs are how the asker phrased it (`当成`, `打通`), often paraphrased in the documents.
_POS_WEIGHT = {"n": 1.0, "nr": 1.2, "ns": 1.2, "nt": 1.2, "nz": 1.1, "j": 1.1, "eng": 1.0,
               "vn": 0.8, "m": 0.8, "t": 0.8, "v": 0.5, "a": 0.4, "d": 0.2, "r": 0.2}


def weighted_terms(text: str) -> tuple[list[str], list[float]]:
    """Content words of `text` with a weight by part of speech."""
    terms, weights = [], []
    for w, flag, _s, _e in pos_tokens(text):
        lw = w.lower()
        if not w.strip() or lw in STOPWORDS or not re.search(r"\w", w):
            continue
        terms.append(lw)
        weights.append(_POS_WEIGHT.get(flag, _POS_WEIGHT.get(flag[:1], 0.5)))
    return terms, weights


_QWORD = re.compile(
    r"(多少|几|什么样的?|怎样的|怎么样的|哪一?些|哪一?个|哪家|哪位|哪几|哪|什么|谁)"
)
_MEASURES = "个家名位场项次件年月天元户人所村只台条种批届万亿千百倍层座间篇份起"


def _parts(text: str) -> tuple[str, str, str]:
    """(measure word, head noun, anchor word) around the question word."""
    m = _QWORD.search(text)
    if not m:
        return "", "", ""
    after = text[m.end():]
    before = text[: m.start()]
    measure = ""
    if m.group(1) in ("多少", "几", "哪", "哪一个", "哪个", "哪些", "哪一些") and after[:1] and after[0] in _MEASURES:
        measure = after[0]
        after = after[1:]
    head_words = words(re.split(r"[，,。？?！!；;：:]", after)[0]) if after else []
    head = head_words[0] if head_words else ""
    before_words = [w for w in words(before)]
    anchor = before_words[-1] if before_words else ""
    if m.group(1) in ("多少", "几") and not measure and head and head[0] in _MEASURES:
        measure = head[0]
    return measure, head, anchor


def parse(raw: str, history: list[str] | None = None) -> Question:
    """Clean and classify `raw`; an elliptical follow-up borrows the previous question's topic."""
    text, truncated = clean(raw)
    chinese = is_chinese(text)
    simple = to_simplified(text) if chinese else text
    qtype = classify(simple)
    terms, weights = weighted_terms(simple)
    search = simple
    context_terms: list[str] = []
    prev = _previous(history)
    if prev and is_follow_up(simple):
        prev_q = parse(prev)
        if qtype == "other":
            qtype = prev_q.qtype
        context_terms = [t for t in prev_q.terms if t not in terms]
        search = f"{prev_q.text} {simple}"
    measure, head, anchor = _parts(simple)
    return Question(
        raw=raw,
        text=simple,
        qtype=qtype,
        chinese=chinese,
        search_text=search,
        tokens=tokenize(search),
        terms=terms,
        weights=weights,
        context_terms=context_terms,
        measure=measure,
        head=head,
        anchor=anchor,
        truncated=truncated,
    )


def _previous(history: list[str] | None) -> str:
    for h in reversed(history or []):
        if isinstance(h, str) and h.strip():
            return h
    return ""


def is_follow_up(text: str) -> bool:
    """`工业总产值呢？`, `那北仑呢`, `它成立于哪一年`: a question that leans on the last one."""
    core = re.sub(r"[？?！!。.\s]", "", text)
    if not core:
        return False
    return bool(_FOLLOW_UP.search(text)) or len(core) <= 4
