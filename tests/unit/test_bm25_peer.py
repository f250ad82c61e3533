"""bench/bm25_peer.py, the BM25 baseline, on a tiny docs folder written into tmp_path."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.core.errors import SeedQAError
from qa.metrics import OVERALL_KEYS, span_f1

ROOT = Path(__file__).resolve().parents[2]
PEER_PATH = ROOT / "bench" / "bm25_peer.py"


def _load_peer():
    spec = importlib.util.spec_from_file_location("bm25_peer", PEER_PATH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bm25_peer", module)
    spec.loader.exec_module(module)
    return module


peer = _load_peer()

DOC_A = (
    "长江\n"
    "\n"
    "长江是中国最长的河流。长江全长约6300公里！它发源于青藏高原；\n"
    "最终在上海注入东海。\n"
    "   \n"
    "三峡大坝位于湖北省宜昌市，是世界上最大的水电站。\n"
)
DOC_B = "黄河\n\n\n黄河是中国第二长河，被称为母亲河。黄河下游形成了地上河。\n"
QUESTIONS = [
    {"id": "q1", "question": "长江全长约多少公里？", "answers": ["6300公里"], "type": "answerable"},
    {"id": "q2", "question": "黄河下游形成了什么？", "answers": ["地上 河"], "type": "answerable"},
    {"id": "q3", "question": "三峡大坝位于哪个城市？", "answers": ["宜昌市", "宜昌"]},
    {"id": "q4", "question": "长江的源头是哪座山？", "answers": ["唐古拉山"]},
    {"id": "q5", "question": "珠江有多长？", "answers": [], "type": "unanswerable"},
]


@pytest.fixture
def corpus(tmp_path) -> tuple[Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text(DOC_A, encoding="utf-8")
    (docs / "b.md").write_text(DOC_B, encoding="utf-8")
    (docs / "c.rst").write_text("长江全长约6300公里，这份文件不该被读到。\n", encoding="utf-8")
    (docs / "empty.txt").write_text("\n \n", encoding="utf-8")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8"
    )
    return docs, questions


def test_paragraphs_are_blank_line_blocks_as_written(corpus):
    docs, _ = corpus
    assert peer.read_paragraphs(docs) == [
        "长江",
        "长江是中国最长的河流。长江全长约6300公里！它发源于青藏高原；\n最终在上海注入东海。",
        "三峡大坝位于湖北省宜昌市，是世界上最大的水电站。",
        "黄河",
        "黄河是中国第二长河，被称为母亲河。黄河下游形成了地上河。",
    ]


def test_tokens_and_sentences():
    tokens = peer.tokenize("BM25 Ranking，长江！ ")
    assert "bm25" in tokens and "ranking" in tokens and "长江" in tokens
    assert not any(t.strip("，！ ") == "" for t in tokens)
    assert peer.split_sentences("甲说。乙问？！丙答; 丁\n走了。 戊") == [
        "甲说。", "乙问？！", "丙答;", "丁\n走了。", "戊",
    ]
    # most distinct question tokens wins; equal overlap keeps the first sentence
    q = peer.tokenize("长江有多宽？")
    assert peer.best_sentence("黄河很长。长江很宽。长江很宽很宽。", q) == "长江很宽。"
    assert peer.best_sentence("甲。乙。", peer.tokenize("丙")) == "甲。"


def test_answers_and_passages(corpus):
    docs, _ = corpus
    bm25 = peer.BM25Peer(peer.read_paragraphs(docs))
    a = bm25.answer("长江全长约多少公里？")
    assert a.answer == "长江全长约6300公里！"
    assert a.passages[0].startswith("长江是中国最长的河流。")
    assert len(a.passages) == 5 and a.latency_ms >= 0
    assert bm25.answer("黄河下游形成了什么？").answer == "黄河下游形成了地上河。"
    dam = bm25.answer("三峡大坝位于哪个城市？").answer
    assert dam == "三峡大坝位于湖北省宜昌市，是世界上最大的水电站。"
    # nothing known: still an answer (never refuses), from the first paragraph of equal scores
    assert bm25.answer("？？？").answer == "长江"
    assert bm25.answer("xyzzy plugh").passages[0] == "长江"
    with pytest.raises(SeedQAError):
        peer.BM25Peer([])


def test_metrics_on_tiny_set(corpus):
    docs, questions = corpus
    metrics, records = peer.evaluate(docs, questions)
    assert list(metrics) == list(OVERALL_KEYS)
    by_id = {r["id"]: r for r in records}
    assert by_id["q1"]["answer"] == "长江全长约6300公里！"
    assert by_id["q4"]["rank"] is None and not by_id["q4"]["sentence_correct"]
    assert all(not r["refused"] for r in records)
    expected_f1 = (
        span_f1("长江全长约6300公里！", "6300公里")
        + span_f1("黄河下游形成了地上河。", "地上河")
        + span_f1("三峡大坝位于湖北省宜昌市，是世界上最大的水电站。", "宜昌市")
    ) / 4
    assert metrics == {
        **metrics,
        "n": 5,
        "n_answerable": 4,
        "n_unanswerable": 1,
        "recall@1": 0.75,
        "recall@5": 0.75,
        "mrr": 0.75,
        "sentence_accuracy": 0.75,
        "span_em": 0.0,
        "span_f1": round(expected_f1, 4),
        "refusal_precision": 1.0,
        "refusal_recall": 0.0,
        "false_refusal_rate": 0.0,
    }
    assert metrics["latency_ms_p50"] is not None and metrics["latency_ms_p50"] >= 0


def test_main_prints_table_and_json(corpus, tmp_path, capsys):
    docs, questions = corpus
    out = tmp_path / "peer.json"
    assert peer.main([str(docs), str(questions), "--json", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    last = json.loads(lines[-1])
    assert last == json.loads(out.read_text(encoding="utf-8"))
    assert last["sentence_accuracy"] == 0.75 and last["n"] == 5
    assert any(line.split() == ["sentence_accuracy", "0.7500"] for line in lines[:-1])

    assert peer.main([str(tmp_path / "nowhere"), str(questions)]) == 2
    assert "bm25_peer: error: not a folder" in capsys.readouterr().err


def test_runs_as_a_script(corpus):
    docs, questions = corpus
    r = subprocess.run([sys.executable, str(PEER_PATH), str(docs), str(questions)],
                       capture_output=True, text=True, timeout=120, cwd=docs)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["recall@1"] == 0.75
