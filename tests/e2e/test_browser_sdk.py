"""The real @gomomento/sdk-web, in Debian's headless chromium, against the emulator's grpc-web port.

The page (tests/js/harness.html + dist/harness.js) is served from its own 127.0.0.1 port, a different origin
from the emulator's, so every SDK call goes through a real CORS preflight. Tests drive the page through
`window.harness` (tests/js/src/browser_harness.ts), which never throws and bounds every wait.

Playwright runs with its async API on a private event loop in a background thread, not with its sync API: a
session-scoped sync Playwright leaves its loop marked as running on the main thread, which breaks every later
`async def` test and `asyncio.run()` in the same session. The Python SDK peer of the cross-client test lives on
that same private loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import subprocess
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
from momento import TopicClientAsync, TopicConfigurations
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.auth.credential_provider import CredentialProvider
from momento.responses import TopicPublish, TopicSubscribe, TopicSubscriptionItem
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_executable

pytestmark = pytest.mark.browser

JS_DIR = Path(__file__).resolve().parents[1] / "js"
BUNDLE = JS_DIR / "dist" / "harness.js"
CALL_TIMEOUT_S = 20.0  # upper bound on any one call into the browser or the Python SDK
WAIT_MS = 5_000  # how long a test waits for an expected message

T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class DriverLoop:
    """An asyncio loop on a daemon thread; the sync tests submit coroutines to it and wait, bounded."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="browser-driver-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_S) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        async def cancel_leftovers() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.get_running_loop().shutdown_asyncgens()

        self.run(cancel_leftovers())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_S)
        self.loop.close()


class BrowserHarness:
    """Sync wrapper around `window.harness` in one page (one SDK identity)."""

    def __init__(self, driver: DriverLoop, page: Page, web_url: str) -> None:
        self._driver = driver
        self.page = page
        self.web_url = web_url
        self.console: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (method, url) of every request the page made

        # Playwright objects belong to the driver loop: even page.on() sends a message, so it runs there too.
        async def listen() -> None:
            page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
            page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
            page.on("request", lambda request: self.requests.append((request.method, request.url)))

        driver.run(listen())

    def call(self, name: str, *args: Any) -> Any:
        script = "([name, args]) => window.harness[name](...args)"
        return self._driver.run(self.page.evaluate(script, [name, list(args)]))

    def connect(self, auth_token: str) -> None:
        outcome = self.call("connect", {"authToken": auth_token, "webUrl": self.web_url})
        assert outcome == {"ok": True}, outcome

    def subscribe(self, cache: str, topic: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("subscribe", cache, topic)
        return result

    def publish(self, cache: str, topic: str, text: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call("publish", cache, topic, text)
        return result

    def wait_for_items(self, count: int, topic: str, timeout_ms: int = WAIT_MS) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("waitForItems", count, topic, timeout_ms)
        return result

    def errors(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("errors")
        return result

    def unsubscribe_all(self) -> int:
        result: int = self.call("unsubscribeAll")
        return result


@dataclass
class PythonPeer:
    """A momento Python SDK topic client (TopicClientAsync) living on the driver loop.

    Its client timeout is long on purpose: the SDK's default 5 s is a whole-stream deadline that kills a
    subscription after 5 s and leaves its iterator spinning.
    """

    driver: DriverLoop
    client: TopicClientAsync
    items: list[TopicSubscriptionItem.Text] = field(default_factory=list)
    stream_errors: list[str] = field(default_factory=list)
    _subscriptions: list[TopicSubscribe.SubscriptionAsync] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def open(cls, driver: DriverLoop, credential_provider: CredentialProvider) -> PythonPeer:
        async def make() -> TopicClientAsync:
            configuration = TopicConfigurations.Default.v1().with_client_timeout(timedelta(minutes=5))
            return TopicClientAsync(configuration, credential_provider)

        return cls(driver, driver.run(make()))

    def subscribe(self, cache: str, topic: str) -> None:
        async def start() -> None:
            response = await self.client.subscribe(cache, topic)
            assert isinstance(response, TopicSubscribe.SubscriptionAsync), response
            self._subscriptions.append(response)
            self._readers.append(asyncio.get_running_loop().create_task(self._read(response)))

        self.driver.run(start())

    async def _read(self, subscription: TopicSubscribe.SubscriptionAsync) -> None:
        # unsubscribe() cancels the gRPC call, whose read() then raises asyncio.CancelledError out of the iterator.
        with contextlib.suppress(asyncio.CancelledError):
            async for item in subscription:
                if isinstance(item, TopicSubscriptionItem.Text):
                    self.items.append(item)
                elif isinstance(item, TopicSubscriptionItem.Error):
                    self.stream_errors.append(item.error_code.name)
                    return

    def publish(self, cache: str, topic: str, text: str) -> None:
        response = self.driver.run(self.client.publish(cache, topic, text))
        assert isinstance(response, TopicPublish.Success), response

    def wait_for_items(self, count: int, timeout_s: float = WAIT_MS / 1000) -> list[str]:
        deadline = time.monotonic() + timeout_s
        while len(self.items) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return [item.value for item in self.items]

    def close(self) -> None:
        async def stop() -> None:
            for subscription in self._subscriptions:
                subscription.unsubscribe()
            await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), CALL_TIMEOUT_S)
            await self.client.close()

        self.driver.run(stop())


class _HarnessFiles(SimpleHTTPRequestHandler):
    """Serves harness.html and dist/ only, quietly."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/harness.html" or path.startswith("/dist/"):
            super().do_GET()
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _bundle_is_stale() -> bool:
    if not BUNDLE.exists():
        return True
    inputs = [*(JS_DIR / "src").glob("*.ts"), JS_DIR / "package-lock.json"]
    return any(path.stat().st_mtime > BUNDLE.stat().st_mtime for path in inputs)


@pytest.fixture(scope="session")
def harness_url() -> Iterator[str]:
    """URL of harness.html on a static server of its own (a different origin from the emulator)."""
    if not (JS_DIR / "node_modules" / "@gomomento" / "sdk-web").is_dir():
        pytest.skip("tests/js/node_modules is missing: run `make install-js`")
    if _bundle_is_stale():
        subprocess.run(["npm", "run", "--silent", "build"], cwd=JS_DIR, check=True, timeout=120)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_HarnessFiles, directory=str(JS_DIR)))
    thread = threading.Thread(target=server.serve_forever, name="harness-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/harness.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def driver() -> Iterator[DriverLoop]:
    loop = DriverLoop()
    try:
        yield loop
    finally:
        loop.close()


@pytest.fixture(scope="session")
def browser(driver: DriverLoop) -> Iterator[Browser]:
    """Debian's chromium, headless, launched once per session."""
    executable = chromium_executable()
    playwright: Playwright = driver.run(async_playwright().start())
    try:
        launched: Browser = driver.run(
            playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS), timeout=60
        )
        try:
            yield launched
        finally:
            driver.run(launched.close())
    finally:
        driver.run(playwright.stop())


@pytest.fixture
def open_page(driver: DriverLoop, browser: Browser, harness_url: str, emulator: Any) -> Iterator[Any]:
    """A factory of harness pages, each in its own browser context (one SDK identity per page)."""
    contexts: list[BrowserContext] = []
    harnesses: list[BrowserHarness] = []

    def open_one() -> BrowserHarness:
        context: BrowserContext = driver.run(browser.new_context())
        contexts.append(context)
        page: Page = driver.run(context.new_page())
        harness = BrowserHarness(driver, page, emulator.web_url)
        harnesses.append(harness)
        driver.run(page.goto(harness_url))
        driver.run(page.wait_for_function("window.harnessReady === true", timeout=10_000))
        return harness

    yield open_one
    for harness in harnesses:
        with contextlib.suppress(Exception):
            harness.unsubscribe_all()
    for context in contexts:
        driver.run(context.close())


@pytest.fixture
def page(open_page: Any) -> BrowserHarness:
    harness: BrowserHarness = open_page()
    return harness


def test_subscribe_publish_receive_with_token_id(page: BrowserHarness, emulator: Any) -> None:
    cache, topic, token_id = emulator.cache_name, unique("chat"), unique("alice")
    auth_token, expires_at = emulator.vend(
        DisposableTokenScopes.topic_publish_subscribe(cache, topic), ttl_seconds=60, token_id=token_id
    )
    assert expires_at > time.time()
    page.connect(auth_token)

    assert page.subscribe(cache, topic) == {"ok": True}
    assert page.publish(cache, topic, "hello") == {"ok": True}
    assert page.publish(cache, topic, "world, with ünïcödé") == {"ok": True}

    items = page.wait_for_items(2, topic)
    assert [item["value"] for item in items] == ["hello", "world, with ünïcödé"], page.console
    assert [item["tokenId"] for item in items] == [token_id, token_id]
    first, second = (item["sequenceNumber"] for item in items)
    assert 0 < first < second
    assert page.errors() == []

    # The overrides are used as-is: plain http to the emulator, with Momento's gRPC method paths.
    posts = {url for method, url in page.requests if method == "POST"}
    assert f"{emulator.web_url}/cache_client.pubsub.Pubsub/Subscribe" in posts
    assert f"{emulator.web_url}/cache_client.pubsub.Pubsub/Publish" in posts


def test_out_of_scope_calls_return_permission_error(page: BrowserHarness, emulator: Any) -> None:
    cache, topic = emulator.cache_name, unique("news")
    auth_token, _ = emulator.vend(
        DisposableTokenScopes.topic_subscribe_only(cache, topic), ttl_seconds=60, token_id=unique("reader")
    )
    page.connect(auth_token)

    assert page.subscribe(cache, topic) == {"ok": True}
    refused = page.publish(cache, topic, "not allowed")
    assert refused["ok"] is False
    assert refused["errorCode"] == "PERMISSION_ERROR", refused

    other = page.subscribe(cache, unique("other"))
    assert other["ok"] is False
    assert other["errorCode"] == "PERMISSION_ERROR", other

    # Nothing was delivered, and the in-scope subscription is still healthy.
    assert page.wait_for_items(1, topic, timeout_ms=300) == []
    assert page.errors() == []


def test_browser_and_python_exchange_messages(page: BrowserHarness, driver: DriverLoop, emulator: Any) -> None:
    cache, topic = emulator.cache_name, unique("room")
    browser_id, python_id = unique("browser-user"), unique("python-user")
    scope = DisposableTokenScopes.topic_publish_subscribe(cache, topic)
    browser_token, _ = emulator.vend(scope, ttl_seconds=60, token_id=browser_id)
    python_token, _ = emulator.vend(scope, ttl_seconds=60, token_id=python_id)

    page.connect(browser_token)
    assert page.subscribe(cache, topic) == {"ok": True}
    peer = PythonPeer.open(driver, emulator.token_provider(python_token))
    try:
        peer.subscribe(cache, topic)

        assert page.publish(cache, topic, "from the browser") == {"ok": True}
        assert peer.wait_for_items(1) == ["from the browser"]

        peer.publish(cache, topic, "from python")
        items = page.wait_for_items(2, topic)
        assert [(item["value"], item["tokenId"]) for item in items] == [
            ("from the browser", browser_id),
            ("from python", python_id),
        ], page.console
        assert peer.wait_for_items(2) == ["from the browser", "from python"]
        assert peer.stream_errors == []
        assert page.errors() == []
    finally:
        peer.close()


def test_cache_set_get_delete_and_topic_token_has_no_cache_access(open_page: Any, emulator: Any) -> None:
    cache, key = emulator.cache_name, unique("key")
    writer = open_page()
    writer_token, _ = emulator.vend(DisposableTokenScopes.cache_read_write(cache), ttl_seconds=60)
    writer.connect(writer_token)

    assert writer.call("cacheGet", cache, key) == {"ok": True, "hit": False}
    assert writer.call("cacheSet", cache, key, "value ✓", 30) == {"ok": True}
    assert writer.call("cacheGet", cache, key) == {"ok": True, "hit": True, "value": "value ✓"}
    assert writer.call("cacheDelete", cache, key) == {"ok": True}
    assert writer.call("cacheGet", cache, key) == {"ok": True, "hit": False}

    topics_only = open_page()
    topics_token, _ = emulator.vend(DisposableTokenScopes.topic_publish_subscribe(cache, unique("t")), ttl_seconds=60)
    topics_only.connect(topics_token)
    refused = topics_only.call("cacheGet", cache, key)
    assert refused["ok"] is False
    assert refused["errorCode"] == "PERMISSION_ERROR", refused
