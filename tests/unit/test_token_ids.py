"""The id-token store (`qa.stores.token_ids`) and BM25 built from it without token strings."""

from __future__ import annotations

import random

import bm25s
import numpy as np
import pytest

from qa.stores import token_ids as tid
from qa.stores.bm25_store import K1, B, Bm25Store
from qa.stores.token_ids import TokenIds, TokenIdWriter, build_bm25


def _corpus(n: int, seed: int = 0, empty_every: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)] + ["压铸", "模具", "压铸模具", "以商养会"]
    docs = []
    for i in range(n):
        if empty_every and i % empty_every == 3:
            docs.append([])
            continue
        # Zipf-like: a few common tokens, many rare ones, repeats within a passage
        docs.append([words[min(int(rng.paretovariate(1.0)) - 1, len(words) - 1)]
                     for _ in range(rng.randint(1, 40))])
    return docs


def test_round_trip_across_batches(tmp_path):
    docs = _corpus(500, empty_every=50)
    with TokenIdWriter(tmp_path) as w:
        for lo in range(0, len(docs), 64):  # appended batch by batch, as the build does
            w.add(docs[lo: lo + 64])
        tok = w.close()
    assert len(tok) == len(docs)
    assert list(tok) == docs
    again = TokenIds.load(tmp_path)
    assert again[3] == [] and again[7] == docs[7]
    assert again.ids.dtype == np.int32


def test_truncated_id_file_is_refused(tmp_path):
    TokenIds.write(tmp_path, _corpus(20))
    path = tmp_path / tid.IDS_FILE
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ValueError):
        TokenIds.load(tmp_path)


@pytest.mark.parametrize("empty_every", [0, 40])
@pytest.mark.parametrize("block", [50, 1_000_000])
def test_matrices_equal_bm25s_bit_for_bit(tmp_path, monkeypatch, empty_every, block):
    monkeypatch.setattr(tid, "BLOCK_TOKENS", block)  # many blocks, and one
    docs = _corpus(400, seed=1, empty_every=empty_every)
    tok = TokenIds.write(tmp_path / "t", docs)
    build_bm25(tok, tmp_path / "m", K1, B)
    ours = bm25s.BM25.load(str(tmp_path / "m"), mmap=True)
    ref = bm25s.BM25(k1=K1, b=B)
    ref.index([d or [""] for d in docs], show_progress=False)
    assert ours.scores["num_docs"] == ref.scores["num_docs"]
    assert set(ours.vocab_dict) == set(ref.vocab_dict)
    # vocabularies number tokens differently: compare column by column, by token
    for t, i in ref.vocab_dict.items():
        j = ours.vocab_dict[t]
        if i + 1 >= len(ref.scores["indptr"]):  # "" appended without a column
            assert j + 1 >= len(ours.scores["indptr"])
            continue
        a = slice(ref.scores["indptr"][i], ref.scores["indptr"][i + 1])
        b = slice(ours.scores["indptr"][j], ours.scores["indptr"][j + 1])
        assert np.array_equal(ref.scores["indices"][a], ours.scores["indices"][b])
        assert np.array_equal(ref.scores["data"][a], ours.scores["data"][b])  # bit for bit


def test_built_store_searches_like_the_in_memory_one(tmp_path):
    docs = _corpus(600, seed=2, empty_every=75)
    memory = Bm25Store(range(len(docs)), docs)
    writer = TokenIdWriter(tmp_path / "lex")
    writer.add(docs[:250])
    writer.add(docs[250:])
    built = Bm25Store.build(tmp_path / "lex", range(len(docs)), writer.close())
    assert built._postings is not None  # postings read from the saved files, not mapped
    ref = bm25s.BM25(k1=K1, b=B)
    ref.index([d or [""] for d in docs], show_progress=False)
    rng = random.Random(3)
    vocab = sorted({t for d in docs for t in d})
    for _ in range(60):
        query = rng.sample(vocab, rng.randint(1, 6)) + ["not-a-token"]
        for k in (1, 5, 10, 1000):
            s1, i1 = memory.search(query, k)
            s2, i2 = built.search(query, k)
            assert np.array_equal(i1, i2) and np.array_equal(s1, s2)
        known = [t for t in query if t in ref.vocab_dict]
        full = np.asarray(ref.get_scores(known), dtype=np.float32)
        assert np.array_equal(built._scores(known), full)  # bm25s' own scores, bit for bit
    for t in vocab[:50]:
        assert built.doc_freq(t) == memory.doc_freq(t) == sum(t in d for d in docs)
    assert len(built) == len(docs)


def test_search_ties_by_id_at_the_cut(tmp_path):
    # every passage scores the same: the k kept are the k smallest ids, as a full sort gave
    docs = [["a", "b"]] * 30
    store = Bm25Store(list(range(100, 130))[::-1], docs)
    scores, ids = store.search(["a"], 4)
    assert list(ids) == [100, 101, 102, 103] and len(set(scores.tolist())) == 1


def test_saved_store_reloads_and_edits(tmp_path):
    docs = _corpus(80, seed=4)
    Bm25Store(range(80), docs).save(tmp_path)
    loaded = Bm25Store.load(tmp_path)
    assert loaded._corpus() == docs
    loaded.add([80], [["压铸模具"]])
    assert int(loaded.search(["压铸模具"], 100)[1][0]) == 80
