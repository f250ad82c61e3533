"""Stores and loaders behind their registries, with the fake encoder: the backends' contract,
and that a new backend is one module plus one registry line."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from qa.core import Answerer, LexicalStore, Loader, SeedQAError, VectorStore
from qa.engine import SeedQA
from qa.index import open_index
from qa.loaders import LOADERS, loader_for, register, suffixes
from qa.stores import LEXICAL_STORES, VECTOR_STORES
from tests.fakes import FakeEncoder

DOC = "宁波商会成立于2001年。\n\n商会现有会员320家，会长是王立。\n\n总部设在江北区。\n"


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", VECTOR_STORES.names())
def test_vector_store_contract(kind, tmp_path):
    Store = VECTOR_STORES.get(kind)
    store = Store.create(8)
    assert isinstance(store, VectorStore) and Store.kind == kind
    tol = 1e-3 if kind == "array" else 1e-5  # the array store keeps float16
    v = _vectors(20)
    store.add(range(100, 120), v)
    scores, ids = store.search(v[[3, 7]], 4)
    assert ids.shape == (2, 4) and list(ids[:, 0]) == [103, 107]
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=tol)
    np.testing.assert_allclose(store.get([105, 101]), v[[5, 1]], rtol=tol, atol=tol)
    store.add([103], -v[[3]])  # upsert replaces, never duplicates
    assert len(store) == 20 and store.search(v[[3]], 1)[1][0, 0] != 103
    store.delete([104, 105])
    assert len(store) == 18 and 104 not in store.search(v[[4]], 18)[1]
    store.save(tmp_path / "s")
    again = Store.load(tmp_path / "s")
    assert len(again) == 18
    np.testing.assert_array_equal(again.search(v[[9]], 5)[1], store.search(v[[9]], 5)[1])


@pytest.mark.parametrize("kind", LEXICAL_STORES.names())
def test_lexical_store_contract(kind, tmp_path):
    Store = LEXICAL_STORES.get(kind)
    store = Store([10, 11, 12], [["宁波", "商会"], ["会员", "商会"], ["江北区"]])
    assert isinstance(store, LexicalStore)
    scores, ids = store.search(["会员"], 5)
    assert list(ids) == [11] and scores[0] > 0
    assert list(store.search(["不存在"], 5)[1]) == []  # no shared word: no hit, not a zero score
    assert store.doc_freq("商会") == 2 and store.doc_freq("不存在") == 0
    store.save(tmp_path / "lex")
    loaded = Store.load(tmp_path / "lex")
    assert list(loaded.search(["商会"], 5)[1]) == list(store.search(["商会"], 5)[1])
    loaded.add([12], [["会员", "总部"]])  # upsert after a load re-indexes from the saved tokens
    loaded.delete([10])
    assert len(loaded) == 2 and sorted(loaded.search(["会员"], 5)[1]) == [11, 12]


def test_registries_fail_in_one_line_naming_what_exists():
    with pytest.raises(SeedQAError, match="unknown vector store 'qdrant'; known: faiss, milvus, array"):
        VECTOR_STORES.get("qdrant")
    assert loader_for("notes.xyz") is None and ".txt" in suffixes()
    assert isinstance(loader_for("a.MD"), Loader)


def test_fake_encoder_engine_answers_with_the_sentence_and_its_own_lines(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    index = open_index(docs, tmp_path / "idx", FakeEncoder(), progress=False)
    engine = SeedQA(index, FakeEncoder(), docs)
    assert isinstance(engine, Answerer)
    a = engine.answer("商会现有会员多少家？", threshold=0.0)
    assert not a.refused and "320家" in a.answer
    cited = a.citations[a.source - 1]
    assert cited.text[a.location.char_start : a.location.char_end] == a.answer
    assert (a.location.line_start, a.location.line_end) == (3, 3)
    assert a.location.label() == "a.txt:3"


THROWAWAY = '''
"""A throwaway VectorStore: brute-force numpy, to show a backend is one module."""
import numpy as np

class NumpyStore:
    kind = "numpy"

    def __init__(self, ids, vecs):
        self.ids, self.vecs = ids, vecs

    @classmethod
    def create(cls, dim):
        return cls(np.zeros(0, np.int64), np.zeros((0, dim), np.float32))

    @property
    def dim(self):
        return self.vecs.shape[1]

    def __len__(self):
        return len(self.ids)

    def add(self, ids, vectors):
        self.delete(ids)
        self.ids = np.concatenate([self.ids, np.asarray(ids, np.int64)])
        self.vecs = np.concatenate([self.vecs, vectors])

    def delete(self, ids):
        keep = ~np.isin(self.ids, np.asarray(ids, np.int64))
        self.ids, self.vecs = self.ids[keep], self.vecs[keep]

    def search(self, queries, k):
        scores = queries @ self.vecs.T
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, order, 1), self.ids[order]

    def get(self, ids):
        pos = {int(i): r for r, i in enumerate(self.ids)}
        return self.vecs[[pos[int(i)] for i in ids]]

    def save(self, folder):
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "store.npz", ids=self.ids, vecs=self.vecs)

    @classmethod
    def load(cls, folder):
        with np.load(folder / "store.npz") as d:
            return cls(d["ids"], d["vecs"])
'''

SHOUT_LOADER = '''
"""A throwaway Loader: `.shout` files, one paragraph per line, to show a format is one module."""
from qa.core.records import Paragraph

class ShoutLoader:
    suffixes = (".shout",)

    def load(self, path, doc):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                yield Paragraph(doc, "", line.strip(), no, no, 0, breaks=((0, no),))
'''


def test_a_new_store_and_loader_are_one_module_and_one_registry_line(tmp_path, monkeypatch):
    (tmp_path / "throwaway_store.py").write_text(textwrap.dedent(THROWAWAY), encoding="utf-8")
    (tmp_path / "shout_loader.py").write_text(textwrap.dedent(SHOUT_LOADER), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(VECTOR_STORES, "_entries", dict(VECTOR_STORES._entries))
    monkeypatch.setattr(LOADERS, "_entries", dict(LOADERS._entries))
    monkeypatch.setattr("qa.loaders._BY_SUFFIX", dict(__import__("qa.loaders").loaders._BY_SUFFIX))

    VECTOR_STORES.register("numpy", "throwaway_store:NumpyStore")  # the one registry line
    register("shout", "shout_loader:ShoutLoader", (".shout",))  # the one registry line

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    (docs / "b.shout").write_text("\n北仑模具企业有近2000家。\n", encoding="utf-8")
    runs = {}
    for kind in ("faiss", "numpy"):
        index = open_index(docs, tmp_path / f"idx-{kind}", FakeEncoder(), progress=False,
                           vector_store=kind)
        assert index.manifest["stores"]["passages"] == kind
        engine = SeedQA(index, FakeEncoder(), docs)
        runs[kind] = [engine.answer(q, threshold=0.0).to_json()
                      for q in ("北仑有多少家模具企业？", "商会成立于哪一年？")]
    assert runs["numpy"] == runs["faiss"]
    first = runs["numpy"][0]
    assert "近2000家" in first["answer"] and first["location"]["doc"] == "b.shout"
    assert first["location"]["line_start"] == 2
    sys.modules.pop("throwaway_store", None)
    sys.modules.pop("shout_loader", None)


def test_array_store_prefetch_is_a_hint_that_changes_no_row(tmp_path):
    """Sentence rows of a question's passages are announced together before they are read (a
    disk round trip each at a million passages); mapped or in memory, the rows read are equal."""
    from qa.stores.array_store import ArrayStore

    v = _vectors(3000)
    store = ArrayStore.create(8)
    store.add(range(3000), v)
    store.save(tmp_path / "s")
    mapped = ArrayStore.load(tmp_path / "s")
    assert mapped._rows is not None  # a saved store reads a chunk's rows with pread
    spans = [(0, 3), (1500, 1500), (2990, 3000), (700, 1200)]
    for s in (store, mapped):
        s.prefetch(spans)
        for lo, hi in spans:
            np.testing.assert_array_equal(s.get(range(lo, hi)), store.get(range(lo, hi)))


def test_npy_rows_reads_what_numpy_loads(tmp_path):
    """Rows read with pread (no map, so resident memory does not grow with every question at a
    million passages) equal numpy's own, clipped at the ends, for 1-D and 2-D arrays."""
    from qa.stores.npy_rows import NpyRows

    rng = np.random.default_rng(0)
    for name, arr in (("m.npy", rng.standard_normal((1000, 7)).astype(np.float16)),
                      ("v.npy", rng.integers(0, 2**31, 5000).astype(np.int32))):
        np.save(tmp_path / name, arr)
        rows = NpyRows(tmp_path / name)
        assert len(rows) == len(arr) and rows.dtype == arr.dtype
        for lo, hi in ((0, 1), (3, 3), (990, 1200), (0, len(arr)), (-5, 2)):
            np.testing.assert_array_equal(rows.read(lo, hi), arr[max(lo, 0):hi])
        rows.will_need(0, 10)  # a hint: no error, no change
        np.testing.assert_array_equal(rows.read(0, 10), arr[:10])
    rows = NpyRows(tmp_path / "v.npy")
    with open(tmp_path / "v.npy", "r+b") as f:  # cut short after opening: refused, not padded
        f.truncate(f.seek(0, 2) - 100)
    with pytest.raises(OSError, match="ended"):
        rows.read(0, 5000)
