"""Run by `test_milvus_server.py` inside a private network namespace (`unshare --net`): starts the
embedded Milvus 2.3.5 standalone server (PyPI `milvus`) there, so every port it opens (it listens
on all interfaces, on fixed etcd ports) is reachable from this namespace's loopback only and
cannot collide with anything else on the machine; then two reader processes answer from one
collection set while a third process rebuilds the index and switches the alias.

Milvus 2.3 predates the BM25 function, so the index keeps its passage and sentence vectors in the
server (`--store milvus`) and BM25 in local files (`lexical_store="bm25"`): this covers the
dense side and the live-set switch, not Milvus' BM25 (tested on milvus-lite).

Usage: python milvus_server_run.py WORKDIR; prints one JSON line for the test to check.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = "宁波商会成立于2001年。\n\n商会现有会员320家，会长是王立。\n\n总部设在江北区。\n"
MOLDS = "北仑区是模具之乡。\n\n北仑模具企业有近2000家。\n\n模具产值占全省三成。\n"
QUESTIONS = ["北仑有多少家模具企业？", "商会成立于哪一年？", "会长是谁？", "总部设在哪里？"]
ROUNDS_BEFORE = 2  # rounds each reader answers on the first version before the rebuild starts

READER = """
import json, sys, time
from pathlib import Path
from qa.engine import SeedQA
from qa.index import live_version, open_live
from tests.fakes import FakeEncoder
idx, docs, stop, out = (Path(a) for a in sys.argv[1:5])
questions = json.loads(sys.argv[5])
index, engine, after_stop = None, None, 0
with open(out, "w", encoding="utf-8") as fh:
    while after_stop < 1:  # a full round once the rebuild is over
        if stop.exists():
            after_stop += 1
        if index is None or live_version(idx) != index.folder.name:
            index = open_live(idx, FakeEncoder())
            engine = SeedQA(index, FakeEncoder(), docs)
        answers = [engine.answer(q, threshold=0.0).to_json() for q in questions]
        fh.write(json.dumps({"version": index.folder.name, "answers": answers},
                            ensure_ascii=False) + "\\n")
        fh.flush()
"""

BUILD = """
import json, sys
from pathlib import Path
from qa.index import open_index
from tests.fakes import FakeEncoder
docs, idx, store = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
index = open_index(docs, idx, FakeEncoder(), progress=False, vector_store=store,
                   lexical_store="bm25")
print(json.dumps({"version": index.folder.name,
                  "passages": getattr(index.passages, "_collection", None)}))
"""

ANSWER = """
import json, sys
from pathlib import Path
from qa.engine import SeedQA
from qa.index import open_index
from tests.fakes import FakeEncoder
out = {}
for docs in sys.argv[2:]:  # FAISS + BM25 files, the default stores
    index = open_index(Path(docs), None, FakeEncoder(), progress=False)
    engine = SeedQA(index, FakeEncoder(), Path(docs))
    out[Path(docs).name] = [engine.answer(q, threshold=0.0).to_json()
                            for q in json.loads(sys.argv[1])]
print(json.dumps(out))
"""


def loopback_up() -> None:
    """A new network namespace has its loopback down: bring it up (SIOCGIFFLAGS/SIOCSIFFLAGS)."""
    s = socket.socket()
    try:
        req = struct.pack("16sH14s", b"lo", 0, b"\0" * 14)
        flags = struct.unpack("16sH", fcntl.ioctl(s.fileno(), 0x8913, req)[:18])[1]
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14s", b"lo", flags | 1, b"\0" * 14))
    finally:
        s.close()


def python(code: str, *args: str, env: dict) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300)
    if out.returncode:
        raise SystemExit(f"step failed ({out.returncode}): {out.stderr.strip()[-2000:]}")
    return out.stdout.strip().splitlines()[-1]


def main(work: Path) -> None:
    loopback_up()
    warnings.simplefilter("ignore")  # milvus imports pkg_resources
    from milvus import MilvusServer

    server = MilvusServer()
    server.set_base_dir(str(work / "milvus"))
    t0 = time.perf_counter()
    server.start()
    started = time.perf_counter() - t0
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "SEEDQA_MILVUS_URI": f"http://127.0.0.1:{server.listen_port}"}
        docs, idx = work / "docs", work / "idx"
        docs.mkdir()
        (docs / "a.txt").write_text(DOC, encoding="utf-8")
        (docs / "b.txt").write_text(MOLDS, encoding="utf-8")
        changed = MOLDS.replace("2000", "3000")
        refs = []  # what FAISS + BM25 answer on each state of the documents
        for name, molds in (("before", MOLDS), ("after", changed)):
            refs.append(work / name)
            refs[-1].mkdir()
            (refs[-1] / "a.txt").write_text(DOC, encoding="utf-8")
            (refs[-1] / "b.txt").write_text(molds, encoding="utf-8")
        t1 = time.perf_counter()
        expected = json.loads(python(ANSWER, json.dumps(QUESTIONS), *map(str, refs), env=env))
        reference = time.perf_counter() - t1

        t1 = time.perf_counter()
        first = json.loads(python(BUILD, str(docs), str(idx), "milvus", env=env))
        build = time.perf_counter() - t1
        t1 = time.perf_counter()
        stop = work / "stop"
        outs = [work / f"reader-{i}.jsonl" for i in range(2)]
        readers = [subprocess.Popen([sys.executable, "-c", READER, str(idx), str(docs), str(stop),
                                     str(out), json.dumps(QUESTIONS)], env=env, cwd=ROOT,
                                    stderr=subprocess.PIPE, text=True) for out in outs]
        # both answering from the first version before the rebuild starts
        while not all(o.exists() and len(o.read_text(encoding="utf-8").splitlines())
                      >= ROUNDS_BEFORE for o in outs):
            if any(r.poll() is not None for r in readers):
                break
            time.sleep(0.2)
        readers_ready = time.perf_counter() - t1
        (docs / "b.txt").write_text(changed, encoding="utf-8")
        t1 = time.perf_counter()
        second = json.loads(python(BUILD, str(docs), str(idx), "milvus", env=env))
        rebuild = time.perf_counter() - t1
        stop.touch()
        t1 = time.perf_counter()
        errors = []
        for r in readers:
            _, err = r.communicate(timeout=300)
            errors.append("" if r.returncode == 0 else err.strip()[-2000:])
        drain = time.perf_counter() - t1

        from pymilvus import MilvusClient

        from qa.stores.milvus_live import set_name

        client = MilvusClient(uri=env["SEEDQA_MILVUS_URI"])
        alias = client.describe_alias(set_name(idx))["collection_name"]
        names = client.list_indexes(alias, field_name="vector")
        passage_index = client.describe_index(alias, names[0]) if names else {}
        print(json.dumps({
            "server_start_s": round(started, 2), "reference_s": round(reference, 2),
            "build_s": round(build, 2), "readers_ready_s": round(readers_ready, 2),
            "rebuild_s": round(rebuild, 2), "drain_s": round(drain, 2),
            "first": first, "second": second, "alias": alias, "expected": expected,
            "passage_index": {k: str(v) for k, v in passage_index.items()},
            "collections": client.list_collections(), "errors": errors,
            "readers": [[json.loads(line) for line in o.read_text(encoding="utf-8").splitlines()]
                        for o in outs]}, ensure_ascii=False))
    finally:
        server.stop()
        shutil.rmtree(work / "milvus", ignore_errors=True)  # ~500 MB: its binaries and data


if __name__ == "__main__":
    main(Path(sys.argv[1]))
