"""The example apps' sign-in defences, over real HTTP, for both apps (examples/fastapi_chat under uvicorn,
examples/flask_chat under Werkzeug's threaded server, each on 127.0.0.1:0): limits on password guesses (per
username, per client address, at once), a sign-in body refused by its size before it is read, and only the app's own
origins answered (not another name a DNS-rebinding page made point at it). The limits' clock is the test's own.

Another client is another source address: 127.0.0.2 and up reach the servers on 127.0.0.1 (all of 127/8 is
loopback on Linux)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx2 as httpx
import pytest

from examples.fastapi_chat import app as fastapi_app
from examples.fastapi_chat.limits import SignInLimiter
from examples.fastapi_chat.users import DEMO_USERS, UserStore
from examples.flask_chat import app as flask_app
from momento_emulator.testing import EmulatorThread
from momento_tvm import MomentoSettings
from tests.conftest import CACHE
from tests.e2e.chat_page import PASSWORDS
from tests.example_servers import SITE, Clock, HeldUsers, raw_request, serve_asgi, serve_wsgi

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
TOKEN = "/api/momento/token"
FORM = "application/x-www-form-urlencoded"


Serve = Callable[..., AbstractContextManager[str]]


@pytest.fixture(params=["fastapi", "flask"])
def serve(request: pytest.FixtureRequest, emulator_thread: EmulatorThread) -> Serve:
    """`serve(users=..., limiter=...)`: the app of this parameter on a real server, serving its own base URL (its
    only origin). Yields that URL."""
    create = fastapi_app.create_app if request.param == "fastapi" else flask_app.create_app
    server: Callable[..., AbstractContextManager[str]] = serve_asgi if request.param == "fastapi" else serve_wsgi

    def serving(users: UserStore = DEMO_USERS, limiter: SignInLimiter | None = None) -> AbstractContextManager[str]:
        return server(
            lambda url: create(
                MomentoSettings.emulator(emulator_thread.grpc_port),
                cache_name=CACHE,
                site_dir=SITE,
                origins=[url],
                users=users,
                session_secret="a-test-secret-that-signs-test-cookies",
                sign_in_limiter=limiter,
            )
        )

    return serving


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Browser:
    """A browser of its own (its cookie jar) on `url`'s pages, from its own source address."""

    def __init__(self, url: str, address: str = "127.0.0.1", timeout: float = 10.0) -> None:
        self.url = url
        transport = httpx.HTTPTransport(local_address=address)
        self.http = httpx.Client(base_url=url, transport=transport, timeout=timeout)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def sign_in(self, username: str, password: str | None = None) -> httpx.Response:
        """The sign-in form, as the page posts it (same-origin headers)."""
        page = self.http.get("/login")
        match = CSRF_FIELD.search(page.text)
        assert page.status_code == 200 and match, page.text
        form = {"csrf_token": match.group(1), "username": username, "password": password or PASSWORDS[username]}
        headers = {"Origin": self.url, "Sec-Fetch-Site": "same-origin"}
        return self.http.post("/login", data=form, headers=headers, follow_redirects=False)

    def signed_in(self) -> bool:
        return self.http.get(TOKEN, params={"topics": "room-1"}).status_code == 200


def assert_waits(response: httpx.Response, status: int, retry_after: int, says: str) -> None:
    """A refusal as the person sees it: the sign-in page again, with what to do, and how long to wait."""
    assert response.status_code == status, response.text
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in response.text and says in response.text


# ---------------------------------------------------------------------- password guesses
def test_after_5_wrong_passwords_even_the_right_one_waits_30_s_then_signs_in(serve: Serve, clock: Clock) -> None:
    with serve(limiter=SignInLimiter(clock=clock)) as url, Browser(url) as alice, Browser(url, "127.0.0.2") as other:
        for _ in range(5):
            assert alice.sign_in("alice", "not-her-password").status_code == 401
        assert_waits(alice.sign_in("alice"), 429, 30, "Too many failed sign-ins for this username")
        assert not alice.signed_in()
        assert_waits(other.sign_in("alice"), 429, 30, "Too many failed sign-ins")  # from anywhere: it is the name's
        assert other.sign_in("bob").status_code == 303  # another name is not held up

        clock.now += 29
        assert_waits(alice.sign_in("alice"), 429, 1, "Please wait 1 second and try again")
        clock.now += 1
        assert alice.sign_in("alice").status_code == 303 and alice.signed_in()
        for _ in range(5):  # the success cleared her failures: 5 are free again
            assert other.sign_in("alice", "still-not-her-password").status_code == 401
        clock.now += 30
        assert other.sign_in("alice", "wrong-again").status_code == 401  # the 6th in a row: the wait doubles
        assert_waits(other.sign_in("alice"), 429, 60, "Please wait 60 seconds")


def test_an_unknown_username_waits_alike_so_a_429_tells_no_names(serve: Serve, clock: Clock) -> None:
    with serve(limiter=SignInLimiter(clock=clock)) as url, Browser(url) as browser:
        for _ in range(5):
            assert browser.sign_in("mallory", "a-guess").status_code == 401
        assert_waits(browser.sign_in("mallory", "a-guess"), 429, 30, "Too many failed sign-ins for this username")


def test_one_client_address_gets_20_attempts_a_minute_then_429(serve: Serve, clock: Clock) -> None:
    with serve(limiter=SignInLimiter(clock=clock)) as url, Browser(url) as guesser, Browser(url, "127.0.0.3") as other:
        for n in range(20):  # a new name each time: no one name reaches its own limit
            assert guesser.sign_in(f"user{n}", "a-guess").status_code == 401
        assert_waits(guesser.sign_in("alice"), 429, 3, "from your network. Please wait 3 seconds")
        assert other.sign_in("alice").status_code == 303  # another address is not held up
        clock.now += 3  # the bucket refills one attempt every 3 s
        assert guesser.sign_in("bob").status_code == 303
        assert_waits(guesser.sign_in("viewer"), 429, 3, "Too many sign-in attempts")


def test_a_5th_password_check_at_once_is_refused_503_at_once_not_queued(serve: Serve) -> None:
    users = HeldUsers()
    with serve(users=users) as url:
        answers: list[int] = []

        def sign_in(n: int) -> None:
            with Browser(url, f"127.0.1.{n}", timeout=30) as browser:
                answers.append(browser.sign_in("alice", f"guess-{n}").status_code)

        held = [threading.Thread(target=sign_in, args=(n,)) for n in range(4)]
        for thread in held:
            thread.start()
        deadline = time.monotonic() + 10
        while users.checking < 4:
            assert time.monotonic() < deadline, "4 password checks under way"
            time.sleep(0.01)
        try:
            with Browser(url, "127.0.2.1", timeout=5) as fifth:
                started = time.monotonic()
                busy = fifth.sign_in("bob")
                assert_waits(busy, 503, 1, "The server is busy")
                assert time.monotonic() - started < 2
                assert users.checking == 4  # refused without a check
        finally:
            users.release()
            for thread in held:
                thread.join(30)
        assert answers == [401] * 4
        with Browser(url, "127.0.2.1") as later:
            assert later.sign_in("bob").status_code == 303  # the places are back


# ---------------------------------------------------------------------- body size
def test_a_50_mb_sign_in_body_is_refused_413_by_its_content_length_before_it_is_read(serve: Serve) -> None:
    with serve() as url:
        host = url.removeprefix("http://")
        head = f"POST /login HTTP/1.1\r\nHost: {host}\r\nOrigin: {url}\r\nContent-Type: {FORM}"
        # 50 MB announced, 30 bytes sent: an answer now means the rest was never waited for.
        fifty_mb = f"{head}\r\nContent-Length: {50 * 1024 * 1024}"
        announced = raw_request(url, fifty_mb, [b"username=alice&password=guess"])
        assert (announced.status, announced.seconds < 2) == (413, True), announced
        # No Content-Length (chunked): refused once past the limit, without waiting for the body's end.
        chunks = [b"400\r\n" + b"a" * 1024 + b"\r\n"] * 5
        streamed = raw_request(url, f"{head}\r\nTransfer-Encoding: chunked", chunks)
        assert (streamed.status, streamed.seconds < 2) == (413, True), streamed
        with Browser(url) as browser:  # and the server still serves
            assert browser.sign_in("alice").status_code == 303


# ---------------------------------------------------------------------- origins
@pytest.mark.parametrize("path", ["/", "/login", "/config.js", f"{TOKEN}?topics=room-1"])
def test_a_request_addressed_to_another_name_is_a_403_json(serve: Serve, path: str) -> None:
    """A DNS-rebinding page (rebind.evil.example made to resolve to 127.0.0.1) reaches the server with its own name
    in `Host`: nothing is served to it."""
    with serve() as url, Browser(url) as browser:
        port = url.rsplit(":", 1)[1]
        response = browser.http.get(path, headers={"Host": f"rebind.evil.example:{port}"})
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "host_not_allowed" and url in error["message"]


def test_a_dns_rebinding_page_cannot_sign_in(serve: Serve) -> None:
    """The rebinding page's own form: same-origin to the browser, `Origin` and `Host` agreeing on its name."""
    with serve() as url, Browser(url) as browser:
        evil = f"rebind.evil.example:{url.rsplit(':', 1)[1]}"
        page = browser.http.get("/login")
        match = CSRF_FIELD.search(page.text)
        assert match
        form = {"csrf_token": match.group(1), "username": "alice", "password": PASSWORDS["alice"]}
        headers = {"Host": evil, "Origin": f"http://{evil}", "Sec-Fetch-Site": "same-origin"}
        response = browser.http.post("/login", data=form, headers=headers, follow_redirects=False)
        assert response.status_code == 403 and response.json()["error"]["code"] == "host_not_allowed"
        assert not browser.signed_in()
