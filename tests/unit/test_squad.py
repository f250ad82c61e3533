"""`seedqa import-squad` / `qa.squad.import_squad`: a SQuAD file as a docs folder + gold file.

Every input is a tiny SQuAD-format JSON written into tmp_path; nothing here touches the big data
sets or builds an index. Which paragraphs are held out is the importer's seeded choice, so the
hold-out tests read it back from docs/ (a paragraph is held out iff its text is in no document)
and check the questions against an oracle written here, independently of the implementation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.core.errors import SeedQAError
from qa.squad import ImportStats, import_squad
from tests.conftest import run_cli

ROW_KEYS = {"id", "question", "answers", "doc", "type", "style"}


def _article(title: str, paragraphs: list[tuple[str, list[tuple[str, str, list[str]]]]]) -> dict:
    """A SQuAD article from (context, [(id, question, [gold, ...]), ...]) pairs."""
    return {
        "title": title,
        "paragraphs": [
            {
                "context": context,
                "qas": [
                    {
                        "id": qid,
                        "question": question,
                        "answers": [{"text": g, "answer_start": 0} for g in golds],
                    }
                    for qid, question, golds in qas
                ],
            }
            for context, qas in paragraphs
        ],
    }


def _write(path: Path, articles: list[dict]) -> Path:
    path.write_text(json.dumps({"version": "v1", "data": articles}, ensure_ascii=False),
                    encoding="utf-8")
    return path


# Three articles, several paragraphs each; gold lists include duplicates (also after stripping).
RIVERS = [
    _article("长江", [
        ("  长江是中国最长的河流，全长约6300公里。它发源于青藏高原的唐古拉山脉。\n", [
            ("cj-0", "长江全长约多少公里？", ["6300公里", "约6300公里", "6300公里", " 6300公里 "]),
            ("cj-1", "长江发源于哪里？", ["青藏高原的唐古拉山脉", "唐古拉山脉"]),
        ]),
        ("长江流经十一个省级行政区，最终在上海注入东海。", [
            ("cj-2", "长江在哪里注入东海？", ["上海"]),
        ]),
        ("三峡大坝位于湖北省宜昌市，是世界上最大的水电站。", [
            ("cj-3", "三峡大坝位于哪个城市？", ["宜昌市", "宜昌"]),
        ]),
    ]),
    _article("黄河", [
        ("黄河是中国第二长河，全长约5464公里，被称为中华民族的母亲河。", [
            ("hh-0", "黄河全长多少公里？", ["5464公里"]),
            ("hh-1", "黄河被称为什么？", ["中华民族的母亲河", "母亲河"]),
        ]),
        ("黄河因含沙量大而呈黄色，下游形成了地上河。", [
            ("hh-2", "黄河下游形成了什么？", ["地上河"]),
        ]),
    ]),
    _article("珠江", [
        ("珠江是中国南方最大的河系，由西江、北江和东江汇合而成。", [
            ("zj-0", "珠江由哪几条江汇合而成？", ["西江、北江和东江"]),
        ]),
        ("珠江三角洲是中国经济最发达的地区之一，广州和深圳都位于这里。", [
            ("zj-1", "珠江三角洲有哪些城市？", ["广州和深圳"]),
        ]),
        ("珠江的年径流量仅次于长江，居全国第二位。", [
            ("zj-2", "珠江的年径流量居全国第几？", ["第二位"]),
        ]),
    ]),
]


def _many_articles(n: int) -> list[dict]:
    """n small articles with distinct titles, paragraphs and gold answers."""
    return [
        _article(f"条目{i}", [
            (f"第{i}篇第{j}段讲的是编号{i}x{j}号样本的故事。", [
                (f"a{i}-p{j}", f"第{i}篇第{j}段讲的是什么样本？", [f"编号{i}x{j}号样本"]),
            ])
            for j in range(3)
        ])
        for i in range(n)
    ]


def _rows(out: Path) -> list[dict]:
    lines = (out / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _docs(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((out / "docs").iterdir())}


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _snapshot(out: Path) -> tuple[dict[str, str], str]:
    return _docs(out), (out / "questions.jsonl").read_text(encoding="utf-8")


def _source_questions(articles: list[dict]) -> dict[str, tuple[str, str, list[str]]]:
    """id -> (article title, paragraph context, raw gold texts)."""
    return {
        qa["id"]: (art["title"], p["context"], [a["text"] for a in qa["answers"]])
        for art in articles
        for p in art["paragraphs"]
        for qa in p["qas"]
    }


# --- (a) layout -----------------------------------------------------------------------------


def test_layout_of_docs_and_questions(tmp_path):
    src = _write(tmp_path / "cmrc2018_trial.json", RIVERS)
    out = tmp_path / "out"
    stats = import_squad(src, out, holdout=0.0)
    assert stats == ImportStats(articles=3, paragraphs_kept=8, paragraphs_held_out=0,
                                answerable=10, unanswerable=0, dropped=0)

    docs = _docs(out)
    assert len(docs) == 3 and all(name.endswith(".txt") for name in docs)
    by_title = {text.split("\n", 1)[0]: (name, text) for name, text in docs.items()}
    assert set(by_title) == {"长江", "黄河", "珠江"}
    for art in RIVERS:
        _, text = by_title[art["title"]]
        contexts = [p["context"].strip() for p in art["paragraphs"]]
        # title line, blank line, paragraphs (stripped) separated by blank lines
        assert text == art["title"] + "\n\n" + "\n\n".join(contexts) + "\n"

    rows = _rows(out)
    source = _source_questions(RIVERS)
    assert [r["id"] for r in rows] == list(source)  # all kept, in source order
    for r in rows:
        assert set(r) == ROW_KEYS
        title, _, _ = source[r["id"]]
        assert r["doc"] == by_title[title][0]
        assert r["type"] == "answerable"
        assert r["style"] == "cmrc2018"
        assert all(g in docs[r["doc"]] for g in r["answers"])
    by_id = {r["id"]: r for r in rows}
    # distinct gold texts, first-seen order kept (surrounding whitespace does not make a new one)
    assert by_id["cj-0"]["answers"] == ["6300公里", "约6300公里"]
    assert by_id["cj-1"]["answers"] == ["青藏高原的唐古拉山脉", "唐古拉山脉"]
    assert by_id["hh-2"]["answers"] == ["地上河"]
    assert by_id["cj-1"]["question"] == "长江发源于哪里？"


def test_style_from_file_stem_and_name_override(tmp_path):
    src = _write(tmp_path / "DRCD_dev.json", RIVERS[:1])
    import_squad(src, tmp_path / "a", holdout=0.0)
    assert {r["style"] for r in _rows(tmp_path / "a")} == {"drcd"}
    import_squad(src, tmp_path / "b", holdout=0.0, name="我的集")
    assert {r["style"] for r in _rows(tmp_path / "b")} == {"我的集"}


def test_reimport_replaces_old_docs(tmp_path):
    out = tmp_path / "out"
    import_squad(_write(tmp_path / "big.json", RIVERS), out, holdout=0.0)
    import_squad(_write(tmp_path / "small.json", RIVERS[1:2]), out, holdout=0.0)
    docs = _docs(out)
    assert len(docs) == 1 and next(iter(docs.values())).startswith("黄河\n\n")
    assert {r["doc"] for r in _rows(out)} == set(docs)


def test_awkward_titles_make_safe_single_line_names(tmp_path):
    arts = [
        _article("a/b\\..", [("内容一。", [("t1", "问一？", ["内容一"])])]),
        _article("a/b\\..", [("内容二。", [("t2", "问二？", ["内容二"])])]),
        _article("多行\n标题", [("内容三。", [("t3", "问三？", ["内容三"])])]),
    ]
    out = tmp_path / "out"
    import_squad(_write(tmp_path / "x.json", arts), out, holdout=0.0)
    files = sorted((out / "docs").iterdir())
    assert len(files) == 3  # same title twice still gives two files
    assert all(f.parent == out / "docs" for f in files)
    texts = [f.read_text(encoding="utf-8") for f in files]
    assert any(t.startswith("多行 标题\n\n内容三。") for t in texts)
    assert {r["doc"] for r in _rows(out)} == {f.name for f in files}


# --- (b) and (c) hold-out -------------------------------------------------------------------


def _held_out(articles: list[dict], docs: dict[str, str]) -> set[str]:
    """Contexts that appear in no document (the test data has no context inside another)."""
    return {
        p["context"].strip()
        for art in articles
        for p in art["paragraphs"]
        if not any(p["context"].strip() in text for text in docs.values())
    }


def test_held_out_paragraphs_become_unanswerable(tmp_path):
    arts = _many_articles(4)  # 12 paragraphs, every gold unique to its paragraph
    out = tmp_path / "out"
    stats = import_squad(_write(tmp_path / "set.json", arts), out, holdout=0.25, seed=3)
    docs = _docs(out)
    held = _held_out(arts, docs)
    assert len(held) == stats.paragraphs_held_out == 3
    assert stats.paragraphs_kept == 9 and stats.dropped == 0
    for name, text in docs.items():
        assert text.split("\n", 1)[0].startswith("条目"), name
    rows = {r["id"]: r for r in _rows(out)}
    source = _source_questions(arts)
    assert set(rows) == set(source)  # nothing dropped: golds occur nowhere else
    for qid, (_, context, golds) in source.items():
        r = rows[qid]
        if context.strip() in held:
            assert r["type"] == "unanswerable" and r["answers"] == []
        else:
            assert r["type"] == "answerable" and r["answers"] == golds
            assert context.strip() in docs[r["doc"]]
    assert stats.unanswerable == 3 and stats.answerable == 9


def test_fully_held_out_article_has_no_file_but_keeps_its_name(tmp_path):
    arts = [
        _article("甲", [("甲文独有的句子一号。", [("j0", "甲一是什么？", ["句子一号"])])]),
        _article("乙", [("乙文独有的句子二号。", [("y0", "乙二是什么？", ["句子二号"])])]),
    ]
    out = tmp_path / "out"
    src = _write(tmp_path / "two.json", arts)
    for seed in range(30):
        stats = import_squad(src, out, holdout=0.5, seed=seed)
        assert stats.paragraphs_held_out == 1
        docs = _docs(out)
        assert len(docs) == 1
        rows = {r["id"]: r for r in _rows(out)}
        held_id = "j0" if "甲" not in next(iter(docs.values())) else "y0"
        kept_id = "y0" if held_id == "j0" else "j0"
        assert rows[held_id]["type"] == "unanswerable" and rows[held_id]["answers"] == []
        assert rows[held_id]["doc"] not in docs and rows[held_id]["doc"].endswith(".txt")
        assert rows[kept_id]["doc"] in docs
        assert rows[held_id]["doc"] != rows[kept_id]["doc"]
        if held_id == "j0":  # seen both ways round: done
            break
    else:
        pytest.fail("no seed in 0..29 held out the first article")


# One article, two paragraphs, holdout 0.5: exactly one paragraph is held out. Each paragraph has
# one question whose gold also occurs in the other paragraph (P0's only modulo whitespace) and one
# whose gold is unique to it.
AMBIGUOUS = [
    _article("河流", [
        ("长江最终注入东海。长江全长约6300公里。", [
            ("p0-shared", "长江注入哪里？", ["东 海"]),
            ("p0-own", "长江全长多少？", ["6300公里"]),
        ]),
        ("黄河注入渤海，而不是东海。黄河全长约5464公里。", [
            ("p1-shared", "黄河不注入哪里？", ["东海"]),
            ("p1-own", "黄河全长多少？", ["5464 公里"]),
        ]),
    ]),
]


@pytest.mark.parametrize("held_index", [0, 1])
def test_held_out_question_answerable_elsewhere_is_dropped(tmp_path, held_index):
    src = _write(tmp_path / "amb.json", AMBIGUOUS)
    out = tmp_path / "out"
    contexts = [p["context"] for p in AMBIGUOUS[0]["paragraphs"]]
    for seed in range(40):
        stats = import_squad(src, out, holdout=0.5, seed=seed)
        (text,) = _docs(out).values()
        if contexts[held_index] not in text:
            break
    else:
        pytest.fail(f"no seed in 0..39 held out paragraph {held_index}")
    assert contexts[1 - held_index] in text
    rows = {r["id"]: r for r in _rows(out)}
    held, kept = f"p{held_index}", f"p{1 - held_index}"
    # the shared gold is in the kept paragraph: dropped, not mislabelled unanswerable
    assert f"{held}-shared" not in rows
    assert rows[f"{held}-own"]["type"] == "unanswerable"
    assert rows[f"{held}-own"]["answers"] == []
    assert rows[f"{kept}-shared"]["type"] == "answerable"
    assert rows[f"{kept}-own"]["type"] == "answerable"
    assert stats == ImportStats(articles=1, paragraphs_kept=1, paragraphs_held_out=1,
                                answerable=2, unanswerable=1, dropped=1)


def test_drop_rule_matches_an_independent_oracle(tmp_path):
    """Many seeds over RIVERS (golds like 长江/东海 recur across paragraphs and titles)."""
    arts = RIVERS + [
        _article("东海", [("东海是中国的边缘海之一，长江在上海注入东海。", [
            ("dh-0", "长江在哪座城市注入东海？", ["上 海"]),
        ])]),
    ]
    src = _write(tmp_path / "riv.json", arts)
    source = _source_questions(arts)
    seen_drop = seen_unans = 0
    for seed in range(6):
        out = tmp_path / f"out{seed}"
        stats = import_squad(src, out, holdout=0.4, seed=seed)
        docs = _docs(out)
        corpus = _squash("\n".join(docs.values()))
        held = _held_out(arts, docs)
        rows = {r["id"]: r for r in _rows(out)}
        expect_dropped = 0
        for qid, (_, context, golds) in source.items():
            if context.strip() not in held:
                assert rows[qid]["type"] == "answerable", (seed, qid)
            elif any(_squash(g) in corpus for g in golds):
                assert qid not in rows, (seed, qid)
                expect_dropped += 1
            else:
                assert rows[qid] == {**rows[qid], "type": "unanswerable", "answers": []}
        assert stats.dropped == expect_dropped
        assert stats.answerable + stats.unanswerable + stats.dropped == len(source)
        seen_drop += stats.dropped
        seen_unans += stats.unanswerable
    assert seen_drop and seen_unans  # both branches were exercised


# --- (d) seeds ------------------------------------------------------------------------------


def test_same_seed_same_output_other_seed_other_holdout(tmp_path):
    arts = _many_articles(6)
    src = _write(tmp_path / "s.json", arts)
    import_squad(src, tmp_path / "a", holdout=0.3, seed=7)
    import_squad(src, tmp_path / "b", holdout=0.3, seed=7)
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")
    import_squad(src, tmp_path / "c", holdout=0.3, seed=8)
    held_a = _held_out(arts, _docs(tmp_path / "a"))
    held_c = _held_out(arts, _docs(tmp_path / "c"))
    assert len(held_a) == len(held_c) == 5  # round(18 * 0.3)
    assert held_a != held_c


def test_seed_is_stable_across_processes(tmp_path):
    """The split must not depend on the interpreter's hash seed (str hashing is randomised)."""
    arts = _many_articles(5)
    src = _write(tmp_path / "s.json", arts)
    import_squad(src, tmp_path / "here", holdout=0.3, seed=2, part="fit")
    r = run_cli(["import-squad", str(src), "--out", str(tmp_path / "there"), "--holdout", "0.3",
                 "--seed", "2", "--part", "fit"], env={"PYTHONHASHSEED": "12345"})
    assert r.returncode == 0, r.stderr
    assert _snapshot(tmp_path / "here") == _snapshot(tmp_path / "there")


# --- (e) parts ------------------------------------------------------------------------------


def test_fit_and_report_parts_split_by_article(tmp_path):
    arts = _many_articles(10)
    src = _write(tmp_path / "p.json", arts)
    titles: dict[str, set[str]] = {}
    ids: dict[str, set[str]] = {}
    for part in ("fit", "report", "all"):
        out = tmp_path / part
        stats = import_squad(src, out, holdout=0.0, seed=5, part=part, report_fraction=0.3)
        docs = _docs(out)
        titles[part] = {t.split("\n", 1)[0] for t in docs.values()}
        ids[part] = {r["id"] for r in _rows(out)}
        assert stats.articles == len(docs) == {"fit": 7, "report": 3, "all": 10}[part]
        # every question of a written article is there, and only those
        assert ids[part] == {f"a{t.removeprefix('条目')}-p{j}" for t in titles[part]
                             for j in range(3)}
    assert not titles["fit"] & titles["report"]
    assert titles["fit"] | titles["report"] == titles["all"] == {f"条目{i}" for i in range(10)}
    assert not ids["fit"] & ids["report"]
    assert ids["fit"] | ids["report"] == ids["all"]

    # another seed gives another split, still a partition
    import_squad(src, tmp_path / "r2", holdout=0.0, seed=6, part="report", report_fraction=0.3)
    other = {t.split("\n", 1)[0] for t in _docs(tmp_path / "r2").values()}
    assert len(other) == 3 and other != titles["report"]


def test_holdout_seed_draws_other_paragraphs_of_the_same_articles(tmp_path):
    """Training's extra holdout draws: the split by article follows `seed` alone, so the fit
    side keeps the same articles and question ids; another `holdout_seed` holds out other
    paragraphs; without one the held-out paragraphs are `seed`'s, as before."""
    arts = _many_articles(10)
    src = _write(tmp_path / "p.json", arts)
    import_squad(src, tmp_path / "base", holdout=0.2, seed=5, part="fit")
    import_squad(src, tmp_path / "same", holdout=0.2, seed=5, part="fit", holdout_seed=5)
    assert _snapshot(tmp_path / "base") == _snapshot(tmp_path / "same")
    import_squad(src, tmp_path / "draw", holdout=0.2, seed=5, part="fit", holdout_seed=1)
    base, draw = _rows(tmp_path / "base"), _rows(tmp_path / "draw")
    assert [(r["id"], r["doc"]) for r in base] == [(r["id"], r["doc"]) for r in draw]
    fit = [a for i, a in enumerate(arts) if any(r["id"].startswith(f"a{i}-") for r in base)]
    held_base = _held_out(fit, _docs(tmp_path / "base"))
    held_draw = _held_out(fit, _docs(tmp_path / "draw"))
    assert len(held_base) == len(held_draw) == round(21 * 0.2)  # 7 fit articles x 3 paragraphs
    assert held_base != held_draw
    unanswerable = {r["id"] for r in draw if r["type"] == "unanswerable"}
    assert unanswerable and unanswerable != {r["id"] for r in base if r["type"] == "unanswerable"}


def test_holdout_within_a_part_stays_in_that_part(tmp_path):
    arts = _many_articles(10)
    src = _write(tmp_path / "p.json", arts)
    out = tmp_path / "rep"
    stats = import_squad(src, out, holdout=0.5, seed=1, part="report", report_fraction=0.4)
    rows = _rows(out)
    written = {r["id"].split("-")[0] for r in rows}
    assert len(written) == stats.articles == 4
    assert stats.paragraphs_kept + stats.paragraphs_held_out == 12
    assert stats.paragraphs_held_out == 6
    assert sum(r["type"] == "unanswerable" for r in rows) == 6


# --- (f) bad input --------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, dict, str]]:
    """name -> (file, extra kwargs, expected message fragment)."""
    good = _write(tmp_path / "good.json", RIVERS[:1])
    not_json = tmp_path / "broken.json"
    not_json.write_text('{"data": [', encoding="utf-8")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    no_data = tmp_path / "nodata.json"
    no_data.write_text('{"version": "1.1"}', encoding="utf-8")
    data_dict = tmp_path / "datadict.json"
    data_dict.write_text('{"data": {"title": "x"}}', encoding="utf-8")
    top_list = tmp_path / "toplist.json"
    top_list.write_text("[1, 2]", encoding="utf-8")
    bad_article = tmp_path / "badarticle.json"
    bad_article.write_text('{"data": [1, 2]}', encoding="utf-8")
    bad_qas = tmp_path / "badqas.json"
    bad_qas.write_text('{"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": "x"}]}]}',
                       encoding="utf-8")
    return {
        "missing": (tmp_path / "nope.json", {}, "no such file"),
        "not json": (not_json, {}, "not a SQuAD JSON file"),
        "not utf-8": (binary, {}, "not a SQuAD JSON file"),
        "no data": (no_data, {}, "no 'data' list"),
        "data not a list": (data_dict, {}, "no 'data' list"),
        "top-level list": (top_list, {}, "no 'data' list"),
        "article not an object": (bad_article, {}, "data must be a list of objects"),
        "qas not a list": (bad_qas, {}, "qas must be a list of objects"),
        "holdout 1": (good, {"holdout": 1.0}, "--holdout must be in [0, 1)"),
        "holdout negative": (good, {"holdout": -0.1}, "--holdout must be in [0, 1)"),
        "holdout nan": (good, {"holdout": float("nan")}, "--holdout must be in [0, 1)"),
        "report fraction": (good, {"report_fraction": 1.5}, "--report-fraction must be in"),
        "unknown part": (good, {"part": "test"}, "unknown part 'test'"),
    }


def test_bad_input_is_a_seedqa_error(tmp_path):
    out = tmp_path / "out"
    for label, (path, kwargs, fragment) in _bad_inputs(tmp_path).items():
        with pytest.raises(SeedQAError) as info:
            import_squad(path, out, **kwargs)
        message = str(info.value)
        assert fragment in message, (label, message)
        assert "\n" not in message, label
        if not kwargs:  # a problem with the file names the file
            assert path.name in message, (label, message)
    assert not (out / "questions.jsonl").exists()  # nothing half-written on bad input


CLI_OPTS = {"holdout": "--holdout", "report_fraction": "--report-fraction"}


@pytest.mark.parametrize("label", ["missing", "not json", "no data", "article not an object",
                                   "holdout 1", "holdout negative"])
def test_cli_bad_input_is_one_error_line(tmp_path, label):
    path, kwargs, fragment = _bad_inputs(tmp_path)[label]
    args = ["import-squad", str(path), "--out", str(tmp_path / "out")]
    for key, value in kwargs.items():
        args += [CLI_OPTS[key], str(value)]
    r = run_cli(args, timeout=60)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("seedqa: error: ") and fragment in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout == ""


def test_cli_success_line_reports_counts(tmp_path):
    src = _write(tmp_path / "DRCD_dev.json", AMBIGUOUS + _many_articles(3))
    expected = import_squad(src, tmp_path / "api", holdout=0.4, seed=0)
    assert expected.unanswerable and expected.dropped  # every count is exercised
    out = tmp_path / "cli"
    r = run_cli(["import-squad", str(src), "--out", str(out), "--holdout", "0.4", "--seed", "0"],
                timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    (line,) = r.stdout.strip().splitlines()
    counts, _, dest = line.partition(" -> ")
    numbers = [int(n) for n in re.findall(r"\d+", counts)]
    e = expected
    assert numbers == [e.articles, e.paragraphs_kept, e.paragraphs_held_out, e.answerable,
                       e.unanswerable, e.dropped], line
    assert dest == str(out)
    assert _snapshot(out) == _snapshot(tmp_path / "api")
    assert {r["style"] for r in _rows(out)} == {"drcd"}
    r = run_cli(["import-squad", str(src), "--out", str(tmp_path / "named"), "--name", "mine"],
                timeout=60)
    assert r.returncode == 0, r.stderr
    assert {r["style"] for r in _rows(tmp_path / "named")} == {"mine"}
