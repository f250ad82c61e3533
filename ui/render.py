"""Turn `Answer`s into the HTML the chat window shows, treating every document and user string as
untrusted text.

Documents are arbitrary files and questions are typed by whoever has the link, so nothing from
either may become markup. Everything they contain goes through `text()`, which HTML-escapes it and
also replaces the characters Markdown, KaTeX and Gradio's custom-tag handling react to with
numeric character references: the Chatbot is configured not to run Markdown at all, but if a later
Gradio or a changed setting did, `[x](http://evil)` would still stay text. References render as
the very same characters, so a reader sees the document exactly as written.

Only this module writes tags, and only fixed ones (`mark`, `details`, `span`, ...) with constant
class names, so the output survives Gradio's HTML sanitizer unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from qa.core.punctuation import sentence_ends
from qa.core.records import REFUSAL, Answer

# Characters that mean something to Markdown (links, emphasis, code, headings, tables, lists),
# to KaTeX (`$`) or to a template engine (`{}`), on top of the five that HTML itself reserves.
_MARKDOWN_SIGNIFICANT = "\\`*_{}[]()#+-!|~$:"
_ENTITY = {ord(c): f"&#{ord(c)};" for c in "&<>\"'" + _MARKDOWN_SIGNIFICANT}

EMPTY_SOURCES = (
    '<div class="sq-sources sq-empty">'
    '<div class="sq-sources-head">出处</div>'
    '<p class="sq-hint">提问后，这里会列出答案所引用的段落：文件、行号、相关度，'
    "点击“展开完整段落”可查看上下文。</p></div>"
)


def text(s: object) -> str:
    """Escape untrusted text so that HTML, Markdown and LaTeX renderers all show it literally."""
    # One pass over the characters: escaping in two steps would re-escape the first step's `&#`.
    return str(s).translate(_ENTITY)


def _marker(n: int) -> str:
    return f'<span class="sq-cite">[{n}]</span>'


def _at(passage: str, sentence: str, at: int | None) -> int:
    """Where `sentence` sits in `passage`: the engine's offset when it holds, else a search
    (the folded-away context is a different text from the passage the offset is for)."""
    if at is not None and sentence and passage[at : at + len(sentence)] == sentence:
        return at
    return passage.find(sentence) if sentence else -1


def highlight(passage: str, sentence: str, span: str = "", at: int | None = None) -> str:
    """Escaped `passage` with `sentence` (at offset `at`) underlined and `span` inside it marked.

    When the sentence is not there (a different passage, or text that was normalised
    differently) the span alone is looked for, and failing that the passage is shown plain
    rather than guessing.
    """
    if sentence:
        at = _at(passage, sentence, at)
        if at >= 0:
            end = at + len(sentence)
            return (
                text(passage[:at])
                + '<span class="sq-hit">'
                + _marked(sentence, span)
                + "</span>"
                + text(passage[end:])
            )
    if span:
        at = passage.find(span)
        if at >= 0:
            end = at + len(span)
            return text(passage[:at]) + "<mark>" + text(span) + "</mark>" + text(passage[end:])
    return text(passage)


@lru_cache(maxsize=256)
def _ends(passage: str) -> tuple[int, ...]:
    """Where an excerpt may start or stop: after a sentence end (as chunking cuts sentences) or a
    line break. Cached: the same passages come back answer after answer."""
    breaks = (i + 1 for i, c in enumerate(passage) if c == "\n")
    return tuple(sorted({*sentence_ends(passage), *breaks}))


def _cut_before(passage: str, at: int, room: int) -> int:
    """Where an excerpt ending context before `at` should start: a sentence start if one is near."""
    start = max(0, at - room)
    if start == 0:
        return 0
    found = [e for e in _ends(passage) if start < e <= at]
    return found[0] if found else start


def _cut_after(passage: str, end: int, room: int) -> int:
    """Where an excerpt continuing after `end` should stop: a sentence end if one is near."""
    stop = min(len(passage), end + room)
    if stop == len(passage):
        return stop
    found = [e for e in _ends(passage) if end < e <= stop]
    return found[-1] if found else stop


def excerpt(
    passage: str, sentence: str = "", span: str = "", room: int = 60, at: int | None = None
) -> str:
    """Escaped, highlighted window of `passage` around `sentence`, with … where it was cut.

    Passages can run to several paragraphs; showing the whole of each would push the answer out
    of sight, so the panel shows the answer with a sentence or so around it (the whole passage is
    one click away), and other passages by their opening.
    """
    at = _at(passage, sentence, at)
    if at < 0 and span:
        at = passage.find(span)
        sentence = span if at >= 0 else sentence
    if at < 0:
        if len(passage) <= 2 * room:
            return text(passage)
        return text(passage[: _cut_after(passage, 2 * room, room // 2)].rstrip()) + "…"
    start = _cut_before(passage, at, room)
    stop = _cut_after(passage, at + len(sentence), room)
    window = passage[start:stop].strip()
    body = highlight(window, sentence if sentence != span else "", span)
    return ("…" if start > 0 else "") + body + ("…" if stop < len(passage) else "")


def _marked(sentence: str, span: str, start: int | None = None, end: int | None = None) -> str:
    """Escaped `sentence` with `sentence[start:end]` (or the first occurrence of `span`) marked."""
    if start is None or end is None or not (0 <= start < end <= len(sentence)):
        start = sentence.find(span) if span else -1
        end = start + len(span)
    if start < 0 or end <= start:
        return text(sentence)
    return (
        text(sentence[:start])
        + "<mark>"
        + text(sentence[start:end])
        + "</mark>"
        + text(sentence[end:])
    )


def question_html(question: str) -> str:
    """A user's message as the Chatbot shows it: their text, never their markup."""
    return f'<div class="sq-question">{text(question)}</div>'


def answer_html(a: Answer) -> str:
    """One bot message: the answer sentence with its span marked and its citation markers.

    A refusal says so in the same words the CLI uses and points at the closest passages, so the
    reader can check for themselves instead of trusting the refusal blindly.
    """
    parts: list[str] = ['<div class="sq-answer">']
    if a.message:
        parts.append(f'<p class="sq-note">{text(a.message)}</p>')
    if a.refused:
        parts.append(f'<p class="sq-text sq-refused">{text(a.answer or REFUSAL)}</p>')
        if a.citations:
            markers = " ".join(_marker(c.n) for c in a.citations)
            parts.append(f'<p class="sq-meta">最接近的段落（仅供参考）：{markers}</p>')
    else:
        sentence = _marked(a.answer, a.span, a.span_start, a.span_end)
        source = a.source if a.source is not None else (a.citations[0].n if a.citations else None)
        marker = f" {_marker(source)}" if source is not None else ""
        parts.append(f'<p class="sq-text">{sentence}{marker}</p>')
        cited = next((c for c in a.citations if c.n == source), None)
        meta: list[str] = []
        if cited is not None:
            where = (a.location or cited.location).label()  # the sentence's own lines
            meta.append(f"出处 {_marker(cited.n)} <code>{text(where)}</code>")
        others = [c.n for c in a.citations if c.n != source]
        if others:
            meta.append("另见 " + " ".join(_marker(n) for n in others))
        meta.append(f"置信度 {a.confidence:.2f}")
        parts.append(f'<p class="sq-meta">{" · ".join(meta)}</p>')
    parts.append("</div>")
    return "".join(parts)


def error_html(message: str) -> str:
    """A failure the user can act on, shown in the conversation instead of a traceback."""
    return f'<div class="sq-answer"><p class="sq-text sq-error">出错了：{text(message)}</p></div>'


def pending_html() -> str:
    """Placeholder while the engine works, so Enter visibly did something."""
    return '<div class="sq-answer"><p class="sq-text sq-pending">正在查找资料…</p></div>'


def sources_html(a: Answer | None) -> str:
    """The sources panel for the latest answer: every passage with where it is and how close it
    scored, the answer marked inside the passage it came from, and the full paragraph folded away
    so the list stays short but the context is one click away."""
    if a is None:
        return EMPTY_SOURCES
    if not a.citations:
        return (
            '<div class="sq-sources"><div class="sq-sources-head">出处</div>'
            '<p class="sq-hint">没有检索到相关段落。</p></div>'
        )
    head = "最接近的段落" if a.refused else "出处"
    items: list[str] = []
    for c in a.citations:
        is_source = not a.refused and c.n == a.source
        sentence = a.answer if is_source else ""
        span = a.span if is_source else ""
        at = a.location.char_start if is_source and a.location else None
        body = excerpt(c.text, sentence, span, at=at)
        context = c.context or c.text
        ctx = highlight(context, sentence, span)
        cls = "sq-src sq-src-main" if is_source else "sq-src"
        title = f'<span class="sq-title">{text(c.title)}</span>' if c.title else ""
        items.append(
            f'<div class="{cls}" data-n="{c.n}">'
            f'<div class="sq-src-top">{_marker(c.n)}{title}'
            f'<span class="sq-score">相关度 {float(c.score):.2f}</span></div>'
            f'<div class="sq-loc"><code>{text(c.location.label())}</code></div>'
            f'<div class="sq-src-text">{body}</div>'
            f'<details class="sq-more"><summary>展开完整段落</summary>'
            f'<div class="sq-context">{ctx}</div></details>'
            "</div>"
        )
    return (
        f'<div class="sq-sources"><div class="sq-sources-head">{head}'
        f'<span class="sq-count">{len(a.citations)} 段</span></div>' + "".join(items) + "</div>"
    )


def files_html(names: Sequence[str]) -> str:
    """The documents the index holds, by name (escaped: a file name is user input)."""
    if not names:
        return '<p class="sq-hint">还没有文档。</p>'
    items = "".join(f"<li><code>{text(n)}</code></li>" for n in names)
    return f'<div class="sq-files"><p class="sq-hint">已索引 {len(names)} 篇：</p><ul>{items}</ul></div>'


def upload_status_html(done: str, refused: Sequence[tuple[str, str]]) -> str:
    """What an upload did: what was added, and each refused file by name with its reason."""
    parts = [f'<p class="sq-ok">{text(done)}</p>'] if done else []
    parts += [f'<p class="sq-error">未加入 <code>{text(n)}</code>：{text(why)}</p>'
              for n, why in refused]
    return f'<div class="sq-upload-status">{"".join(parts)}</div>'
