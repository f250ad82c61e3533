"""Answer a file of questions (`seedqa ask --batch`), one output row per question.

Built to stream: questions are read lazily, answered one at a time and each row is written and
flushed before the next question is read, so a 100,000-line file needs no more memory than a
10-line one and an interrupted run leaves every finished row on disk. Input is read as bytes and
decoded line by line, so a stray undecodable byte costs one row, not the whole file.

A bad line never stops the run: it is reported on stderr with its line number, gets a row with an
`error`, and the caller turns the returned count of failed rows into a non-zero exit status.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from qa.core.errors import SeedQAError
from qa.core.protocols import Answerer
from qa.core.records import Answer

INPUT_SUFFIXES = (".jsonl", ".csv", ".txt")
OUTPUT_SUFFIXES = (".jsonl", ".csv")
#: Columns of a batch row, in output order (CSV header and JSONL key order).
ROW_FIELDS = ("id", "question", "answer", "refused", "confidence", "citations", "span", "error")


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One input question, or the reason its line could not be read (`error` set)."""

    line: int
    id: str | int
    question: str | None
    error: str | None = None


def _default_id(line: int) -> str:
    return f"line {line}"


def _check_suffix(path: Path, accepted: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in accepted:
        raise SeedQAError(
            f"{path}: cannot tell the {what} format from the extension {suffix or '(none)'!r}; "
            f"use {', '.join(accepted)}"
        )
    return suffix


def _decoded_lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text without line ending, decode error) for each physical line.

    Splits on b"\\n" only (CRLF tolerated), the one line ending that cannot occur inside a UTF-8
    multibyte character, so a bad byte cannot shift later line numbers.
    """
    try:
        f = path.open("rb")
    except OSError as e:
        raise SeedQAError(f"cannot read {path}: {e.strerror or e}") from None
    with f:
        for n, raw in enumerate(f, start=1):
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                text = raw.decode("utf-8-sig" if n == 1 else "utf-8")
            except UnicodeDecodeError as e:
                yield n, None, (
                    f"undecodable bytes (not UTF-8: byte 0x{raw[e.start]:02x} at byte {e.start + 1})"
                )
                continue
            yield n, text, None


def _read_txt(path: Path) -> Iterator[BatchItem]:
    for n, text, err in _decoded_lines(path):
        if err:
            yield BatchItem(n, _default_id(n), None, err)
        elif text is not None and text.strip():
            yield BatchItem(n, _default_id(n), text.strip())


def _item_from_object(n: int, obj: dict) -> BatchItem:
    raw_id = obj.get("id")
    item_id: str | int = _default_id(n) if raw_id is None or raw_id == "" else raw_id
    if not isinstance(item_id, str | int):
        item_id = json.dumps(item_id, ensure_ascii=False)
    q = obj.get("question")
    if q is None:
        return BatchItem(n, item_id, None, "no question")
    if not isinstance(q, str):
        return BatchItem(n, item_id, None, f"question is not text (got {type(q).__name__})")
    if not q.strip():
        return BatchItem(n, item_id, None, "empty question")
    return BatchItem(n, item_id, q.strip())


def _read_jsonl(path: Path) -> Iterator[BatchItem]:
    for n, text, err in _decoded_lines(path):
        if err:
            yield BatchItem(n, _default_id(n), None, err)
            continue
        if text is None or not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield BatchItem(n, _default_id(n), None, f"bad JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict):
            kind = {list: "an array", str: "a string"}.get(type(obj), type(obj).__name__)
            yield BatchItem(n, _default_id(n), None, f"not a JSON object (got {kind})")
            continue
        yield _item_from_object(n, obj)


MAX_RECORD_LINES = 100  # a quoted field this long is a stray quote, not one question


def _csv_records(path: Path) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(first line, cells, error) per CSV record, allowing quoted fields that span lines.

    A record ends at a line break where the quotes seen so far are balanced (RFC 4180), which lets
    each record be parsed on its own and keeps decoding per line. Quotes are counted per line (not
    over the joined record, which made a long record quadratic), and a record still open after
    MAX_RECORD_LINES lines is a stray quote: its first line is reported and the lines after it
    are read again as records of their own, so one bad line cannot swallow the rest of the file.
    """
    lines = _decoded_lines(path)
    replay: collections.deque[tuple[int, str | None, str | None]] = collections.deque()
    buf: list[tuple[int, str | None, str | None]] = []
    quotes = 0
    while True:
        item = replay.popleft() if replay else next(lines, None)
        if item is None:
            break
        buf.append(item)
        quotes += (item[1] or "").count('"')
        if quotes % 2:
            if len(buf) < MAX_RECORD_LINES:
                continue  # inside a quoted field: the record goes on
            yield buf[0][0], None, "bad CSV (unterminated quoted field)"
            replay.extendleft(reversed(buf[1:]))
            buf, quotes = [], 0
            continue
        start = buf[0][0]
        broken = next((err for _, _, err in buf if err), None)
        record = "\n".join(text or "" for _, text, _ in buf)
        buf, quotes = [], 0
        if broken:
            yield start, None, broken
            continue
        try:
            rows = list(csv.reader(io.StringIO(record), strict=True))
        except csv.Error as e:
            yield start, None, f"bad CSV ({e})"
            continue
        cells = rows[0] if rows else []
        if any(c.strip() for c in cells):
            yield start, cells, None
    if buf:
        yield buf[0][0], None, next((e for _, _, e in buf if e), None) or (
            "bad CSV (unterminated quoted field)"
        )


def _read_csv(path: Path) -> Iterator[BatchItem]:
    """Checks the header now (a file without a question column is a bad file, reported before
    any output is written), then yields the rows lazily."""
    records = _csv_records(path)
    first = next(records, None)
    if first is None:
        return iter(())
    n, cells, err = first
    if err or cells is None:
        raise SeedQAError(f"{path}: line {n}: cannot read the CSV header: {err}")
    header = [c.strip().lower() for c in cells]
    if "question" not in header:
        raise SeedQAError(
            f"{path}: the CSV header has no 'question' column "
            f"(found: {', '.join(header) or 'nothing'})"
        )

    def rows() -> Iterator[BatchItem]:
        for n, cells, err in records:
            if err or cells is None:
                yield BatchItem(n, _default_id(n), None, err)
            else:
                yield _item_from_object(n, dict(zip(header, cells, strict=False)))

    return rows()


def read_questions(path: Path) -> Iterator[BatchItem]:
    """Questions of a .jsonl, .csv or .txt file, lazily, with their 1-based line numbers.

    Raises SeedQAError up front for an unknown extension or an unreadable file (a bad file, not a
    bad line); bad lines come through as items with `error` set.
    """
    suffix = _check_suffix(path, INPUT_SUFFIXES, "question file")
    if not path.is_file():
        raise SeedQAError(f"cannot read {path}: no such file")
    reader = {".jsonl": _read_jsonl, ".csv": _read_csv, ".txt": _read_txt}[suffix]
    return reader(path)


def answer_row(item: BatchItem, answer: Answer | None, error: str | None = None) -> dict:
    """The output row of one question: the stable `Answer.to_json` fields plus id and error."""
    if answer is None:
        return {
            "id": item.id,
            "question": item.question,
            "answer": None,
            "refused": None,
            "confidence": None,
            "citations": [],
            "span": None,
            "error": error or item.error,
        }
    j = answer.to_json()
    return {
        "id": item.id,
        "question": item.question,
        "answer": j["answer"],
        "refused": j["refused"],
        "confidence": j["confidence"],
        "citations": j["citations"],
        "span": j["span"],
        "error": error,
    }


class RowWriter:
    """Writes rows as .jsonl or .csv and flushes each, so a killed run keeps what it finished."""

    def __init__(self, stream: IO[str], fmt: str) -> None:
        self._stream = stream
        self._csv: csv.DictWriter | None = None
        if fmt == ".csv":
            self._csv = csv.DictWriter(stream, fieldnames=ROW_FIELDS, lineterminator="\n")
            self._csv.writeheader()
            stream.flush()

    def write(self, row: dict) -> None:
        if self._csv is not None:
            self._csv.writerow({k: csv_cell(row.get(k)) for k in ROW_FIELDS})
        else:
            self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()


def csv_cell(value: object) -> object:
    """A JSON-ish value as a CSV cell: JSON for lists/dicts, true/false, empty for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _count_lines(path: Path) -> int:
    """Non-blank lines, for the progress bar's total; streaming, so memory stays flat."""
    with path.open("rb") as f:
        return sum(1 for raw in f if raw.strip())


def _stdout_utf8() -> IO[str]:
    """Stdout as UTF-8 text whatever the locale, so Chinese rows never die on an ASCII console."""
    out = sys.stdout
    if (getattr(out, "encoding", "") or "").lower().replace("-", "") != "utf8":
        reconfigure = getattr(out, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")
    return out


def check_paths(in_path: Path, out_path: Path | None) -> str:
    """Validate a batch's input and output paths; returns the output format (".jsonl"/".csv").

    Cheap and engine-free, so the CLI can call it before loading the model and fail in
    milliseconds on a typo'd extension; `run_batch` calls it again anyway.
    """
    out_fmt = ".jsonl" if out_path is None else _check_suffix(out_path, OUTPUT_SUFFIXES, "output")
    _check_suffix(in_path, INPUT_SUFFIXES, "question file")
    if not in_path.is_file():
        raise SeedQAError(f"cannot read {in_path}: no such file")
    if out_path is not None and out_path.exists() and out_path.resolve() == in_path.resolve():
        raise SeedQAError(f"{out_path}: the output would overwrite the input; choose another --out")
    return out_fmt


def run_batch(
    engine: Answerer,
    in_path: Path,
    out_path: Path | None,
    *,
    top_k: int,
    mode: str,
    progress: bool = True,
) -> int:
    """Answer every question of `in_path` into `out_path` (None: JSONL on stdout).

    Returns the number of rows that failed (unreadable lines and questions the engine raised
    on); the CLI exits non-zero when it is not 0. Questions are answered independently: no
    history is passed, so a row does not depend on the rows before it.
    """
    in_path, out_path = Path(in_path), None if out_path is None else Path(out_path)
    out_fmt = check_paths(in_path, out_path)
    items = read_questions(in_path)
    total = _count_lines(in_path) - (1 if in_path.suffix.lower() == ".csv" else 0)

    if out_path is None:
        stream = _stdout_utf8()
        close: Callable[[], None] = stream.flush
    else:
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            stream = out_path.open("w", encoding="utf-8", newline="")
        except OSError as e:
            raise SeedQAError(f"cannot write {out_path}: {e.strerror or e}") from None
        close = stream.close

    failed = 0
    try:
        writer = RowWriter(stream, out_fmt)
        with tqdm(
            total=max(total, 0),
            desc="answering",
            unit="q",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        ) as bar:
            for row in _answer_rows(engine, items, top_k=top_k, mode=mode, bar=bar):
                if row["error"]:
                    failed += 1
                writer.write(row)
    except BrokenPipeError:
        # `seedqa ask --batch q.txt | head`: the reader left, which is not an error of ours;
        # point stdout at /dev/null so the interpreter's final flush does not complain either.
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return failed
    finally:
        with contextlib.suppress(BrokenPipeError, ValueError):
            close()
    return failed


def _answer_rows(
    engine: Answerer, items: Iterable[BatchItem], *, top_k: int, mode: str, bar: tqdm
) -> Iterator[dict]:
    for item in items:
        if item.error:
            _warn(bar, f"seedqa: line {item.line}: {item.error}; skipped")
            yield answer_row(item, None)
        else:
            assert item.question is not None
            try:
                answer = engine.answer(item.question, top_k=top_k, mode=mode)
            except Exception as e:  # one question's failure must not end the batch
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                error = f"could not answer ({msg})"
                _warn(bar, f"seedqa: line {item.line}: {error}")
                yield answer_row(item, None, error)
            else:
                yield answer_row(item, answer)
        bar.update(1)


def _warn(bar: tqdm, message: str) -> None:
    """One line on stderr that does not tear the progress bar."""
    bar.write(message, file=sys.stderr)
