"""Cut the minimal answering span out of a chosen sentence, by the question's expected type.

Every span is a slice of the sentence (offsets, never rewritten text). Each extractor proposes
candidates; candidates that merely repeat the question are dropped, and the one nearest the
question's own words wins. `None` means no typed span fits, and the caller shows the sentence.
The same extractors tell the answer chooser whether a sentence holds what the question asks for
at all (a `多少家` question needs a count of `家`), which is what separates a near miss from an
answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from qa.lexical import pos_tokens, tag_cache, words
from qa.question import Question


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    strength: float = 1.0  # how well the span fits the question (unit match, role match, ...)


# ---------------------------------------------------------------------------- quantities

_CN_NUM = "零〇一二两三四五六七八九十百千万亿"
_UNITS = (
    "万元|亿元|千元|美元|平方米|平方公里|公里|公顷|千克|小时|分钟|个百分点|"
    "[个家名位场项次件元户人所村只台条种批届倍层座间篇份起吨亩米岁天年斤]"
)
_QUANT_RE = re.compile(
    r"(?:约|近|超过|超|逾|达到|达|共计|共|累计|总计|合计|不到|不足|仅|将近|接近|高达|多达|至少|最多|上)?"
    r"(?P<num>\d+(?:[.,]\d+)*|[" + _CN_NUM + r"]{1,6})"
    r"(?P<mag>[万亿千百]*)(?:多|余)?"
    r"(?P<unit>%|％|" + _UNITS + r")?(?:多|余|以上|左右)?"
    r"(?:(?:至|到|~|～|-)\d+(?:\.\d+)?(?:[万亿千百]*)(?:%|％|" + _UNITS + r")?)?"
)
_SHORT_NOUN_AFTER = re.compile(r"[\u4e00-\u9fff]{2}")
# `多大`/`面积` ask for an area, `多长`/`多远` a length, `多重` a weight: other numbers do not answer
_DIMENSIONS = [
    (re.compile(r"面积|多大"), r"平方米|平方公里|公顷|亩"),
    (re.compile(r"多长|多远|长度|距离"), r"公里|米"),
    (re.compile(r"多重|重量"), r"吨|千克|斤"),
    (re.compile(r"多少钱|金额|资金|投资|产值|收入|费用"), r"万元|亿元|千元|美元|元"),
]


def _dimension(question: str) -> str | None:
    for pat, units in _DIMENSIONS:
        if pat.search(question):
            return units
    return None


def _quantities(sentence: str) -> list[tuple[int, int, str]]:
    """Numbers with their qualifier and unit: `约3.2万人`, `近2000家`, `1004.53万元`, `五个方面`."""
    out = []
    for m in _QUANT_RE.finditer(sentence):
        num, unit = m.group("num"), m.group("unit") or ""
        if not num:
            continue
        chinese = not num[0].isdigit()
        if chinese and not unit:
            continue  # `一带一路`, `十佳`: numerals inside words
        if unit == "年" or (not unit and re.match(r"年|月|日", sentence[m.end():m.end() + 1] or "")):
            continue  # dates are not quantities
        s, e = m.start(), m.end()
        out.append((s, e, unit))
    return out


def quantity_span(sentence: str, q: Question) -> Span | None:
    best: tuple[float, Span] | None = None
    for s, e, unit in _quantities(sentence):
        text = sentence[s:e]
        if text in q.text:
            continue
        strength = 0.5
        dims = _dimension(q.text)
        if dims is not None:
            strength = 1.0 if unit and re.fullmatch(dims, unit) else 0.1
        elif q.measure:
            if unit and unit.startswith(q.measure) or unit.endswith(q.measure):
                strength = 1.0
            elif unit and unit not in ("%", "％"):
                strength = 0.1  # a count of something else: `300余万元` for `多少家`
        elif unit:
            strength = 0.8
        # `五个方面`: a classifier followed by the question's own short noun belongs to it
        nxt = sentence[e : e + 2]
        if unit in ("个", "项", "种") and _SHORT_NOUN_AFTER.fullmatch(nxt or "") and nxt in q.text:
            e += 2
        num = re.search(r"\d|[" + _CN_NUM + r"]+", text)
        if num and num.group(0) in ("一", "两"):
            strength *= 0.5  # `一次改造`, `一场论坛`: an article, rarely the asked amount
        if unit in ("%", "％") and re.search(r"提升|提高|增长|增加|下降|降低|减少|上涨|比例|占", q.text):
            strength = max(strength, 1.0)  # a change or share is asked as a percentage
        score = strength + _nearness(sentence, s, e, q)
        if q.head and sentence.startswith(q.head, e):
            score += 0.5  # `13家海外江苏商会` for `多少家海外江苏商会`: the counted thing follows
        if best is None or score > best[0]:
            best = (score, Span(s, e, strength))
    return best[1] if best else None


# ---------------------------------------------------------------------------- dates

_DATE_RE = re.compile(
    r"(?:(?:今年|去年|前年|明年|当年)|(?:\d{4}|[一二〇零三四五六七八九]{4})年(?:度)?)?"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}日|[一二三四五六七八九十]{1,3}日)?(?:[上中下]旬|底|初)?"
    r"|(?:\d{4}(?:-\d{4})?|[一二〇零三四五六七八九]{4})年(?:度|初|底|末|以来)?"
    r"|(?:今年|去年|前年|明年|当年)(?:初|底|以来)?"
)


def date_span(sentence: str, q: Question) -> Span | None:
    wants_month = bool(re.search(r"几月|哪个?月", q.text))
    wants_year = bool(re.search(r"哪一?年|何年", q.text))
    best: tuple[float, Span] | None = None
    for m in _DATE_RE.finditer(sentence):
        s, e = m.span()
        text = sentence[s:e]
        if not text or text in q.text:
            continue
        strength = 0.8
        if wants_month and "月" in text:
            strength = 1.0
            # `今年4月` for `几月`: the month is the answer
            mm = re.search(r"(\d{1,2}|[一二三四五六七八九十]{1,3})月", text)
            if mm and not re.search(r"\d{4}年", text):
                s, e = s + mm.start(), s + mm.end()
        elif wants_year and re.search(r"\d{4}年|[一二〇零三四五六七八九]{4}年", text):
            strength = 1.0
        elif wants_year:
            strength = 0.4  # `去年底` does not say which year
        elif re.fullmatch(r"(今年|去年|前年|明年|当年)", text):
            strength = 0.5
        score = strength + _nearness(sentence, s, e, q)
        if best is None or score > best[0]:
            best = (score, Span(s, e, strength))
    return best[1] if best else None


# ---------------------------------------------------------------------------- people

ROLES = (
    "副书记|书记|副主席|主席|副会长|会长|秘书长|副主任|主任|副部长|部长|副局长|局长|市长|县长|区长|省长|"
    "董事长|总经理|经理|负责人|创始人|院长|校长|社长|总裁|理事长|处长|科长|常委|副团长|团长|合伙人|"
    "委员|记者|专家|教授|主编|厂长|镇长|村支书|所长|站长|馆长|行长|执行长|主管"
)
_ROLE_RE = re.compile(ROLES)
_NAME_AFTER_ROLE = re.compile(
    r"(?:" + ROLES + r")(?P<name>[\u4e00-\u9fff]{2,3}?)"
    r"(?=说|表示|认为|指出|介绍|如是说|强调|称|告诉|坦言|透露|主持|提出|希望|为|带领|等|出席|在|对|是|"
    r"[，。、：；“”,（(）)\s]|$)"
)


def person_span(sentence: str, q: Question) -> Span | None:
    asked = set(_ROLE_RE.findall(q.text))
    best: tuple[float, Span] | None = None
    for m in _NAME_AFTER_ROLE.finditer(sentence):
        s, e = m.span("name")
        name = sentence[s:e]
        if name in q.text or _ROLE_RE.fullmatch(name):
            continue
        role = sentence[m.start() : s]
        # `主席` asked, `副主席` found: another person, not a near answer
        strength = 1.0 if role in asked else (0.1 if asked else 0.7)
        score = strength + _nearness(sentence, s, e, q)
        if best is None or score > best[0]:
            best = (score, Span(s, e, strength))
    if best is None:
        for w, f, s, e in pos_tokens(sentence):
            if f == "nr" and len(w) >= 2 and w not in q.text:
                return Span(s, e, 0.3 if asked else 0.5)
    return best[1] if best else None


# ---------------------------------------------------------------------------- noun phrases

_NOMINAL = {"n", "nr", "ns", "nt", "nz", "nrt", "nrfg", "j", "vn", "an", "b", "l", "i", "eng", "m", "q", "s", "f", "ng", "zg"}
_ORG_SUFFIX = re.compile(
    r"(商会|协会|联合会|工商联|委员会|中心|公司|集团|银行|局|院|所|部|办|厅|社|团|站|学院|大学|"
    r"学校|基金会|联盟|超市|律所|政府|部门|单位|机构|组织|企业|总会|工作部)$"
)


_PUNCT_ONLY = re.compile(r"[，。、；：,.;:！？!?（）()\s]+")


@tag_cache
@lru_cache(maxsize=16_384)
def _nominal_runs(sentence: str) -> tuple[tuple[int, int], ...]:
    """Maximal runs of noun-like tokens (quotes kept inside), e.g. `区金融服务发展中心`.

    Cached: it depends on the sentence alone, and every question whose candidates hold the
    sentence asks for it again (the organisation and "what is it called" rules)."""
    runs, start, end = [], None, None
    in_quote = False
    for w, f, s, e in pos_tokens(sentence):
        if w in "“「":
            in_quote = True
        nominal = f in _NOMINAL or in_quote or w in "“”「」"
        if w in "”」":
            in_quote = False
        if nominal and not _PUNCT_ONLY.fullmatch(w):
            if start is None:
                start = s
            end = e
        else:
            if start is not None:
                runs.append((start, end))
            start = None
    if start is not None:
        runs.append((start, end))
    return tuple(runs)


# what a question's noun accepts as the end of an organisation's name
_ORG_KIND = {
    "部门": ("部", "处", "科", "室", "办", "局", "厅", "委"),
    "单位": (),
    "机构": (),
    "组织": (),
    "商会": ("商会", "总会"),
    "协会": ("协会",),
    "公司": ("公司", "集团"),
    "企业": ("公司", "集团", "企业", "厂"),
}


def _org_fits(text: str, head: str) -> bool | None:
    """Whether an organisation's name fits the noun asked about (None: the noun says nothing)."""
    kinds = _ORG_KIND.get(head)
    if kinds is None:
        return text.endswith(head) if head and _ORG_SUFFIX.search(head) else None
    return True if not kinds else text.endswith(kinds)


def organization_span(sentence: str, q: Question) -> Span | None:
    best: tuple[float, Span] | None = None
    for s, e in _nominal_runs(sentence):
        text = sentence[s:e]
        m = None
        # the run may carry trailing words after the organisation; cut at the last org suffix
        for m2 in re.finditer(_ORG_SUFFIX.pattern[:-1], text):
            m = m2
        if m is None:
            continue
        e = s + m.end()
        text = sentence[s:e].strip("“”")
        if len(text) < 2 or text in q.text or q.text.find(text) >= 0:
            continue
        fits = _org_fits(text, q.head)
        strength = 1.0 if fits else (0.7 if fits is None else 0.3)
        score = strength + _nearness(sentence, s, e, q)
        if best is None or score > best[0]:
            best = (score, Span(s, e, strength))
    return best[1] if best else None


def place_span(sentence: str, q: Question) -> Span | None:
    best: tuple[float, Span] | None = None
    toks = pos_tokens(sentence)
    i = 0
    while i < len(toks):
        if toks[i][1] == "ns":
            j = i
            while j + 1 < len(toks) and toks[j + 1][1] in ("ns",):
                j += 1
            s, e = toks[i][2], toks[j][3]
            text = sentence[s:e]
            if text not in q.text:
                strength = 0.8
                if any(toks[k][0] in q.text for k in range(i, j + 1)):
                    strength = 0.3  # names a place the question already gave
                elif _ORG_SUFFIX.match(sentence[e : e + 3]) or re.match(
                    r"(商会|协会|工商联|公司|集团)", sentence[e:]
                ):
                    strength = 0.4  # the place of an organisation's name, not an answer
                score = strength + _nearness(sentence, s, e, q)
                if best is None or score > best[0]:
                    best = (score, Span(s, e, strength))
            i = j + 1
        else:
            i += 1
    return best[1] if best else None


# ---------------------------------------------------------------------------- lists

_SEP = re.compile(r"、|以及|及|和|与")
_STOP_RIGHT = {"等", "等等", "在内", "为", "作为"}


_NOUNISH = ("n", "vn", "j", "nz", "nt", "ns", "nr", "an", "eng")


def _head_phrase(q: Question) -> str:
    """The nouns right after `哪些`/`哪几` (`会议和培训` in `办了哪几场会议和培训`); empty when a
    verb follows (`把哪些作为重点`), since then the question names no kind of item."""
    m = re.search(r"(哪一?些|哪几)[个家名位场项次件种类批]?", q.text)
    if not m:
        return q.head
    out = ""
    for w, f, _s, _e in pos_tokens(q.text[m.end():]):
        if f.startswith(_NOUNISH) or (out and w in ("和", "及", "与")):
            out += w
        else:
            break
    return out


_PLACE_NOUNS = ("国家", "地区", "城市", "省份", "地方", "省", "市", "县", "国")


def _item_fits(item: str, head: str) -> bool | None:
    """Whether a list item is the kind of thing asked for (None: cannot tell)."""
    if not head:
        return None
    if head in _PLACE_NOUNS:
        return any(f == "ns" for _w, f, _s, _e in pos_tokens(item)) or item.endswith(_PLACE_NOUNS)
    org = _org_fits(item, head)
    if org is not None:
        return org
    return item.endswith(head) or item[-1:] in head or any(
        head[i : i + 2] in item for i in range(len(head) - 1)
    )


_LIST_STOP = frozenset(["v", "vd", "vg", "vi", "vq", "p", "c", "d", "u", "uj", "ul", "uz", "ug", "uv", "r", "rr", "rz", "x", "ad", "y", "e", "o"])
_CONNECTORS = ("和", "及", "以及", "与", "或")


def _enumerations(sentence: str) -> list[tuple[int, int]]:
    """(first, last) positions of the `、` of each enumeration: a new one starts where the text
    between two `、` is long or says `等` (the first list has ended)."""
    marks = [m.start() for m in re.finditer("、", sentence)]
    groups: list[tuple[int, int]] = []
    for pos in marks:
        if groups:
            gap = sentence[groups[-1][1] + 1 : pos]
            if len(gap) <= 20 and not re.search(r"等|[，。；：！？,;:!?]", gap):
                groups[-1] = (groups[-1][0], pos)
                continue
        groups.append((pos, pos))
    return groups


def list_span(sentence: str, q: Question) -> Span | None:
    """An enumeration joined by `、` (and a final `和`/`及`), bounded by the words around it."""
    best: tuple[float, Span] | None = None
    toks = pos_tokens(sentence)
    head = _head_phrase(q)
    for first, last in _enumerations(sentence):
        clause_start = max(sentence.rfind(p, 0, first) for p in "，。；：！？,;:!?“”") + 1
        # walk left from the first `、`: the word before it, then noun-like words
        start = first
        for w, f, s, _e in reversed([t for t in toks if t[2] >= clause_start and t[3] <= first]):
            if start < first and (f in _LIST_STOP or w in "“”"):
                break
            start = s
        # walk right from the last `、`: one word, then noun-like words; one connector allowed
        end, take_next, used_connector = last + 1, True, False
        for w, f, _s, e in [t for t in toks if t[2] > last]:
            if re.fullmatch(r"[，。；：！？,;:!?、]", w) or w in _STOP_RIGHT:
                break
            if take_next:
                end, take_next = e, False
            elif w in _CONNECTORS and not used_connector:
                end, take_next, used_connector = e, True, True
            elif f in _LIST_STOP:
                break
            else:
                end = e
        if take_next and used_connector:  # a dangling `和` belongs to the next words
            end = max(end - 2, last + 1)
        if end <= start:
            continue
        text = sentence[start:end]
        items = [i for i in re.split(_SEP.pattern, text) if i]
        fits = [_item_fits(i, head) for i in items]
        strength = 1.0
        if any(f is not None for f in fits):
            share = sum(1 for f in fits if f) / len(fits)
            strength = 1.0 if share >= 0.5 else (0.7 if share > 0 else 0.2)
        score = strength + _nearness(sentence, start, end, q)
        if best is None or score > best[0]:
            best = (score, Span(start, end, strength))
    return best[1] if best else None


# ---------------------------------------------------------------------------- reasons

_REASON_MARK = re.compile(r"因为|由于|旨在|为了|目的是|原因是|是为了")


def reason_span(sentence: str, q: Question) -> Span | None:
    body_end = len(sentence.rstrip("。！？；!?;”’ "))
    m = _REASON_MARK.search(sentence)
    if m and m.end() < body_end:
        clause_end = re.search(r"[。；！？]", sentence[m.end():])
        end = m.end() + clause_end.start() if clause_end else body_end
        return Span(m.end(), end, 1.0)
    clauses = [c.span() for c in re.finditer(r"[^，,；;。！？]+", sentence[:body_end])]
    if len(clauses) < 2:
        return None
    overlaps = [sum(1 for t in q.terms + q.context_terms if t in sentence[s:e]) for s, e in clauses]
    anchor = max(range(len(clauses)), key=lambda i: overlaps[i])
    others = [i for i in range(len(clauses)) if overlaps[i] < overlaps[anchor]]
    if not others:
        return None
    # the clause right before the one that restates the question is its cause; a result
    # connective in the restating clause (`便`, `因此`) makes that reading certain
    pick = min(others, key=lambda i: (abs(i - anchor), i > anchor))
    s, e = clauses[pick]
    a0, a1 = clauses[anchor]
    causal = pick < anchor and re.search(r"便|就|因此|所以|于是|因而|从而|才", sentence[a0:a1])
    return Span(s, e, 0.9 if causal else 0.4)


# ---------------------------------------------------------------------------- definitions


def definition_span(sentence: str, q: Question) -> Span | None:
    """`建立什么机制` -> `信息互通机制`; `什么工作理念` -> `“有为才有位”`; `举行了什么签约` -> ...

    The question's noun after `什么` (its head) and the word before it (its anchor) bracket the
    answer in the sentence.
    """
    head_at = _find_head(sentence, q)
    anchor_at = sentence.find(q.anchor) if q.anchor else -1
    if head_at is not None:
        hs, he = head_at
        before = sentence[:hs]
        quoted = re.search(r"“([^“”]{1,60})”的?$", before)
        if quoted:
            return Span(quoted.start(), quoted.start() + len(quoted.group(0).rstrip("的")), 1.0)
        if 0 <= anchor_at < hs:
            s = anchor_at + len(q.anchor)
            while s < hs and sentence[s] in "了着过":
                s += 1
            if hs - s <= 60 and not re.search(r"[，。；]", sentence[s:hs]):
                return Span(s, he, 1.0)
        # noun-like words right before the head
        runs = [r for r in _nominal_runs(sentence) if r[0] <= hs < r[1] or r[1] == hs]
        if runs:
            s = runs[0][0]
            if s < hs:
                return Span(s, he, 0.8)
    if anchor_at >= 0:
        after = sentence[anchor_at + len(q.anchor):]
        quoted = re.match(r"[了着过]?(“[^“”]{1,60}”)", after)
        if quoted:
            s = anchor_at + len(q.anchor) + quoted.start(1)
            return Span(s, s + len(quoted.group(1)), 0.9)
    return None


def _find_head(sentence: str, q: Question) -> tuple[int, int] | None:
    """Longest prefix of the words after the question word that occurs in the sentence."""
    m = re.search(r"(什么样的?|怎样的|怎么样的|什么|哪种|哪个|哪些|哪家)", q.text)
    if not m:
        return None
    after = re.split(r"[，,。？?！!；;：:]", q.text[m.end():])[0]
    ws = words(after)
    for k in range(len(ws), 0, -1):
        phrase = "".join(ws[:k])
        at = after.find(phrase)
        if at < 0:
            continue
        pos = sentence.find(phrase)
        if pos >= 0:
            return pos, pos + len(phrase)
    return None


# ---------------------------------------------------------------------------- dispatch


def _nearness(sentence: str, s: int, e: int, q: Question) -> float:
    """0..0.5: how close the candidate sits to the question's words in the sentence."""
    best = None
    for a, b in term_hits(sentence, (*q.terms, *q.context_terms)):
        d = a - e if a >= e else s - b if b <= s else 0
        d = max(d, 0)
        best = d if best is None else min(best, d)
    if best is None:
        return 0.0
    return 0.5 / (1.0 + best / 4.0)


@lru_cache(maxsize=1024)
def term_hits(sentence: str, terms: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """(start, end) of each occurrence of each term: cached because the rules ask it of one
    sentence once per span they weigh (~17 times a sentence on the dev questions)."""
    return tuple((m.start(), m.end()) for t in terms for m in re.finditer(re.escape(t), sentence))


_EXTRACTORS = {
    "quantity": quantity_span,
    "date": date_span,
    "person": person_span,
    "place": place_span,
    "organization": organization_span,
    "list": list_span,
    "reason": reason_span,
    "definition": definition_span,
}


def extract(sentence: str, q: Question) -> Span | None:
    """The best typed span of `sentence` for `q`, or None (show the whole sentence)."""
    fn = _EXTRACTORS.get(q.qtype)
    if fn is None:
        return None
    try:
        span = fn(sentence, q)
    except (ValueError, IndexError):
        span = None
    if span is None and q.qtype == "list":
        span = organization_span(sentence, q) or place_span(sentence, q)
    if span is None and q.qtype == "place":
        span = organization_span(sentence, q)
    if span is not None and not (0 <= span.start < span.end <= len(sentence)):
        return None
    return span
