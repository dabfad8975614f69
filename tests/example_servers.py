"""The example apps (examples/fastapi_chat, examples/flask_chat) on real servers on 127.0.0.1:0, for the tests that
need a real socket: a body that is announced but never sent, sign-ins at the same time. Shared by
tests/integration/test_example_app.py, test_flask_example.py and tests/e2e/example_app.py."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp
from werkzeug.serving import make_server

from examples.fastapi_chat.users import DEMO_USERS, User, UserStore

__all__ = ["SITE", "Clock", "HeldUsers", "RawAnswer", "raw_request", "serve_asgi", "serve_wsgi"]

SITE = Path(__file__).resolve().parents[1] / "static_site" / "dist"  # the built chat site (make install-site)


@contextlib.contextmanager
def serve_asgi(make_app: Callable[[str], ASGIApp]) -> Iterator[str]:
    """uvicorn in a thread of its own on a free port of 127.0.0.1, serving `make_app(base_url)` (the app is made
    once the port is known: its origins name it). Yields the base URL; stops the server on exit."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(make_app(url), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="example-app", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the example app did not start"
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def serve_wsgi(make_app: Callable[[str], Callable[..., Iterable[bytes]]]) -> Iterator[str]:
    """Werkzeug's threaded server (what `flask run` uses) on a free port of 127.0.0.1, serving `make_app(base_url)`.
    Yields the base URL; stops the server on exit."""
    late: list[Callable[..., Iterable[bytes]]] = []
    server = make_server("127.0.0.1", 0, lambda environ, start: late[0](environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    late.append(make_app(url))
    thread = threading.Thread(target=server.serve_forever, name="example-app", daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        thread.join(10)
        server.server_close()


@dataclass(frozen=True)
class RawAnswer:
    status: int | None  # None: no answer (the server kept reading, or closed without one)
    seconds: float  # from the last byte sent to the answer's first line (or to giving up)


def raw_request(url: str, head: str, body: Iterable[bytes] = (), wait_seconds: float = 5.0) -> RawAnswer:
    """Sends the request head (`POST /login HTTP/1.1\\r\\nHost: ...`, no blank line) and the body's pieces, then
    waits for the status line without sending anything more: a server that waits for the rest of an announced body
    gives no answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_seconds) as conn:
        conn.sendall(head.encode("latin-1") + b"\r\n\r\n")
        for piece in body:
            conn.sendall(piece)
        sent = time.monotonic()
        received = b""
        with contextlib.suppress(OSError):  # a timeout, or a reset once the server closed
            while b"\r\n" not in received:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                received += chunk
        seconds = time.monotonic() - sent
    first = received.split(b"\r\n", 1)[0].split()
    status = int(first[1]) if len(first) >= 2 and first[1].isdigit() else None
    return RawAnswer(status, seconds)


class Clock:
    """The sign-in limits' clock (examples/fastapi_chat/limits.py): seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class HeldUsers(UserStore):
    """The demo users, whose password checks wait until `release()`: sign-ins at the same time, on demand. The wait
    stands in for scrypt's time (what is held is the real check's place); `checking` counts the checks under way."""

    def __init__(self, users: Iterable[User] = DEMO_USERS) -> None:
        super().__init__(users)
        self.checking = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def authenticate(self, username: str, password: str) -> User | None:
        with self._lock:
            self.checking += 1
        self._released.wait(30)
        return super().authenticate(username, password)
