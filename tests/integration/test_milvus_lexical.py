"""The Milvus BM25 lexical store against a real milvus-lite engine (no mocks): BM25 ranking equal
to bm25s' (scores, ties), seedqa's tokens kept whole, document frequencies through upserts and
deletes, a reopen from a new client and a new process, the sweep of old collections, and a whole
engine on `--store milvus` answering as the FAISS + bm25s one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.core import LexicalStore
from qa.engine import SeedQA
from qa.index import open_index
from qa.stores import LEXICAL_STORES, lexical_store
from qa.stores.bm25_store import Bm25Store
from qa.stores.milvus_lexical import MilvusBm25Store, decode_token, encode_token
from qa.stores.milvus_store import DB, FILE
from tests.fakes import FakeEncoder
from tests.integration.test_milvus_store import _docs

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ("北仑有多少家模具企业？", "商会成立于哪一年？", "会长是谁？", "总部设在哪里？")
CORPUS = {
    10: ["宁波", "商会", "成立"],
    11: ["商会", "会员", "商会"],
    12: ["江北区", "总部", "商会"],
    13: ["模具", "北仑", "模具", "企业"],
    14: ["宁波", "港口"],
}
# what a whitespace analyzer would split or a C string would cut, kept as one token each
ODD = ["new york", "c++", "a%20b", "%", "say \"hi\"", "it's", "back\\slash", "tab\tx", "nul\x00x",
       "全角\u3000空格", "line\nbreak", "Ab", "ab", "é"]

REOPEN = """
import json, sys
from pathlib import Path
from qa.stores.milvus_lexical import MilvusBm25Store
store = MilvusBm25Store.load(Path(sys.argv[1]))
queries = json.loads(sys.argv[2])
print(json.dumps({"len": len(store),
                  "hits": [[s.tolist(), i.tolist()] for s, i in (store.search(q, 5) for q in queries)],
                  "df": [store.doc_freq(q[0]) for q in queries]}))
"""


def _store(tmp_path: Path, corpus: dict[int, list[str]] = CORPUS, save: bool = True):
    store = MilvusBm25Store(list(corpus), list(corpus.values()))
    if save:
        store.save(tmp_path / "idx" / "v-1" / "lexical")
    return store


def _same(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> None:
    assert list(a[1]) == list(b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)


def test_registered_and_built_beside_milvus():
    assert LEXICAL_STORES.get("milvus-bm25") is MilvusBm25Store
    assert lexical_store("milvus") == "milvus-bm25" and lexical_store("faiss") == "bm25"
    assert isinstance(MilvusBm25Store(), LexicalStore)


@pytest.mark.parametrize("saved", [False, True], ids=["buffered", "in-milvus"])
def test_ranks_and_scores_as_bm25s(tmp_path, saved):
    """Milvus' BM25 with (k1 + 1) divided out is bm25s' BM25: same ids, same scores."""
    store = _store(tmp_path, save=saved)
    ref = Bm25Store(list(CORPUS), list(CORPUS.values()))
    scores, ids = store.search(["北仑", "商会"], 5)
    assert ids[0] == 13  # the rare token outweighs the common one
    assert set(ids) == {10, 11, 12, 13} and np.all(np.diff(scores) <= 0) and np.all(scores > 0)
    for q in (["北仑", "商会"], ["宁波"], ["商会"], ["模具", "模具"], ["宁波", "港口", "总部"]):
        _same(store.search(q, 5), ref.search(q, 5))
        _same(store.search(q, 2), ref.search(q, 2))
    assert list(store.search(["不存在"], 5)[1]) == []  # no shared token: no hit, not a zero
    assert list(store.search([], 5)[1]) == [] and list(store.search(["商会"], 0)[1]) == []
    assert len(store) == 5
    store.close()


def test_ties_break_by_id_past_the_limit(tmp_path):
    """Five passages with the same score: the two lowest ids, whatever order Milvus keeps."""
    corpus = {i: ["同分", "填充"] for i in (40, 7, 33, 12, 25)} | {99: ["别的"]}
    store = _store(tmp_path, corpus)
    scores, ids = store.search(["同分"], 2)
    assert list(ids) == [7, 12] and scores[0] == scores[1]
    assert list(store.search(["同分"], 10)[1]) == [7, 12, 25, 33, 40]
    store.close()


def test_odd_tokens_round_trip(tmp_path):
    """Each odd token is one term: found whole, not by its parts, counted once, read back."""
    assert all(decode_token(encode_token(t)) == t for t in ODD + ["", "宁波"])
    assert len({encode_token(t) for t in ODD + [""]}) == len(ODD) + 1
    assert all(" " not in encode_token(t) and "\x00" not in encode_token(t) for t in ODD)
    corpus = {100 + n: [t, "共有"] for n, t in enumerate(ODD)} | {200: []}
    store = _store(tmp_path, corpus)
    for n, tok in enumerate(ODD):
        assert list(store.search([tok], 50)[1]) == [100 + n], tok
        assert store.doc_freq(tok) == 1, tok
    for part in ("new", "york", "tab", "nul", "a", "say", "全角", "line", "%20"):
        assert list(store.search([part], 50)[1]) == [], part
        assert store.doc_freq(part) == 0, part
    assert store.doc_freq("共有") == len(ODD) and store.doc_freq("") == 1  # the empty passage
    assert sorted(store.vocabulary()) == sorted([*ODD, "共有"])  # decoded; the empty token not
    assert store.terms([100, 108, 200, 999]) == {100: ["new york", "共有"],
                                                 108: ["nul\x00x", "共有"], 200: []}
    assert len(store) == len(ODD) + 1
    store.close()


def test_doc_freq_follows_add_upsert_and_delete(tmp_path):
    store = _store(tmp_path)
    assert [store.doc_freq(t) for t in ("商会", "宁波", "港口", "会员")] == [3, 2, 1, 1]
    store.add([15, 16], [["港口", "商会"], ["港口"]])  # new passages
    assert (store.doc_freq("港口"), store.doc_freq("商会"), len(store)) == (3, 4, 7)
    store.add([11], [["会员", "总部"]])  # upsert: 商会 leaves 11, 总部 enters it
    assert (store.doc_freq("商会"), store.doc_freq("总部"), store.doc_freq("会员")) == (3, 2, 1)
    assert 11 not in store.search(["商会"], 10)[1] and len(store) == 7
    store.add([11], [["会员", "总部"]])  # the same again changes nothing
    assert (store.doc_freq("总部"), store.doc_freq("会员")) == (2, 1)
    store.delete([11, 14, 999])  # 999 was never there
    assert (store.doc_freq("会员"), store.doc_freq("总部"), store.doc_freq("港口")) == (0, 1, 2)
    assert list(store.search(["会员"], 5)[1]) == [] and len(store) == 5
    # the words English questions are matched to: only those still in a passage
    assert sorted(store.vocabulary()) == sorted(
        {"宁波", "商会", "成立", "江北区", "总部", "模具", "北仑", "企业", "港口"})
    assert sorted(_store(tmp_path, save=False).vocabulary()) == sorted(  # before the first save
        {t for toks in CORPUS.values() for t in toks})
    ref = Bm25Store([10, 12, 13, 15, 16], [CORPUS[10], CORPUS[12], CORPUS[13], ["港口", "商会"],
                                           ["港口"]])
    for q in (["商会"], ["港口", "宁波"], ["总部"]):  # Milvus' statistics followed too
        _same(store.search(q, 5), ref.search(q, 5))
    store.close()


def test_reopens_in_a_new_client_and_a_new_process(tmp_path):
    store = _store(tmp_path)
    folder = tmp_path / "idx" / "v-1" / "lexical"
    record = json.loads((folder / FILE).read_text(encoding="utf-8"))
    assert record["collections"] == [record["collection"], record["collection"] + "_df"]
    assert sorted(p.name for p in folder.iterdir()) == [FILE]  # the data lives in Milvus
    assert (tmp_path / "idx" / DB).is_file()
    queries = [["商会"], ["北仑", "宁波"], ["不存在"]]
    before = [store.search(q, 5) for q in queries]
    again = MilvusBm25Store.load(folder)  # a second client in this process
    assert len(again) == 5 and [again.doc_freq(q[0]) for q in queries] == [3, 1, 0]
    for q, hit in zip(queries, before, strict=True):
        _same(again.search(q, 5), hit)
    store.close()  # milvus-lite serves one process per file

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", REOPEN, str(folder), json.dumps(queries)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    later = json.loads(out.stdout.strip().splitlines()[-1])
    assert later["len"] == 5 and later["df"] == [3, 1, 0]
    for (scores, ids), hit in zip(later["hits"], before, strict=True):
        _same((np.asarray(scores), np.asarray(ids)), hit)


def test_engine_on_milvus_answers_as_faiss_in_every_mode(tmp_path):
    docs = _docs(tmp_path)
    runs, indexes = {}, {}
    for kind in ("faiss", "milvus"):
        index = open_index(docs, tmp_path / f"idx-{kind}", FakeEncoder(), progress=False,
                           vector_store=kind)
        engine = SeedQA(index, FakeEncoder(), docs)
        runs[kind] = [engine.answer(q, mode=m, threshold=0.0).to_json()
                      for m in ("hybrid", "lexical") for q in QUESTIONS]
        indexes[kind] = index
    assert indexes["milvus"].manifest["stores"]["lexical"] == "milvus-bm25"
    assert indexes["faiss"].manifest["stores"]["lexical"] == "bm25"
    assert isinstance(indexes["milvus"].lexical, MilvusBm25Store)
    assert runs["milvus"] == runs["faiss"]
    assert "近2000家" in runs["milvus"][0]["answer"] and "近2000家" in runs["milvus"][4]["answer"]
    for term in ("模具", "商会", "不存在"):
        assert indexes["milvus"].lexical.doc_freq(term) == indexes["faiss"].lexical.doc_freq(term)
    indexes["milvus"].lexical.close()


def test_rebuild_keeps_the_live_and_drops_the_old_lexical_collections(tmp_path):
    """The vector store's sweep runs first on a rebuild: it must see the df collection as live."""
    from pymilvus import MilvusClient

    docs = _docs(tmp_path)
    idx = tmp_path / "idx"

    def lexical_names(index) -> set[str]:
        return set(json.loads((index.folder / "lexical" / FILE).read_text())["collections"])

    first = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    old = lexical_names(first)
    (docs / "c.txt").write_text("镇海港口吞吐量全国第一。\n", encoding="utf-8")
    second = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    assert old <= set(MilvusClient(str(idx / DB)).list_collections())  # not yet: first was live
    (docs / "d.txt").write_text("慈溪家电企业众多。\n", encoding="utf-8")
    third = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    names = set(MilvusClient(str(idx / DB)).list_collections())
    assert not old & names and lexical_names(third) <= names
    assert third.lexical.doc_freq("慈溪") == 1 and len(third.lexical) == len(third.chunks)
    assert second.folder != third.folder
    third.lexical.close()


@pytest.mark.slow  # an extra index of the seeds and two CLI runs with the real encoder
def test_cli_milvus_uri_puts_the_index_there_and_answers_as_faiss(built, seed_engine, tmp_path):
    """The one real-encoder test: `--store milvus --milvus-uri FILE.db` on the seeds (vectors
    from the copied index's cache), against the session's FAISS + bm25s engine; then
    `ask --from-milvus` and `chat --from-milvus` with that file alone."""
    from tests.conftest import run_cli

    docs, index_dir = built
    uri = tmp_path / "elsewhere" / "seedqa.db"
    uri.parent.mkdir()
    q = "北仑有多少家模具企业？"
    for mode in ("hybrid", "lexical"):  # the first run builds, the second reopens
        on_milvus = run_cli(["ask", q, "--docs", str(docs), "--index", str(index_dir),
                             "--store", "milvus", "--milvus-uri", str(uri), "--mode", mode,
                             "--json"])
        assert on_milvus.returncode == 0, on_milvus.stderr
        assert json.loads(on_milvus.stdout) == seed_engine.answer(q, mode=mode).to_json()
    assert "近2000家" in json.loads(on_milvus.stdout)["answer"]
    assert uri.is_file() and not (index_dir / DB).exists()
    live = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    record = json.loads((index_dir / live / "lexical" / FILE).read_text(encoding="utf-8"))
    assert record["uri"] == str(uri.resolve()) and record["default"] is False

    # another machine: only the encoder and the Milvus file (moved), no documents or index
    # folder; `--from-milvus` answers from what Milvus names live, the set named as at build
    from qa.stores.milvus_live import set_name

    moved = tmp_path / "other-machine" / "seedqa.db"
    moved.parent.mkdir()
    uri.rename(moved)
    remote = run_cli(["ask", q, "--docs", str(tmp_path / "no-docs"), "--index",
                      str(tmp_path / "no-index"), "--store", "milvus", "--from-milvus",
                      "--milvus-uri", str(moved), "--json"],
                     env={"SEEDQA_MILVUS_SET": set_name(index_dir)})
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == seed_engine.answer(q).to_json()
    assert not (tmp_path / "no-index").exists() and not (tmp_path / "no-docs").exists()

    # one of several chat servers behind a load balancer: `chat --from-milvus`, same answer
    from gradio_client import Client

    from tests.conftest import ChatProcess, free_port

    port = free_port()
    chat = ChatProcess(["--docs", str(tmp_path / "no-docs"), "--index", str(tmp_path / "no-index"),
                        "--store", "milvus", "--from-milvus", "--milvus-uri", str(moved),
                        "--port", str(port)], {"SEEDQA_MILVUS_SET": set_name(index_dir)})
    try:
        chat.wait_for(r"Ctrl\+C")
        client = Client(f"http://127.0.0.1:{port}", verbose=False, download_files=False)
        assert client.predict(q, api_name="/ask") == seed_engine.answer(q).to_json()
    finally:
        chat.stop()
    assert "Opening the index Milvus names live" in chat.output
    assert not (tmp_path / "no-index").exists() and not (tmp_path / "no-docs").exists()
