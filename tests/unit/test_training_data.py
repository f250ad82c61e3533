"""Feature caches are filed under the digest of the questions they were computed from."""

from __future__ import annotations

import hashlib

import pytest

import qa.training_data as td
from qa.core.errors import SeedQAError

LINE = '{"id": "q1", "question": "宁波有多少家商会？", "answers": ["5家"]}\n'


def test_items_and_digest_are_of_the_same_contents(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text(LINE, encoding="utf-8")
    items, digest = td._read(path)
    assert [i.id for i in items] == ["q1"]
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_a_file_edited_while_it_is_read_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "q.jsonl"
    path.write_text(LINE, encoding="utf-8")
    real = td.load_gold

    def load_then_edit(p):
        items = real(p)
        with p.open("a", encoding="utf-8") as f:  # another process appends meanwhile
            f.write(LINE.replace("q1", "q2"))
        return items

    monkeypatch.setattr(td, "load_gold", load_then_edit)
    with pytest.raises(SeedQAError, match="changed while it was read"):
        td._read(path)
