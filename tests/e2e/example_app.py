"""The example app (examples/fastapi_chat) serving the built chat site in Session mode, under uvicorn on a free port
of 127.0.0.1 (its own thread and event loop), for the browser tests that need Session mode.

`serve_counted_example_app` also counts what its token route answered (`TokenCounter`), at the server: the tests
that count vends read them there, not from the page."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from examples.fastapi_chat.app import create_app
from momento_emulator.testing import EmulatorThread
from momento_tvm import MomentoSettings, Policy
from tests.conftest import CACHE
from tests.example_servers import SITE, serve_asgi

__all__ = ["SITE", "TokenCounter", "serve_counted_example_app", "serve_example_app"]


class TokenCounter:
    """Wraps the app: records each answer of its token route (`GET /api/momento/token`), with its query and status,
    and of its explain route, as the server sent them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: list[tuple[str, str, int]] = []  # (path, query, status)

    def vends(self) -> list[str]:
        """The queries of the token requests the route answered 200 (a vend each)."""
        return [query for path, query, status in self.answers if path.endswith("/token") and status == 200]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/momento/token"):
            await self.app(scope, receive, send)
            return

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((path, scope.get("query_string", b"").decode(), int(message["status"])))
            await send(message)

        await self.app(scope, receive, recording)


@contextlib.contextmanager
def serve_example_app(emulator_thread: EmulatorThread, token_ttl_seconds: int) -> Iterator[str]:
    """Yields the app's base URL; stops the server on exit."""
    with serve_counted_example_app(emulator_thread, token_ttl_seconds) as (url, _):
        yield url


@contextlib.contextmanager
def serve_counted_example_app(
    emulator_thread: EmulatorThread, token_ttl_seconds: int, policy: Policy | Mapping[str, Any] | None = None
) -> Iterator[tuple[str, TokenCounter]]:
    """Yields the app's base URL (its one origin) and its TokenCounter; `policy`: another policy than the example's
    own (e.g. one with `topic_patterns: exact`). Stops the server on exit."""
    assert (SITE / "index.html").is_file(), "build the site first: make install-site"
    extra: dict[str, Any] = {} if policy is None else {"policy": policy}
    counters: list[TokenCounter] = []

    def counted_app(url: str) -> ASGIApp:
        app = create_app(
            MomentoSettings.emulator(emulator_thread.grpc_port),
            cache_name=CACHE,
            site_dir=SITE,
            origins=[url],
            momento_web_url=f"http://127.0.0.1:{emulator_thread.web_port}",
            token_ttl_seconds=token_ttl_seconds,
            **extra,
        )
        counters.append(TokenCounter(app))
        return counters[0]

    with serve_asgi(counted_app) as url:
        yield url, counters[0]
