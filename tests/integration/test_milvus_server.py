"""seedqa against a real Milvus server: the embedded Milvus 2.3.5 standalone server of the PyPI
package `milvus` (a gRPC server like a deployed one, with aliases and many clients), started by
the test in a private network namespace and stopped at its end (`milvus_server_run.py`).

What it covers: the **dense side** (passage and sentence vectors in server collections) and the
index life cycle: two processes answer from one collection set at once while a third rebuilds
the index and moves the set's alias; neither sees an error or an answer mixing the two builds,
and both move to the new build. What it does not: Milvus' BM25 (the 2.3 server predates the BM25
function, so BM25 stays in local files here; it is tested on milvus-lite in
`test_milvus_lexical.py`) and a multi-node cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.milvus_server_run import ROUNDS_BEFORE

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_two_readers_answer_from_one_server_while_a_rebuild_switches_the_alias(tmp_path):
    # every port of the server (it binds all interfaces, etcd on fixed ports) stays inside the
    # namespace: only its loopback reaches them
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user",
                                                              "--net"]
    out = subprocess.run([*unshare, sys.executable, str(HERE / "milvus_server_run.py"),
                          str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads(out.stdout.strip().splitlines()[-1])
    first, second = run["first"]["version"], run["second"]["version"]
    assert first != second
    # the alias names the new build's passages; the old build's collections outlive the switch
    assert run["alias"] == run["second"]["passages"]
    # on a server the passages get an HNSW graph (milvus-lite: FLAT, its only index)
    assert run["passage_index"]["index_type"] == "HNSW", run["passage_index"]
    assert run["first"]["passages"] in run["collections"]
    assert run["expected"]["before"] != run["expected"]["after"]
    assert "近2000家" in run["expected"]["before"][0]["answer"]
    assert "近3000家" in run["expected"]["after"][0]["answer"]
    assert run["errors"] == ["", ""]
    for lines in run["readers"]:
        versions = [line["version"] for line in lines]
        assert set(versions) == {first, second}
        switched = versions.index(second)
        # answering from the first build when the rebuild started, never back once switched
        assert switched >= ROUNDS_BEFORE and set(versions[switched:]) == {second}
        for line in lines:  # every round answers exactly as FAISS on one state of the documents
            want = run["expected"]["before" if line["version"] == first else "after"]
            assert line["answers"] == want
