"""The life cycle of an index in Milvus against a real milvus-lite engine (no mocks): a build
switches the set's live record only once its collections are complete, readers resolve the live
version through Milvus, the previous version's collections outlive the switch by one build, and a
set built with another encoder is a one-line error, not a silent rebuild."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.core import SeedQAError
from qa.engine import SeedQA
from qa.index import live_version, open_index, open_live
from qa.stores.milvus_live import LIVE, resolve, set_name
from qa.stores.milvus_store import DB, FILE
from tests.fakes import FakeEncoder

DOC = "宁波商会成立于2001年。\n\n商会现有会员320家，会长是王立。\n\n总部设在江北区。\n"
MOLDS = "北仑区是模具之乡。\n\n北仑模具企业有近2000家。\n\n模具产值占全省三成。\n"
Q = "北仑有多少家模具企业？"


class OtherEncoder(FakeEncoder):
    id = "fake:other-64"


def _collections(folder: Path) -> set[str]:
    out: set[str] = set()
    for rec in folder.glob(f"*/{FILE}"):
        record = json.loads(rec.read_text(encoding="utf-8"))
        out.update(record.get("collections") or [record["collection"]])
    return out


def _release(index) -> None:
    index.passages.close()  # milvus-lite: releases the file for every store of this process


def test_rebuild_switches_the_live_record_after_the_new_collections_are_complete(tmp_path):
    from pymilvus import MilvusClient

    docs, idx = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    (docs / "b.txt").write_text(MOLDS, encoding="utf-8")
    first = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    assert live_version(idx) == first.folder.name == (idx / "CURRENT").read_text().strip()
    client = first.passages.client
    record = resolve(client, str(idx / DB), set_name(idx))
    assert record["encoder"] == FakeEncoder.id and record["dim"] == FakeEncoder.dim
    assert record["pipeline"] == first.manifest["pipeline"]
    assert set(record["collections"]) == {"passages", "sentences", "late", "lexical", "chunks"}
    assert record["collections"]["passages"] == first.passages._collection
    old = _collections(first.folder) | {record["collections"]["chunks"]}
    before = SeedQA(first, FakeEncoder(), docs).answer(Q, threshold=0.0).to_json()

    # a reader that must not build opens what Milvus names live, with the same answers
    reader = open_live(idx, FakeEncoder())
    assert reader.folder == first.folder
    assert SeedQA(reader, FakeEncoder(), docs).answer(Q, threshold=0.0).to_json() == before

    (docs / "b.txt").write_text(MOLDS.replace("2000", "3000"), encoding="utf-8")
    second = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    assert live_version(idx) == second.folder.name != first.folder.name
    names = set(MilvusClient(str(idx / DB)).list_collections())
    assert LIVE in names and _collections(second.folder) <= names
    # the old version's collections outlive the switch: a question under way on them finishes
    assert old <= names
    assert SeedQA(reader, FakeEncoder(), docs).answer(Q, threshold=0.0).to_json() == before
    after = open_live(idx, FakeEncoder())
    assert after.folder == second.folder
    assert "近3000家" in SeedQA(after, FakeEncoder(), docs).answer(Q, threshold=0.0).answer

    # the next build drops them, and their records with them
    (docs / "c.txt").write_text("镇海港口吞吐量全国第一。\n", encoding="utf-8")
    third = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    names = set(MilvusClient(str(idx / DB)).list_collections())
    assert not old & names and _collections(third.folder) <= names
    assert not MilvusClient(str(idx / DB)).get(LIVE, ids=[first.passages._collection])
    _release(third)


def test_a_set_built_with_another_encoder_is_a_one_line_error(tmp_path):
    docs, idx = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    (docs / "b.txt").write_text(MOLDS, encoding="utf-8")
    built = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    for call in (lambda: open_index(docs, idx, OtherEncoder(), progress=False,
                                    vector_store="milvus"),
                 lambda: open_live(idx, OtherEncoder())):
        with pytest.raises(SeedQAError) as err:
            call()
        msg = str(err.value)
        assert len(msg.splitlines()) == 1
        assert FakeEncoder.id in msg and OtherEncoder.id in msg and "--rebuild" in msg
    assert live_version(idx) == built.folder.name  # nothing was switched
    # --rebuild replaces it for every reader
    rebuilt = open_index(docs, idx, OtherEncoder(), progress=False, vector_store="milvus",
                         rebuild=True)
    assert rebuilt.manifest["encoder"] == OtherEncoder.id
    assert resolve(rebuilt.passages.client, str(idx / DB), set_name(idx))["encoder"] == \
        OtherEncoder.id
    _release(rebuilt)


def test_nothing_published_is_a_one_line_error(tmp_path):
    idx = tmp_path / "idx"
    idx.mkdir()
    with pytest.raises(SeedQAError, match="no version of .* is live in Milvus") as err:
        open_live(idx, FakeEncoder())
    assert len(str(err.value).splitlines()) == 1
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(idx / DB))


REMOTE = """
import json, sys
from pathlib import Path
from qa.engine import SeedQA
from qa.index import open_live
from tests.fakes import FakeEncoder
index = open_live(Path(sys.argv[1]), FakeEncoder())
engine = SeedQA(index, FakeEncoder(), Path(sys.argv[2]))
print(json.dumps({"version": index.folder.name, "chunks": type(index.chunks).__name__,
                  "answers": [engine.answer(q, threshold=0.0).to_json()
                              for q in json.loads(sys.argv[3])]}, ensure_ascii=False))
"""


def test_a_process_without_the_index_folder_answers_from_milvus_alone(tmp_path, monkeypatch):
    """Chunk records, sentence offsets and jieba terms are in Milvus too: a process with only the
    encoder and the Milvus file (moved elsewhere, the index and documents folders deleted)
    answers exactly as the local index, the set named the same on both sides."""
    import os
    import shutil
    import subprocess
    import sys

    monkeypatch.setenv("SEEDQA_MILVUS_SET", "seedqa_test_shared")
    docs, idx = tmp_path / "docs", tmp_path / "idx"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC, encoding="utf-8")
    (docs / "b.txt").write_text(MOLDS, encoding="utf-8")
    questions = [Q, "商会成立于哪一年？", "会长是谁？", "总部设在哪里？", "模具产值占多少？"]
    local = open_index(docs, idx, FakeEncoder(), progress=False, vector_store="milvus")
    engine = SeedQA(local, FakeEncoder(), docs)
    want = [engine.answer(q, threshold=0.0).to_json() for q in questions]
    version = local.folder.name
    _release(local)
    remote = tmp_path / "elsewhere"
    remote.mkdir()
    shutil.move(idx / DB, remote / DB)
    shutil.rmtree(idx)
    shutil.rmtree(docs)

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root), "SEEDQA_MILVUS_URI": str(remote / DB)}
    out = subprocess.run([sys.executable, "-c", REMOTE, str(tmp_path / "no-index"),
                          str(tmp_path / "no-docs"), json.dumps(questions)],
                         capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["version"] == version and got["chunks"] == "MilvusChunks"
    assert got["answers"] == want
    assert "近2000家" in got["answers"][0]["answer"]
