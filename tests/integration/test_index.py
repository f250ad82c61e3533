"""The on-disk index: round trip, rebuild on change without re-embedding, integrity, atomic swap."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa.core.errors import SeedQAError
from qa.core.versioned import CURRENT, current_version
from qa.index import open_index
from tests.conftest import CountingEncoder


def test_round_trip_loads_the_saved_index_without_embedding(built, seed_engine):
    docs, index_dir = built
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=False)
    assert enc.passages == 0
    assert [c.text for c in index.chunks] == [c.text for c in seed_engine.chunks]
    q = seed_engine.encoder.encode_queries(["北仑有多少家模具企业？"])[0]
    a = index.passages.search(q[None, :], 5)
    b = seed_engine.index.passages.search(q[None, :], 5)
    assert list(a[1][0]) == list(b[1][0])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5)
    m = index.manifest
    for key in ("encoder", "dim", "chunks", "fingerprint", "seedqa_version", "checksums"):
        assert key in m
    assert m["stores"] == {"passages": "faiss", "sentences": "array", "late": "array", "lexical": "bm25"}
    assert m["chunks"] == len(index.chunks) and m["dim"] == seed_engine.encoder.dim


def test_changed_documents_rebuild_and_embed_only_new_text(built, seed_engine, capsys):
    docs, index_dir = built
    target = sorted(docs.glob("*.txt"))[1]
    with open(target, "a", encoding="utf-8") as fh:
        fh.write("\n\n新增测试段落\n\n测试商会今年新建了七个服务站。这是新增的第二句话。\n")
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=True)
    err = capsys.readouterr().err
    assert "the documents changed" in err
    # one new passage + its two new sentences; every unchanged chunk/sentence came from the cache
    assert 1 <= enc.passages <= 4
    assert any("七个服务站" in c.text for c in index.chunks)
    assert len(index.chunks) == len(seed_engine.chunks) + 1


def test_other_encoder_forces_a_rebuild(built, seed_engine, capsys):
    docs, index_dir = built
    enc = CountingEncoder(seed_engine.encoder)
    enc.id = "another-encoder"
    open_index(docs, index_dir, enc, progress=True)
    assert "another encoder" in capsys.readouterr().err
    assert enc.passages > 0


def test_corrupted_index_file_is_detected_and_rebuilt(built, seed_engine, capsys):
    docs, index_dir = built
    folder = current_version(index_dir)
    with open(folder / "passages" / "vectors.faiss", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\xff\xff\xff")
    enc = CountingEncoder(seed_engine.encoder)
    index = open_index(docs, index_dir, enc, progress=True)
    assert "corrupted" in capsys.readouterr().err
    assert len(index.chunks) == len(seed_engine.chunks)
    assert enc.passages == 0  # vectors come from the content cache


def test_truncated_manifest_is_detected_and_rebuilt(built, seed_engine, capsys):
    docs, index_dir = built
    folder = current_version(index_dir)
    (folder / "manifest.json").write_text('{"format": 1, "enc', encoding="utf-8")
    index = open_index(docs, index_dir, CountingEncoder(seed_engine.encoder), progress=True)
    assert "manifest unreadable" in capsys.readouterr().err
    assert json.loads((current_version(index_dir) / "manifest.json").read_text())["chunks"] == len(
        index.chunks
    )


def test_failed_build_leaves_the_previous_index_live(built, seed_engine):
    docs, index_dir = built
    before = (index_dir / CURRENT).read_text()
    (sorted(docs.glob("*.txt"))[0]).write_text("全新的文档内容。这里只有两句话。\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        open_index(docs, index_dir, CountingEncoder(seed_engine.encoder, fail_after=0), progress=False)
    assert (index_dir / CURRENT).read_text() == before
    assert not [p for p in index_dir.iterdir() if p.name.startswith("tmp-")]
    # the old version is intact and verifies
    from qa.core.versioned import read_manifest, verify

    folder = current_version(index_dir)
    verify(folder, read_manifest(folder))


def test_empty_or_missing_folder_is_a_clear_error(tmp_path, seed_engine):
    with pytest.raises(SeedQAError, match="no .txt, .md, .markdown, .pdf, .docx, .html or .htm documents in"):
        open_index(tmp_path, tmp_path / "idx", seed_engine.encoder, progress=False)
    with pytest.raises(SeedQAError, match="does not exist"):
        open_index(tmp_path / "nope", None, seed_engine.encoder, progress=False)


def test_late_vectors_are_each_sentence_read_inside_its_passage(seed_engine):
    """The real encoder's late vectors: unit length, near but not equal to the sentence's own
    vector, and what one pass over the passage gives (so a cached index and a fresh one agree)."""
    from qa.index_build import passage_text, sentence_spans

    index = seed_engine.index
    n = int(index.sentence_offsets[-1])
    late = index.late.get(range(n)).astype(np.float32)
    own = index.sentences.get(range(n)).astype(np.float32)
    np.testing.assert_allclose(np.linalg.norm(late, axis=1), 1.0, atol=2e-3)
    cos = (late * own).sum(1)
    assert 0.75 < float(np.median(cos)) < 0.99  # the same sentence, coloured by its passage
    assert float(cos.min()) > 0.5
    chunk = max(index.chunks, key=lambda c: len(c.sentences))
    cid = list(index.chunks).index(chunk)
    _, direct = seed_engine.encoder.encode_passage_spans([passage_text(chunk)], [sentence_spans(chunk)])
    np.testing.assert_allclose(index.late_vectors(cid), direct[0], atol=5e-3)
