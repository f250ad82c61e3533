"""The Milvus vector store against a real milvus-lite engine (no mocks): the store contract
before and after a save, an index answering exactly as the FAISS one, a reopen from a later
process, and one-line errors for a file in use and an unreachable server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.core import SeedQAError, VectorStore
from qa.engine import SeedQA
from qa.index import open_index
from qa.stores import VECTOR_STORES
from qa.stores.milvus_store import DB, FILE, MilvusStore
from tests.fakes import FakeEncoder

ROOT = Path(__file__).resolve().parents[2]
DOC = "宁波商会成立于2001年。\n\n商会现有会员320家，会长是王立。\n\n总部设在江北区。\n"
MOLDS = "北仑区是模具之乡。\n\n北仑模具企业有近2000家。\n\n模具产值占全省三成。\n"
QUESTIONS = ("北仑有多少家模具企业？", "商会成立于哪一年？", "会长是谁？", "总部设在哪里？")

REOPEN = """
import json, sys
from pathlib import Path
from qa.engine import SeedQA
from qa.index import open_index
from tests.fakes import FakeEncoder
docs, idx = Path(sys.argv[1]), Path(sys.argv[2])
index = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
engine = SeedQA(index, FakeEncoder(), docs)
print(json.dumps({"version": index.folder.name, "answers": [
    engine.answer(q, threshold=0.0).to_json() for q in json.loads(sys.argv[3])]}))
"""


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _release(*stores) -> None:
    for s in stores:
        if isinstance(s, MilvusStore):
            s.close()


def _run(code: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)


def _contract(store: VectorStore, v: np.ndarray) -> None:
    scores, ids = store.search(v[[3, 7]], 4)
    assert ids.shape == (2, 4) and list(ids[:, 0]) == [103, 107]
    np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    np.testing.assert_allclose(store.get([105, 101]), v[[5, 1]], rtol=1e-6)


def test_milvus_store_contract_in_memory_then_in_milvus(tmp_path):
    Store = VECTOR_STORES.get("milvus")
    assert Store is MilvusStore and Store.kind == "milvus"
    store = Store.create(8)
    assert isinstance(store, VectorStore) and store.dim == 8
    v = _vectors(20)
    store.add(range(100, 120), v)
    _contract(store, v)  # before the first save: buffered in memory
    store.add([103], -v[[3]])
    assert len(store) == 20 and store.search(v[[3]], 1)[1][0, 0] != 103
    store.delete([104, 105])
    assert len(store) == 18 and 104 not in store.search(v[[4]], 18)[1]

    folder = tmp_path / "idx" / "v-1" / "passages"
    store.save(folder)
    assert (tmp_path / "idx" / DB).exists()  # the default: beside the index versions
    record = json.loads((folder / FILE).read_text(encoding="utf-8"))
    assert record["collection"].startswith("seedqa_") and record["index"] == "FLAT"
    again = Store.load(folder)
    assert len(again) == 18 and len(store) == 18
    np.testing.assert_array_equal(again.search(v[[9]], 5)[1], store.search(v[[9]], 5)[1])
    np.testing.assert_allclose(again.search(v[[9]], 5)[0], store.search(v[[9]], 5)[0], rtol=1e-5)

    # the same contract, now on Milvus itself
    w = _vectors(20, seed=1)
    again.add(range(100, 120), w)  # upsert over every id
    assert len(again) == 20
    _contract(again, w)
    again.add([103], -w[[3]])
    assert len(again) == 20 and again.search(w[[3]], 1)[1][0, 0] != 103
    again.delete([104, 105])
    assert len(again) == 18 and 104 not in again.search(w[[4]], 18)[1]
    assert again.search(w[:2], 0)[1].shape == (2, 0)
    assert again.search(w[:1], 100)[1].shape == (1, 18)  # k' <= len
    with pytest.raises(KeyError):
        again.get([104])
    _release(store, again)


def test_bulk_save_then_upsert_and_search(tmp_path):
    """Many buffered vectors inserted at save, more upserted straight into Milvus, all found.
    (Throughput and latency are measured by bench/bench_milvus.py, not here.)"""
    n, dim = 2000, 384
    v = _vectors(n, dim)
    store = MilvusStore.create(dim)
    store.add(range(n), v)
    store.save(tmp_path / "idx" / "v-1" / "passages")  # inserts the buffered vectors
    for i in range(0, n, 97):
        assert store.search(v[[i]], 10)[1][0, 0] == i
    w = _vectors(n, dim, seed=1)
    store.add(range(n, 2 * n), w)  # straight into Milvus
    assert len(store) == 2 * n and store.search(w[[7]], 1)[1][0, 0] == n + 7
    _release(store)


def _docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    (docs / "b.txt").write_text(MOLDS, encoding="utf-8")
    return docs


def test_index_on_milvus_answers_as_faiss_and_reopens_in_a_new_process(tmp_path):
    docs = _docs(tmp_path)
    runs = {}
    for kind in ("faiss", "milvus"):
        index = open_index(docs, tmp_path / f"idx-{kind}", FakeEncoder(), progress=False,
                           vector_store=kind)
        assert index.manifest["stores"]["passages"] == kind
        engine = SeedQA(index, FakeEncoder(), docs)
        runs[kind] = [engine.answer(q, threshold=0.0).to_json() for q in QUESTIONS]
    assert runs["milvus"] == runs["faiss"]
    assert "近2000家" in runs["milvus"][0]["answer"]
    assert (tmp_path / "idx-milvus" / DB).exists()
    version = index.folder.name
    _release(index.passages, index.sentences)  # milvus-lite: one process per file

    out = _run(REOPEN, str(docs), str(tmp_path / "idx-milvus"), json.dumps(QUESTIONS))
    assert out.returncode == 0, out.stderr
    later = json.loads(out.stdout.strip().splitlines()[-1])
    assert later["version"] == version  # reopened, not rebuilt
    assert later["answers"] == runs["faiss"]


def test_rebuild_drops_the_old_versions_collections(tmp_path):
    from pymilvus import MilvusClient

    docs = _docs(tmp_path)
    idx = tmp_path / "idx"
    first = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    old = {json.loads((first.folder / s / FILE).read_text())["collection"]
           for s in ("passages", "sentences", "late")}
    (docs / "c.txt").write_text("镇海港口吞吐量全国第一。\n", encoding="utf-8")
    second = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    assert second.folder != first.folder and not first.folder.exists()
    # a third build sweeps what the removed version left behind
    (docs / "d.txt").write_text("慈溪家电企业众多。\n", encoding="utf-8")
    third = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    names = set(MilvusClient(str(idx / DB)).list_collections())
    assert not old & names
    assert {json.loads((third.folder / s / FILE).read_text())["collection"]
            for s in ("passages", "sentences", "late")} <= names
    _release(first.passages, second.passages, third.passages)


def test_a_file_in_use_by_another_process_is_one_line(tmp_path):
    store = MilvusStore.create(4)
    store.add([1], _vectors(1, 4))
    folder = tmp_path / "idx" / "v-1" / "passages"
    store.save(folder)  # this process now holds idx/milvus.db
    out = _run("from pathlib import Path; import sys\n"
               "from qa.stores.milvus_store import MilvusStore\n"
               "from qa.core import SeedQAError\n"
               "try:\n    MilvusStore.load(Path(sys.argv[1]))\n"
               "except SeedQAError as e:\n    print(e); sys.exit(3)\n", str(folder))
    _release(store)
    assert out.returncode == 3, out.stderr
    msg = out.stdout.strip()
    assert len(msg.splitlines()) == 1 and "another process" in msg and "SEEDQA_MILVUS_URI" in msg


def test_an_unreachable_server_is_one_line_and_quick(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_MILVUS_URI", "http://127.0.0.1:1")
    monkeypatch.setenv("SEEDQA_MILVUS_TIMEOUT", "2")
    store = MilvusStore.create(4)
    store.add([1], _vectors(1, 4))
    t0 = time.perf_counter()
    with pytest.raises(SeedQAError) as err:
        store.save(tmp_path / "idx" / "v-1" / "passages")
    assert time.perf_counter() - t0 < 10
    msg = str(err.value)
    assert len(msg.splitlines()) == 1 and "http://127.0.0.1:1" in msg and "SEEDQA_MILVUS_URI" in msg


def test_a_bad_uri_and_a_missing_collection_are_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SEEDQA_MILVUS_URI", str(tmp_path / "no-such-dir" / "x.db"))
    with pytest.raises(SeedQAError, match="folder does not exist"):
        MilvusStore.create(4).save(tmp_path / "a" / "v" / "p")
    monkeypatch.setenv("SEEDQA_MILVUS_URI", str(tmp_path / "x.txt"))
    with pytest.raises(SeedQAError, match="neither a server URI"):
        MilvusStore.create(4).save(tmp_path / "a" / "v" / "p")
    monkeypatch.delenv("SEEDQA_MILVUS_URI")
    folder = tmp_path / "idx" / "v-1" / "passages"
    folder.mkdir(parents=True)
    (folder / FILE).write_text(json.dumps({"uri": "", "default": True, "dim": 4,
                                           "collection": "seedqa_gone"}), encoding="utf-8")
    with pytest.raises(SeedQAError, match="no collection seedqa_gone; rebuild"):
        MilvusStore.load(folder)
    from pymilvus import MilvusClient

    MilvusClient(str(tmp_path / "idx" / DB)).close()
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(tmp_path / "idx" / DB))


def test_cli_store_flag_builds_on_milvus_and_answers_as_faiss(built, seed_index_dir):
    """`seedqa ask --store milvus`: the real CLI, the real encoder, the seeds; the vectors come
    from the copied index's content cache, so only the Milvus collection is new."""
    from tests.conftest import run_cli

    docs, index_dir = built
    q = "北仑有多少家模具企业？"
    on_milvus = run_cli(["ask", q, "--docs", str(docs), "--index", str(index_dir),
                         "--store", "milvus", "--json"])
    assert on_milvus.returncode == 0, on_milvus.stderr
    on_faiss = run_cli(["ask", q, "--index", str(seed_index_dir), "--json"])
    assert on_faiss.returncode == 0, on_faiss.stderr
    assert json.loads(on_milvus.stdout) == json.loads(on_faiss.stdout)
    live = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    manifest = json.loads((index_dir / live / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stores"]["passages"] == "milvus" and (index_dir / DB).is_file()
