"""The chat window: a Gradio Blocks app over an opened `SeedQA` engine.

`build_app` only wires components to the engine, so tests can serve it on a free port with a real
engine; `launch` owns everything about serving (queue, auth, share link, quiet startup) so that
the `seedqa chat` command and the tests start it the same way.

Every string that reaches the page from a document or a user goes through `ui.render`, and the
Chatbot is told not to interpret Markdown or LaTeX: what a document says is shown, never run.
"""

from __future__ import annotations

from qa.core.offline import offline_env

# Before gradio is imported: it reads these at import time, and the app must not call out
# (analytics, version checks, the Hugging Face hub) on a machine that may have no network.
offline_env()

import contextlib  # noqa: E402
import io  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TextIO  # noqa: E402

import gradio as gr  # noqa: E402

from qa.core import workload  # noqa: E402
from qa.core.errors import SeedQAError  # noqa: E402
from qa.core.modes import Mode  # noqa: E402
from qa.core.protocols import Answerer  # noqa: E402
from qa.core.records import Answer  # noqa: E402
from ui import render  # noqa: E402

log = logging.getLogger(__name__)

MODES: list[tuple[str, str]] = [
    ("混合检索（推荐）", Mode.HYBRID.value),
    ("语义检索", Mode.DENSE.value),
    ("关键词检索", Mode.LEXICAL.value),
]
DEFAULT_TOP_K = 5
# Serving, measured with bench/bench_load.py (50 API users, 2 shared cores; notes in issue 15):
# Gradio hands up to CONCURRENCY questions at once to worker threads, which mostly wait for an
# `AnswerBatcher`; it runs ENGINE_WORKERS engine calls at a time (one per core), each answering
# up to MAX_BATCH waiting questions, so a crowd costs ~17% less CPU per answer than one engine
# call each.
CONCURRENCY = 16
MAX_BATCH = 16
ENGINE_WORKERS = workload.cores()
# Gradio's default ("auto") sends every queued request its queue position each time any request
# starts: with 50 waiting users, ~50 messages per answer, most of the event loop's time. Nothing
# here shows the position (progress is hidden), so it is sent on joining and every few seconds.
STATUS_UPDATE_S = 5.0
# Upload limits: embedding runs at about 20 passages a second on 2 cores, so a 50 MB document
# already takes many minutes; both are flags of `seedqa chat`.
MAX_UPLOAD_MB = 50
MAX_UPLOAD_FILES = 20

_CJK_FONTS = [
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "ui-sans-serif",
    "system-ui",
    "sans-serif",
]

CSS = """
.gradio-container { max-width: 1320px !important; margin: 0 auto !important; }
#sq-header { padding: 4px 2px 0; }
#sq-header h1 { font-size: 1.55rem; margin: 0 0 2px; font-weight: 700; letter-spacing: .02em; }
#sq-header .sq-sub { color: var(--body-text-color-subdued); font-size: .92rem; margin: 0; }
#sq-header .sq-docs { color: var(--body-text-color-subdued); font-size: .82rem; margin: 2px 0 0; }
#sq-chat .sq-question { white-space: pre-wrap; }
.sq-answer .sq-text { font-size: 1.02rem; line-height: 1.8; margin: 0; }
.sq-answer .sq-refused { color: #b45309; font-weight: 600; }
.sq-answer .sq-error { color: #b91c1c; }
.sq-answer .sq-pending { color: var(--body-text-color-subdued); font-style: italic; }
.sq-answer .sq-note { font-size: .85rem; color: #92400e; background: #fef3c7;
  border-radius: 6px; padding: 2px 8px; margin: 0 0 6px; display: inline-block; }
.sq-answer .sq-meta { color: var(--body-text-color-subdued); font-size: .84rem; margin: 6px 0 0; }
.sq-answer code, .sq-loc code { font-size: .8rem; padding: 1px 5px; border-radius: 4px;
  background: var(--background-fill-secondary); }
#sq-chat mark, #sq-sources mark { background: #fde68a; color: #1f2937; padding: 0 .15em;
  border-radius: 3px; }
.sq-cite { color: #2563eb; font-weight: 600; font-size: .86em; margin: 0 .1em; white-space: nowrap; }
#sq-sources { max-height: 700px; overflow-y: auto; padding-right: 4px; }
.sq-sources { display: flex; flex-direction: column; gap: 10px; }
.sq-sources-head { font-weight: 700; font-size: 1.02rem; display: flex; align-items: baseline;
  gap: 8px; }
.sq-count { font-weight: 400; font-size: .8rem; color: var(--body-text-color-subdued); }
.sq-hint { color: var(--body-text-color-subdued); font-size: .9rem; line-height: 1.7; margin: 0; }
.sq-src { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 10px 12px;
  background: var(--background-fill-secondary); }
.sq-src-main { border-color: #f59e0b; box-shadow: inset 3px 0 0 #f59e0b; }
.sq-src-top { display: flex; align-items: baseline; gap: 6px; }
.sq-title { font-weight: 600; flex: 1; font-size: .93rem; }
.sq-score { font-size: .78rem; color: var(--body-text-color-subdued); white-space: nowrap;
  margin-left: auto; }
.sq-loc { margin-top: 2px; }
.sq-src-text { font-size: .92rem; line-height: 1.75; margin-top: 6px; white-space: pre-line; }
.sq-hit { text-decoration: underline; text-decoration-color: #f59e0b;
  text-underline-offset: 3px; }
.sq-more { margin-top: 6px; }
.sq-more summary { cursor: pointer; color: #2563eb; font-size: .84rem; }
.sq-context { white-space: pre-wrap; font-size: .9rem; line-height: 1.75; margin-top: 6px;
  padding: 8px 10px; border-radius: 6px; background: var(--background-fill-primary);
  max-height: 360px; overflow-y: auto; }
"""

# Gradio labels each message for screen readers with its raw content, which here is HTML; relabel
# with the text a sighted reader sees. Runs once on page load and follows every update.
ARIA_JS = """
() => {
  const fix = () => {
    for (const el of document.querySelectorAll('#sq-chat [data-testid="user"], #sq-chat [data-testid="bot"]')) {
      const who = el.dataset.testid === 'user' ? '提问' : '回答';
      const label = who + '：' + el.textContent.trim();
      if (el.getAttribute('aria-label') !== label) el.setAttribute('aria-label', label);
    }
  };
  new MutationObserver(fix).observe(document.body, {
    subtree: true, childList: true, characterData: true,
    attributes: true, attributeFilter: ['aria-label'],
  });
  fix();
}
"""

PLACEHOLDER = (
    "<div style='text-align:center;line-height:1.8'>"
    "<div style='font-size:1.1rem;font-weight:600'>向资料提问</div>"
    "<div style='opacity:.75;font-size:.9rem'>答案是资料中的原句，并标注出处编号；"
    "资料里没有的内容会如实说明。</div></div>"
)


def _theme() -> gr.themes.Base:
    return gr.themes.Soft(
        primary_hue="amber",
        secondary_hue="blue",
        neutral_hue="slate",
        font=_CJK_FONTS,
        font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
    )


def _header(engine: Answerer) -> str:
    chunks = list(getattr(engine, "chunks", []) or [])
    docs = sorted({str(getattr(c, "doc", "")) for c in chunks})
    shown = "、".join(render.text(d) for d in docs[:6]) + ("等" if len(docs) > 6 else "")
    return (
        "<div><h1>seedqa 文档问答</h1>"
        "<p class='sq-sub'>每个答案都是资料中的原句，黄色标出回答问题的部分，[1] [2] 指向右侧的出处。</p>"
        f"<p class='sq-docs'>已载入 {len(docs)} 篇文档、{len(chunks)} 个段落：{shown}</p></div>"
    )


def _history(asked: Sequence[str] | None) -> list[str]:
    return [str(q) for q in (asked or []) if str(q).strip()]


def _doc_names(engine: Answerer) -> list[str]:
    return sorted({str(getattr(c, "doc", "")) for c in (getattr(engine, "chunks", None) or [])})


class _Job:
    """One caller's question in an `AnswerBatcher`: its arguments, then its answer or error."""

    __slots__ = ("args", "wake", "done", "result", "error")

    def __init__(self, args: tuple) -> None:
        self.args = args
        self.wake = threading.Event()
        self.done = False
        self.result: Answer | None = None
        self.error: BaseException | None = None

    def outcome(self) -> Answer:
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise RuntimeError("the question was not answered")
        return self.result


class AnswerBatcher:
    """Lets callers on many threads share `engine.answer_batch` calls, each still getting exactly
    its own answer or its own error.

    Why not Gradio's `batch=True`: a batched function can only fail as a whole, so one request
    with a bad option would fail every request batched with it; here a failed group is answered
    again one question at a time. Why no waiting window: a caller that finds a free worker
    slot answers at once (alone, a batch of one: no added latency); callers that arrive while
    `workers` groups are running queue up and go together in the next group.
    """

    def __init__(self, engine: Any, max_batch: int = MAX_BATCH,
                 workers: int = ENGINE_WORKERS) -> None:
        self.engine = engine
        self.max_batch = max(1, int(max_batch))
        self.workers = max(1, int(workers))
        self._lock = threading.Lock()
        self._waiting: list[_Job] = []
        self._busy = 0
        self.groups = 0  # engine calls made, and questions answered in them: for tests
        self.answered = 0

    def answer(
        self,
        question: str,
        history: Sequence[str] | None = None,
        top_k: int = DEFAULT_TOP_K,
        mode: str = "hybrid",
        threshold: float | None = None,
    ) -> Answer:
        """What `engine.answer(question, history, top_k, mode, threshold)` returns or raises."""
        job = _Job((question, history, top_k, mode, threshold))
        with self._lock:
            lead = self._busy < self.workers
            if lead:
                self._busy += 1
            else:
                self._waiting.append(job)
        if not lead:
            job.wake.wait()  # answered in someone's group, or handed a worker slot
        if not job.done:
            self._lead(job)
        return job.outcome()

    def _lead(self, job: _Job) -> None:
        """Answer `job` with the oldest waiting jobs, then hand the slot to the next one."""
        with self._lock:
            group = [job, *self._waiting[: self.max_batch - 1]]
            del self._waiting[: self.max_batch - 1]
        try:
            self._answer(group)
        finally:
            with self._lock:
                nxt = self._waiting.pop(0) if self._waiting else None
                if nxt is None:
                    self._busy -= 1
                self.groups += 1
                self.answered += len(group)
            for j in group:
                j.done = True
                j.wake.set()
            if nxt is not None:
                nxt.wake.set()

    def _answer(self, group: list[_Job]) -> None:
        try:
            cols = list(zip(*(j.args for j in group), strict=True))
            answers = self.engine.answer_batch(*cols)
            for j, a in zip(group, answers, strict=True):
                j.result = a
            return
        except Exception as e:
            if len(group) == 1:  # `answer_batch` of one raises what `answer` would
                group[0].error = e
                return
            log.debug("a group of %d failed (%s); answering one by one", len(group), e)
        for j in group:  # a bad option or a failure belongs to the one question that caused it
            try:
                j.result = self.engine.answer(j.args[0], history=j.args[1], top_k=j.args[2],
                                              mode=j.args[3], threshold=j.args[4])
            except Exception as e:
                j.error = e


def build_app(
    engine: Answerer,
    examples: Sequence[str] | None = None,
    example_budget_s: float = 8.0,
    upload: bool = True,
    max_upload_mb: float = MAX_UPLOAD_MB,
    max_upload_files: int = MAX_UPLOAD_FILES,
) -> gr.Blocks:
    """The chat window over `engine` (a `qa.core.Answerer`; its `chunks`, when it has them, name
    the documents in the header).

    `examples=None` derives them from the loaded documents (and checks the engine answers them);
    tests pass a list, or `[]`, to keep startup predictable. With `upload` and an engine that
    can `refresh` its documents folder, a "文档" panel lists the indexed files and lets the user
    add files (within `max_upload_mb` a file and `max_upload_files` an upload) or remove one.
    """
    if examples is None:
        from qa.examples import example_questions

        examples = example_questions(engine, budget_s=example_budget_s)
    default_threshold = float(getattr(engine, "default_threshold", 0.5))
    shown_threshold = round(default_threshold, 2)
    # engines that can answer several questions in one call share calls between users
    answer = (AnswerBatcher(engine).answer if hasattr(engine, "answer_batch")
              else engine.answer)

    def ask_engine(question: str, asked: Sequence[str], top_k: int, mode: str, threshold: float):
        # the slider shows the learned threshold rounded to its step; left there, the engine's
        # exact value applies, so the window answers exactly as the CLI and the API do
        t = float(threshold)
        return answer(
            question,
            history=_history(asked) or None,
            top_k=top_k,
            mode=mode,
            threshold=None if abs(t - shown_threshold) < 1e-9 else t,
        )

    def respond(
        question: str,
        messages: list[dict] | None,
        asked: list[str] | None,
        top_k: float,
        mode: str,
        threshold: float,
    ) -> Iterator[tuple[Any, Any, Any, Any]]:
        """Show the question at once, then replace the placeholder with the answer."""
        question = (question or "").strip()
        messages = list(messages or [])
        asked = _history(asked)
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages.append({"role": "user", "content": render.question_html(question)})
        yield (
            "",
            messages + [{"role": "assistant", "content": render.pending_html()}],
            gr.skip(),
            gr.skip(),
        )
        answer: Answer | None = None
        try:
            answer = ask_engine(question, asked, int(top_k), mode, threshold)
            bot = render.answer_html(answer)
        except SeedQAError as e:
            bot = render.error_html(str(e))
        except Exception as e:  # keep the conversation usable; the terminal gets the traceback
            log.exception("answering %r failed", question)
            bot = render.error_html(f"内部错误（{type(e).__name__}），详情见终端输出。")
        messages.append({"role": "assistant", "content": bot})
        sources = render.sources_html(answer) if answer is not None else gr.skip()
        # the box was emptied when the question was shown: what was typed since is the next one
        yield gr.skip(), messages, asked + [question], sources

    def clear() -> tuple[list, list, str, str]:
        return [], [], render.EMPTY_SOURCES, ""

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value or "")

    def ask(
        question: str,
        history: list[str] | None = None,
        top_k: int = DEFAULT_TOP_K,
        mode: str = "hybrid",
    ) -> dict:
        """Answer `question` from the loaded documents.

        `history` is the asker's previous questions, most recent last, so follow-ups such as
        "工业总产值呢？" resolve. Returns the same object as `seedqa ask --json`.
        """
        if not isinstance(question, str):
            raise gr.Error("question must be a string")
        if isinstance(history, str):
            history = [history]
        if mode not in dict(MODES).values():
            raise gr.Error(f"mode must be one of {', '.join(m for _, m in MODES)}")
        try:
            a = answer(
                question,
                history=_history(history) or None,
                top_k=top_k,
                mode=str(mode),
            )
        except SeedQAError as e:
            raise gr.Error(str(e)) from e
        return a.to_json()

    manage = upload and hasattr(engine, "refresh") and hasattr(engine, "docs")

    def upload_files(files: list[str] | None):
        """Copy the files in, index them (only they are read and embedded), then say what
        happened to each by name."""
        from qa.documents import add_documents

        paths = [Path(f) for f in (files or [])]
        if not paths:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        yield (render.upload_status_html(f"正在加入并索引 {len(paths)} 个文件…", []), gr.skip(),
               gr.skip(), gr.skip(), gr.skip())
        result = add_documents(engine.docs, [(p.name, p) for p in paths], max_upload_mb,
                               max_upload_files)
        refused = list(result.refused)
        if result.added:
            try:
                index = engine.refresh()
            except SeedQAError as e:
                refused += [(n, str(e)) for n in result.added]
                result.added = []
            else:
                skipped = set(index.manifest.get("skipped") or [])
                refused += [(n, "无法读取其中的文字（详情见终端输出）") for n in result.added
                            if n in skipped]
                result.added = [n for n in result.added if n not in skipped]
        done = f"已加入：{'、'.join(result.added)}，现在可以就它们提问。" if result.added else ""
        names = _doc_names(engine)
        yield (render.upload_status_html(done, refused), render.files_html(names),
               gr.update(choices=names, value=None), _header(engine), None)

    def remove_file(name: str | None):
        from qa.core.errors import DocumentError
        from qa.documents import remove_document

        if not name:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        try:
            remove_document(engine.docs, name)
            engine.refresh()
            status = render.upload_status_html(f"已移除：{name}", [])
        except (DocumentError, SeedQAError, OSError) as e:
            status = render.upload_status_html("", [(name, str(e))])
        names = _doc_names(engine)
        return status, render.files_html(names), gr.update(choices=names, value=None), _header(
            engine)

    with gr.Blocks(title="seedqa 文档问答", analytics_enabled=False) as app:
        asked = gr.State([])
        header = gr.HTML(_header(engine), elem_id="sq-header", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(
                    label="对话",
                    elem_id="sq-chat",
                    height=580,
                    render_markdown=False,
                    sanitize_html=True,
                    latex_delimiters=[],
                    allow_tags=False,
                    buttons=[],
                    feedback_options=None,
                    placeholder=PLACEHOLDER,
                    examples=[{"text": q} for q in examples] or None,
                    group_consecutive_messages=False,
                )
                with gr.Row(equal_height=True):
                    box = gr.Textbox(
                        placeholder="输入问题，按回车发送（可以追问，例如“那……呢？”）",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=5,
                        elem_id="sq-input",
                        autofocus=True,
                        submit_btn=False,
                    )
                    send = gr.Button("发送", variant="primary", scale=1, min_width=80)
                    clear_btn = gr.Button(
                        "清空对话", variant="secondary", scale=1, min_width=100, elem_id="sq-clear"
                    )
                with gr.Accordion("设置", open=False):
                    top_k = gr.Slider(1, 10, value=DEFAULT_TOP_K, step=1, label="检索段落数")
                    mode = gr.Radio(MODES, value="hybrid", label="检索方式")
                    threshold = gr.Slider(
                        0.0,
                        1.0,
                        value=shown_threshold,
                        step=0.01,
                        label="拒答阈值（置信度低于它时回答“资料中没有找到答案。”）",
                    )
                if manage:
                    from qa.loaders import suffixes

                    kinds = " ".join(suffixes())
                    with gr.Accordion("文档", open=False, elem_id="sq-docs-panel"):
                        files_list = gr.HTML(render.files_html(_doc_names(engine)),
                                             elem_id="sq-files", js_on_load=None)
                        uploader = gr.File(
                            label=(f"添加文档（{kinds}；每个不超过 {max_upload_mb:g} MB，"
                                   f"一次最多 {max_upload_files} 个）"),
                            file_count="multiple",
                            type="filepath",
                            elem_id="sq-upload",
                        )
                        status = gr.HTML("", elem_id="sq-upload-status", js_on_load=None)
                        with gr.Row(equal_height=True):
                            to_remove = gr.Dropdown(_doc_names(engine), value=None,
                                                    label="移除文档", scale=4,
                                                    elem_id="sq-remove")
                            remove_btn = gr.Button("移除", scale=1, min_width=80)
            with gr.Column(scale=2, min_width=320):
                sources = gr.HTML(render.EMPTY_SOURCES, elem_id="sq-sources", js_on_load=None)

        inputs = [box, chatbot, asked, top_k, mode, threshold]
        outputs = [box, chatbot, asked, sources]
        events = {"api_visibility": "private", "show_progress": "hidden"}
        # A question sent while the previous answer is still coming waits for it ("always_last")
        # instead of being dropped (Gradio's default "once"): Enter pressed just as an answer
        # appears, before its event has closed, did nothing.
        box.submit(respond, inputs, outputs, trigger_mode="always_last", **events)
        send.click(respond, inputs, outputs, trigger_mode="always_last", **events)
        chatbot.example_select(pick_example, None, box, api_visibility="private").then(
            respond, inputs, outputs, **events
        )
        clear_btn.click(clear, None, [chatbot, asked, sources, box], api_visibility="private")
        # The Chatbot's own trash icon empties the messages; forget the questions with them.
        chatbot.clear(clear, None, [chatbot, asked, sources, box], api_visibility="private")
        gr.api(ask, api_name="ask")
        if manage:
            uploader.upload(upload_files, uploader,
                            [status, files_list, to_remove, header, uploader],
                            api_visibility="private", concurrency_limit=1)
            remove_btn.click(remove_file, to_remove, [status, files_list, to_remove, header],
                             api_visibility="private", concurrency_limit=1)
    return app


@dataclass
class Served:
    """A running chat app: where it is, and how to stop it."""

    app: gr.Blocks
    local_url: str
    share_url: str | None

    def close(self) -> None:
        self.app.close()


def _share_failure(e: BaseException, share_server: str | None) -> str:
    """Why no share link could be made, as one clause: the real cause, not Gradio's guess.

    Gradio reports every offline failure as a missing `frpc` file; the cause is almost always
    that the share service or the frpc download could not be reached.
    """
    from gradio import tunneling

    chain: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    # httpx's transport errors (no DNS, refused, timed out) without importing httpx here.
    network = any(
        isinstance(x, OSError) or any(k.__name__ == "TransportError" for k in type(x).__mro__)
        for x in chain
    )
    text = " ".join(str(x) for x in chain)
    if share_server is None and "Gradio API Server" in text:
        return "Gradio's share service (api.gradio.app) could not be reached (no internet access?)."
    if not Path(tunneling.BINARY_PATH).exists() and network:
        return (
            "Gradio's tunnel client (frpc) is not installed and could not be downloaded "
            "(no internet access?)."
        )
    if "Could not create share URL" in text:
        where = share_server or "Gradio's share server"
        return f"{where} did not accept the tunnel."
    if network:
        return f"{share_server or 'the share server'} could not be reached ({type(chain[-1]).__name__})."
    first = (str(chain[0]).splitlines() or [type(chain[0]).__name__])[0]
    return f"{first}."


def _open_tunnel(app: gr.Blocks, share_server: str | None) -> str:
    """Ask Gradio's tunnel for a public URL, silencing its own console output.

    Called after the local server is up, so a failure (no network, no frpc binary) costs nothing
    but the attempt; Gradio's message for that case blames a missing file, so its output is
    captured and the caller reports the real cause instead.
    """
    from urllib.parse import urlparse, urlunparse

    from gradio import networking

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        url = networking.setup_tunnel(
            local_host=app.server_name,
            local_port=app.server_port,
            share_token=app.share_token,
            share_server_address=share_server,
            share_server_tls_certificate=None,
        )
    protocol = "http" if share_server else "https"
    url = urlunparse((protocol,) + tuple(urlparse(url))[1:])
    app.share_url = url
    app.share = True
    return url


def launch(
    app: gr.Blocks,
    host: str = "127.0.0.1",
    port: int = 7860,
    share: bool = False,
    auth: tuple[str, str] | None = None,
    share_server: str | None = None,
    block: bool = True,
    out: TextIO | None = None,
) -> Served:
    """Serve `app` with the queue on; optionally try for a share link; block unless told not to.

    Gradio's own startup chatter is swallowed and replaced by a few lines that say what matters
    to the person who started it: where the app is, whether it is shared, whether it is protected.
    """
    out = out or sys.stdout
    # Gradio's monitoring summary (a pandas table of up to the last 10,000 requests, rebuilt
    # after every request: ~5% of the server's CPU under load, growing with uptime) feeds only
    # the monitoring dashboard, which is off; build it once in a billion requests, from one.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1")
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=256,
              status_update_rate=STATUS_UPDATE_S)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter):
        app.launch(
            server_name=host,
            server_port=port,
            share=False,
            auth=auth,
            auth_message="seedqa 文档问答：请登录",
            prevent_thread_lock=True,
            quiet=True,
            show_error=True,
            inbrowser=False,
            footer_links=["api"],
            enable_monitoring=False,
            run_history=False,
            mcp_server=False,
            ssr_mode=False,
            theme=_theme(),
            css=CSS,
            js=ARIA_JS,
        )
    local_url = f"http://{host}:{app.server_port}"
    print(f"seedqa chat is serving at {local_url}", file=out, flush=True)
    share_url: str | None = None
    if share:
        if auth is None:
            print(
                "Warning: sharing without --auth: anyone with the link can use this app "
                "(add --auth USER:PASS to require a login).",
                file=out,
                flush=True,
            )
        try:
            share_url = _open_tunnel(app, share_server)
        except Exception as e:
            print(
                f"No share link could be created: {_share_failure(e, share_server)} "
                f"The app is serving locally only, at {local_url}",
                file=out,
                flush=True,
            )
        else:
            print(f"Public share link: {share_url}", file=out, flush=True)
    served = Served(app=app, local_url=local_url, share_url=share_url)
    if block:
        print("Press Ctrl+C to stop.", file=out, flush=True)
        try:
            while app.is_running:
                time.sleep(0.2)
        except KeyboardInterrupt:
            print("Stopping.", file=out, flush=True)
        finally:
            served.close()
    return served
