"""An operator's cut-off, in headless chromium against the offline stack: `python -m tvm_users revoke|pause --local`
run as an operator runs it while people chat, and heard on the control channel (docs/api.md "Control channel").

- Revoking alice while she chats in two tabs of one browser: both tabs drop the token and say so within 2 s (the
  leading tab heard it on her control topic and told the other), no vend for her succeeds afterwards (counted at the
  TVM), and bob, in another browser, chats on. `restore` lets her sign in again.
- Pausing and resuming the readonly tier with 20 viewer pages (20 browsers): every one drops its token; after the
  resume they come back spread out, never more than 5 vends in any second at the TVM, all within the window.
- A readwrite user's forgery, published with her own token on every kind of topic she may publish to (alice's
  control topics, her own, the room), moves nobody: the page obeys only a message without a publisher id.
- During a global pause a sign-in gets the pause's message, and `resume` lets it in.

Vends are counted at the TVM (the local API's access log and the vending function's `token issued` lines:
tests/e2e/test_tabs_and_renewal.py's TvmRecord); streams with Chrome DevTools Protocol network events (its Streams).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any, Final

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from devstack import Stack
from momento_tvm.control import message
from tests.e2e.chat_page import PASSWORDS, Chat
from tests.e2e.stacks import stack_config
from tests.e2e.test_tabs_and_renewal import (
    SIMULATED_VISIBILITY,
    START_HIDDEN,
    Streams,
    TvmRecord,
    continue_as,
    new_browser,
    recording_tvm,
    signed_in,
)
from tests.integration.test_revocation_local import tvm_users
from tests.sdk_rights import emulator_provider, publish

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# static_site/src/tvm.ts's BLOCKED_TEXT and notices.ts's control notices, as a person reads them.
REVOKED_TEXT = "Your access to the chat has been revoked. Contact the site's administrator."
PAUSED_TEXT = "The chat is paused. Try again later."
REVOKED_NOTICE = "Your access was revoked by the site's operator. Contact them to get it back."
PAUSED_NOTICE = "The chat was paused by the operator. This page comes back by itself when it resumes."
CUT_OFF_WITHIN_S: Final = 2.0  # the bound: every tab of a revoked user says so within 2 s
VIEWERS: Final = 20
MOMENTO_MINTS_PER_SECOND: Final = 5  # Momento's default auth rate per account (../shared/design/production.md)
# control.ts: the first ask waits 5-10 s, the next 10-20 s more (RESUME_POLL), then a random part of 30 s
# (RESUME_SPREAD_MS); a page paused just before the resume may have asked once in vain.
RESUME_WINDOW_S: Final = 10 + 20 + 30 + 10  # and 10 s for 20 pages to vend, subscribe and render on 2 cores


def token_requests(page: Page) -> list[int]:
    """The statuses of every `GET /token` (not explain) the page makes from now on, appended as they come."""
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: (
            statuses.append(r.status)
            if "/token" in r.url and "/token/explain" not in r.url and r.request.method == "GET"
            else None
        ),
    )
    return statuses


async def text_of(chat: Chat, selector: str) -> str:
    return (await chat.page.text_content(selector)) or ""


async def wait_for_text(chat: Chat, selector: str, text: str, timeout_s: float = 20) -> None:
    await chat.wait(
        f"(document.querySelector({json.dumps(selector)})?.textContent || '').includes({json.dumps(text)})", timeout_s
    )


async def cut_off(chat: Chat, notice: str, timeout_s: float) -> float:
    """Waits until the page has dropped its token and shows `notice`; when (time.monotonic())."""
    await chat.wait(
        "window.__chat.state().tokenId === null && window.__chat.state().streams === 0 && "
        f"(document.querySelector('#login-notice')?.textContent || '') === {json.dumps(notice)}",
        timeout_s,
    )
    return time.monotonic()


async def token_answer(stack: Stack, user: str) -> dict[str, Any]:
    """A token for `user` as any client gets it (HTTP Basic): the answer, with its control topics."""
    credentials = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{stack.api_url}/token", headers={"Authorization": f"Basic {credentials}"}) as response,
    ):
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
    return answer


async def test_revoking_alice_clears_both_her_tabs_within_2_s_and_bob_chats_on(
    browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Stack(stack_config("LambdaAuthorizer")) as stack:
        assert stack.info.site_content == "built site", "build the site first: make install-site"
        with recording_tvm(capsys) as tvm:
            await _revoke_alice(browser, stack, tvm)


async def _revoke_alice(browser: Browser, stack: Stack, tvm: TvmRecord) -> None:
    streams = Streams()
    alices = await new_browser(browser)
    first = await Chat.tab(alices, stack.site_url, "alice-1", init_scripts=(SIMULATED_VISIBILITY,))
    await streams.watch(first)
    statuses = token_requests(first.page)
    await signed_in(first, "alice")
    # The second tab is in the background, as a second tab is (headless pages are always visible otherwise).
    second = await Chat.tab(alices, stack.site_url, "alice-2", init_scripts=(START_HIDDEN, SIMULATED_VISIBILITY))
    await streams.watch(second)
    await continue_as(second, "alice")
    bob = await signed_in(await Chat.open(browser, stack, "bob"))
    marker = uuid.uuid4().hex[:8]
    await first.send(f"{marker} before")
    await bob.wait_text(f"{marker} before")

    # One listener for alice in her browser: the leading tab holds her 3 control streams (her own, readwrite's,
    # everyone's) beside its 2 rooms; the background tab holds none.
    for chat, role, control, rooms in ((first, "leader", 3, 1), (second, "follower", 0, 0)):
        await chat.wait(f"window.__chat.state().controlStreams === {control}")
        seen = await chat.state()
        assert (seen["tabRole"], seen["controlStreams"], seen["streams"]) == (role, control, rooms), seen
    await streams.wait({"alice-1": 4, "alice-2": 0})
    before = sum(streams.now("alice-1", "alice-2"))
    vends_before = len(tvm.vends_for("alice"))
    assert vends_before == 1, tvm.issued

    status, out, err, ended = await tvm_users(stack, "revoke", "alice", "--reason", "e2e")
    assert (status, err) == (0, ""), err
    assert out == "revoked alice (until lifted): e2e; open clients told\n", out
    seen_at = await asyncio.gather(*(cut_off(chat, REVOKED_NOTICE, 10) for chat in (first, second)))
    slowest = max(seen_at) - ended
    tvm.say(f"\nrevoked alice: both tabs dropped the token {slowest:.2f} s after the command returned")
    assert slowest <= CUT_OFF_WITHIN_S, slowest
    await streams.wait({"alice-1": 0, "alice-2": 0})
    tvm.say(f"alice's browser: {before} streams open before (rooms and control), 0 after")

    # Nothing is asked again on its own, and a sign-in (every way to a vend the page has) is refused: no vend for
    # alice succeeds at the TVM.
    asked = len(statuses)
    await first.page.wait_for_timeout(3_000)
    assert len(statuses) == asked, statuses
    await first.login("alice")
    await wait_for_text(first, "#login-error", REVOKED_TEXT)
    assert statuses[-1] == 403, statuses
    assert len(tvm.vends_for("alice")) == vends_before, tvm.issued

    # Bob chats on, with his own tokens.
    await bob.send(f"{marker} bob after")
    await bob.wait_text(f"{marker} bob after")
    assert (await bob.state())["view"] == "chat"

    status, out, _, _ = await tvm_users(stack, "restore", "alice")
    assert (status, out) == (0, "restored alice; open clients told\n")
    await first.login("alice")
    await first.wait_live()
    await first.send(f"{marker} restored")
    await bob.wait_text(f"{marker} restored")
    assert first.errors == [] and second.errors == [] and bob.errors == []
    await alices.close()
    await bob.close()


async def test_a_users_forged_cut_off_on_every_topic_she_may_publish_to_moves_nobody(browser: Browser) -> None:
    async with Stack(stack_config("LambdaAuthorizer")) as stack:
        alice = await signed_in(await Chat.open(browser, stack, "alice"))
        await alice.wait("window.__chat.state().controlStreams === 3")
        room = (await alice.state())["activeRoom"]
        # bob's tier (readwrite) may publish to every topic of the cache: alice's control topics (her own, the
        # tier's, everyone's: the names of the answer any of her tokens gets), his own, and the room.
        theirs = (await token_answer(stack, "alice"))["control"]["topics"]
        bobs = await token_answer(stack, "bob")
        topics = [*theirs, *bobs["control"]["topics"], room]
        assert len(set(topics)) == 5  # alice's own, bob's own, the tier's, everyone's, the room
        provider = emulator_provider(bobs["authToken"], stack.info.momento_grpc_port)
        for topic in topics:
            for event in ("revoked", "paused"):
                published = await publish(provider, stack.info.cache_name, topic, message(event))
                assert published, topic  # Momento took it: only the page can refuse it
        await alice.page.wait_for_timeout(3_000)
        seen = await alice.state()
        assert (seen["view"], seen["connection"], seen["controlStreams"]) == ("chat", "live", 3), seen
        marker = uuid.uuid4().hex[:8]
        await alice.send(f"{marker} still here")
        await alice.wait_text(f"{marker} still here")
        assert alice.errors == []
        await alice.close()


def busiest_second(times: list[float]) -> int:
    """The most of `times` (seconds) within any one-second window."""
    ordered = sorted(times)
    return max((sum(1 for u in ordered[i:] if u - t < 1.0) for i, t in enumerate(ordered)), default=0)


async def test_pausing_and_resuming_readonly_with_20_viewers_spreads_their_return(
    browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Stack(stack_config("LambdaAuthorizer")) as stack:
        viewers = []
        for n in range(VIEWERS):
            viewer = await Chat.open(browser, stack, f"viewer-{n}")
            await viewer.login("viewer")
            viewers.append(viewer)
        for viewer in viewers:
            await viewer.wait_live(30)
            await viewer.wait("window.__chat.state().controlStreams === 3")
        with recording_tvm(capsys) as tvm:
            status, out, err, ended = await tvm_users(stack, "pause", "readonly", "--reason", "e2e")
            assert (status, err) == (0, ""), err
            assert out == "paused tier readonly (until lifted): e2e; open clients told\n", out
            paused_at = await asyncio.gather(*(cut_off(viewer, PAUSED_NOTICE, 15) for viewer in viewers))
            tvm.say(f"\npaused readonly: {VIEWERS} viewers dropped the token within {max(paused_at) - ended:.2f} s")
            assert max(paused_at) - ended <= CUT_OFF_WITHIN_S * 2.5  # 20 pages on 2 cores
            assert tvm.vends() == []

            status, out, _, resumed = await tvm_users(stack, "resume", "readonly")
            assert (status, out) == (0, "resumed tier readonly; open clients told\n")
            await asyncio.gather(*(viewer.wait_live(RESUME_WINDOW_S) for viewer in viewers))
            back = time.monotonic() - resumed
            vends = tvm.vends()
            tvm.say(
                f"resumed readonly: all {VIEWERS} back {back:.1f} s after the command; "
                f"{len(vends)} vends over {max(vends) - min(vends):.1f} s, at most {busiest_second(vends)} in a second"
            )
            assert len(vends) == VIEWERS, tvm.access
            assert busiest_second(vends) <= MOMENTO_MINTS_PER_SECOND
            assert back <= RESUME_WINDOW_S
        for viewer in viewers:
            assert viewer.errors == []
            await viewer.close()


async def test_a_global_pause_refuses_sign_in_with_its_message_and_resume_lets_it_in(browser: Browser) -> None:
    async with Stack(stack_config("LambdaAuthorizer")) as stack:
        status, out, _, _ = await tvm_users(stack, "pause", "--all", "--reason", "e2e")
        assert (status, out) == (0, "paused all vending (until lifted): e2e; open clients told\n")
        viewer = await Chat.open(browser, stack, "viewer")
        await viewer.login()
        await wait_for_text(viewer, "#login-error", PAUSED_TEXT)
        assert await text_of(viewer, "#login-error") == PAUSED_TEXT

        status, out, _, _ = await tvm_users(stack, "resume", "--all")
        assert (status, out) == (0, "resumed all vending; open clients told\n")
        await viewer.login()
        await viewer.wait_live()
        assert viewer.errors == []
        await viewer.close()
