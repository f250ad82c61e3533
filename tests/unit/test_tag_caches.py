"""A word taught to jieba after a sentence was tagged changes what is cached about it, so a
server that took in a new document answers as a process started afresh would."""

from __future__ import annotations

from qa.features import _entities, _words
from qa.lexical import add_words, pos_tokens
from qa.span_model import _layout
from qa.spans import _nominal_runs

TERM = "鹮鹮翾翾"  # four rare characters jieba knows as no word
SENTENCE = f"商会提出了{TERM}的新思路。"
CACHED = (_words, _entities, _layout, _nominal_runs)


def test_a_new_word_drops_what_was_cached_from_the_old_tags():
    for f in CACHED:
        f(SENTENCE)
    assert TERM not in _words(SENTENCE)
    add_words([TERM])
    for f in CACHED:
        misses = f.cache_info().misses
        f(SENTENCE)
        assert f.cache_info().misses == misses + 1, f.__name__  # computed again
    assert TERM in {w for w, *_ in pos_tokens(SENTENCE)}
    assert TERM in _words(SENTENCE)
    start = SENTENCE.index(TERM)
    assert any(s <= start and start + len(TERM) <= e for s, e in _nominal_runs(SENTENCE))


def test_a_word_already_known_keeps_the_caches():
    _words(SENTENCE)
    add_words([TERM])  # known by now (this test's module taught it, or the one above did)
    add_words([TERM])
    misses = _words.cache_info().misses
    _words(SENTENCE)
    assert _words.cache_info().misses == misses
