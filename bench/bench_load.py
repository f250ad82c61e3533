"""Load test of `seedqa chat`: many concurrent API users, checked against single-user answers.

Starts `seedqa chat` itself on a free 127.0.0.1 port (the index is built or refreshed first, as a
separate step, so startup time is not mixed into the figures), asks every question once as a
single user to get the reference answers, then runs USERS threads, each with its own
`gradio_client.Client`, asking QUESTIONS questions one after another through `/ask`. Reports
throughput, latency percentiles (client side: queueing included), errors, and answers that differ
from the single-user answer to the same question. Everything is bounded by --timeout: when it
runs out, unfinished requests are reported as such and the server is stopped anyway.

Before the crowd, one user alone: the engine's own time for the same questions (a separate
process, no server) beside the round trip through the server, both by `gradio_client` (which
looks for a finished answer every 50 ms, so it never sees one sooner) and by a plain HTTP client
on Gradio's REST API (`/gradio_api/call/ask`, the answer streamed back as soon as it exists).

    .venv/bin/python bench/bench_load.py [--users 50] [--questions 20] [--timeout 1200]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT.parent / "shared" / "dev_questions.jsonl"
SEEDQA = [sys.executable, "-m", "ui.cli"]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
           GRADIO_ANALYTICS_ENABLED="False")

# Besides the dev questions: inputs a crowd sends too. Each must get the same answer under load.
EDGE_QUESTIONS = [
    "",
    "？？？！！",
    "🤖北仑有多少家\x07模具企业？😀",
    "How many 模具企业 are there in 北仑?",
    "北仑有多少家模具企业？" * 200,
    "北侖有多少家模具企業？",
    "工业总产值呢？",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def questions(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        dev = [json.loads(line)["question"] for line in fh if line.strip()]
    return dev + EDGE_QUESTIONS


class Server:
    """`seedqa chat` in a subprocess; output kept for the report if it fails."""

    def __init__(self, docs: str, index: str, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            [*SEEDQA, "chat", "--docs", docs, "--index", index, "--port", str(port)],
            cwd=ROOT, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("Ctrl+C" in ln for ln in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise SystemExit("seedqa chat did not start:\n" + "\n".join(self.lines[-30:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # any field of the JSON differs
    answer_mismatches: int = 0  # the answer sentence itself differs
    content_mismatches: int = 0  # anything but a score differs (sentence, span, citations...)
    lock: threading.Lock = field(default_factory=threading.Lock)


# gradio_client makes a new httpx client for every request, and by default each one loads the
# CA bundle into a fresh TLS context: ~20 ms of CPU a request on this box, in the load generator,
# on the same 2 cores as the server, for a TLS context a plain http:// URL never uses. The load
# generator then saturates before the server does (bench process ~1 core at 13 answers/s), so
# it is off for http://; `--tls-context` measures what a default client pays.
TLS_CONTEXT = False


def client(url: str):
    from gradio_client import Client

    verify = TLS_CONTEXT or not url.startswith("http://")
    return Client(url, verbose=False, download_files=False, ssl_verify=verify)


def ask(c, question: str) -> dict:
    return c.predict(question, [], 5, "hybrid", api_name="/ask")


def ask_http(h, question: str) -> dict:
    """`/ask` over Gradio's REST API: post the call, then read its event stream to the end."""
    r = h.post("/gradio_api/call/ask", json={"data": [question, [], 5, "hybrid"]})
    r.raise_for_status()
    with h.stream("GET", f"/gradio_api/call/ask/{r.json()['event_id']}") as r:
        body = b"".join(r.iter_bytes()).decode("utf-8")
    event, _, data = body.partition("\ndata: ")
    if "event: complete" not in event:
        raise RuntimeError(f"no answer: {body[:200]}")
    return json.loads(data)[0]


def without_scores(a: dict) -> dict:
    """The answer as a reader sees it: scores may move in their last digits when questions are
    encoded together (padding), the sentence, span, refusal and citations may not."""
    a = {k: v for k, v in a.items() if k != "confidence"}
    a["citations"] = [{k: v for k, v in c.items() if k != "score"} for c in a.get("citations", [])]
    return a


ENGINE_TIMING = """
import json, statistics, sys, time
from qa.engine import SeedQA
engine = SeedQA.open(sys.argv[1], index_dir=sys.argv[2], progress=False)
qs = json.load(sys.stdin)
for q in qs:
    engine.answer(q)
times = []
for q in qs * 3:
    t = time.perf_counter()
    engine.answer(q)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def engine_times(docs: str, index: str, qs: list[str], timeout: float) -> list[float]:
    """Seconds per `SeedQA.answer` of each question (3 rounds after a warm-up), in a separate
    process with no server: what a user would wait if serving cost nothing."""
    r = subprocess.run([sys.executable, "-c", ENGINE_TIMING, docs, index], cwd=ROOT, env=ENV,
                       input=json.dumps(qs), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise SystemExit(f"timing the engine failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def user(url: str, uid: int, qs: list[str], n: int, reference: dict[str, dict],
         res: Results, deadline: float, started: threading.Barrier) -> None:
    try:
        c = client(url)
    except Exception as e:  # every failure is a counted error, not a crash
        with res.lock:
            res.errors.append(f"user {uid}: connect: {type(e).__name__}: {e}")
        started.abort()
        return
    with contextlib.suppress(threading.BrokenBarrierError):  # a user failed to connect
        started.wait(timeout=max(1.0, deadline - time.monotonic()))
    for j in range(n):
        if time.monotonic() > deadline:
            return
        q = qs[(uid * 7 + j) % len(qs)]
        t = time.perf_counter()
        try:
            got = ask(c, q)
        except Exception as e:
            with res.lock:
                res.errors.append(f"user {uid} q{j}: {type(e).__name__}: {str(e)[:200]}")
            continue
        dt = time.perf_counter() - t
        want = reference[q]
        with res.lock:
            res.latencies.append(dt)
            if got != want:
                res.mismatches.append(q[:40])
                if got.get("answer") != want.get("answer"):
                    res.answer_mismatches += 1
                if without_scores(got) != without_scores(want):
                    res.content_mismatches += 1


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--questions", type=int, default=20, help="questions per user")
    ap.add_argument("--timeout", type=float, default=1200, help="total seconds, startup included")
    ap.add_argument("--docs", default=str(ROOT / "seeds"))
    ap.add_argument("--index", default=None, help="index folder (default: DOCS/.seedqa)")
    ap.add_argument("--dev", default=str(DEV))
    ap.add_argument("--tls-context", action="store_true",
                    help="clients build a verifying TLS context per request (gradio_client's "
                         "default), though the URL is http://")
    args = ap.parse_args()
    global TLS_CONTEXT
    TLS_CONTEXT = args.tls_context

    t_start = time.monotonic()
    deadline = t_start + args.timeout
    index = args.index or str(Path(args.docs) / ".seedqa")
    t = time.perf_counter()
    built = subprocess.run([*SEEDQA, "index", "--docs", args.docs, "--index", index], cwd=ROOT,
                           env=ENV, capture_output=True, text=True, timeout=args.timeout)
    if built.returncode != 0:
        raise SystemExit(f"seedqa index failed:\n{built.stderr[-2000:]}")
    print(f"index ready in {time.perf_counter() - t:.1f} s: {built.stdout.strip()}", flush=True)

    server = Server(args.docs, index, free_port())
    try:
        t = time.perf_counter()
        server.wait_ready(timeout=max(30.0, deadline - time.monotonic()))
        print(f"seedqa chat up at {server.url} in {time.perf_counter() - t:.1f} s", flush=True)
        qs = questions(Path(args.dev))
        one = client(server.url)
        t = time.perf_counter()
        reference = {q: ask(one, q) for q in qs}
        single = (time.perf_counter() - t) / len(qs)
        print(f"single-user reference: {len(qs)} questions, {single * 1000:.0f} ms each "
              f"(mean, one client, nothing else running)", flush=True)
        ms = statistics.median
        engine = engine_times(args.docs, index, qs, max(60.0, deadline - time.monotonic()))
        import httpx

        alone: list[float] = []  # warm: the same questions again, one at a time
        alone_http: list[float] = []
        with httpx.Client(base_url=server.url, timeout=60) as h:
            for q in qs * 3:  # alternating, so both clients see the same load on the machine
                t = time.perf_counter()
                ask(one, q)
                alone.append(time.perf_counter() - t)
                t = time.perf_counter()
                got = ask_http(h, q)
                alone_http.append(time.perf_counter() - t)
                if got != reference[q]:
                    raise SystemExit(f"the REST API and gradio_client answer {q!r} differently")
        print(f"one user alone, medians of {len(alone)}: engine {ms(engine) * 1000:.1f} ms "
              f"(no server); HTTP API {ms(alone_http) * 1000:.1f} ms (p90 "
              f"{percentile(alone_http, 90) * 1000:.1f}), i.e. engine + "
              f"{(ms(alone_http) - ms(engine)) * 1000:.1f} ms; gradio_client "
              f"{ms(alone) * 1000:.1f} ms (p90 {percentile(alone, 90) * 1000:.1f})", flush=True)

        res = Results()
        go: list[float] = []  # when every user is connected and the questions start
        started = threading.Barrier(args.users, action=lambda: go.append(time.perf_counter()))
        threads = [
            threading.Thread(
                target=user,
                args=(server.url, i, qs, args.questions, reference, res, deadline, started),
                daemon=True,
            )
            for i in range(args.users)
        ]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
        end = time.perf_counter()
        wall = end - t0
        asking = end - (go[0] if go else t0)
        stuck = sum(th.is_alive() for th in threads)
    finally:
        server.stop()

    sent = args.users * args.questions
    done = len(res.latencies)
    lat = res.latencies
    print()
    print(f"users x questions        {args.users} x {args.questions} = {sent} requests "
          f"({len(qs)} distinct questions)")
    print(f"completed                {done}   errors {len(res.errors)}   "
          f"not finished before the timeout {sent - done - len(res.errors)}"
          + (f" ({stuck} users still waiting)" if stuck else ""))
    print(f"wall time                {wall:.1f} s with client connections, "
          f"{asking:.1f} s asking")
    print(f"throughput               {done / asking:.2f} answers/s")
    if lat:
        print(f"latency p50 / p95 / p99  {percentile(lat, 50):.2f} / {percentile(lat, 95):.2f} / "
              f"{percentile(lat, 99):.2f} s   (mean {statistics.mean(lat):.2f}, "
              f"max {max(lat):.2f})")
    print(f"differ from single-user  {len(res.mismatches)} "
          f"(answer sentence differs: {res.answer_mismatches}; anything but a score differs: "
          f"{res.content_mismatches})")
    for e in res.errors[:10]:
        print("  error:", e)
    for m in sorted(set(res.mismatches))[:10]:
        print("  mismatch:", repr(m))
    ok = not res.errors and not res.mismatches and done == sent
    print("RESULT", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
