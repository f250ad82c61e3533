"""Describe every candidate sentence of the top passages as numbers a learned model can weigh.

The hand-set confidence this replaces multiplied a few signals with weights chosen on 30
questions; it neither carried over to new questions nor caught near misses. Here each candidate
gets the raw evidence (how similar it is to the question by meaning and by words, how its passage
ranked, whether it holds something of the asked type, whether the question's years, numbers,
places, names and organisations are present or contradicted near it) and `qa.chooser` learns
from thousands of real questions how much each counts.

Everything is computed on one script (simplified Chinese, `to_simplified`), so a traditional
question matches a simplified document and the reverse; the candidates keep the document's own
text for display. Words the question shares with a sentence mean nothing for a question in
another language, so those features are missing (NaN) for it rather than zero, and the model
learns what to do without them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import numpy as np

from qa.lexical import pos_tokens, tag_cache, to_simplified
from qa.question import Question
from qa.spans import Span, extract

QTYPE_ORDER = (
    "quantity", "date", "person", "place", "organization", "list", "reason", "definition", "other",
)
# a word the corpus never uses is rare, but no rarer than a word used once
IDF_CAP = 3.5
_YEAR = re.compile(r"(?<!\d)((?:1[5-9]|20)\d\d)(?=年|\b|$)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ORG_SUFFIX = re.compile(r"(商会|协会|总会|公司|集团|企业|委员会|联合会|工商联|政府|大学|学院|银行|医院|中心|部|局|厅|署|院|所|队|社|会)$")
_CJK = re.compile(r"[\u3400-\u9fff]")
# nouns that name the kind of answer asked for (`哪座城市`, `什么时候`, `什么原因`)
_ANSWER_KINDS = frozenset(
    ["时候", "时间", "日期", "年份", "地方", "地点", "城市", "国家", "地区", "省份", "名字", "名称", "人物", "原因", "目的", "方式", "方法", "数量", "多少", "哪里", "哪个", "哪些", "意思", "作用", "特点", "内容", "程度", "结果"]
)
_QWORD_CHARS = set("什么谁哪多少几何时为怎样如的了是在吗呢？?，,。")

# Columns also given as seen across all of a question's candidates (their best, this candidate
# minus the best, their worst): a row alone cannot tell "the best match there is" from "a weak
# match among strong ones", nor whether anything in the hits covers the question at all. Chosen
# out of fold on the fit parts against the rows alone and wider sets of columns (accuracy and
# refusal recall rose on every set at the same false-refusal rate; see `seedqa train`'s record).
QUESTION_COLUMNS = ("cover", "dense", "fused")
# The sentence as read inside its passage (`Index.late_vectors`): its cosine to the question and
# that minus the best among the candidates. Chosen out of fold on the fit parts (mean of 8 fold
# seeds, 5 folds): accuracy .809 -> .815 (CMRC .730 -> .749, DRCD .818 -> .823, seeds .888 ->
# .885) at the same false-refusal rate and refusal recall; the same columns from the sentences'
# own vectors and their passage's mean gave nothing, the neighbours' late cosines lost. Last, so
# the columns before keep their place in the model.
LATE_COLUMNS = ("late", "late_rel")

FEATURES: tuple[str, ...] = (
    "dense", "dense_rel", "dense_prev", "dense_next", "dense_ctx",
    "passage_dense", "passage_dense_rel", "passage_lex", "rank", "fused",
    "cover", "cover_rel", "cover_ctx", "cover_passage", "char_overlap", "bigram_overlap",
    "missing_idf_max", "missing_weight", "missing_word_max", "missing_word_weight",
    "missing_word_passage_max", "cons_missing_ctx", "cons_missing_passage", "cons_absent_corpus",
    "novel_person", "novel_place", "novel_org", "novel_number", "novel_time",
    "place_conflict", "name_conflict", "org_conflict", "type_present", "latin_overlap",
    "type_fit", "has_span", "has_number",
    "q_years", "year_in_sent", "year_in_ctx", "year_conflict",
    "q_numbers", "number_in_ctx", "number_conflict",
    "q_places", "places_in_ctx", "q_names", "names_in_ctx", "q_orgs", "orgs_in_ctx",
    "sent_len", "sent_pos", "novel", "chinese", "q_len", "n_candidates",
    "subst_n", "subst_digit", "subst_same_len", "vice_inserted",
    "role_in_ctx", "role_vice_only", "measure_in_sent", "head_in_ctx", "date_grain",
    "dimension_in_sent",
    *(f"qtype_{t}" for t in QTYPE_ORDER),
    *(f"{c}_{k}" for c in QUESTION_COLUMNS for k in ("qmax", "dmax", "qmin")),
    *LATE_COLUMNS,
)
# the columns a candidate's own row fills, before the question-wide and the late ones
_BASE = len(FEATURES) - 3 * len(QUESTION_COLUMNS) - len(LATE_COLUMNS)
# Columns only the checks after the model read (`qa.chooser.CHECKS`), after the model's own: a
# contradiction seen in a few dozen training rows gives the model nothing to learn (it needs 40
# rows a leaf), while a new model column reshuffles its per-tree column sampling, so the model
# and its record stay as trained.
CHECK_COLUMNS: tuple[str, ...] = ("ordinal_conflict", "enum_item", "relyear_conflict")
COLUMNS: tuple[str, ...] = FEATURES + CHECK_COLUMNS


def model_columns(x: np.ndarray) -> np.ndarray:
    """The columns of rows (`COLUMNS`) the answer model reads: its `FEATURES`, not the checks'."""
    return np.asarray(x)[:, : len(FEATURES)]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One sentence of a hit passage: where it is, and the typed span a rule found in it."""

    rank: int  # 0-based rank of the passage among the hits
    chunk_id: int
    sentence_index: int
    text: str
    span: Span | None


# The per-text caches below hold ~11 KB a sentence all told (tags, word sets, entities): bounded
# at 16k texts (about 600 questions' candidates at 1M passages, every sentence of a collection the
# size of the seeds or the public sets) they stay under ~200 MB in a long-running server, where
# 100k entries would have grown to ~1 GB.
TEXT_CACHE = 16_384


@lru_cache(maxsize=TEXT_CACHE)
def simple(text: str) -> str:
    """The text in simplified script, same length (cached: candidates recur across questions)."""
    return to_simplified(text)


def idf(lexical, term: str) -> float:
    """Inverse document frequency over passages, read off the lexical store."""
    n = len(lexical)
    df = lexical.doc_freq(term)
    return min(math.log((n - df + 0.5) / (df + 0.5) + 1.0), IDF_CAP)


@dataclass(frozen=True, slots=True)
class QuestionFacts:
    """What of the question must hold in an answer's context: constraints and weighted words."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    years: tuple[str, ...]
    numbers: tuple[str, ...]
    places: tuple[str, ...]
    names: tuple[str, ...]
    orgs: tuple[str, ...]
    chars: frozenset[str]
    bigrams: frozenset[str]
    constraints: tuple[tuple[str, float], ...]  # (term, weight) that an answer's context must hold
    absent: float  # largest weight of a constraint term no passage of the corpus contains


def question_facts(q: Question, lexical) -> QuestionFacts:
    terms = q.terms + q.context_terms
    pos_w = q.weights + [0.5] * len(q.context_terms)
    weights = [idf(lexical, t) * w for t, w in zip(terms, pos_w, strict=True)]
    text = q.text
    years = tuple(dict.fromkeys(_YEAR.findall(text)))
    numbers = tuple(n for n in dict.fromkeys(_NUMBER.findall(text)) if n not in years)
    places, names, orgs = [], [], []
    for w, flag, _s, _e in pos_tokens(text):
        if len(w) < 2:
            continue
        if flag == "ns":
            places.append(w)
        elif flag == "nr":
            names.append(w)
        elif flag == "nt" or _ORG_SUFFIX.search(w) and flag.startswith("n"):
            orgs.append(w)
    core = "".join(ch for ch in text if _CJK.match(ch) and ch not in _QWORD_CHARS)
    # the constraints: what the question is about, not what it asks for (`哪座城市`: 城市 is the
    # kind of answer, not a word the answer must repeat) nor single characters
    skip = {q.head, q.measure} | _ANSWER_KINDS
    constraints = tuple((t, w) for t, w in zip(terms, weights, strict=True)
                        if len(t) >= 2 and t not in skip)
    absent = max((w for t, w in constraints if lexical.doc_freq(t) == 0), default=0.0)
    return QuestionFacts(
        tuple(terms), tuple(weights), years, numbers,
        tuple(dict.fromkeys(places)), tuple(dict.fromkeys(names)), tuple(dict.fromkeys(orgs)),
        frozenset(core), frozenset(core[i:i + 2] for i in range(len(core) - 1)),
        constraints, absent,
    )


def _coverage(f: QuestionFacts, text: str) -> float:
    total = sum(f.weights)
    if total <= 0:
        return 0.0
    return sum(w for t, w in zip(f.terms, f.weights, strict=True) if t in text) / total


@tag_cache
@lru_cache(maxsize=TEXT_CACHE)
def _words(text: str) -> frozenset[str]:
    """The whole words of `text` (jieba precise mode): `主席` is not a word of `副主席`."""
    return frozenset(w.lower() for w, _f, _s, _e in pos_tokens(text))


@tag_cache
@lru_cache(maxsize=TEXT_CACHE)
def _entities(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((w, f) for w, f, _s, _e in pos_tokens(text) if f in _ENTITY_KIND)


_ENTITY_KIND = {"nr": 0, "nrfg": 0, "nrt": 0, "ns": 1, "nt": 2, "m": 3, "t": 4}


def _frac(items: tuple[str, ...], text: str) -> float:
    return sum(1 for i in items if i in text) / len(items) if items else 1.0


_LATIN = re.compile(r"[A-Za-z]{2,}|\d+(?:\.\d+)?")
_DATE_SHAPE = re.compile(r"\d{2,4}年|\d{1,2}月|\d{1,2}日|[一二三四五六七八九十〇零]+年|年代|世纪|朝")
_REASON_SHAPE = re.compile(r"因为|由于|为了|旨在|所以|因此|因而|以便|目的")


def _type_present(qtype: str, text: str, novel: list[float]) -> float:
    """Whether the sentence holds something new of the asked kind (a name for 谁, a number for
    多少, ...): a rough, rule-free cousin of the typed spans that works on any corpus."""
    if qtype == "quantity":
        return 1.0 if novel[3] or re.search(r"\d", text) else 0.0
    if qtype == "date":
        return 1.0 if novel[4] or _DATE_SHAPE.search(text) else 0.0
    if qtype == "person":
        return 1.0 if novel[0] else 0.0
    if qtype == "place":
        return 1.0 if novel[1] else 0.0
    if qtype == "organization":
        return 1.0 if novel[2] or _ORG_SUFFIX.search(text.rstrip("。！？；")) else 0.0
    if qtype == "list":
        return 1.0 if re.search(r"、|和|及|与", text) else 0.0
    if qtype == "reason":
        return 1.0 if _REASON_SHAPE.search(text) else 0.0
    return 1.0


# question words: a gap of the question holding one is what is asked, not a changed constraint
_QWORD_GAP = re.compile(r"什么|多少|几|哪|谁|怎|何|吗|呢")
_WORDISH = re.compile(r"[\w\u3400-\u9fff]")
_RUN_END = re.compile(r"[\w\u3400-\u9fff]+$")


@lru_cache(maxsize=TEXT_CACHE)
def _substitutions(q: str, s: str) -> tuple[float, float, float, float]:
    """Where the sentence says something else in the question's slot: between two stretches of
    at least two characters the question and the sentence share, the question has one short
    text and the sentence another (`浙江分公司` asked, `江苏分公司` said; `2021年` / `2020年`),
    or the sentence inserts `副` (`部长` asked, `副部长` said).

    (substitutions, of them digits on both sides, of them same-length non-digit texts,
    `副` insertions)
    """
    if not q or not s:
        return 0.0, 0.0, 0.0, 0.0
    blocks = [b for b in SequenceMatcher(None, q, s, autojunk=False).get_matching_blocks()
              if b.size >= 2]
    n = digit = same = vice = 0
    gaps = [(q[a.a + a.size:b.a], s[a.b + a.size:b.b]) for a, b in zip(blocks, blocks[1:],
                                                                        strict=False)]
    if blocks and 0 < blocks[0].a <= 4:
        # the question opens with its own text before the first shared stretch (`余姚市基层商会`
        # asked, `慈溪市基层商会` said): compare it with as much of the word run before that
        # stretch in the sentence
        run = _RUN_END.search(s[:blocks[0].b])
        if run:
            gaps.insert(0, (q[:blocks[0].a], run.group()[-blocks[0].a:]))
    for gq, gs in gaps:
        if not gq and gs and gs.endswith("副") and len(gs) <= 3:
            vice += 1
            continue
        if not gq or not gs or len(gq) > 4 or len(gs) > 6 or _QWORD_GAP.search(gq):
            continue
        if not _WORDISH.search(gq) or not _WORDISH.search(gs):
            continue
        n += 1
        if re.search(r"\d", gq) and re.search(r"\d", gs):
            digit += 1
        elif len(gq) == len(gs):
            same += 1
    return float(n), float(digit), float(same), float(vice)


_ROLE = re.compile(
    r"(副)?(委员长|秘书长|董事长|总经理|理事长|监事长|主席|会长|书记|部长|主任|局长|市长|院长|校长|"
    r"团长|所长|社长|总裁|厅长|处长|县长|区长|省长|镇长|总统|总理|首相|队长|经理|主教|教练)"
)


def _roles(q: str, ctx: str) -> tuple[float, float]:
    """(share of the question's roles its context names as asked, whether the context names only
    the deputy of a role the question asks without `副`); NaN without a role in the question."""
    asked = [(m.group(1) or "", m.group(2)) for m in _ROLE.finditer(q)]
    if not asked:
        return math.nan, math.nan
    found, vice_only = 0, 0.0
    for vice, role in asked:
        bare = re.search(f"(?<!副){role}", ctx) is not None
        if vice:
            found += f"副{role}" in ctx
        else:
            found += bare
            if not bare and f"副{role}" in ctx:
                vice_only = 1.0
    return found / len(asked), vice_only


_NUMERAL = r"(?:\d[\d,]*(?:\.\d+)?|[零一二三四五六七八九十百千两]+)[万亿千百]?(?:多|余)?"
# `多少家` / `几名`: a count asked in a unit the answer must carry (`哪几种` and `第几` ask for no
# count; units that vary with the answer's size or wording, 个, 元, 年, 万, are left out; 人, 名
# and 位 count people alike)
_ASK_COUNT = re.compile(r"(?<![第哪])(?:多少|几)([家名位场项次件户人所村只台条种批届倍层座间篇份套辆架艘枚株头匹本部张])")
_PEOPLE = "人名位"
_ASK_DAY = re.compile(r"哪一?天|几号|几月几日|几日|日期|什么日子")
_ASK_MONTH = re.compile(r"几月|哪个月|哪一个月|月份")
_ASK_YEAR = re.compile(r"哪一?年|年份|几几年|什么年")
_DAY = re.compile(r"\d{1,2}\s*[日号]|[一二三四五六七八九十廿卅]{1,3}[日号]|月[初廿卅]?[一二三四五六七八九十]{1,3}")
_MONTH = re.compile(r"\d{1,2}\s*月|[一二三四五六七八九十正]{1,3}月")
_YEAR_SAID = re.compile(r"\d{1,4}\s*年|[〇零一二三四五六七八九十廿元]{1,4}年")


# a question about an area, a length, a weight or a sum of money is answered by a number in a unit
# of that dimension, not by any number (a date, a count)
_DIMENSIONS = (
    (re.compile(r"面积|占地"), r"平方米|平方公里|平方千米|平方英里|公顷|英亩|亩"),
    (re.compile(r"多长|多远|长度|距离"), r"公里|千米|英里|米|公尺"),
    (re.compile(r"多重|重量"), r"吨|千克|公斤|克|斤|磅"),
    (re.compile(r"多少钱|金额"), r"元|美元|港元|日元|英镑|欧元|镑"),
)


def _dimension(q: str):
    """A pattern of a number in the unit of the dimension the question asks, or None."""
    for ask, units in _DIMENSIONS:
        if ask.search(q):
            return re.compile(_NUMERAL + r"\s*(?:" + units + ")")
    return None


def _counted(q: str):
    """A pattern of a number in the unit the question counts in, or None."""
    m = _ASK_COUNT.search(q)
    if not m:
        return None
    unit = f"[{_PEOPLE}]" if m.group(1) in _PEOPLE else re.escape(m.group(1))
    return re.compile(_NUMERAL + unit)


# an ordinal in a series: `三期`, `第十六届`, `首批`, `二号线` (not `三次`, `3号`: counts and days)
_ORDINAL = re.compile(r"(第)?([〇零一二三四五六七八九十两\d]{1,3}|首)(期|届|批|轮|阶段|号线|任|家|次|个|位)")
# units that count unless marked as a place in a series (`三家` counts, `第三家`, `首家` do not)
_MARKED_ONLY = ("任", "家", "次", "个", "位")
# a bare numeral after these counts (`连续三届`, `举行了九届`, `分为前、中、后三期`, `最后一批`); one
# before `刊` is a journal (`一期刊`); `任` is a place only with `第` or `首` (`一任` is a term)
_COUNT_BEFORE = ("连续", "共计", "分为", "分成", "历经", "最后", "共", "每", "这", "那", "前", "后", "了")
_DIGIT_OF = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2, "首": 1}


def _ordinal_value(numeral: str) -> int | None:
    """3 for `三` or `3`; 1 for `首`; 16 for `十六`; 20 for `二十`; None for what this cannot read."""
    if numeral.isdigit():
        return int(numeral)
    if numeral in _DIGIT_OF:
        return _DIGIT_OF[numeral]
    tens, ten, ones = numeral.partition("十")
    if not ten or len(tens) > 1 or len(ones) > 1:
        return None
    if (tens and tens not in _DIGIT_OF) or (ones and ones not in _DIGIT_OF):
        return None
    return (_DIGIT_OF[tens] if tens else 1) * 10 + (_DIGIT_OF[ones] if ones else 0)


def _ordinals(text: str) -> set[tuple[int, str]]:
    out = set()
    for m in _ORDINAL.finditer(text):
        marked, numeral, unit = m.group(1), m.group(2), m.group(3)
        if not marked and numeral != "首" and (
                unit in _MARKED_ONLY or text[: m.start()].endswith(_COUNT_BEFORE)
                or text[m.end(): m.end() + 1] == "刊"):
            continue
        n = _ordinal_value(numeral)
        if n is not None:
            out.add((n, unit))
    return out


def _ordinal_conflict(q: str, ctx: str) -> float:
    """1 when the question names an ordinal of a series (`三期`) and the context names that
    series only at other places (`一期`, `二期`): the sentence is about another phase, session or
    batch; 0 when not; NaN without an ordinal in the question."""
    asked = _ordinals(q)
    if not asked:
        return math.nan
    said = _ordinals(ctx)
    for n, unit in asked:
        others = {m for m, u in said if u == unit}
        if others and n not in others:
            return 1.0
    return 0.0


# the items of an enumeration, a common form of Chinese reports (`一是加强党建引领，…`, `二是…`),
# as said at a clause start, and as asked (`二是什么？`, `第二个方面`, `第三点`)
_ENUM_SAID = re.compile(r"(?:^|[，,：:；;。！？\s“\"])([一二三四五六七八九十])是")
_ENUM_ASKED = re.compile(r"(?:^|[，,：:；;\s])([一二三四五六七八九十])是(?:什么|哪|啥)"
                         r"|第([一二三四五六七八九十\d]{1,2})(?:个)?(?:方面|点)")


def _enum_item(q: str, text: str) -> float:
    """Whether the sentence states the item of an enumeration the question asks for (`二是什么`,
    `第四个方面`): 1 when it states that item (`二是…`), -1 when it states only other items
    (`一是…`), 0 when it states none; NaN when the question asks for no item."""
    asked = {_ordinal_value(a or b) for a, b in _ENUM_ASKED.findall(q)} - {None}
    if not asked:
        return math.nan
    said = {_ordinal_value(n) for n in _ENUM_SAID.findall(text)}
    if not said:
        return 0.0
    return 1.0 if asked & said else -1.0


_RELATIVE_YEAR = re.compile(r"今年|去年|前年|明年|后年")


def _relyear_conflict(q: str, ctx: str) -> float:
    """1 when the question names a year relative to the article (`去年8月`) and the context names
    another (`今年8月`) but not that one; 0 when not; NaN without one in the question."""
    asked = set(_RELATIVE_YEAR.findall(q))
    if not asked:
        return math.nan
    said = set(_RELATIVE_YEAR.findall(ctx))
    return 1.0 if said and not asked & said else 0.0


def _date_grain(q: str, text: str) -> float:
    """Whether the sentence gives a date as fine as asked (a day for 哪一天, a month for 几月,
    a year for 哪一年); NaN when the question asks for none of them."""
    for ask, said in ((_ASK_DAY, _DAY), (_ASK_MONTH, _MONTH), (_ASK_YEAR, _YEAR_SAID)):
        if ask.search(q):
            return 1.0 if said.search(text) else 0.0
    return math.nan


def candidates_and_features(
    index, q: Question, qvec: np.ndarray | None, hits: list
) -> tuple[list[Candidate], np.ndarray]:
    """Every sentence of the hit passages and one row each (`COLUMNS`: the model's `FEATURES`,
    then the checks' own)."""
    facts = question_facts(q, index.lexical)
    cands: list[Candidate] = []
    rows: list[list[float]] = []
    checks: list[list[float]] = []
    max_lex = max((h.lexical for h in hits), default=0.0) or 1.0
    max_pdense = max((h.dense for h in hits), default=0.0)
    per_hit = []
    late: list[np.ndarray] = []
    index.prefetch_sentences([h.chunk_id for h in hits])
    for hit in hits:
        chunk = index.chunks[hit.chunk_id]
        svecs = index.sentence_vectors(hit.chunk_id)
        if qvec is not None and len(svecs):
            sims = np.asarray(svecs @ qvec, dtype=np.float64)
            late.append(np.asarray(index.late_vectors(hit.chunk_id) @ qvec, dtype=np.float32))
        else:
            sims = np.zeros(len(chunk.sentences))
            late.append(np.full(len(chunk.sentences), np.nan, np.float32))
        per_hit.append(sims)
    top_dense = max((float(s.max()) for s in per_hit if len(s)), default=0.0)
    chinese = 1.0 if q.chinese else 0.0
    nan = math.nan
    qt = [1.0 if q.qtype == t else 0.0 for t in QTYPE_ORDER]
    pairs = list(zip(facts.terms, facts.weights, strict=True))
    latin = {t.lower() for t in _LATIN.findall(q.text)}
    qs = simple(q.text)
    counted = _counted(qs)
    dimension = _dimension(qs)
    head = q.head if len(q.head) >= 2 and q.head not in _ANSWER_KINDS else ""
    for rank, hit in enumerate(hits):
        chunk = index.chunks[hit.chunk_id]
        sims = per_hit[rank]
        passage = simple(f"{chunk.title} {chunk.text}")
        passage_words = _words(simple(chunk.title)).union(
            *(_words(simple(s.text)) for s in chunk.sentences))
        missing_passage = max((w for t, w in pairs if t not in passage_words), default=0.0)
        cons_passage = max((w for t, w in facts.constraints if t not in passage), default=0.0)
        n_s = len(chunk.sentences)
        title = simple(chunk.title)
        # what depends on the passage alone, once per passage
        cover_passage = _coverage(facts, passage) if q.chinese else nan
        unseen_passage = max((w for t, w in pairs if t not in passage), default=0.0) \
            if q.chinese else nan
        year_in_ctx = _frac(facts.years, passage)
        number_in_ctx = _frac(facts.numbers, passage)
        numbers_ctx = bool(_NUMBER.search(passage))
        found = [_frac(facts.places, passage), _frac(facts.names, passage),
                 _frac(facts.orgs, passage)]
        for i, sent in enumerate(chunk.sentences):
            text = simple(sent.text)
            prev = simple(chunk.sentences[i - 1].text) if i > 0 else ""
            ctx = f"{title} {prev} {text}"
            ctx_words = _words(title) | _words(prev) | _words(text)
            missing = [w for t, w in pairs if t not in ctx_words]
            novel = [0.0] * 5
            for w, f in _entities(text):
                if w not in q.text:
                    novel[_ENTITY_KIND[f]] += 1.0
            # the question names a place / person / organisation that the context does not, while
            # the context names another of the same kind: `杭州` asked, `宁波` said
            # (tagged part by part: jieba cuts at the spaces anyway, so the kinds are the same,
            # and each part's tags are cached while the joined text would be tagged afresh)
            ctx_kinds = {_ENTITY_KIND[f] for part in (title, prev, text)
                         for w, f in _entities(part) if w not in q.text}
            conflicts = [
                1.0 if items and _frac(items, ctx) < 1.0 and kind in ctx_kinds else 0.0
                for items, kind in ((facts.places, 1), (facts.names, 0), (facts.orgs, 2))
            ]
            span = extract(text, q)
            d = float(sims[i])
            d_prev = float(sims[i - 1]) if i > 0 else d
            d_next = float(sims[i + 1]) if i + 1 < n_s else d
            cover = _coverage(facts, text) if q.chinese else nan
            chars = set(text)
            year_in_sent = _frac(facts.years, ctx)
            ctx_years = set(_YEAR.findall(ctx))
            subst = _substitutions(qs, text)
            roles = _roles(qs, ctx)
            cands.append(Candidate(rank, hit.chunk_id, i, sent.text, span))
            rows.append([
                d, d - top_dense, d_prev, d_next, max(d, 0.5 * (d + d_prev)),
                hit.dense, hit.dense - max_pdense, hit.lexical / max_lex, float(rank), hit.score,
                cover, nan, _coverage(facts, ctx) if q.chinese else nan,
                cover_passage,
                (len(facts.chars & chars) / len(facts.chars)) if facts.chars else nan,
                (sum(1 for b in facts.bigrams if b in text) / len(facts.bigrams))
                if facts.bigrams else nan,
                unseen_passage,
                sum(w for t, w in zip(facts.terms, facts.weights, strict=True) if t not in ctx)
                if q.chinese else nan,
                max(missing, default=0.0) if q.chinese else nan,
                sum(missing) if q.chinese else nan,
                missing_passage if q.chinese else nan,
                max((w for t, w in facts.constraints if t not in ctx), default=0.0)
                if q.chinese else nan,
                cons_passage if q.chinese else nan,
                facts.absent if q.chinese else nan,
                *novel,
                *conflicts,
                _type_present(q.qtype, text, novel),
                (sum(1 for t in latin if t in text.lower()) / len(latin)) if latin else nan,
                span.strength if span is not None else 0.0,
                1.0 if span is not None else 0.0,
                1.0 if re.search(r"\d|[一二三四五六七八九十百千万亿两]", text) else 0.0,
                float(len(facts.years)), year_in_sent, year_in_ctx,
                1.0 if facts.years and year_in_ctx < 1.0 and ctx_years else 0.0,
                float(len(facts.numbers)), number_in_ctx,
                1.0 if facts.numbers and number_in_ctx < 1.0 and numbers_ctx else 0.0,
                float(len(facts.places)), found[0],
                float(len(facts.names)), found[1],
                float(len(facts.orgs)), found[2],
                math.log1p(len(text)), float(i), 1.0 - len(chars & facts.chars) / max(len(chars), 1),
                chinese, math.log1p(len(q.text)), 0.0,
                *subst, *roles,
                (1.0 if counted.search(text) else 0.0) if counted is not None else nan,
                (1.0 if head in ctx else 0.0) if head else nan,
                _date_grain(qs, text),
                (1.0 if dimension.search(text) else 0.0) if dimension is not None else nan,
                *qt,
            ])
            checks.append([_ordinal_conflict(qs, ctx), _enum_item(qs, text),
                           _relyear_conflict(qs, ctx)])
    x = np.asarray(rows, dtype=np.float32).reshape(len(rows), _BASE)
    if len(rows):
        c = FEATURES.index("cover")
        x[:, FEATURES.index("cover_rel")] = x[:, c] - np.nanmax(x[:, c]) if q.chinese else np.nan
        x[:, FEATURES.index("n_candidates")] = len(rows)
    own = np.asarray(checks, dtype=np.float32).reshape(len(rows), len(CHECK_COLUMNS))
    return cands, np.hstack([with_question_columns(x), late_columns(late), own])


def late_columns(per_hit: list[np.ndarray]) -> np.ndarray:
    """`LATE_COLUMNS` of a question's candidates from each hit's late cosines, in order."""
    v = np.concatenate(per_hit).astype(np.float32) if per_hit else np.zeros(0, np.float32)
    best = np.nanmax(v) if len(v) and not np.isnan(v).all() else np.nan
    return np.column_stack([v, v - best]).astype(np.float32)


def with_question_columns(base: np.ndarray, q: np.ndarray | None = None) -> np.ndarray:
    """Rows of the per-candidate columns (`FEATURES[:_BASE]`) with the question-wide columns
    appended (the model's columns up to `LATE_COLUMNS`); `q` gives each row's question when the
    rows are of many (training), else all rows are one question's. A missing value counts as -1
    so it never is the best."""
    base = np.asarray(base, dtype=np.float32)
    q = np.zeros(len(base), dtype=np.int64) if q is None else np.asarray(q)
    n = int(q.max()) + 1 if len(q) else 0
    extra = []
    for c in QUESTION_COLUMNS:
        v = np.nan_to_num(base[:, FEATURES.index(c)].astype(np.float64), nan=-1.0)
        hi = np.full(n, -np.inf)
        lo = np.full(n, np.inf)
        np.maximum.at(hi, q, v)
        np.minimum.at(lo, q, v)
        extra += [hi[q], v - hi[q], lo[q]]
    return np.hstack([base, np.column_stack(extra).astype(np.float32)]) if len(base) \
        else np.zeros((0, _BASE + len(extra)), np.float32)
