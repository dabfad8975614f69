#!/usr/bin/env python3
"""Momento's own Vite chat app against `make dev AUTH=Open`: two browsers chat in one `chat-*` room, no topics named.

The acceptance check of issue 14's last item, kept repeatable but outside `make test`: the app's source is Momento's
(momentohq/client-sdk-javascript, examples/web/vite-chat-app), fetched into a throwaway folder that is never
committed, with only the changes listed in docs/migrating.md ("Checked with Momento's Vite chat app"). CI has no
copy of it, so nothing here is collected by pytest.

What it does, everything on 127.0.0.1 and free ports:

1. serves APP_DIR/dist with a static file server (its origin is the app's CORS origin);
2. starts the stack as `make dev AUTH=Open` does (`python -m devstack --auth Open --ready-json`, every port 0,
   ALLOWED_ORIGINS = the app's origin);
3. builds the app for this run's ports: `npm run build -- --mode development`, with the TVM URL and the emulator's
   grpc-web URL given as VITE_* environment variables (Vite lets the environment override `.env.development`, whose
   values are `make dev`'s fixed ports); the URLs are baked into the bundle, so a build made for other ports cannot
   be reused;
4. drives Debian's headless chromium (Playwright, tests/e2e's launch flags): alice and bob, each in their own
   browser context, join the same `chat-<random>` room through the app's own screens, send messages in turn, and
   each must see both names' messages; a third context joins `lobby-<random>`, outside the guest tier's patterns,
   and must be refused;
5. prints what each browser showed, the console errors, the timings and PASS or FAIL, then stops everything.

    .venv/bin/python bench/momento_vite_app.py /tmp/vite-chat [--messages 3] [--out /tmp/momento-vite-app]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_executable  # noqa: E402 - the e2e tests' own launch flags

HOST = "127.0.0.1"
# The app's own console line once its subscription is live (src/components/chat-room.tsx).
SUBSCRIBED = "Successfully initialized momento client and subscribed to topic"
# The one change that makes the app reach a plaintext emulator (src/utils/refreshing-topic-client.ts).
OVERRIDE_MARK = "VITE_MOMENTO_WEB_URL"
READY_TIMEOUT_S = 90.0
BUILD_TIMEOUT_S = 300.0
STEP_TIMEOUT_MS = 20_000


class Failure(Exception):
    """A step that cannot go on: the message says what happened and what to do."""


@dataclass
class User:
    """One browser context and what it saw."""

    name: str
    page: Page
    console_errors: list[str] = field(default_factory=list)
    token_requests: list[str] = field(default_factory=list)
    token_answers: list[dict[str, Any]] = field(default_factory=list)
    token_ms: list[float] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # the room's lines on screen at the end
    join_started: float = 0.0
    subscribed_at: float | None = None  # when the app logged its live subscription

    @property
    def joined_s(self) -> float:
        """From navigation until the app's subscription is live."""
        return (self.subscribed_at or self.join_started) - self.join_started


def check_app_dir(app_dir: Path) -> None:
    """Refuse a folder that is not the prepared app, with what to do, before anything starts."""
    package = app_dir / "package.json"
    if not package.is_file() or json.loads(package.read_text()).get("name") != "static-chat-app":
        raise Failure(f"{app_dir} is not Momento's vite-chat-app (no package.json named static-chat-app)")
    if not (app_dir / "node_modules").is_dir():
        raise Failure(f"{app_dir} has no node_modules: run `npm install` in it first")
    client = app_dir / "src" / "utils" / "refreshing-topic-client.ts"
    if OVERRIDE_MARK not in client.read_text():
        raise Failure(
            f"{client} lacks the emulator endpoint override: apply the changes in docs/migrating.md "
            "(Checked with Momento's Vite chat app)"
        )
    if shutil.which("npm") is None:
        raise Failure("npm is not on PATH")
    if shutil.which("chromium") is None:
        raise Failure("Debian's chromium is needed: apt-get install -y chromium")


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """Serve `folder` (read per request, so a rebuild after start is served) and yield its origin."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """No access log: the run prints its own summary."""

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="static", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def open_stack(origin: str, log_path: Path) -> Iterator[tuple[dict[str, Any], float]]:
    """`make dev AUTH=Open` on free ports with the app's origin allowed; yields the ready facts and the seconds."""
    env = dict(os.environ)
    env.update(
        API_PORT="0", SITE_PORT="0", MOMENTO_GRPC_PORT="0", MOMENTO_WEB_PORT="0", MOTO_PORT="0", ALLOWED_ORIGINS=origin
    )
    python = ROOT / ".venv" / "bin" / "python"
    started = time.perf_counter()
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [str(python if python.exists() else sys.executable), "-m", "devstack", "--auth", "Open", "--ready-json"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            assert child.stdout is not None
            stdout = child.stdout

            def pump() -> None:
                for line in stdout:
                    lines.put(line)

            threading.Thread(target=pump, name="stack-stdout", daemon=True).start()
            ready = _await_ready(child, lines, log_path)
            yield ready, time.perf_counter() - started
        finally:
            _stop(child)


def _await_ready(child: subprocess.Popen[str], lines: queue.Queue[str], log_path: Path) -> dict[str, Any]:
    """The stack's one ready JSON line, or a Failure naming its log."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if child.poll() is not None:
                raise Failure(f"the stack exited with {child.returncode} before ready: see {log_path}") from None
            continue
        with contextlib.suppress(json.JSONDecodeError):
            facts = json.loads(line)
            if isinstance(facts, dict) and facts.get("event") == "ready":
                return facts
    raise Failure(f"the stack was not ready within {READY_TIMEOUT_S:.0f} s: see {log_path}")


def _stop(child: subprocess.Popen[str]) -> None:
    """SIGTERM (devstack stops its children), then kill its own process group if it lingers."""
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=5)


def build_app(app_dir: Path, token_url: str, web_url: str, cache: str, log_path: Path) -> float:
    """`npm run build -- --mode development` with this run's URLs; returns the seconds it took."""
    env = dict(os.environ)
    env.update(
        VITE_TOKEN_VENDING_MACHINE_URL=token_url,
        VITE_MOMENTO_WEB_URL=web_url,
        VITE_MOMENTO_CACHE_NAME=cache,
        VITE_TOKEN_VENDING_MACHINE_AUTH_TYPE="open",
    )
    started = time.perf_counter()
    with log_path.open("w") as log:
        done = subprocess.run(
            ["npm", "run", "build", "--", "--mode", "development"],
            cwd=app_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise Failure(f"npm run build exited with {done.returncode}: see {log_path}")
    bundle = "".join(p.read_text() for p in (app_dir / "dist" / "assets").glob("*.js"))
    for url in (token_url, web_url):
        if url not in bundle:
            raise Failure(f"the built bundle does not contain {url}: see {log_path}")
    return seconds


def open_user(browser: Browser, name: str, app_url: str, token_url: str) -> User:
    """A fresh context with its console, page errors and token requests recorded."""
    page = browser.new_context(viewport={"width": 1000, "height": 640}).new_page()
    user = User(name=name, page=page)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            user.console_errors.append(message.text[:300])
        if SUBSCRIBED in message.text and user.subscribed_at is None:
            user.subscribed_at = time.perf_counter()

    def on_request(request: Request) -> None:
        if request.url.startswith(token_url) and request.method == "GET":
            user.token_requests.append(request.url)

    def on_response(response: Response) -> None:
        if response.url.startswith(token_url) and response.request.method == "GET":
            answer: dict[str, Any] = {"status": response.status}
            with contextlib.suppress(Exception):
                body = response.json()
                # Never the token itself: its scope and lifetime only.
                answer.update(scope=body.get("scope"), expiresAt=body.get("expiresAt"), error=body.get("error"))
            user.token_answers.append(answer)

    page.on("console", on_console)
    page.on("pageerror", lambda error: user.console_errors.append(f"pageerror: {error}"[:300]))
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfinished", lambda request: on_finished(user, request, token_url))
    return user


def on_finished(user: User, request: Request, token_url: str) -> None:
    """The token request's time in the browser, from sending it to the answer's last byte."""
    if request.url.startswith(token_url) and request.method == "GET":
        timing = request.timing
        user.token_ms.append(round(timing["responseEnd"] - timing["requestStart"], 1))


def join(user: User, app_url: str, room: str) -> None:
    """The app's own two screens: the room name, then the display name; started, not awaited."""
    user.join_started = time.perf_counter()
    user.page.goto(app_url)
    user.page.get_by_placeholder("chat room").fill(room)
    user.page.get_by_role("button", name="Enter").click()
    user.page.get_by_placeholder("username").fill(user.name)
    user.page.get_by_role("button", name="Enter").click()


def wait_subscribed(user: User, timeout_s: float) -> None:
    """Until the app logs its live subscription (its own console line)."""
    deadline = time.perf_counter() + timeout_s
    while user.subscribed_at is None and time.perf_counter() < deadline:
        user.page.wait_for_timeout(20)
    if user.subscribed_at is None:
        raise Failure(f"{user.name}'s app never subscribed; console errors: {user.console_errors or 'none'}")


def lines_shown(user: User) -> list[str]:
    """The room's message lines as the app renders them ("[h:m] <name> text", "[h:m] user joined: name")."""
    log = user.page.locator("div.h-full.p-1.overflow-auto > div")
    return [text.strip() for text in log.all_inner_texts() if text.strip()]


def send(sender: User, text: str, others: list[User]) -> float:
    """Type `text` and press Enter; seconds until it is on every other user's screen (Playwright polls ~20 ms)."""
    box = sender.page.get_by_placeholder("chat")
    box.fill(text)
    started = time.perf_counter()
    box.press("Enter")
    for other in others:
        other.page.get_by_text(text, exact=True).wait_for(timeout=STEP_TIMEOUT_MS)
    seen = time.perf_counter() - started
    sender.page.get_by_text(text, exact=True).wait_for(timeout=STEP_TIMEOUT_MS)  # its own echo, through the topic
    return seen


def outside_room(browser: Browser, app_url: str, token_url: str, room: str, out: Path) -> list[str]:
    """A third context joins a room outside the guest tier's patterns: returns its console errors (expected)."""
    user = open_user(browser, "carol", app_url, token_url)
    join(user, app_url, room)
    deadline = time.perf_counter() + STEP_TIMEOUT_MS / 1000
    while not user.console_errors and user.subscribed_at is None and time.perf_counter() < deadline:
        user.page.wait_for_timeout(50)
    if user.subscribed_at is not None:
        raise Failure(f"{room} (outside chat-* and room-*) was subscribed: the token is wider than the guest tier")
    if not user.console_errors:
        raise Failure(f"joining {room} showed neither a subscription nor an error within {STEP_TIMEOUT_MS} ms")
    user.page.screenshot(path=str(out / "carol-lobby.png"))
    return user.console_errors


def run(app_dir: Path, out: Path, messages: int) -> int:
    """The whole check; prints PASS or FAIL and returns the exit status."""
    check_app_dir(app_dir)
    out.mkdir(parents=True, exist_ok=True)
    nonce = uuid.uuid4().hex[:8]
    room, lobby = f"chat-{nonce}", f"lobby-{nonce}"
    times: dict[str, Any] = {}
    with static_server(app_dir / "dist") as origin, open_stack(origin, out / "stack.log") as (ready, stack_s):
        times["stack_ready_s"] = round(stack_s, 2)
        token_url = ready["api_url"].rstrip("/") + "/token"
        web_url = ready["momento_web_url"]
        print(f"app origin {origin}  TVM {token_url}  emulator grpc-web {web_url}  room {room}")
        times["build_s"] = round(build_app(app_dir, token_url, web_url, ready["cache_name"], out / "build.log"), 2)
        app_url = origin + "/"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
            )
            try:
                alice = open_user(browser, "alice", app_url, token_url)
                bob = open_user(browser, "bob", app_url, token_url)
                for user in (alice, bob):
                    join(user, app_url, room)
                for user in (alice, bob):
                    wait_subscribed(user, STEP_TIMEOUT_MS / 1000)
                times["join_to_subscribed_s"] = {u.name: round(u.joined_s, 3) for u in (alice, bob)}
                delivery: list[float] = []
                for i in range(messages):
                    delivery.append(send(alice, f"hello bob, alice here ({i + 1})", [bob]))
                    delivery.append(send(bob, f"hi alice, bob here ({i + 1})", [alice]))
                times["send_to_other_screen_ms"] = {
                    "median": round(statistics.median(delivery) * 1000, 1),
                    "max": round(max(delivery) * 1000, 1),
                    "n": len(delivery),
                }
                users = (alice, bob)
                for user in users:
                    user.seen = lines_shown(user)
                    user.page.screenshot(path=str(out / f"{user.name}.png"))
                refused = outside_room(browser, app_url, token_url, lobby, out)
            finally:
                browser.close()
    return report(users, messages, refused, lobby, times, out)


def report(
    users: tuple[User, ...], messages: int, refused: list[str], lobby: str, times: dict[str, Any], out: Path
) -> int:
    """What each browser saw, the token requests, the timings; PASS when both saw every message and no error."""
    problems: list[str] = []
    expected = [f"<alice> hello bob, alice here ({i + 1})" for i in range(messages)]
    expected += [f"<bob> hi alice, bob here ({i + 1})" for i in range(messages)]
    for user in users:
        shown = user.seen
        print(f"{user.name} saw:")
        for line in shown:
            print(f"  {line}")
        for want in expected:
            if not any(line.endswith(want) for line in shown):
                problems.append(f"{user.name} did not see {want!r}")
        print(
            f"  token requests: {user.token_requests} ({user.token_ms} ms)  answers: {json.dumps(user.token_answers)}"
        )
        if any("?" in url for url in user.token_requests):
            problems.append(f"{user.name}'s app named something in its token request")
        print(f"  console errors: {user.console_errors or 'none'}")
        problems += [f"{user.name} console: {error}" for error in user.console_errors]
    print(f"{lobby} (outside the tier) refused, as expected: {refused[0].splitlines()[0]}")
    print("times: " + json.dumps(times))
    print(f"screenshots and logs: {out}")
    for problem in problems:
        print(f"  ! {problem}")
    print("PASS" if not problems else "FAIL")
    return 0 if not problems else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("app_dir", type=Path, help="the prepared vite-chat-app folder (changed, npm-installed)")
    parser.add_argument("--messages", type=int, default=3, help="messages each user sends (default 3)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(tempfile.gettempdir()) / "momento-vite-app",
        help="screenshots and logs (default %(default)s)",
    )
    args = parser.parse_args()
    try:
        return run(args.app_dir.resolve(), args.out, max(1, args.messages))
    except Failure as failure:
        print(f"FAIL: {failure}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
