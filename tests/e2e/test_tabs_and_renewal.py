"""One token per user for the whole app, in Debian's headless chromium against the `make dev` stack (devstack's
`Stack`, on free ports) and the example app (Session mode): topic-prefix grants, tabs sharing one token and one
renewal, and renewal that survives clock skew and sleep.

Vends are counted at the TVM, never only in the page: the local API's access log (one `GET /token 200` line per
vend, in this process) and the vending function's own `token issued` lines (which name the user), relayed by the
local API on this process's stderr; the example app's token route through `TokenCounter`. Streams are counted with
Chrome DevTools Protocol network events (grpc-web Subscribe requests open, not yet finished or failed).

Tabs of one browser are pages of one Playwright context (one storage partition: Web Locks, BroadcastChannel,
localStorage); another context is another browser. A hidden tab is simulated by an init script that overrides
`document.visibilityState` (headless pages are always visible); sleep by Playwright's clock: paused (timers and the
monotonic clock stand still), then its wall clock set to the real time, as a laptop's is when it wakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import pytest
import pytest_asyncio
import yaml
from playwright.async_api import Browser, BrowserContext, CDPSession, Page, Request

from devstack import Stack
from momento_emulator.testing import EmulatorThread
from momento_tvm.identity import log_name
from tests.e2e.chat_page import PASSWORDS, Chat
from tests.e2e.example_app import serve_counted_example_app
from tests.e2e.stacks import stack_config
from tests.e2e.test_layout_a11y import axe_at_both_sizes, serve_axe

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TTL: Final = 20  # seconds: a renewal at 15-17 s (75-85% of the lifetime), so two fit in under 40 s
SHORT_TTL: Final = 10  # the shortest the site may ask for: the sleep test waits it out
LIVE_ROOM_BUDGET: Final = 4  # static_site/src/roomList.ts
# roomList.ts's roomBudget(3): a user's tokens list 3 control topics, whose streams (in the tab that renews for the
# user's tabs, shown or hidden: controlFlow.ts) leave 2 rooms live, 5 streams in all.
CONTROL_STREAMS: Final = 3
ROOMS_BESIDE_CONTROL: Final = 2
BROWSER_CONNECTIONS_PER_HOST: Final = 6  # Chrome's HTTP/1.1 limit, for every tab of the browser together
SUBSCRIBE_PATH: Final = "/cache_client.pubsub.Pubsub/Subscribe"
PUBLISH_PATH: Final = "/cache_client.pubsub.Pubsub/Publish"
EXAMPLE_POLICY: Final = Path(__file__).resolve().parents[2] / "examples" / "fastapi_chat" / "policy.yaml"

# Headless pages are always visible: let the test hide one (document.visibilityState, document.hidden and the
# visibilitychange event, as a tab switch gives them). `window.__startHidden` before load: hidden from the start.
SIMULATED_VISIBILITY: Final = """
(() => {
  let hidden = false;
  try { hidden = sessionStorage.getItem('__hidden') === '1'; } catch {}
  const state = () => (hidden ? 'hidden' : 'visible');
  Object.defineProperty(Document.prototype, 'visibilityState', {configurable: true, get: state});
  Object.defineProperty(Document.prototype, 'hidden', {configurable: true, get: () => hidden});
  window.__setHidden = h => { hidden = h; document.dispatchEvent(new Event('visibilitychange')); };
})();
"""
START_HIDDEN: Final = "try { sessionStorage.setItem('__hidden', '1'); } catch {}"


# --- what the TVM did ----------------------------------------------------------------------------------------------


@dataclass
class TvmRecord:
    """The TVM's own account of every request: the local API's access log lines (`GET /token 200 …`, with when they
    were logged, time.monotonic()) and the vending function's `token issued` lines (the user, and the function's own
    timestamp), which the local API relays to this process's stderr (read through pytest's capsys)."""

    capsys: pytest.CaptureFixture[str]
    access: list[tuple[float, str]] = field(default_factory=list)
    issued: list[tuple[float, str]] = field(default_factory=list)

    def vends(self) -> list[float]:
        return [t for t, line in self.access if line.startswith("GET /token 200 ")]

    def explains(self) -> int:
        return sum(1 for _, line in self.access if line.startswith("GET /token/explain "))

    def vends_for(self, user: str) -> list[float]:
        """When each token for `user` (as logged: a guest is `guest#<hash>`) was issued (the function's clock)."""
        self.read()
        return [t for t, who in self.issued if who == user]

    def say(self, text: str) -> None:
        """A measured figure, shown with `-s` (capsys holds this test's output otherwise)."""
        with self.capsys.disabled():
            print(text)

    def read(self) -> None:
        for line in self.capsys.readouterr().err.splitlines():
            start = line.find("{")
            if not line.startswith("[TokenVendingFunction]") or start < 0:
                continue
            with contextlib.suppress(ValueError):
                record = json.loads(line[start:])
                if isinstance(record, dict) and record.get("message") == "token issued":
                    at = datetime.strptime(str(record["timestamp"]), "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
                    self.issued.append((at, str(record.get("user"))))


class _AccessLog(logging.Handler):
    def __init__(self, record: TvmRecord) -> None:
        super().__init__(logging.INFO)
        self.record = record

    def emit(self, entry: logging.LogRecord) -> None:
        self.record.access.append((time.monotonic(), entry.getMessage()))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    config = stack_config("LambdaAuthorizer")
    async with Stack(config) as running:
        assert running.info.site_content == "built site", "build the site first: make install-site"
        yield running


@contextlib.contextmanager
def recording_tvm(capsys: pytest.CaptureFixture[str]) -> Iterator[TvmRecord]:
    record = TvmRecord(capsys)
    capsys.readouterr()  # what came before is not this test's
    handler = _AccessLog(record)
    access = logging.getLogger("local_api.access")
    level = access.level
    access.setLevel(logging.INFO)
    access.addHandler(handler)
    try:
        yield record
    finally:
        access.removeHandler(handler)
        access.setLevel(level)


@pytest.fixture
def tvm(capsys: pytest.CaptureFixture[str]) -> Iterator[TvmRecord]:
    with recording_tvm(capsys) as record:
        yield record


# --- the pages -----------------------------------------------------------------------------------------------------


async def new_browser(browser: Browser) -> BrowserContext:
    """Another browser, as far as the site can tell (its own storage, locks and channels)."""
    return await browser.new_context(viewport={"width": 1280, "height": 800})


async def signed_in(chat: Chat, user: str | None = None) -> Chat:
    await chat.login(user)
    await chat.wait_live()
    return chat


async def continue_as(chat: Chat, label: str) -> None:
    button = chat.page.get_by_role("button", name=f"Continue as {label}")
    await button.wait_for(timeout=10_000)
    await button.click()
    await chat.wait("window.__chat.state().view === 'chat'")


async def join(chat: Chat, room: str) -> None:
    await chat.page.fill("#join-room", room)
    await chat.page.press("#join-room", "Enter")
    await chat.wait(
        f"(s => s.activeRoom === {json.dumps(room)} && "
        "s.rooms.some(r => r.room === s.activeRoom && r.status === 'live'))(window.__chat.state())"
    )


async def state(chat: Chat) -> dict[str, Any]:
    return await chat.state()


class Streams:
    """The grpc-web Subscribe requests open now (sent, neither finished nor failed) in each watched page of a browser,
    from CDP network events, and the most ever open at once in all of them together."""

    def __init__(self) -> None:
        self.open: dict[str, set[str]] = {}
        self.most_together = 0
        self.sessions: list[CDPSession] = []

    async def watch(self, chat: Chat) -> None:
        session = await chat.page.context.new_cdp_session(chat.page)
        ids = self.open.setdefault(chat.name, set())

        def sent(event: dict[str, Any]) -> None:
            if SUBSCRIBE_PATH in event["request"]["url"]:
                ids.add(event["requestId"])
                self.most_together = max(self.most_together, sum(len(v) for v in self.open.values()))

        def ended(event: dict[str, Any]) -> None:
            ids.discard(event["requestId"])

        session.on("Network.requestWillBeSent", sent)
        session.on("Network.loadingFinished", ended)
        session.on("Network.loadingFailed", ended)
        await session.send("Network.enable")
        self.sessions.append(session)

    def now(self, *names: str) -> list[int]:
        return [len(self.open.get(name, ())) for name in names]

    async def wait(self, expected: dict[str, int], timeout_s: float = 10) -> None:
        deadline = time.monotonic() + timeout_s
        while self.now(*expected) != list(expected.values()):
            assert time.monotonic() < deadline, f"streams {self.now(*expected)}, expected {expected}"
            await asyncio.sleep(0.05)


# --- one token covers every room -------------------------------------------------------------------------------------


async def test_joining_five_rooms_in_a_row_vends_nothing_after_the_first(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    alice = await Chat.open(browser, stack, "alice")
    await signed_in(alice)
    assert len(tvm.vends()) == 1
    first = await state(alice)
    assert first["scopeAll"] is True  # readwrite: every topic, asked for by naming none
    for n in range(5):
        await join(alice, f"room-five-{n}-{uuid.uuid4().hex[:4]}")
    assert len(tvm.vends()) == 1, tvm.access
    assert len(tvm.vends_for("alice")) == 1
    after = await state(alice)
    assert after["tokenId"] == "alice" and after["refreshCount"] == 0
    assert len([r for r in after["rooms"] if r["status"] == "live"]) == ROOMS_BESIDE_CONTROL
    assert after["controlStreams"] == CONTROL_STREAMS

    # The session panel says what the token allows; "why can't I send?" asks /token/explain, which mints nothing.
    await alice.page.click("#session-panel summary")
    assert (
        await alice.page.text_content("#session-scope")
        == "Tier readwrite: send and read on every topic of default-cache"
    )
    await alice.page.get_by_role("button", name=re.compile("^Why can.t I send")).click()
    await alice.wait("document.querySelector('#session-explain').textContent.startsWith('Your tier')")
    explained = await alice.page.text_content("#session-explain") or ""
    assert f"may send to {after['activeRoom']}" in explained, explained
    assert tvm.explains() == 1 and len(tvm.vends()) == 1
    await serve_axe(alice.page)
    assert await axe_at_both_sizes(alice.page, "the session panel, open, with its answer") == []
    assert alice.errors == [] and await alice.csp_violations() == []
    await alice.close()


async def test_a_guest_token_is_one_prefix_grant_for_every_chat_and_room_topic(
    browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    config = stack_config("Open")
    async with Stack(config) as open_stack:
        with recording_tvm(capsys) as record:
            ann = await Chat.open(browser, open_stack, "ann")
            await ann.page.fill("#login-name", "Ann")
            await ann.page.press("#login-name", "Enter")
            await ann.wait_live()
            first = await state(ann)
            assert sorted(first["scopePrefixes"]) == ["chat-", "room-"] and first["scopeNames"] == []
            for room in ("room-x", "chat-y", "room-z", "chat-lobby", "room-w"):
                await join(ann, room)
            assert len(record.vends()) == 1
            assert len(record.vends_for(log_name("guest:Ann"))) == 1  # logged as guest#<hash>, never by name
            await ann.page.click("#session-panel summary")
            scope = await ann.page.text_content("#session-scope")
            assert scope == "Tier guest: send and read on topics starting with chat- or room-", scope
            await ann.close()


async def test_where_the_deployment_grants_exact_names_the_site_names_its_rooms(
    browser: Browser, emulator_thread: EmulatorThread
) -> None:
    """The example app (Session mode) with `topic_patterns: exact`: the request naming no topics is refused, the site
    names the open room instead, and a room outside the token costs a vend, as before prefix grants."""
    policy = yaml.safe_load(EXAMPLE_POLICY.read_text()) | {"topic_patterns": "exact"}
    with serve_counted_example_app(emulator_thread, TTL, policy) as (url, counter):
        context = await new_browser(browser)
        page = await context.new_page()
        alice = Chat(page, "alice")
        await page.goto(f"{url}/login?next=/")
        await page.get_by_label("Username").fill("alice")
        await page.get_by_label("Password").fill(PASSWORDS["alice"])
        await page.get_by_role("button", name="Sign in").click()
        await alice.wait_live()
        refused = [a for a in counter.answers if a[0].endswith("/token") and a[2] == 403]
        assert len(refused) == 1 and "topics=" not in refused[0][1]
        assert [q for q in counter.vends() if "topics=" in q] == counter.vends() and len(counter.vends()) == 1
        assert (await state(alice))["namesRooms"] is True
        await join(alice, "room-exact")
        assert len(counter.vends()) == 2 and "room-exact" in counter.vends()[1]

        # Session mode shares too: a second tab continues as alice (the cookie is the browser's), no vend.
        second = await Chat.tab(context, f"{url}/", "alice-2")
        await continue_as(second, "alice")
        await second.wait_live()
        assert len(counter.vends()) == 2
        assert (await state(second))["tabRole"] == "follower"
        await context.close()


# --- tabs of one user share one token and one renewal ----------------------------------------------------------------


async def test_two_tabs_of_alice_share_one_vend_and_one_renewal_and_chat_across_two_renewals(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    context = await new_browser(browser)
    first = await signed_in(await Chat.tab(context, stack.site_url, "alice-1", TTL), "alice")
    second = await Chat.tab(context, stack.site_url, "alice-2", TTL)
    await continue_as(second, "alice")
    await second.wait_live()
    bob = await signed_in(await Chat.open(browser, stack, "bob", TTL))
    assert len(tvm.vends_for("alice")) == 1, tvm.issued  # the second tab got the first tab's token
    roles = sorted([(await state(first))["tabRole"], (await state(second))["tabRole"]])
    assert roles == ["follower", "leader"]

    marker = uuid.uuid4().hex[:8]
    sent: list[str] = []
    senders = (first, second, bob)
    deadline = time.monotonic() + 60
    n = 0
    while time.monotonic() < deadline:
        renewals = [(await state(tab))["renewals"] for tab in (first, second)]
        if min(renewals) >= 2 and n >= 12:
            break
        sender = senders[n % 3]
        text = f"{marker} #{n:03d} from {sender.name}"
        await sender.send(text)
        sent.append(text)
        n += 1
        await first.page.wait_for_timeout(1000)
    assert min(renewals) >= 2, f"renewals {renewals} in 60 s"
    alice_vends = tvm.vends_for("alice")
    assert len(alice_vends) == 3, alice_vends  # the first token and two renewals, for both tabs
    gaps = [b - a for a, b in itertools.pairwise(alice_vends)]
    assert all(0.7 * TTL <= gap <= 0.9 * TTL for gap in gaps), gaps  # one renewal per token lifetime
    for chat in (first, second, bob):
        await chat.wait_text(sent[-1])
        assert await chat.texts(marker) == sent, chat.name  # every message, once, in order
        assert (await state(chat))["connection"] == "live"
    tvm.say(f"\nalice's two tabs: {len(alice_vends)} vends at the TVM for {len(sent)} messages; renewal gaps {gaps}")
    for chat in (first, second, bob):
        assert chat.errors == []
    await context.close()
    await bob.close()


async def test_when_the_leading_tab_closes_the_other_takes_over_the_renewal(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    context = await new_browser(browser)
    first = await signed_in(await Chat.tab(context, stack.site_url, "alice-1", TTL), "alice")
    second = await Chat.tab(context, stack.site_url, "alice-2", TTL)
    await continue_as(second, "alice")
    assert (await state(first))["tabRole"] == "leader"
    await first.page.close()
    await second.wait("window.__chat.state().tabRole === 'leader'", 5)
    assert len(tvm.vends_for("alice")) == 1  # no vend at the takeover: the token it holds is still good
    await second.wait("window.__chat.state().renewals >= 1", TTL)
    assert len(tvm.vends_for("alice")) == 2
    await second.wait_live()
    await second.send(f"after the takeover {uuid.uuid4().hex[:6]}")
    await context.close()


async def test_alice_and_bob_never_share_not_in_two_browsers_nor_in_one(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    alices = await new_browser(browser)
    alice = await signed_in(await Chat.tab(alices, stack.site_url, "alice"))
    bobs = await new_browser(browser)
    bob = await Chat.tab(bobs, stack.site_url, "bob")
    await bob.page.wait_for_selector("#login-username")
    await bob.page.wait_for_timeout(300)
    assert await bob.page.get_by_role("button", name="Continue as alice").count() == 0  # another browser: no offer
    await signed_in(bob)

    # In alice's browser, bob signs in in a tab of his own: he is offered alice's session, and takes his own.
    bob_here = await Chat.tab(alices, stack.site_url, "bob")
    await bob_here.page.get_by_role("button", name="Continue as alice").wait_for()
    await serve_axe(bob_here.page)
    assert await axe_at_both_sizes(bob_here.page, "the sign-in form offering another tab's session") == []
    await bob_here.page.set_viewport_size({"width": 1280, "height": 800})  # axe left it at a phone's size
    await signed_in(bob_here, "bob")
    for tab, user in ((alice, "alice"), (bob, "bob"), (bob_here, "bob")):
        seen = await state(tab)
        assert seen["tokenId"] == user and seen["tabRole"] == "leader", (user, seen["tabRole"])
    assert len(tvm.vends_for("alice")) == 1 and len(tvm.vends_for("bob")) == 2

    # bob signs out in alice's browser: alice's tab stays; nothing of either went to the other.
    await bob_here.page.get_by_role("button", name="Log out").click()
    await bob_here.wait("window.__chat.state().view === 'login'")
    await alice.page.wait_for_timeout(300)
    assert (await state(alice))["view"] == "chat" and (await state(bob))["view"] == "chat"
    for chat in (alice, bob):
        assert all(m["tokenId"] in ("alice", "bob") for m in await chat.messages())
    await alices.close()
    await bobs.close()


async def test_a_hidden_tab_holds_no_room_stream_and_resumes_without_loss_or_repeats(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    context = await new_browser(browser)
    streams = Streams()
    rooms = [f"room-hide-{n}-{uuid.uuid4().hex[:4]}" for n in range(ROOMS_BESIDE_CONTROL)]
    first = await Chat.tab(context, stack.site_url, "first", init_scripts=(SIMULATED_VISIBILITY,))
    await streams.watch(first)
    await signed_in(first, "alice")
    for room in reversed(rooms):
        await join(first, room)
    second = await Chat.tab(context, stack.site_url, "second", init_scripts=(START_HIDDEN, SIMULATED_VISIBILITY))
    await streams.watch(second)
    await continue_as(second, "alice")  # hidden from the start: it subscribes nothing
    bob = await signed_in(await Chat.open(browser, stack, "bob"))
    assert (await state(second))["connection"] == "paused"
    await streams.wait({"first": ROOMS_BESIDE_CONTROL + CONTROL_STREAMS, "second": 0})

    async def send_everywhere(label: str) -> list[str]:
        texts = []
        for room in rooms:
            await join(bob, room)
            text = f"{label} in {room}"
            await bob.send(text)
            texts.append(text)
        return texts

    before = await send_everywhere("before")
    for text in before:
        await first.wait_text(text)
    await first.page.evaluate("() => window.__setHidden(true)")  # a tab switch: the first hidden, the second shown
    await second.page.evaluate("() => window.__setHidden(false)")
    await second.wait_live()
    # The first tab still renews for both, so it keeps the control streams (hidden or not); the rooms move.
    await streams.wait({"first": CONTROL_STREAMS, "second": ROOMS_BESIDE_CONTROL})
    hidden = await state(first)
    assert (hidden["streams"], hidden["controlStreams"], hidden["connection"]) == (0, CONTROL_STREAMS, "paused")
    during = await send_everywhere("while the first tab was hidden")
    for text in during:
        await second.wait_text(text)
    assert streams.now("first") == [CONTROL_STREAMS]

    await second.page.evaluate("() => window.__setHidden(true)")  # and back
    await first.page.evaluate("() => window.__setHidden(false)")
    await first.wait_live()
    await streams.wait({"first": ROOMS_BESIDE_CONTROL + CONTROL_STREAMS, "second": 0})
    shown = await state(first)
    assert shown["resumedSubscriptions"] >= ROOMS_BESIDE_CONTROL, shown["resumedSubscriptions"]
    for room, b, d in zip(rooms, before, during, strict=True):
        await first.wait_text(d)
        assert [m["text"] for m in await first.messages() if m["room"] == room] == [b, d], room  # none lost, none twice
    assert streams.most_together <= BROWSER_CONNECTIONS_PER_HOST, streams.most_together
    tvm.say(
        f"\nstreams of alice's two tabs: at most {streams.most_together} open at once "
        f"({ROOMS_BESIDE_CONTROL} rooms and {CONTROL_STREAMS} control; {LIVE_ROOM_BUDGET} rooms without control)"
    )
    assert len(tvm.vends_for("alice")) == 1
    await context.close()
    await bob.close()


async def test_cognito_tabs_share_the_session_and_a_takeover_refreshes_with_the_shared_tokens(
    browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    """AmazonCognito: the Cognito tokens travel to the tab that continues, which renews with them once it leads."""
    config = stack_config("AmazonCognito")
    async with Stack(config) as cognito_stack:
        with recording_tvm(capsys) as record:
            context = await new_browser(browser)
            first = await signed_in(await Chat.tab(context, cognito_stack.site_url, "first", SHORT_TTL), "alice")
            second = await Chat.tab(context, cognito_stack.site_url, "second", SHORT_TTL)
            await continue_as(second, "alice")
            await second.wait_live()
            assert len(record.vends_for("alice")) == 1
            await first.wait("window.__chat.state().identityRefreshCount >= 1", SHORT_TTL + 5)  # the leader renews
            await second.wait("window.__chat.state().renewals >= 1", 5)
            await first.page.close()
            await second.wait("window.__chat.state().tabRole === 'leader'", 5)
            # Its first renewal refreshes the Cognito session with the refresh token it was handed.
            await second.wait("window.__chat.state().identityRefreshCount >= 1", SHORT_TTL + 5)
            await second.wait("window.__chat.state().renewals >= 2", 5)
            assert len(record.vends_for("alice")) == 3
            await second.wait_live()
            await second.send(f"after the takeover {uuid.uuid4().hex[:6]}")
            assert second.errors == []
            await context.close()


# --- renewal that survives the real world --------------------------------------------------------------------------


async def test_a_tab_whose_clock_is_ten_minutes_off_renews_on_the_servers_schedule(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    tabs: list[Chat] = []
    for user, skew in (("alice", timedelta(minutes=10)), ("bob", timedelta(minutes=-10))):

        async def skewed(page: Page, skew: timedelta = skew) -> None:
            await page.clock.install(time=datetime.now() + skew)  # its Date runs 10 minutes off from the start

        context = await new_browser(browser)
        tabs.append(await signed_in(await Chat.tab(context, stack.site_url, user, TTL, before_load=skewed)))
    for chat in tabs:
        await chat.wait("window.__chat.state().renewals >= 1", TTL + 5)
    for chat in tabs:
        vends = tvm.vends_for(chat.name)
        assert len(vends) == 2, vends
        gap = vends[1] - vends[0]
        # Before expiry, and not early either. The page renews 14-15 s of this 20 s lifetime after it SENT its first
        # request (backoff.ts: refreshAtMs, 5 s before expiry at the latest), and the gap here is between the
        # function's two log lines: the first vend's own latency (a cold worker on a loaded machine: up to a second
        # or two) comes off it. A clock 10 minutes off would renew at once or never, far outside these bounds.
        assert 0.6 * TTL <= gap <= 0.9 * TTL, (chat.name, gap)
        await chat.page.click("#session-panel summary")
        note = await chat.page.text_content("#session-clock") or ""
        assert "clock is 10 min " in note, note
        await chat.wait_live()
        tvm.say(f"\n{chat.name}: renewed {gap:.1f} s after the first vend, with {note!r}")
        await chat.close()


async def test_a_tab_resumed_after_its_token_expired_renews_before_its_first_publish(
    stack: Stack, browser: Browser, tvm: TvmRecord
) -> None:
    bob = await signed_in(await Chat.open(browser, stack, "bob"))

    async def fake_clock(page: Page) -> None:
        await page.clock.install()

    context = await new_browser(browser)
    alice = await signed_in(await Chat.tab(context, stack.site_url, "alice", SHORT_TTL, before_load=fake_clock))
    events: list[str] = []

    def on_request(request: Request) -> None:
        if "/token" in request.url:
            events.append("token sent")
        elif PUBLISH_PATH in request.url:
            events.append("publish sent")

    async def on_response(response: Any) -> None:
        if "/token" in response.url and response.status == 200:
            events.append("token received")

    alice.page.on("request", on_request)
    alice.page.on("response", on_response)
    # Asleep: timers and the monotonic clock stop, for longer than the token lives. Paused at the page's own time
    # (its fake clock can be a few ms ahead of this process's, and pause_at refuses the past), plus a hair. Python's
    # pause_at reads a number as Unix time in SECONDS (milliseconds would jump ~50,000 years ahead, firing the renewal).
    page_now_ms = await alice.page.evaluate("Date.now()")
    await alice.page.clock.pause_at((page_now_ms + 50) / 1000)
    vends_before = len(tvm.vends_for("alice"))
    await asyncio.sleep(SHORT_TTL + 2)
    assert len(tvm.vends_for("alice")) == vends_before  # nothing renewed while asleep
    events.clear()
    # Awake: the wall clock is right again at once, and the first thing that happens is the person sending: before
    # any timer of the page has run (the clock resumes only once the message is out), so it is the publish itself
    # that must notice the sleep and wait for the renewal.
    await alice.page.clock.set_system_time(datetime.now())
    text = f"good morning {uuid.uuid4().hex[:6]}"
    await alice.send(text)
    await alice.page.clock.resume()
    await bob.wait_text(text)
    assert "publish sent" in events, events
    first_publish = events.index("publish sent")
    assert "token received" in events[:first_publish], events  # renewed first, then published once
    assert events.count("publish sent") == 1, events
    woke = await state(alice)
    assert woke["sleptMs"] >= SHORT_TTL * 1000, woke["sleptMs"]
    assert woke["renewalsBeforePublish"] == 1, woke["renewalsBeforePublish"]  # the publish waited for it
    assert len(tvm.vends_for("alice")) == vends_before + 1
    assert await bob.texts(text) == [text]
    tvm.say(f"\nafter {woke['sleptMs'] / 1000:.0f} s asleep: {events}")
    await context.close()
    await bob.close()
