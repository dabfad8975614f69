"""The Flask example (examples/flask_chat) with Flask's test client against the session's emulator: the same
sign-in rules as the FastAPI example, and a token that publishes and receives with the real `momento` SDK."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from examples.flask_chat.app import create_app
from momento_emulator.testing import EmulatorThread
from momento_tvm import MomentoSettings
from tests.conftest import CACHE
from tests.e2e.chat_page import PASSWORDS
from tests.sdk_rights import emulator_provider, topic_rights

ORIGIN = "http://localhost"  # the test client's own origin
TOKEN = "/api/momento/token"
ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "static_site" / "dist"


def test_the_flask_example_loads_no_fastapi() -> None:
    """It uses the FastAPI example's framework-free modules only: a Flask app needs no FastAPI installed."""
    probe = "import sys, examples.flask_chat.app; print(sorted({'fastapi', 'starlette'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


async def test_flask_example_signs_in_vends_a_working_token_and_signs_out(emulator_thread: EmulatorThread) -> None:
    app = create_app(
        MomentoSettings.emulator(emulator_thread.grpc_port),
        cache_name=CACHE,
        site_dir=SITE,
        origins=[ORIGIN],
        session_secret="a-test-secret-that-signs-test-cookies",
        momento_web_url=f"http://127.0.0.1:{emulator_thread.web_port}",
    )
    client = app.test_client()
    signed_out = client.get(TOKEN, query_string={"topics": "room-1"})
    assert signed_out.status_code == 401 and signed_out.json == {
        "error": {"code": "unauthenticated", "message": "sign in first: no signed-in user reached the token route"}
    }
    assert '"authMethod": "Session"' in client.get("/config.js").text
    with client.get("/") as site:  # the chat site, a file: closed after
        assert site.status_code == 200 and '<div id="app"' in site.get_data(as_text=True)
        assert "connect-src 'self' http://127.0.0.1:" in site.headers["Content-Security-Policy"]

    page = client.get("/login", query_string={"next": "//evil.example/"})
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match and 'name="next" value="/"' in page.text
    form = {"csrf_token": match.group(1), "username": "alice", "password": PASSWORDS["alice"], "next": "/?room=room-1"}
    same_site = {"Origin": ORIGIN, "Sec-Fetch-Site": "same-origin"}
    assert client.post("/login", data=form, headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post("/login", data={**form, "csrf_token": "forged"}, headers=same_site).status_code == 403
    wrong = client.post("/login", data={**form, "password": "not-her-password"}, headers=same_site)
    assert wrong.status_code == 401 and "Wrong username or password." in wrong.text
    assert client.get(TOKEN, query_string={"topics": "room-1"}).status_code == 401

    signed_in = client.post("/login", data=form, headers=same_site)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/?room=room-1"
    cookie = signed_in.headers["Set-Cookie"]
    assert "chat_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = client.get(TOKEN, query_string={"topics": "room-1,secret-1"})
    assert token.status_code == 200, token.text
    body = token.json
    assert body is not None and body["tokenId"] == "alice" and body["scope"]["topics"]["names"] == ["room-1"]
    provider = emulator_provider(body["authToken"], emulator_thread.grpc_port)
    assert await topic_rights(provider, CACHE, "room-1") == (True, True)
    assert await topic_rights(provider, CACHE, "secret-1") == (False, False)

    kept = client.get_cookie("chat_session")
    assert kept is not None
    assert client.post("/logout", headers=same_site).status_code == 204
    assert client.get(TOKEN, query_string={"topics": "room-1"}).status_code == 401
    replay = app.test_client()
    replay.set_cookie("chat_session", kept.value)  # a copy of the cookie from before the sign-out
    assert replay.get(TOKEN, query_string={"topics": "room-1"}).status_code == 401
    missing = client.get("/no/such/file.js")
    assert missing.status_code == 404 and missing.json == {"error": {"code": "not_found", "message": "Not Found"}}
