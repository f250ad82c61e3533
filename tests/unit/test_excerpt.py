"""Excerpts of a passage cut where chunking cuts sentences, in Chinese and in English."""

from __future__ import annotations

from ui.render import excerpt


def test_an_english_excerpt_starts_and_stops_at_sentence_ends():
    passage = ("The Eiffel Tower is a lattice tower in Paris. It is named after Gustave Eiffel. "
               "The tower is 330 metres tall. It was the tallest structure until 1930. "
               "More than 6 million people visit it every year.")
    out = excerpt(passage, "The tower is 330 metres tall.", room=40)
    assert out.startswith("…It is named after Gustave Eiffel.")
    assert '<span class="sq-hit">The tower is 330 metres tall.</span> It was' in out


def test_a_chinese_excerpt_keeps_a_closing_quote_with_its_sentence():
    passage = "前面还有很多很多的文字。他说：“今年增长了两成。”答案就在这一句里。后面还有别的话，也很长很长。"
    out = excerpt(passage, "答案就在这一句里。", room=12)
    # the excerpt starts after `。”`, not between them
    assert out.startswith('…<span class="sq-hit">答案就在这一句里。</span>后面')
