"""Turn an evaluation result (`qa.evaluate.evaluate`) into files a person reads.

Everything is rendered from the report dict alone, so a saved `report.json` can be re-rendered
and the renderers can be tested on a synthetic result without an engine. Modes always sit side by
side: comparing retrieval modes is the point of `--compare`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from qa.metrics import OVERALL_KEYS
from ui.batch import csv_cell

CJK_FONT = "WenQuanYi Micro Hei"
MAX_MISSES = 15
#: Columns of results.csv, one row per question per mode.
RESULT_FIELDS = (
    "mode",
    "id",
    "type",
    "style",
    "question",
    "gold",
    "answerable",
    "answer",
    "span",
    "refused",
    "confidence",
    "retrieval_rank",
    "sentence_correct",
    "span_em",
    "span_f1",
    "latency_ms",
    "error",
)
_SHORT = {
    "sentence_accuracy": "acc",
    "refusal_precision": "ref P",
    "refusal_recall": "ref R",
    "false_refusal_rate": "false ref",
    "latency_ms_p50": "p50 ms",
    "latency_ms_p95": "p95 ms",
    "n_answerable": "n ans",
    "n_unanswerable": "n unans",
}


def fmt(key: str, value: float | None, none: str = "—") -> str:
    """A metric value for a table: counts as integers, latencies to 0.1 ms, rates to 3 places."""
    if value is None:
        return none
    if key in ("n", "n_answerable", "n_unanswerable"):
        return str(int(value))
    if key.startswith("latency"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def modes_of(report: dict) -> list[str]:
    return list(report["modes"])


def overall_table(report: dict) -> str:
    """The overall metrics as a compact text table, one column per mode (for the terminal)."""
    modes = modes_of(report)
    rows = [["metric", *modes]]
    rows += [
        [key, *(fmt(key, report["modes"][m]["overall"][key], "-") for m in modes)]
        for key in OVERALL_KEYS
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _label_table(report: dict, group: str) -> str | None:
    """Per-label table (`by_type` / `by_style`): one row per label and mode, all metrics."""
    modes = modes_of(report)
    labels: list[str] = []
    for m in modes:
        labels += [k for k in report["modes"][m][group] if k not in labels]
    if not labels:
        return None
    keys = [k for k in OVERALL_KEYS if k not in ("n_answerable", "n_unanswerable")]
    header = [group.removeprefix("by_"), "mode", *(_SHORT.get(k, k) for k in keys)]
    rows = []
    for label in labels:
        for m in modes:
            stats = report["modes"][m][group].get(label)
            if stats is not None:
                rows.append([label, m, *(fmt(k, stats[k]) for k in keys)])
    return _md_table(header, rows, right_from=2)


def is_miss(q: dict) -> bool:
    """A question the user got wrong: answerable but wrong or refused, or unanswerable answered."""
    if q["answerable"]:
        return not q["sentence_correct"]
    return not q["refused"]


def worst_misses(report: dict, limit: int = MAX_MISSES) -> list[tuple[str, list[str]]]:
    """(question id, modes that missed it), the most-missed and lowest-F1 first.

    Ordering by how many modes fail first puts questions no mode can answer (likely retrieval or
    document problems) ahead of ones a single mode fumbles.
    """
    modes = modes_of(report)
    by_mode = {m: {q["id"]: q for q in report["modes"][m]["questions"]} for m in modes}
    ids = [q["id"] for q in report["modes"][modes[0]]["questions"]]
    scored = []
    for pos, qid in enumerate(ids):
        missed = [m for m in modes if qid in by_mode[m] and is_miss(by_mode[m][qid])]
        if missed:
            best_f1 = max(by_mode[m][qid]["span_f1"] for m in modes if qid in by_mode[m])
            scored.append((-len(missed), best_f1, pos, qid, missed))
    scored.sort()
    return [(qid, missed) for *_, qid, missed in scored[:limit]]


def _one_line(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _miss_line(mode: str, q: dict) -> str:
    rank = q["retrieval_rank"]
    where = f"gold in passage {rank}" if rank else "gold not retrieved"
    if q.get("error"):
        return f"- **{mode}**: error: {_one_line(q['error'])}"
    if q["refused"]:
        verdict = "refused" + (f" ({where})" if q["answerable"] else " (correct)")
        return f"- **{mode}**: {verdict}"
    text = f"“{_one_line(q['answer'])}”"
    if q.get("span") and q["span"] != q["answer"]:
        text += f" (span “{_one_line(q['span'], 60)}”)"
    if q["answerable"]:
        ok = "correct" if q["sentence_correct"] else "wrong"
        return f"- **{mode}**: {text} — {ok}, span F1 {q['span_f1']:.2f}, {where}"
    return f"- **{mode}**: {text} — answered an unanswerable question"


def markdown(report: dict) -> str:
    """report.md: settings, overall / per-type / per-style tables, then the worst misses."""
    modes = modes_of(report)
    settings = report.get("settings", {})
    parts = ["# seedqa evaluation", ""]
    parts += [
        f"- {k}: `{', '.join(map(str, v)) if isinstance(v, list) else v}`"
        for k, v in settings.items()
        if v not in (None, "")
    ]
    parts += [
        "",
        "Rates over answerable questions are `—` where a group has none. Refusal precision/recall"
        " treat refusing as a detector of unanswerable questions (1.0 when there is nothing to"
        " refuse or nothing was refused). Span scores are CMRC 2018 character F1/EM.",
        "",
        "## Overall",
        "",
        _md_table(
            ["metric", *modes],
            [[k, *(fmt(k, report["modes"][m]["overall"][k]) for m in modes)] for k in OVERALL_KEYS],
        ),
    ]
    for group, title in (("by_type", "By question type"), ("by_style", "By question style")):
        table = _label_table(report, group)
        if table:
            parts += ["", f"## {title}", "", table]
    misses = worst_misses(report)
    parts += ["", f"## Worst misses ({len(misses)})", ""]
    if not misses:
        parts.append("None: every answerable question was answered correctly and every "
                     "unanswerable one refused.")
    by_mode = {m: {q["id"]: q for q in report["modes"][m]["questions"]} for m in modes}
    for qid, missed in misses:
        q0 = next(by_mode[m][qid] for m in modes if qid in by_mode[m])
        labels = ", ".join(x for x in (q0.get("type"), q0.get("style")) if x)
        gold = " ｜ ".join(f"“{g}”" for g in q0["gold"]) or "*unanswerable*"
        parts += [
            f"### {qid}" + (f" ({labels})" if labels else "") + f" — missed by {', '.join(missed)}",
            "",
            f"**Question:** {_one_line(q0['question'], 300)}",
            "",
            f"**Gold:** {gold}",
            "",
            *(_miss_line(m, by_mode[m][qid]) for m in modes if qid in by_mode[m]),
            "",
        ]
    return "\n".join(parts).rstrip() + "\n"


def write_results_csv(report: dict, path: Path) -> None:
    """results.csv: one row per question per mode, for spreadsheets and pandas."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RESULT_FIELDS, extrasaction="ignore")
        w.writeheader()
        for m in modes_of(report):
            for q in report["modes"][m]["questions"]:
                w.writerow({k: csv_cell(v) for k, v in {**q, "mode": m}.items()})


def _font_family() -> list[str]:
    """The CJK font first when matplotlib has it, so any Chinese text renders instead of boxes."""
    from matplotlib import font_manager

    try:
        font_manager.findfont(font_manager.FontProperties(family=CJK_FONT), fallback_to_default=False)
    except ValueError:
        return ["DejaVu Sans"]
    return [CJK_FONT, "DejaVu Sans"]


def _bars(ax, groups: Sequence[str], series: dict[str, Sequence[float | None]]) -> None:
    """Grouped bars: one group per x label, one bar per series (mode); None is drawn as no bar."""
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=name)
        for b, v in zip(bars, values, strict=True):
            label = "n/a" if v is None else f"{v:.2f}"
            ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                        textcoords="offset points")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylim(0, 1.12)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def plot_recall_at_k(report: dict, path: Path) -> None:
    """recall@1/3/5 and MRR per mode: where retrieval puts a passage holding the gold answer."""
    import matplotlib
    from matplotlib.figure import Figure

    keys = ("recall@1", "recall@3", "recall@5", "mrr")
    with matplotlib.rc_context({"font.family": _font_family(), "axes.unicode_minus": False}):
        fig = Figure(figsize=(7, 4.2), dpi=120)
        ax = fig.add_subplot()
        _bars(ax, list(keys), {m: [report["modes"][m]["overall"][k] for k in keys]
                               for m in modes_of(report)})
        n_ans = report["modes"][modes_of(report)[0]]["overall"]["n_answerable"]
        ax.set_title(f"Retrieval: gold answer within the top k passages ({n_ans} answerable)")
        ax.set_ylabel("share of answerable questions")
        ax.legend(title="mode", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.tight_layout()
        fig.savefig(path)


def plot_accuracy_by_type(report: dict, path: Path) -> None:
    """sentence_accuracy and span_f1 per question type and mode, with "all" first.

    Types without answerable questions are left out (both metrics are undefined there; their
    refusal metrics are in the tables). With no type labels only "all" is drawn.
    """
    import matplotlib
    from matplotlib.figure import Figure

    modes = modes_of(report)
    types: list[str] = []
    for m in modes:
        for t, stats in report["modes"][m]["by_type"].items():
            if t not in types and stats["n_answerable"]:
                types.append(t)
    first = report["modes"][modes[0]]
    groups = ["all", *types]
    labels = [f"all\n({first['overall']['n_answerable']})"] + [
        f"{t}\n({first['by_type'].get(t, {}).get('n_answerable', 0)})" for t in types
    ]

    def series(key: str) -> dict[str, list[float | None]]:
        out = {}
        for m in modes:
            r = report["modes"][m]
            out[m] = [r["overall"][key] if g == "all" else r["by_type"].get(g, {}).get(key)
                      for g in groups]
        return out

    with matplotlib.rc_context({"font.family": _font_family(), "axes.unicode_minus": False}):
        fig = Figure(figsize=(max(7.0, 0.35 * len(groups) * len(modes) + 2.5), 7), dpi=120)
        top, bottom = fig.subplots(2, 1, sharex=True)
        _bars(top, labels, series("sentence_accuracy"))
        top.set_title("Answer sentence contains a gold answer (sentence_accuracy)")
        top.legend(title="mode", fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        _bars(bottom, labels, series("span_f1"))
        bottom.set_title("Answer span vs gold, CMRC character F1 (span_f1)")
        bottom.set_xlabel("question type (answerable questions)")
        fig.tight_layout()
        fig.savefig(path)


def write_report(report: dict, out_dir: Path) -> dict[str, Path]:
    """Write report.json, report.md, results.csv and the two plots into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "csv": out_dir / "results.csv",
        "recall_plot": out_dir / "recall_at_k.png",
        "type_plot": out_dir / "accuracy_by_type.png",
    }
    paths["json"].write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    paths["markdown"].write_text(markdown(report), encoding="utf-8")
    write_results_csv(report, paths["csv"])
    plot_recall_at_k(report, paths["recall_plot"])
    plot_accuracy_by_type(report, paths["type_plot"])
    return paths
