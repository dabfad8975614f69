"""The example chat app (examples/fastapi_chat) with Starlette's test client, against the session's emulator: its
own sign-in (session cookie, CSRF, same-origin checks, safe redirects), the token route it mounts through
`momento_tvm.fastapi`, tokens used with the real `momento` SDK; and `make embedded`'s runner as a process."""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from devstack.ports import port_is_free
from examples.fastapi_chat.app import create_app
from momento_emulator.testing import EmulatorThread
from momento_tvm import MomentoSettings
from tests.conftest import CACHE
from tests.e2e.chat_page import PASSWORDS
from tests.sdk_rights import emulator_provider, topic_rights

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "static_site" / "dist"
ORIGIN = "http://testserver"  # the test client's own origin
TOKEN = "/api/momento/token"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def app(emulator_thread: EmulatorThread) -> FastAPI:
    if not (SITE / "index.html").is_file():
        pytest.fail("build the chat site first: make install-site")
    return create_app(
        MomentoSettings.emulator(emulator_thread.grpc_port),
        cache_name=CACHE,
        site_dir=SITE,
        origins=[ORIGIN],
        session_secret="a-test-secret-that-signs-test-cookies",
        momento_web_url=f"http://127.0.0.1:{emulator_thread.web_port}",
        token_ttl_seconds=60,
    )


ADDRESSES = (f"192.0.2.{n % 250 + 1}" for n in itertools.count())  # TEST-NET-1: documentation addresses


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A browser of its own: its own cookie jar, so every test starts signed out, and its own address, so the
    module's many sign-ins do not add up against one client's limit (limits.py; tested in
    test_example_sign_in_defenses.py)."""
    with TestClient(app, base_url=ORIGIN, client=(next(ADDRESSES), 50000)) as test_client:
        yield test_client


def csrf_of(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = CSRF_FIELD.search(page.text)
    assert match, "the sign-in form carries a CSRF token"
    return match.group(1)


def sign_in(
    client: TestClient, username: str, password: str | None = None, *, next_path: str | None = None, **headers: str
) -> httpx.Response:
    """Sign in through the form, as a browser on this site would (same-origin headers unless given)."""
    password = PASSWORDS[username] if password is None else password
    form = {"csrf_token": csrf_of(client), "username": username, "password": password}
    if next_path is not None:
        form["next"] = next_path
    sent = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin", **{k.replace("_", "-"): v for k, v in headers.items()}}
    return client.post("/login", data=form, headers=sent, follow_redirects=False)


def token_for(client: TestClient, topics: str, **params: str) -> dict[str, Any]:
    response = client.get(TOKEN, params={"topics": topics, **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_signed_out(client: TestClient) -> None:
    response = client.get(TOKEN, params={"topics": "room-1"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthenticated"


# ---------------------------------------------------------------------- signed out
def test_no_login_is_a_401_json_on_every_token_route(client: TestClient) -> None:
    for response in (
        client.get(TOKEN, params={"topics": "room-1"}),
        client.post(TOKEN, json={"topics": ["room-1"]}),
        client.get(f"{TOKEN}/explain", params={"topics": "room-1"}),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "unauthenticated"


def test_config_js_puts_the_site_in_session_mode_on_this_origin(client: TestClient, app: FastAPI) -> None:
    response = client.get("/config.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    match = re.search(r"window\.TVM_CONFIG = (\{.*\});", response.text, re.DOTALL)
    assert match, response.text
    config = json.loads(match.group(1))
    assert config["authMethod"] == "Session"
    assert config["apiUrl"] == "/api/momento"
    assert config["session"] == {"loginUrl": "/login", "logoutUrl": "/logout"}
    assert config["momentoEndpointOverride"].startswith("http://127.0.0.1:")
    assert config["tokenTtlSeconds"] == 60
    # The site itself is served at /, with a CSP that lets it call this origin and the emulator only.
    page = client.get("/")
    assert page.status_code == 200 and '<div id="app"' in page.text
    csp = page.headers["content-security-policy"]
    assert f"connect-src 'self' {config['momentoEndpointOverride']};" in csp
    assert page.headers["x-frame-options"] == "DENY"


def test_the_login_page_is_a_labelled_form_with_a_csrf_token(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for field in ("username", "password"):
        assert f'<label for="{field}">' in page.text and f'id="{field}"' in page.text
    assert CSRF_FIELD.search(page.text)
    assert "script" not in page.headers["content-security-policy"]  # no script on the page at all
    cookie = page.headers["set-cookie"].lower()  # the CSRF token's session, before anyone signs in
    assert "httponly" in cookie and "samesite=lax" in cookie


# ---------------------------------------------------------------------- sign-in refused
@pytest.mark.parametrize(("username", "password"), [("alice", "not-her-password"), ("mallory", "alice-password")])
def test_a_wrong_password_or_unknown_user_shows_the_login_page_with_an_error_and_no_session(
    client: TestClient, username: str, password: str
) -> None:
    response = sign_in(client, username, password)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and "Wrong username or password." in response.text
    assert 'aria-invalid="true"' in response.text
    assert password not in response.text  # the password is never sent back
    assert "set-cookie" not in response.headers  # the session is unchanged: still nobody signed in
    assert_signed_out(client)


def test_a_missing_or_foreign_csrf_token_is_refused_with_403(client: TestClient, app: FastAPI) -> None:
    csrf_of(client)
    form = {"username": "alice", "password": PASSWORDS["alice"]}
    same_origin = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
    missing = client.post("/login", data=form, headers=same_origin, follow_redirects=False)
    assert missing.status_code == 403 and "expired" in missing.text
    # A token from another browser's session (an attacker's own) does not fit this session.
    with TestClient(app, base_url=ORIGIN) as attacker:
        foreign_token = csrf_of(attacker)
    foreign = client.post("/login", data={**form, "csrf_token": foreign_token}, headers=same_origin)
    assert foreign.status_code == 403
    assert_signed_out(client)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another site for this app
        {"Origin": "null"},  # a sandboxed page elsewhere
    ],
)
def test_a_sign_in_from_another_site_is_refused_with_403(client: TestClient, headers: dict[str, str]) -> None:
    form = {"csrf_token": csrf_of(client), "username": "alice", "password": PASSWORDS["alice"]}
    response = client.post("/login", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert "another site" in response.text
    assert_signed_out(client)


def test_a_same_origin_form_from_a_no_referrer_page_is_accepted(client: TestClient) -> None:
    """A form posted from a page with `Referrer-Policy: no-referrer` carries `Origin: null`: `Sec-Fetch-Site:
    same-origin` is what tells it is ours."""
    response = sign_in(client, "alice", Origin="null", Sec_Fetch_Site="same-origin")
    assert response.status_code == 303


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b'{"username": "alice"}', 415),
        ("application/x-www-form-urlencoded", b"username=" + b"a" * 5000, 413),
        ("application/x-www-form-urlencoded", b"username=%ff%fe&password=\xff", 400),
        ("application/x-www-form-urlencoded", b"username=&password=", 403),  # no CSRF token: refused first
    ],
)
def test_a_malformed_sign_in_is_an_html_error_with_its_status(
    client: TestClient, content_type: str, body: bytes, status: int
) -> None:
    csrf_of(client)
    response = client.post("/login", content=body, headers={"Content-Type": content_type, "Origin": ORIGIN})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "Traceback" not in response.text and 'role="alert"' in response.text


def test_an_empty_password_is_a_400_with_the_form_again(client: TestClient) -> None:
    response = sign_in(client, "alice", "")
    assert response.status_code == 400 and "Enter your username and password." in response.text
    assert 'value="alice"' in response.text  # the username is kept, the password is not


def test_unknown_paths_and_bad_parameters_are_json_errors(client: TestClient) -> None:
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/login")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "http_error"


def test_a_bug_is_a_500_json_whose_log_names_only_the_exception_class(
    emulator_thread: EmulatorThread, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("a message holding hunter2")

    with caplog.at_level(logging.DEBUG):
        app = create_app(
            MomentoSettings.emulator(emulator_thread.grpc_port), cache_name=CACHE, site_dir=SITE, origins=ORIGIN
        )
        app.router.routes.insert(0, APIRoute("/broken", broken))
        with TestClient(app, base_url=ORIGIN) as client:
            response = client.get("/broken")
    assert response.status_code == 500
    assert response.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "hunter2" not in response.text and "hunter2" not in caplog.text
    assert "RuntimeError" in caplog.text
    assert "random key" in caplog.text  # no session secret given: the log says so (without the key)


# ---------------------------------------------------------------------- signed in: tokens with the real SDK
async def test_alice_signs_in_and_her_token_publishes_and_receives_on_room_1_and_nothing_outside_her_tier(
    client: TestClient, emulator_thread: EmulatorThread
) -> None:
    response = sign_in(client, "alice", next_path="/?room=room-1")
    assert response.status_code == 303 and response.headers["location"] == "/?room=room-1"
    cookie = response.headers["set-cookie"].lower()
    assert "chat_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    # A topic outside the tier is refused by the route itself ...
    refused = client.get(TOKEN, params={"topics": "secret-1"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "scope_denied"
    # ... and left out of a token that asks for it beside a room (for the lifetime config.js has the site ask).
    token = token_for(client, "room-1,secret-1", ttlSeconds="60")
    assert token["tokenId"] == "alice"
    assert token["scope"]["tier"] == "readwrite"
    assert token["scope"]["topics"]["role"] == "publish_subscribe"
    assert token["scope"]["topics"]["names"] == ["room-1"]
    assert token["expiresAt"] - time.time() <= 61

    provider = emulator_provider(token["authToken"], emulator_thread.grpc_port)
    assert await topic_rights(provider, CACHE, "room-1") == (True, True)  # a message published and received
    assert await topic_rights(provider, CACHE, "secret-1") == (False, False)  # PERMISSION_ERROR both ways


async def test_viewer_reads_but_cannot_publish(client: TestClient, emulator_thread: EmulatorThread) -> None:
    assert sign_in(client, "viewer").status_code == 303
    viewer = token_for(client, "room-1")
    assert (viewer["tokenId"], viewer["scope"]["tier"]) == ("viewer", "readonly")
    assert viewer["scope"]["topics"]["role"] == "subscribe_only"
    provider = emulator_provider(viewer["authToken"], emulator_thread.grpc_port)
    assert await topic_rights(provider, CACHE, "room-1") == (False, True)


def test_explain_says_which_rule_decides(client: TestClient) -> None:
    assert sign_in(client, "bob").status_code == 303
    response = client.get(f"{TOKEN}/explain", params={"topics": "chat-general"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tokenId"] == "bob" and "readwrite" in body["rule"]
    assert "authToken" not in body


# ---------------------------------------------------------------------- sign-out, redirects
def test_logout_ends_the_session_even_for_a_kept_copy_of_the_cookie(client: TestClient, app: FastAPI) -> None:
    assert sign_in(client, "alice").status_code == 303
    token_for(client, "room-1")
    kept = dict(client.cookies)
    refused = client.post("/logout", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    token_for(client, "room-1")  # a cross-site sign-out did nothing

    response = client.post("/logout", headers={"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 204 and response.content == b""
    assert "chat_session=null" in response.headers["set-cookie"]
    assert_signed_out(client)
    with TestClient(app, base_url=ORIGIN, cookies=kept) as replay:  # someone who copied the cookie before
        assert_signed_out(replay)
    assert client.post("/logout", headers={"Origin": ORIGIN}).status_code == 204  # signed out already: fine


@pytest.mark.parametrize(
    "evil",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\r\nSet-Cookie: x=y",  # control characters
    ],
)
def test_next_never_leads_off_the_site(client: TestClient, evil: str) -> None:
    page = client.get("/login", params={"next": evil})
    assert 'name="next" value="/"' in page.text
    response = sign_in(client, "alice", next_path=evil)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_next_within_the_site_is_kept(client: TestClient) -> None:
    page = client.get("/login", params={"next": "/?room=room-7"})
    assert 'name="next" value="/?room=room-7"' in page.text
    response = sign_in(client, "alice", next_path="/?room=room-7")
    assert response.headers["location"] == "/?room=room-7"


def test_no_password_or_token_in_any_log_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        sign_in(client, "alice", "a-wrong-guess-1234")
        sign_in(client, "alice")
        token = token_for(client, "room-1")["authToken"]
        client.post("/logout", headers={"Origin": ORIGIN})
    messages = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "signed in: alice" in caplog.text and "signed out: alice" in caplog.text
    for secret in ("a-wrong-guess-1234", PASSWORDS["alice"], token, "a-test-secret-that-signs-test-cookies"):
        assert secret not in messages


# ---------------------------------------------------------------------- make embedded's runner, as a process
def read_until(process: subprocess.Popen[str], marker: str, timeout_s: float) -> str:
    """stdout until a line holding `marker` (the ready block's last lines), or fail with stderr."""
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def forward() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=forward, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            seen.append(lines.get(timeout=left))
        except queue.Empty:
            break
        if marker in seen[-1]:
            return "".join(seen)
    process.kill()
    _, stderr = process.communicate()
    pytest.fail(f"no ready block within {timeout_s} s: {''.join(seen)} {stderr}")


def test_make_embedded_runs_the_app_and_the_emulator_until_sigint() -> None:
    env = {**os.environ, "EMBEDDED_PORT": "0", "MOMENTO_GRPC_PORT": "0", "MOMENTO_WEB_PORT": "0"}
    env["TOKEN_TTL_SECONDS"] = "30"
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack.embedded"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        block = read_until(process, "Press Ctrl-C to stop.", 30)
        print(f"\nmake embedded's runner: ready after {time.monotonic() - started:.2f} s")
        url = re.search(r"Sign in\s+(http://127\.0\.0\.1:\d+)/login", block)
        grpc = re.search(r"gRPC 127\.0\.0\.1:(\d+)", block)
        assert url and grpc, block
        assert "alice    alice-password    readwrite" in block and "viewer   viewer-password   readonly" in block
        with httpx.Client(base_url=url.group(1), timeout=10) as browser:
            config = browser.get("/config.js")
            assert config.status_code == 200 and '"authMethod": "Session"' in config.text
            assert '"tokenTtlSeconds": 30' in config.text
            login = browser.get("/login")
            assert login.status_code == 200 and 'name="csrf_token"' in login.text
            # A sign-in and a token, over real HTTP.
            csrf = CSRF_FIELD.search(login.text)
            assert csrf
            form = {"csrf_token": csrf.group(1), "username": "alice", "password": PASSWORDS["alice"]}
            assert browser.post("/login", data=form, headers={"Origin": url.group(1)}).status_code == 303
            token = browser.get(TOKEN, params={"topics": "room-lobby"})
            assert token.status_code == 200 and token.json()["tokenId"] == "alice"
            # Its origins are both local names of its port (APP_ORIGINS), and no other name: DNS rebinding.
            port = url.group(1).rsplit(":", 1)[1]
            assert browser.get("/config.js", headers={"Host": f"localhost:{port}"}).status_code == 200
            rebound = browser.get("/config.js", headers={"Host": f"rebind.evil.example:{port}"})
            assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "host_not_allowed"
        process.send_signal(signal.SIGINT)
        asked = time.monotonic()
        _, stderr = process.communicate(timeout=10)
        print(f"make embedded's runner: stopped {time.monotonic() - asked:.2f} s after SIGINT")
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert time.monotonic() - asked < 5
    assert "embedded: stopped" in stderr
    assert PASSWORDS["alice"] not in stderr and token.json()["authToken"] not in stderr
    # The access log shows each request's path, never its query string.
    assert f'"GET {TOKEN} HTTP/1.1" 200' in stderr, stderr
    assert "topics=" not in stderr and "room-lobby" not in stderr, stderr
    assert port_is_free(int(grpc.group(1)))  # the emulator is gone with it
