"""What opening an index costs when it is large: chunks read by id, documents not re-hashed when
their stat vouches for them, index files checked by size above a limit (fake encoder)."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import qa.index
from qa.chunk_table import ChunkTable
from qa.core import versioned
from qa.index import open_index
from tests.fakes import FakeEncoder


def _docs(tmp_path, n: int = 6):
    docs = tmp_path / "docs"
    docs.mkdir()
    old = time.time() - 3600  # written long ago: their stat can vouch for them
    for i in range(n):
        p = docs / f"d{i}.txt"
        p.write_text(f"第{i}号文件\n\n第{i}号商会成立于{2000 + i}年，现有会员{100 + i}家。\n\n"
                     f"第{i}号商会的会长是张{i}。它发起了“以商养会{i}”行动。\n", encoding="utf-8")
        os.utime(p, (old, old))
    return docs


def test_chunks_are_read_by_id_and_match_a_full_read(tmp_path):
    docs = _docs(tmp_path)
    index = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    table = index.chunks
    assert isinstance(table, ChunkTable) and len(table) >= 6
    everything = list(table)  # streamed in order
    assert [c.id for c in everything] == list(range(len(table)))
    for i in (len(table) - 1, 0, 3, -1):
        assert table[i] == everything[i]
    assert table[1:3] == everything[1:3]
    with pytest.raises(IndexError):
        table[len(table)]
    # sentence offsets saved at build time agree with the chunks' sentences
    counts = [len(c.sentences) for c in everything]
    assert list(index.sentence_offsets) == [0, *list(__import__("itertools").accumulate(counts))]
    assert index.sentence_vectors(2).shape == (counts[2], FakeEncoder.dim)


def test_coined_terms_are_taught_to_jieba_from_the_saved_list(tmp_path, monkeypatch):
    import qa.lexical

    docs = _docs(tmp_path)
    open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    taught: list[str] = []
    monkeypatch.setattr(qa.index, "add_words", lambda terms: taught.extend(terms))
    monkeypatch.setattr(qa.lexical, "quoted_terms", lambda texts: pytest.fail("scanned chunks"))
    open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    assert "以商养会0" in taught and "以商养会5" in taught


def test_unchanged_documents_are_not_hashed_again_at_open(tmp_path, monkeypatch):
    docs = _docs(tmp_path)
    open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    hashed: list[str] = []
    real = versioned.sha256_file
    monkeypatch.setattr(versioned, "sha256_file", lambda p: hashed.append(str(p)) or real(p))
    versioned._memo.clear()
    again = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    assert not [h for h in hashed if h.startswith(str(docs)) and ".seedqa" not in h]

    # a change with the same size but a new mtime is seen, and only that file is hashed
    p = docs / "d2.txt"
    p.write_text(p.read_text(encoding="utf-8").replace("张2", "李2"), encoding="utf-8")
    hashed.clear()
    changed = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    doc_hashes = [h for h in hashed if h.startswith(str(docs / "d"))]
    assert doc_hashes == [str(p)]
    assert changed.folder != again.folder and "李2" in "".join(c.text for c in changed.chunks)


def test_a_file_changed_in_the_same_tick_as_its_stat_is_hashed_anyway(tmp_path):
    docs = _docs(tmp_path, 2)
    p = docs / "d1.txt"
    p.write_text(p.read_text(encoding="utf-8"), encoding="utf-8")  # mtime: now
    first = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    st = p.stat()
    p.write_text(p.read_text(encoding="utf-8").replace("张1", "王1"), encoding="utf-8")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: racy
    second = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    assert second.folder != first.folder and "王1" in "".join(c.text for c in second.chunks)


def test_a_large_index_is_checked_by_size_at_open_and_hashed_on_verify(tmp_path, monkeypatch,
                                                                          caplog):
    docs = _docs(tmp_path)
    first = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    monkeypatch.setattr(qa.index, "VERIFY_CONTENT_MAX_BYTES", 0)  # every index counts as large
    target = first.folder / "chunks.jsonl"
    data = bytearray(target.read_bytes())
    data[5] ^= 0x01  # same size: only a hash sees it
    target.write_bytes(bytes(data))
    same = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    assert same.folder == first.folder
    with caplog.at_level("INFO", logger="qa.index"):
        fixed = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=True, verify=True)
    assert fixed.folder != first.folder
    assert "chunks.jsonl is corrupted (checksum mismatch)" in caplog.text


def test_index_type_is_chosen_recorded_and_overridden(tmp_path, monkeypatch, caplog):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(400):  # 400 one-passage files: enough to train a small IVF
        (docs / f"d{i:03}.txt").write_text(
            f"编号{i}的商会成立于{1900 + i}年，会员{i * 7}家，会长是第{i}号人物。", encoding="utf-8")
    monkeypatch.setenv("SEEDQA_IVF_MIN", "300")
    auto = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    kind = auto.manifest["passage_index"]
    assert len(auto.chunks) >= 300 and kind["type"] == "ivf-sq8"
    assert kind["recall_at_10"] >= 0.95 or kind["nprobe"] == kind["nlist"]
    with caplog.at_level("INFO", logger="qa.index"):
        flat = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=True, index_type="flat")
    assert flat.manifest["passage_index"] == {"type": "flat", "asked": "flat"}
    assert "built as a ivf-sq8 index, flat asked for" in caplog.text
    # auto keeps whatever is built; asking for what is built rebuilds nothing
    assert open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False).folder == flat.folder
    ivf = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False, index_type="ivf")
    assert ivf.manifest["passage_index"]["type"] == "ivf-sq8"
    assert open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False,
                      index_type="ivf").folder == ivf.folder
    # the approximate index finds a passage by its own vector
    c = ivf.chunks[123]
    from qa.index_build import passage_text

    _scores, ids = ivf.passages.search(FakeEncoder().encode_passages([passage_text(c)]), 5)
    assert 123 in ids[0]


def test_tokens_from_the_process_pool_equal_the_parent_s(monkeypatch):
    import qa.lexical
    from qa.lexical import Tokenizer, add_words, tokenize

    texts = [f"宁波市工商联发起“以商养会{i}”行动，会员{i}家企业参与。" for i in range(300)]
    terms = [f"以商养会{i}" for i in range(300)]
    add_words(terms)
    here = [tokenize(t) for t in texts]
    monkeypatch.setattr(qa.lexical, "POOL_MIN", 10)
    with Tokenizer(terms, total=len(texts)) as tok:
        assert tok._pool is not None  # really in other processes
        assert tok.map(texts) == here
    assert "以商养会7" in here[7]  # the workers were taught the coined terms too


def test_a_sentence_array_written_in_place_is_saved_without_a_copy(tmp_path):
    import numpy as np

    from qa.stores.array_store import ArrayStore

    folder = tmp_path / "sentences"
    store = ArrayStore.create(8, folder=folder, size=5)
    v = np.eye(8, dtype=np.float32)[:5]
    store.add(range(0, 3), v[:3])
    store.add(range(3, 5), v[3:])
    store.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["vectors.npy"]
    again = ArrayStore.load(folder)
    assert len(again) == 5 and np.array_equal(again.get(range(1, 4)), v[1:4])
    assert np.array_equal(again.get([4, 0]), v[[4, 0]])


def test_a_build_streams_its_chunks_in_batches(tmp_path, monkeypatch):
    import qa.index_build

    docs = _docs(tmp_path, 6)
    monkeypatch.setattr(qa.index_build, "BUILD_BATCH", 4)  # several batches for 12 passages

    class Counting(FakeEncoder):
        calls: list[int] = []

        def encode_passages(self, texts, progress=False):
            Counting.calls.append(len(texts))
            return super().encode_passages(texts, progress)

    index = open_index(docs, tmp_path / "idx", Counting(), progress=False)
    whole = open_index(docs, tmp_path / "idx2", FakeEncoder(), progress=False)
    assert max(Counting.calls) <= 4 * 4  # a batch's passages, or its sentences
    assert len(Counting.calls) >= 4
    # the same index as a build in one batch would make
    assert list(index.chunks) == list(whole.chunks)
    import numpy as np

    assert np.array_equal(index.sentences.get(range(len(index.sentences))),
                          whole.sentences.get(range(len(whole.sentences))))


def test_ivf_asked_of_a_store_too_small_to_train_is_built_once(tmp_path, caplog):
    docs = _docs(tmp_path)
    small = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False, index_type="ivf")
    assert small.manifest["passage_index"] == {"type": "flat", "asked": "ivf"}
    with caplog.at_level("INFO", logger="qa.index"):
        again = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=True, index_type="ivf")
    assert again.folder == small.folder and "rebuilding" not in caplog.text


def test_vector_cache_merges_new_digests_and_finds_every_row(tmp_path, monkeypatch):
    """Digests appended past `MERGE_NEW` join the sorted arrays (no dict entry per vector);
    every text is still found, by this cache and by one reopened from disk."""
    from qa import vector_cache
    from qa.vector_cache import VectorCache

    monkeypatch.setattr(vector_cache, "MERGE_NEW", 7)
    encoded: list[str] = []

    def enc(texts):
        encoded.extend(texts)
        return np.stack([np.full(4, float(t.split()[1]), np.float32) for t in texts])

    cache = VectorCache(tmp_path / "c", 4)
    texts = [f"t {i}" for i in range(60)]
    for lo in range(0, 60, 9):
        cache.embed("passage", texts[lo: lo + 9], enc, batch=4)
    assert len(cache._new) < 7 and len(cache._sorted) >= 53
    for c in (cache, VectorCache(tmp_path / "c", 4)):
        vecs, n = c.embed("passage", texts[::-1], enc)
        assert n == 0 and np.array_equal(vecs[:, 0], np.arange(59, -1, -1, dtype=np.float32))
    assert sorted(encoded) == sorted(texts)  # each embedded once


def test_array_store_written_in_place_without_a_writable_map(tmp_path):
    from qa.stores.array_store import ArrayStore

    store = ArrayStore.create(4, folder=tmp_path, size=6)
    assert store._vectors.flags.writeable is False  # rows go through pwrite
    store.add(range(0, 3), np.arange(12, dtype=np.float32).reshape(3, 4))
    store.add([5, 3], np.array([[9] * 4, [7] * 4], dtype=np.float32))  # out of order
    store.add([4], np.full((1, 4), 8, np.float32))
    assert np.array_equal(store.get(range(3, 6))[:, 0], [7, 8, 9])  # visible before save
    store.save(tmp_path)
    again = ArrayStore.load(tmp_path)
    assert np.array_equal(again.get(range(0, 6))[:, 0], [0, 4, 8, 7, 8, 9])


def test_a_build_stopped_mid_way_resumes_and_embeds_nothing_twice(tmp_path, monkeypatch):
    """Batches of vectors reach the on-disk cache as they are made, so a build that dies after
    some of them (here the encoder fails on its third call) leaves them behind: the next build
    embeds only the rest, and ends with the index a build in one go makes."""
    import qa.index_build

    docs = _docs(tmp_path, 6)
    monkeypatch.setattr(qa.index_build, "BUILD_BATCH", 4)

    class Dying(FakeEncoder):
        seen: list[str] = []
        fail_at: int | None = 3

        def encode_passages(self, texts, progress=False):
            calls = getattr(self, "calls", 0) + 1
            self.calls = calls
            if calls == self.fail_at:
                raise RuntimeError("killed mid-build")
            Dying.seen.extend(texts)
            return super().encode_passages(texts, progress)

    first = Dying()
    with pytest.raises(RuntimeError, match="killed mid-build"):
        open_index(docs, tmp_path / "idx", first, progress=False)
    done_before = len(Dying.seen)
    assert done_before > 0  # some batches were embedded and kept
    second = Dying()
    second.fail_at = None
    index = open_index(docs, tmp_path / "idx", second, progress=False)
    assert len(Dying.seen) == len(set(Dying.seen))  # no text embedded twice
    whole = open_index(docs, tmp_path / "idx2", FakeEncoder(), progress=False)
    n_texts = len(whole.chunks) + len(whole.sentences)
    assert len(Dying.seen) == n_texts > done_before
    assert list(index.chunks) == list(whole.chunks)
    assert np.array_equal(index.sentences.get(range(len(index.sentences))),
                          whole.sentences.get(range(len(whole.sentences))))
