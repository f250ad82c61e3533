"""FaissStore at scale, with real FAISS on small clustered data and a small `ivf_min`: the store
turns from exact into IVF-SQ8 at the threshold, keeps the caller's ids, measures its own recall,
updates in place, survives save/load (memory-mapped too) and still reads folders from before
store.json."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from qa.core.errors import SeedQAError
from qa.stores import faiss_store
from qa.stores.faiss_store import NPROBES, FaissStore, recall_at

DIM = 64
N = 4000
THRESHOLD = 3000


def clustered(n: int, seed: int, centres: int = 40, spread: float = 0.6) -> np.ndarray:
    """Unit vectors from a mixture of gaussians (the same centres for every seed)."""
    c = np.random.default_rng(1234).standard_normal((centres, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = c[rng.integers(0, centres, n)] + spread * rng.standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECS = clustered(N, seed=0)
QUERIES = clustered(300, seed=1)  # never stored: an independent recall check
# the caller's ids: huge, sparse, in no particular order
IDS = 10**12 + np.random.default_rng(2).permutation(N).astype(np.int64) * 37


def exact_ids(base: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    return ids[np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :k]]


def build(n: int = N, **kw) -> FaissStore:
    store = FaissStore.create(DIM, **kw)
    store.add(IDS[:n], VECS[:n])
    return store


@pytest.fixture(scope="module")
def ivf_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ivf")
    build(ivf_min=THRESHOLD).save(folder)
    return folder


@pytest.mark.parametrize(("n", "kind"), [(THRESHOLD - 1, "flat"), (THRESHOLD, "ivf-sq8")])
def test_auto_switches_to_ivf_at_the_threshold(n, kind, tmp_path):
    store = build(n, ivf_min=THRESHOLD)
    assert store.info == {"type": "flat"}  # exact until saved
    store.save(tmp_path)
    assert store.info["type"] == kind
    assert json.loads((tmp_path / "store.json").read_text())["info"]["type"] == kind
    assert FaissStore.load(tmp_path).info["type"] == kind
    if kind == "ivf-sq8":
        assert isinstance(faiss.read_index(str(tmp_path / "vectors.faiss")), faiss.IndexIVF)


def test_env_var_sets_the_threshold_at_create_time(monkeypatch, tmp_path):
    monkeypatch.setenv("SEEDQA_IVF_MIN", "500")
    store = build(1000)
    monkeypatch.setenv("SEEDQA_IVF_MIN", "100000")  # read at create, not at save
    store.save(tmp_path / "a")
    assert store.info["type"] == "ivf-sq8"
    store = build(1000, ivf_min=2000)  # the argument beats the environment
    monkeypatch.setenv("SEEDQA_IVF_MIN", "500")
    store.save(tmp_path / "b")
    assert store.info == {"type": "flat"}
    monkeypatch.setenv("SEEDQA_IVF_MIN", "lots")
    with pytest.raises(SeedQAError, match="SEEDQA_IVF_MIN"):
        FaissStore.create(DIM)


def test_ivf_records_its_shape_and_a_recall_that_holds_on_other_queries(ivf_dir):
    store = FaissStore.load(ivf_dir)
    info = store.info
    assert info["type"] == "ivf-sq8" and info["n"] == N and info["queries"] == 200
    assert info["nlist"] == N // 39 and info["train_size"] == N  # 39 training points per list
    assert info["nprobe"] in (*NPROBES, info["nlist"])
    assert info["nprobe"] < info["nlist"]  # approximate for real, not a full scan
    assert info["recall_at_10"] >= 0.95
    found = store.search(QUERIES, 10)[1]
    assert recall_at(found, exact_ids(VECS, IDS, QUERIES)) >= 0.9


def test_the_chosen_nprobe_is_the_smallest_that_reaches_the_target(ivf_dir):
    store = FaissStore.load(ivf_dir, mmap=False)
    index, info = store._index, store.info
    sample = VECS[:200]
    truth = exact_ids(VECS, IDS, sample)

    def recall(p: int) -> float:
        index.nprobe = p
        return recall_at(index.search(sample, 10)[1], truth)

    assert recall(info["nprobe"]) >= 0.9
    if info["nprobe"] > 1:  # the next smaller nprobe really is worse on the store's own vectors
        smaller = max(p for p in NPROBES if p < info["nprobe"])
        assert recall(smaller) < recall(info["nprobe"])


def test_ids_are_the_callers_ids(ivf_dir):
    store = FaissStore.load(ivf_dir)
    scores, ids = store.search(VECS[:50], 10)
    assert set(ids.ravel()) <= set(IDS.tolist())
    assert (ids[:, 0] == IDS[:50]).mean() >= 0.95  # a stored vector finds itself first
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first


def test_get_returns_the_vectors_by_id_in_order(ivf_dir):
    store = FaissStore.load(ivf_dir)
    pick = np.array([3999, 0, 1234, 17, 2500])
    got = store.get(IDS[pick])
    assert got.shape == (5, DIM) and got.dtype == np.float32
    cos = (got * VECS[pick]).sum(axis=1) / np.linalg.norm(got, axis=1)
    assert cos.min() > 0.99
    assert store.get([]).shape == (0, DIM)


def test_deleted_ids_are_never_returned(ivf_dir):
    store = FaissStore.load(ivf_dir)
    gone = np.unique(store.search(QUERIES[:40], 10)[1])  # exactly what these queries find
    store.delete(gone.tolist() + [424242])  # an unknown id is ignored
    assert len(store) == N - len(gone)
    ids = store.search(QUERIES[:40], 10)[1]
    assert ids.shape == (40, 10) and not np.isin(ids, gone).any() and (ids >= 0).all()


def test_searches_never_pad_with_minus_one(ivf_dir):
    store = FaissStore.load(ivf_dir)
    store.delete(IDS[25:])  # 25 vectors left, most lists empty
    _, ids = store.search(QUERIES, 10)
    assert ids.shape == (300, 10) and np.isin(ids, IDS[:25]).all()
    assert store._index.nprobe == store.info["nprobe"]  # widened only for that search


def test_adds_after_load_go_into_the_ivf_and_are_searchable(ivf_dir, tmp_path):
    store = FaissStore.load(ivf_dir)  # memory-mapped: the first write copies it to memory
    new = clustered(100, seed=7)
    new_ids = np.arange(100, dtype=np.int64) * 11 + 5
    store.add(new_ids, new)
    assert len(store) == N + 100 and store.info["type"] == "ivf-sq8"
    assert (store.search(new, 1)[1][:, 0] == new_ids).mean() >= 0.95
    store.add(IDS[:1], -VECS[:1])  # upsert replaces, never duplicates
    assert len(store) == N + 100 and store.search(VECS[:1], 1)[1][0, 0] != IDS[0]
    store.save(tmp_path)
    again = FaissStore.load(tmp_path)
    assert again.info == store.info and len(again) == N + 100
    assert isinstance(again._index, faiss.IndexIVF)
    assert (again.search(new, 1)[1][:, 0] == new_ids).mean() >= 0.95
    # the folder it was loaded from is untouched
    assert len(FaissStore.load(ivf_dir)) == N


def test_save_load_round_trip_keeps_type_nprobe_and_results(ivf_dir, tmp_path):
    store = FaissStore.load(ivf_dir, mmap=False)
    store.save(tmp_path)
    before = store.search(QUERIES, 10)
    for mmap in (True, False):
        loaded = FaissStore.load(tmp_path, mmap=mmap)
        assert loaded.info == store.info and loaded._index.nprobe == store.info["nprobe"]
        after = loaded.search(QUERIES, 10)
        np.testing.assert_array_equal(after[1], before[1])
        np.testing.assert_array_equal(after[0], before[0])


def test_a_mapped_store_survives_its_folder_being_rewritten(tmp_path):
    build(ivf_min=THRESHOLD).save(tmp_path)
    mapped = FaissStore.load(tmp_path)
    before = mapped.search(QUERIES[:20], 10)[1]
    mapped.save(tmp_path)  # over the file it is mapped from
    other = FaissStore.create(DIM, index_type="flat")
    other.add([1, 2], VECS[:2])
    other.save(tmp_path)  # a different store replaces the files
    np.testing.assert_array_equal(mapped.search(QUERIES[:20], 10)[1], before)
    mapped.delete(IDS[:1])  # copies the still-mapped data, not the new file
    assert len(mapped) == N - 1
    assert FaissStore.load(tmp_path).info == {"type": "flat"} and len(FaissStore.load(tmp_path)) == 2


def test_a_mapped_flat_store_copies_itself_on_first_write(tmp_path):
    build(index_type="flat").save(tmp_path)
    store = FaissStore.load(tmp_path)
    assert store._mapped is not None
    store.delete(IDS[:10])
    store.add([7], VECS[:1])
    assert store._mapped is None and len(store) == N - 9
    assert store.search(VECS[:1], 1)[1][0, 0] == 7
    np.testing.assert_allclose(store.get([IDS[20]]), VECS[20:21], atol=1e-6)


def test_flat_when_forced_even_above_the_threshold(tmp_path):
    store = build(index_type="flat", ivf_min=100)
    store.save(tmp_path)
    loaded = FaissStore.load(tmp_path)
    assert store.info == loaded.info == {"type": "flat"}
    np.testing.assert_array_equal(loaded.search(QUERIES, 10)[1], exact_ids(VECS, IDS, QUERIES))


@pytest.mark.parametrize(("n", "kind"), [(2000, "ivf-sq8"), (311, "flat"), (312, "ivf-sq8")])
def test_ivf_when_forced_below_the_threshold_if_there_is_enough_to_train(n, kind, tmp_path):
    # an IVF needs >= 8 lists of >= 39 training points (312 vectors); fewer stay exact
    store = build(n, index_type="ivf")  # ivf_min (100k) is ignored
    store.save(tmp_path)
    assert store.info["type"] == kind
    loaded = FaissStore.load(tmp_path)
    assert isinstance(loaded._index, faiss.IndexIVF) == (kind == "ivf-sq8")
    found = loaded.search(QUERIES, 10)[1]
    assert recall_at(found, exact_ids(VECS[:n], IDS[:n], QUERIES)) >= (0.9 if kind != "flat" else 1)


def test_a_folder_from_before_store_json_loads_as_flat(tmp_path):
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(DIM))  # what the old FaissStore.save wrote
    old.add_with_ids(VECS, IDS)
    faiss.write_index(old, str(tmp_path / "vectors.faiss"))
    store = FaissStore.load(tmp_path)
    assert store.info == {"type": "flat"} and len(store) == N
    np.testing.assert_array_equal(store.search(QUERIES, 10)[1], exact_ids(VECS, IDS, QUERIES))
    store.add([1], VECS[:1])
    store.save(tmp_path)  # stays exact: it was built as exact
    assert FaissStore.load(tmp_path).info == {"type": "flat"}
    assert (tmp_path / "store.json").exists()


@pytest.mark.parametrize("bad", ["hnsw", "IVF", "", None])
def test_unknown_index_type_is_a_user_error(bad):
    with pytest.raises(SeedQAError, match="auto, flat, ivf") as err:
        FaissStore.create(DIM, index_type=bad)
    assert "\n" not in str(err.value)


def test_ivf_shape_follows_the_training_rules():
    assert faiss_store.ivf_shape(N) == (N // 39, N)
    nlist, train = faiss_store.ivf_shape(1_000_000)
    assert nlist * 39 <= train <= 50_000 and nlist >= 1000  # never trains on all of a million
    nlist, train = faiss_store.ivf_shape(100_000)
    assert nlist == round(4 * 100_000**0.5) and 39 * nlist <= train <= 50_000


@pytest.mark.parametrize("n", [THRESHOLD - 1, N])
def test_build_from_batches_equals_create_add_save(n, tmp_path):
    """`FaissStore.build` (what the index build uses: vectors read back in batches, the IVF
    trained on a sample and filled batch by batch) writes the index create + add + save does."""
    ref = FaissStore.create(DIM, ivf_min=THRESHOLD)
    ref.add(np.arange(n), VECS[:n])
    ref.save(tmp_path / "ref")
    calls = []

    def batches():
        calls.append(1)
        for lo in range(0, n, 700):  # uneven batches: the last one short
            yield VECS[lo: min(n, lo + 700)]

    built = FaissStore.build(DIM, n, batches, ivf_min=THRESHOLD)
    built.save(tmp_path / "built")
    assert built.info == ref.info
    assert (tmp_path / "built" / "vectors.faiss").read_bytes() == (
        tmp_path / "ref" / "vectors.faiss").read_bytes()
    assert len(calls) == (1 if n < THRESHOLD else 2)  # the IVF reads the vectors twice
