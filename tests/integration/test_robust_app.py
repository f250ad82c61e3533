"""Access to `seedqa chat --auth`: a stranger gets the login page and nothing else, whichever route
they call with a plain HTTP client; nobody gets a file by path through Gradio's file routes.

One real `seedqa chat` subprocess serves the session index on a free loopback port for the whole
module. Paths with `..` are sent byte for byte (http.client), since HTTP client libraries would
normalise them away before they reach the server.
"""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEEDS, ChatProcess, free_port

pytestmark = pytest.mark.slow

USER, PASSWORD = "user", "pass"
QUESTION = "北仑有多少家模具企业？"
START_TIMEOUT = 240


@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory):
    """(base url, Gradio's upload folder) of a protected chat app."""
    upload_dir = tmp_path_factory.mktemp("gradio-uploads")
    port = free_port()
    s = ChatProcess(["--auth", f"{USER}:{PASSWORD}", "--port", str(port),
                     "--index", str(seed_index_dir)], {"GRADIO_TEMP_DIR": str(upload_dir)})
    s.wait_for(r"Ctrl\+C")
    yield f"http://127.0.0.1:{port}", upload_dir
    s.stop()
    assert "Traceback" not in "\n".join(s.lines)


@pytest.fixture(scope="module")
def secrets(seed_engine) -> list[str]:
    """Strings that only someone who can use the app may see: document names, section titles,
    the start of every passage, and the answer to the test question."""
    found = {c.doc for c in seed_engine.chunks} | {c.title for c in seed_engine.chunks if c.title}
    found |= {c.text[:12] for c in seed_engine.chunks}
    found |= {"近2000家", "模具企业"}
    return sorted(found)


@pytest.fixture(scope="module")
def cookies(server) -> dict[str, str]:
    url, _ = server
    r = httpx.post(url + "/login", data={"username": USER, "password": PASSWORD}, timeout=30)
    assert r.status_code == 200 and r.cookies, r.text
    return dict(r.cookies)


def leaked(body: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in body]


PROTECTED_GET = [
    "/config", "/config/", "/gradio_api/info", "/gradio_api/info?all_endpoints=true",
    "/gradio_api/openapi.json", "/gradio_api/queue/data?session_hash=x",
    "/gradio_api/call/ask/123", "/gradio_api/upload_progress?upload_id=x", "/monitoring",
    "/gradio_api/file=/etc/passwd", "/gradio_api/file/etc/passwd", "/gradio_api/deep_link",
]
PROTECTED_POST = {
    "/gradio_api/call/ask": {"data": [QUESTION]},
    "/gradio_api/call/v2/ask": {"data": [QUESTION]},
    "/gradio_api/run/ask": {"data": [QUESTION]},
    "/gradio_api/api/ask": {"data": [QUESTION]},
    "/gradio_api/queue/join": {"data": [QUESTION], "fn_index": 0, "session_hash": "x"},
    "/gradio_api/queue/join?fn_index=1": {"data": [QUESTION, [], [], 5, "hybrid", 0.35],
                                          "fn_index": 1, "session_hash": "x"},
}
# Routes Gradio leaves open by design: they must still carry nothing from the documents.
OPEN_GET = ["/", "/gradio_api/app_id", "/gradio_api/token", "/gradio_api/user",
            "/gradio_api/startup-events", "/manifest.json", "/theme.css", "/robots.txt"]


@pytest.mark.parametrize("path", PROTECTED_GET)
def test_protected_get_routes_refuse_a_stranger(server, secrets, path):
    url, _ = server
    r = httpx.get(url + path, timeout=30, follow_redirects=False)
    assert r.status_code == 401, (path, r.status_code, r.text[:200])
    assert leaked(r.text, secrets) == []


@pytest.mark.parametrize("path", list(PROTECTED_POST))
def test_protected_api_calls_refuse_a_stranger(server, secrets, path):
    url, _ = server
    r = httpx.post(url + path, json=PROTECTED_POST[path], timeout=30, follow_redirects=False)
    assert r.status_code == 401, (path, r.status_code, r.text[:200])
    assert leaked(r.text, secrets) == []


@pytest.mark.parametrize("path", OPEN_GET)
def test_open_routes_carry_nothing_from_the_documents(server, secrets, path):
    url, _ = server
    r = httpx.get(url + path, timeout=30, follow_redirects=False)
    assert r.status_code in (200, 404), (path, r.status_code)
    assert leaked(r.text, secrets) == [], path
    if path == "/":
        config = re.search(r"gradio_config = (\{.*?\});", r.text)
        assert config, "the page is Gradio's login page"
        cfg = json.loads(config.group(1))
        assert cfg["auth_required"] is True and cfg["components"] == []
        assert cfg["dependencies"] == []


def test_a_wrong_password_gets_no_session(server, secrets):
    url, _ = server
    bad = httpx.post(url + "/login", data={"username": USER, "password": "wrong"}, timeout=30)
    assert bad.status_code in (400, 401) and not bad.cookies
    r = httpx.post(url + "/gradio_api/call/ask", json={"data": [QUESTION]}, cookies=bad.cookies,
                   timeout=30)
    assert r.status_code == 401 and leaked(r.text, secrets) == []


def test_after_login_the_api_answers(server, cookies):
    url, _ = server
    with httpx.Client(base_url=url, cookies=cookies, timeout=120) as c:
        assert c.get("/gradio_api/info").status_code == 200
        call = {"data": [QUESTION, [], 5, "hybrid"]}
        event = c.post("/gradio_api/call/ask", json=call).json()["event_id"]
        body = c.get(f"/gradio_api/call/ask/{event}").text
    data = [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]
    assert data and "近2000家" in data[-1][0]["answer"], body[:500]


def test_api_answers_a_question_holding_a_lone_surrogate(server, cookies):
    """JSON may carry `\\ud800`; a raw HTTP caller gets an answer, not an error event (the
    tokenizer used to raise on it)."""
    url, _ = server
    body = ('{"data": ["\\ud800' + QUESTION.encode("unicode_escape").decode() +
            '", [], 5, "hybrid"]}').encode()
    with httpx.Client(base_url=url, cookies=cookies, timeout=120) as c:
        event = c.post("/gradio_api/call/ask", content=body,
                       headers={"Content-Type": "application/json"}).json()["event_id"]
        stream = c.get(f"/gradio_api/call/ask/{event}").text
    assert stream.startswith("event: complete"), stream[:300]
    data = [json.loads(line[5:]) for line in stream.splitlines() if line.startswith("data:")]
    assert "近2000家" in data[-1][0]["answer"]


# --- files by path -----------------------------------------------------------------------------


def raw_get(url: str, path: str, cookies: dict[str, str]) -> tuple[int, str]:
    """GET `path` exactly as written (no dot-segment or percent normalisation on the way)."""
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("Cookie", cookie)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def _targets(seed_index_dir: Path) -> dict[str, str]:
    """Files someone could want from the server, and a line of each that must never come back."""
    manifest = next(seed_index_dir.glob("v-*")) / "manifest.json"
    seed = sorted(SEEDS.glob("*.txt"))[0]
    return {
        "/etc/passwd": "root:",
        str(ROOT / "pyproject.toml"): "[build-system]",
        str(seed): seed.read_text(encoding="utf-8").split("\n\n")[3][:10],
        str(manifest): '"checksums"',
    }


def _attempts(target: str, upload_dir: Path) -> list[str]:
    rel = "../" * 12 + target.lstrip("/")
    enc = urllib.parse.quote(rel, safe="")
    return [
        f"/gradio_api/file={target}",
        f"/gradio_api/file={urllib.parse.quote(target, safe='')}",
        f"/gradio_api/file={rel}",
        f"/gradio_api/file={enc}",
        f"/gradio_api/file={enc.replace('%2F', '%252F').replace('..', '%2e%2e')}",
        f"/gradio_api/file={upload_dir}/{rel}",
        f"/gradio_api/file={urllib.parse.quote(str(upload_dir) + '/' + rel, safe='')}",
        f"/gradio_api/file={upload_dir}/..%2F..%2F..%2F..%2F..%2F..%2F..%2F..{target}",
        f"/gradio_api/file={rel.replace('/', chr(92))}",
        f"/gradio_api/file=file://{target}",
        f"/gradio_api/file=/{target}",
        f"/gradio_api/file/{rel}",
        f"/gradio_api/file/{enc}",
        f"/gradio_api/file=http://127.0.0.1/{rel}",
    ]


def test_file_routes_never_serve_a_file_by_path(server, cookies, seed_index_dir):
    """Logged in (so the login check is not what stops it): absolute paths, `../` walks, their
    percent-encoded and double-encoded forms, walks out of Gradio's own upload folder, a file of
    the documents folder, of the index and of the repository: all refused, no byte of content."""
    url, upload_dir = server
    served = []
    for target, marker in _targets(seed_index_dir).items():
        for path in _attempts(target, upload_dir):
            status, body = raw_get(url, path, cookies)
            if not 400 <= status < 500 or marker in body:
                served.append((path, status, body[:80]))
    assert served == []


def test_uploads_need_a_login_and_stay_in_the_upload_folder(server, cookies):
    url, upload_dir = server
    files = {"files": ("../../../../escape.txt", b"uploaded by a test", "text/plain")}
    stranger = httpx.post(url + "/gradio_api/upload", files=files, timeout=30)
    assert stranger.status_code == 401
    r = httpx.post(url + "/gradio_api/upload", files=files, cookies=cookies, timeout=30)
    assert r.status_code == 200, r.text
    (stored,) = r.json()
    assert Path(stored).resolve().is_relative_to(upload_dir.resolve())
    assert Path(stored).read_bytes() == b"uploaded by a test"
    assert not (upload_dir.parent / "escape.txt").exists() and not (ROOT / "escape.txt").exists()
    # the one kind of file the route does serve: proves the refusals above are not an artefact
    # of how `raw_get` asks
    status, body = raw_get(url, f"/gradio_api/file={stored}", cookies)
    assert status == 200 and body == "uploaded by a test"
    assert raw_get(url, f"/gradio_api/file={stored}", {})[0] == 401
