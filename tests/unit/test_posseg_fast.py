"""The numpy Viterbi (`qa.posseg_fast`) tags exactly as jieba's own, sentence by sentence."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import jieba.posseg
from jieba.posseg import char_state_tab_P, emit_P, start_P, trans_P

from qa import posseg_fast
from qa.lexical import _get_jieba

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _original():
    return sys.modules["jieba.posseg.viterbi"].viterbi


def _seed_lines() -> list[str]:
    lines = []
    for f in sorted(SEEDS.rglob("*.txt")):
        lines += [ln.strip() for ln in f.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return lines


def test_same_route_and_probability_as_jieba():
    _get_jieba()
    posseg_fast.install()
    rng = random.Random(0)
    chars = [chr(c) for c in range(0x4E00, 0x9FA6)]
    texts = ["".join(rng.choice(chars) for _ in range(rng.randint(1, 12))) for _ in range(300)]
    texts += ["以商养会", "中华人民共和国", "压铸模具厂", "乌鲁木齐", "鑫鑫鑫鑫"]
    for text in texts:
        assert posseg_fast.viterbi(text, char_state_tab_P, start_P, trans_P, emit_P) == (
            _original()(text, char_state_tab_P, start_P, trans_P, emit_P))


def test_every_seed_sentence_tagged_the_same():
    _get_jieba()
    lines = _seed_lines()
    assert len(lines) > 100
    jieba.posseg.viterbi = _original()
    try:
        before = [jieba.posseg.lcut(t) for t in lines]
    finally:
        posseg_fast.install()
    assert jieba.posseg.viterbi is posseg_fast.viterbi
    after = [jieba.posseg.lcut(t) for t in lines]
    assert [[(p.word, p.flag) for p in s] for s in before] == [
        [(p.word, p.flag) for p in s] for s in after]


def test_a_run_seen_before_comes_from_the_memo_unchanged():
    _get_jieba()
    posseg_fast.install()
    text = "國家這個體育場"  # traditional: words jieba's simplified dictionary must guess
    first = posseg_fast.viterbi(text, char_state_tab_P, start_P, trans_P, emit_P)
    first[1].append("mutated by a caller")  # a caller's list is its own
    tb = posseg_fast._tables_for(trans_P, start_P, emit_P)
    assert (id(char_state_tab_P), text) in tb.memo
    again = posseg_fast.viterbi(text, char_state_tab_P, start_P, trans_P, emit_P)
    assert again == _original()(text, char_state_tab_P, start_P, trans_P, emit_P)


def test_joined_text_tags_as_its_parts():
    """`qa.features` takes a context's entity kinds as the union of its title's, previous
    sentence's and sentence's own (each cached) rather than tagging the three joined by spaces:
    that is only right while jieba cuts at every space, which this checks on every pair of
    neighbouring seed lines."""
    from qa.features import _entities, simple

    lines = [simple(ln) for ln in _seed_lines()]
    assert len(lines) > 100
    for a, b in zip(lines, lines[1:], strict=False):
        joined = set(_entities(f"{a[:12]} {a} {b}"))
        assert joined == set(_entities(a[:12])) | set(_entities(a)) | set(_entities(b))
