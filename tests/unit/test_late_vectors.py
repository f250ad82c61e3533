"""Late-chunked sentence vectors: each sentence as read inside its passage, from the passage's
own encoder pass, stored beside the sentences' own vectors (fake encoder: wiring, not quality)."""

from __future__ import annotations

import numpy as np

from embeddings.encoder import _span_means
from qa.index import open_index
from qa.index_build import passage_text, sentence_spans
from tests.fakes import FakeEncoder


def _docs(tmp_path, n=4):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(n):
        (docs / f"d{i}.txt").write_text(
            f"第{i}号文件\n\n第{i}号商会成立于{2000 + i}年。现有会员{100 + i}家。会长是张{i}。\n",
            encoding="utf-8")
    return docs


class NoSpans:
    """An encoder that can only embed whole texts (as any third-party one may)."""

    id, dim = "fake:nospans", FakeEncoder.dim

    def __init__(self) -> None:
        self._f = FakeEncoder()

    def encode_queries(self, texts):
        return self._f.encode_queries(texts)

    def encode_passages(self, texts, progress=False):
        return self._f.encode_passages(texts)


class CountingSpans(FakeEncoder):
    def __init__(self) -> None:
        self.span_passages: list[str] = []

    def encode_passage_spans(self, texts, spans, progress=False):
        self.span_passages.extend(texts)
        return super().encode_passage_spans(texts, spans, progress)


def test_each_sentence_gets_the_vector_its_passage_pass_gave_it(tmp_path):
    index = open_index(_docs(tmp_path), tmp_path / "idx", FakeEncoder(), progress=False)
    assert index.manifest["stores"]["late"] == "array"
    for cid, chunk in enumerate(index.chunks):
        text = passage_text(chunk)
        spans = sentence_spans(chunk)
        assert [text[a:b] for a, b in spans] == [s.text for s in chunk.sentences]
        _, want = FakeEncoder().encode_passage_spans([text], [spans])
        got = index.late_vectors(cid)
        np.testing.assert_allclose(got, want[0], atol=1e-3)  # stored as float16
        assert not np.allclose(got, index.sentence_vectors(cid), atol=1e-2)


def test_an_encoder_without_spans_gives_each_sentence_its_own_vector(tmp_path):
    index = open_index(_docs(tmp_path), tmp_path / "idx", NoSpans(), progress=False)
    n = int(index.sentence_offsets[-1])
    np.testing.assert_array_equal(index.late.get(range(n)), index.sentences.get(range(n)))


def test_late_vectors_are_cached_with_their_passage(tmp_path):
    docs = _docs(tmp_path)
    enc = CountingSpans()
    first = open_index(docs, tmp_path / "idx", enc, progress=False)
    assert sorted(enc.span_passages) == sorted(passage_text(c) for c in first.chunks)
    (docs / "d1.txt").write_text("第1号文件\n\n第1号商会成立于1999年。会长是李四。\n", encoding="utf-8")
    enc.span_passages.clear()
    second = open_index(docs, tmp_path / "idx", enc, progress=False)
    changed = [passage_text(c) for c in second.chunks if c.doc == "d1.txt"]
    assert enc.span_passages == changed  # the unchanged passages' late vectors came from the cache


def test_a_span_averages_the_tokens_it_overlaps_and_no_others():
    states = np.array([[9, 9], [1, 0], [0, 1], [3, 3], [9, 9]], np.float32)
    # a special token (empty), a token of the text's first 2 characters, one of the next 3, one
    # straddling characters 5-7, the closing special token (empty)
    offsets = np.array([[0, 0], [0, 2], [2, 5], [5, 7], [0, 0]])
    out = _span_means(states, offsets, [(0, 2), (1, 4), (6, 7), (7, 9)])
    np.testing.assert_allclose(out[0], [1, 0])
    np.testing.assert_allclose(out[1], np.array([1, 1]) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(out[2], np.array([1, 1]) / np.sqrt(2), rtol=1e-6)
    assert np.isnan(out[3]).all()  # past the text: no token, the caller uses the span's own
    # the prompt's tokens end before the text (offsets shifted to the text): never counted
    out = _span_means(states[:3], np.array([[0, 0], [-9, -1], [0, 3]]), [(0, 3)])
    np.testing.assert_allclose(out[0], [0, 1])
