"""Re-indexing a changed folder reads only new and changed files, embeds only new text, and
leaves nothing of deleted or outdated files behind (fake encoder: counts, not quality)."""

from __future__ import annotations

import qa.documents
from qa.index import open_index
from tests.fakes import FakeEncoder


class CountingFake(FakeEncoder):
    def __init__(self) -> None:
        self.embedded: list[str] = []

    def encode_passages(self, texts, progress=False):
        self.embedded.extend(texts)
        return super().encode_passages(texts, progress)


def _doc(i: int, version: str = "") -> str:
    return (f"第{i}号文件{version}\n\n第{i}号商会{version}成立于{2000 + i}年，现有会员{100 + i}家。"
            f"\n\n第{i}号商会{version}的会长是张{i}。\n")


def test_changed_folder_reads_and_embeds_only_what_changed(tmp_path, monkeypatch, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(20):
        (docs / f"d{i:02}.txt").write_text(_doc(i), encoding="utf-8")
    enc = CountingFake()
    first = open_index(docs, tmp_path / "idx", enc, progress=False)
    assert {c.doc for c in first.chunks} == {f"d{i:02}.txt" for i in range(20)}

    for i in (3, 7, 11):  # three changed
        (docs / f"d{i:02}.txt").write_text(_doc(i, "（修订）"), encoding="utf-8")
    (docs / "d20.txt").write_text(_doc(20), encoding="utf-8")  # one added
    (docs / "d05.txt").unlink()  # one deleted
    read: list[str] = []
    real = qa.documents.read_paragraphs
    monkeypatch.setattr(qa.documents, "read_paragraphs",
                        lambda path, doc: read.append(doc) or real(path, doc))
    monkeypatch.setattr("qa.index_build.read_paragraphs", qa.documents.read_paragraphs)
    enc.embedded.clear()
    second = open_index(docs, tmp_path / "idx", enc, progress=True)

    assert sorted(read) == ["d03.txt", "d07.txt", "d11.txt", "d20.txt"]
    # only passages and sentences whose text is new reach the encoder
    new_texts = {t for c in second.chunks if c.doc in read for t in
                 [c.text, *(s.text for s in c.sentences)]}
    assert enc.embedded and all(any(t in n or n in t for n in new_texts) for t in enc.embedded)
    assert not any("（修订）" not in t and "第20号" not in t for t in enc.embedded)
    # nothing deleted or outdated is left to cite; unchanged files are all there
    texts = " ".join(c.text for c in second.chunks)
    assert "第5号商会" not in texts
    for i in (3, 7, 11):
        assert f"第{i}号商会成立" not in texts and f"第{i}号商会（修订）成立" in texts
    assert [c.id for c in second.chunks] == list(range(len(second.chunks)))
    err = capsys.readouterr().err
    assert "+1 files, ~3 changed, -1 removed, 4 read" in err


def test_an_index_still_in_use_answers_after_a_rebuild_removes_its_version(tmp_path):
    """A chat app opens the index; `seedqa index` (or an upload) then rebuilds the same folder
    and removes the superseded version. The app's next answer, its first one included, still
    reads the version it opened instead of failing on a missing `chunks.jsonl`."""
    from qa.engine import SeedQA

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"d{i:02}.txt").write_text(_doc(i), encoding="utf-8")
    enc = FakeEncoder()
    running = SeedQA(open_index(docs, tmp_path / "idx", enc, progress=False), enc, docs)
    (docs / "d03.txt").write_text(_doc(3), encoding="utf-8")
    rebuilt = open_index(docs, tmp_path / "idx", enc, progress=False)

    assert not running.index.folder.exists()  # the old version is gone from disk
    answer = running.answer("第1号商会的会长是谁？")  # raised FileNotFoundError before
    assert answer.refused or "张1" in answer.answer
    assert "第2号商会" in running.index.chunks[len(running.index.chunks) - 1].text
    assert all(c.doc != "d03.txt" for c in running.index.chunks)  # still the old version
    assert "d03.txt" in {c.doc for c in rebuilt.chunks}
