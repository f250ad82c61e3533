"""`seedqa chat --share` and `--auth` as a user runs them: the real CLI in a subprocess.

This machine has no internet, which is exactly the case where Gradio's own message misleads
(it blames a missing `frpc` file): seedqa must say plainly that no link was made, why, and that
the app is still serving locally, and then keep serving.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from gradio_client.exceptions import AuthenticationError

from tests.conftest import ROOT, SEEDQA, ChatProcess, free_port

pytestmark = pytest.mark.slow


START_TIMEOUT = 240  # engine load + gradio import on a busy 2-core machine


@pytest.fixture
def chat(seed_index_dir: Path):
    """Start `seedqa chat` with the session's index on a free port; always stopped afterwards."""
    started: list[ChatProcess] = []

    def start(*args: str) -> tuple[ChatProcess, str]:
        port = free_port()
        p = ChatProcess(["--index", str(seed_index_dir), "--port", str(port), *args])
        started.append(p)
        return p, f"http://127.0.0.1:{port}"

    yield start
    for p in started:
        p.stop()


def http(
    url: str, method: str, path: str, payload: dict | None = None, form: dict | None = None
) -> tuple[int, str]:
    """(status, body) of one plain request without any login: what a stranger would get."""
    data, headers = None, {}
    if payload is not None:
        data, headers = json.dumps(payload).encode(), {"Content-Type": "application/json"}
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
    req = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def ask(url: str, auth: tuple[str, str] | None = None) -> dict:
    from gradio_client import Client

    return Client(url, auth=auth, verbose=False).predict("北仑有多少家模具企业？", api_name="/ask")


def test_share_offline_says_why_and_keeps_serving(chat):
    proc, url = chat("--share")
    line = proc.wait_for(r"share link")
    # Let any late output from Gradio arrive before judging what was printed.
    proc.wait_for(r"Ctrl\+C")
    time.sleep(1)
    out = proc.output
    print(out)
    assert line.startswith("No share link could be created: ")
    assert "could not be reached" in line and "internet" in line
    assert line.endswith(f"serving locally only, at {url}")
    assert len([ln for ln in proc.lines if "share link" in ln.lower()]) == 1
    assert "frpc" not in out.lower() and "Missing file" not in out
    assert "Traceback" not in out
    assert "anyone with the link can use this app" in out

    assert "近2000家" in ask(url)["answer"]
    assert proc.proc.poll() is None, "the app must keep serving after the share attempt"


def test_share_server_unreachable_is_one_line(chat):
    dead = free_port()  # nothing listens here
    proc, url = chat("--share", "--share-server", f"127.0.0.1:{dead}", "--auth", "u:p")
    line = proc.wait_for(r"share link", timeout=START_TIMEOUT + 60)
    proc.wait_for(r"Ctrl\+C")
    assert line.startswith("No share link could be created: ")
    assert line.endswith(f"serving locally only, at {url}")
    assert "anyone with the link" not in proc.output, "--auth was given: no warning"
    assert "Traceback" not in proc.output


def test_auth_protects_the_api(chat):
    proc, url = chat("--auth", "user:pass")
    proc.wait_for(r"serving at")
    proc.wait_for(r"Ctrl\+C")
    r = http(url, "POST", "/gradio_api/call/ask", {"data": ["北仑有多少家模具企业？"]})
    assert r[0] == 401 and "2000" not in r[1]
    assert http(url, "GET", "/gradio_api/info")[0] == 401
    assert http(url, "GET", "/config")[0] == 401
    status, body = http(url, "GET", "/")
    assert status == 200 and "2000" not in body  # the login page, nothing from the documents
    bad_login = http(url, "POST", "/login", form={"username": "user", "password": "wrong"})
    assert bad_login[0] in (400, 401)

    assert "近2000家" in ask(url, auth=("user", "pass"))["answer"]
    with pytest.raises((AuthenticationError, ValueError)):
        ask(url, auth=("user", "wrong"))


def test_malformed_auth_exits_2_in_one_line(seed_index_dir):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run(
        [*SEEDQA, "chat", "--auth", "no-colon", "--index", str(seed_index_dir)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--auth expects USER:PASS" in lines[0]


def test_port_in_use_fails_fast_in_one_line(seed_index_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        t0 = time.monotonic()
        r = subprocess.run(
            [*SEEDQA, "chat", "--port", str(port), "--index", str(seed_index_dir)],
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}" in r.stderr
    assert "Traceback" not in r.stderr
    assert time.monotonic() - t0 < 60, "the port is checked before the engine loads"
