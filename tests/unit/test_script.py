"""One script for search: `to_simplified` gives OpenCC's t2s, character for character; where no
phrase rule can apply it uses the character table through `str.translate` instead of OpenCC's
pure-Python walk, with the very same result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from opencc import OpenCC

from qa.lexical import to_simplified

ROOT = Path(__file__).resolve().parents[2]


def _opencc(text: str) -> str:
    cc = OpenCC("t2s")
    out = cc.convert(text)
    if len(out) != len(text):  # as `to_simplified` documents: one character at a time then
        out = "".join(cc.convert(ch) if len(cc.convert(ch)) == 1 else ch for ch in text)
    return out


def _texts() -> list[str]:
    out = []
    for name in ("drcd_sample.json", "cmrc2018_sample.json"):
        data = json.loads((ROOT / "tests" / "data" / name).read_text(encoding="utf-8"))
        for article in data["data"]:
            for p in article["paragraphs"]:
                out += re.split(r"(?<=[。！？])", p["context"]) + [q["question"] for q in p["qas"]]
    for f in sorted((ROOT / "seeds").glob("*.txt")):
        out += re.split(r"(?<=[。！？])", f.read_text(encoding="utf-8"))
    return [t for t in out if t.strip()]


def test_every_sample_text_converts_exactly_as_opencc():
    texts = _texts()
    assert len(texts) > 300
    assert [to_simplified(t) for t in texts] == [_opencc(t) for t in texts]


@pytest.mark.parametrize(("text", "simplified"), [
    ("北侖有多少家模具企業？", "北仑有多少家模具企业？"),
    ("他反覆思量", "他反复思量"),  # a phrase rule made only of characters simplified text uses
    ("宁波市工商联", "宁波市工商联"),
    ("", ""),
])
def test_phrases_and_characters(text, simplified):
    assert to_simplified(text) == simplified == _opencc(text)


def test_every_rule_key_alone_converts_as_opencc():
    from qa import lexical

    to_simplified("")
    keys = [k for _lo, _hi, rules in lexical._tables(lexical._t2s._dict_chain_data) for k in rules]
    assert len(keys) > 4000
    assert [to_simplified(k) for k in keys] == [_opencc(k) for k in keys]
