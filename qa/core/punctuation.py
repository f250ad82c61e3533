"""Sentence punctuation, defined once for every step that cuts text into sentences.

Chunking, cleaning, answer spans, example questions and the chat window's excerpts must agree on
where a sentence ends, or an answer sentence would be cut differently in one place than another.
"""

import re

#: Marks that end a sentence (full-width and ASCII).
SENTENCE_ENDS = "。！？；!?;"
#: Closing quotes and brackets that stay with the sentence they close.
CLOSERS = "”’」』）)】》\"'"

# A full stop ends a sentence only in Latin text: after a letter, digit or closer, and before
# white space and a capital, a digit or an opening quote (or the end), so `1.6亿`, `www.gov.cn`,
# `3.5` and a Chinese list's `1. 羊声` never do. Chinese text ends its sentences with `。`, so this
# adds ends only where a document is written in English (or another Latin script), which would
# otherwise be one sentence from its first line to its last.
_FULL_STOP = re.compile(
    rf"(?<=[A-Za-z0-9{re.escape(CLOSERS)}])\.+[{re.escape(CLOSERS)}]*(?=\s+[A-Z0-9\"'“‘(]|\s*$)"
)
_WORD_BEFORE = re.compile(r"[A-Za-z.]*$")
# words whose full stop marks an abbreviation, not a sentence end (lower-cased)
ABBREVIATIONS = frozenset([
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "eg", "ie", "cf", "al", "inc",
    "ltd", "co", "corp", "no", "nos", "fig", "figs", "vol", "pp", "ed", "eds", "approx", "dept",
    "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "mt", "ft", "gen", "gov", "rev", "var", "ssp", "sp", "spp",
])
_ENDS_RUN = re.compile(f"[{SENTENCE_ENDS}]+[{re.escape(CLOSERS)}]*")


def latin_stop(text: str, m: re.Match) -> bool:
    """Whether the full stop matched at `m` ends a sentence: not after an abbreviation (`Dr.`,
    `e.g.`, `U.S.`) or a lone capital (`J. K. Rowling`)."""
    word = _WORD_BEFORE.search(text, 0, m.start()).group()
    if "." in word or len(word) == 1 and word.isupper():
        return False
    return word.lower() not in ABBREVIATIONS


def sentence_ends(text: str) -> list[int]:
    """Offsets just past each sentence end of `text` (its closing quotes included), in order."""
    ends = {m.end() for m in _ENDS_RUN.finditer(text)}
    ends.update(m.end() for m in _FULL_STOP.finditer(text) if latin_stop(text, m))
    return sorted(ends)


def ends_sentence(text: str) -> bool:
    """Whether `text` (trailing white space aside) ends on a sentence end."""
    text = text.rstrip()
    ends = sentence_ends(text)
    return bool(ends) and ends[-1] == len(text)
