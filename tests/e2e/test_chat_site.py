"""The chat site in Debian's headless chromium, against the `make dev` stack (devstack's `Stack`, the same code) on
free ports: verified senders, tiers, errors, token renewal without loss or repeats, HTML as text, and a Momento
outage survived.

The pages are driven through the UI (fill, press) and observed through `window.__chat`, the site's read-only test
hook (no credentials, no token in it). The page's CSP forbids eval, so every wait is a function string.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from devstack import Stack
from tests.e2e.chat_page import Chat, viewer_reads_but_cannot_send
from tests.e2e.stacks import stack_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    config = stack_config("LambdaAuthorizer")
    async with Stack(config) as running:
        assert running.info.site_content == "built site", "build the site first: make install-site"
        yield running


async def test_alice_and_bob_exchange_messages_shown_with_their_verified_names(stack: Stack, browser: Browser) -> None:
    alice = await Chat.open(browser, stack, "alice")
    await alice.login()
    await alice.wait_live()
    loaded = time.monotonic()
    bob = await Chat.open(browser, stack, "bob")
    await bob.login()
    await bob.wait_live()
    marker = uuid.uuid4().hex[:8]
    await alice.send(f"hello bob {marker}")
    await bob.wait_text(f"hello bob {marker}")
    print(f"\nbob: page load to first received message {time.monotonic() - loaded:.2f} s")
    await bob.send(f"hi alice {marker}")
    await alice.wait_text(f"hi alice {marker}")
    # Each page shows its own message when Momento echoes it back: wait for the echoes too, not only the others'.
    await alice.wait_text(f"hello bob {marker}")
    await bob.wait_text(f"hi alice {marker}")

    seen_by_alice = [(m["sender"], m["senderKind"], m["own"]) for m in await alice.messages() if marker in m["text"]]
    seen_by_bob = [(m["sender"], m["senderKind"], m["own"]) for m in await bob.messages() if marker in m["text"]]
    assert seen_by_alice == [("alice", "user", True), ("bob", "user", False)]
    assert seen_by_bob == [("alice", "user", False), ("bob", "user", True)]
    # The sender is on the page, not only in the hook.
    assert await bob.page.locator(".messages").get_by_text("alice", exact=True).count() >= 1
    for chat in (alice, bob):
        assert await chat.csp_violations() == []
        assert chat.errors == []
        await chat.close()


async def test_viewer_reads_but_cannot_send_and_the_page_says_why(stack: Stack, browser: Browser) -> None:
    await viewer_reads_but_cannot_send(browser, stack, "body")


async def test_a_wrong_password_shows_a_clear_error(stack: Stack, browser: Browser) -> None:
    mallory = await Chat.open(browser, stack, "mallory")
    await mallory.login("alice", "not-her-password")
    await mallory.wait("document.querySelector('#login-error').textContent !== ''")
    assert "Wrong username or password" in (await mallory.page.text_content("#login-error") or "")
    assert (await mallory.state())["connection"] != "live"
    await mallory.close()


async def test_html_and_script_in_a_message_are_shown_as_text(stack: Stack, browser: Browser) -> None:
    alice = await Chat.open(browser, stack, "alice")
    bob = await Chat.open(browser, stack, "bob")
    for chat in (alice, bob):
        await chat.login()
        await chat.wait_live()
    evil = f'<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>{uuid.uuid4().hex[:6]}</b>'
    await bob.send(evil)
    await alice.wait_text(evil)
    assert await alice.page.evaluate("() => window.__pwned ?? null") is None
    assert await alice.page.evaluate("() => document.querySelectorAll('.messages img, .messages script').length") == 0
    assert await alice.page.locator(".messages").get_by_text(evil, exact=True).count() == 1
    for chat in (alice, bob):
        await chat.close()


async def test_a_conversation_continues_across_token_refreshes_without_loss_or_repeats(
    stack: Stack, browser: Browser
) -> None:
    alice = await Chat.open(browser, stack, "alice", token_ttl=20)
    bob = await Chat.open(browser, stack, "bob", token_ttl=20)
    for chat in (alice, bob):
        await chat.login()
        await chat.wait_live()
    first = {chat.name: (await chat.state())["refreshCount"] for chat in (alice, bob)}
    assert (await alice.state())["tokenExpiresAt"] - time.time() <= 21
    marker = uuid.uuid4().hex[:8]
    sent: list[str] = []
    deadline = time.monotonic() + 90
    n = 0
    while time.monotonic() < deadline:
        refreshes = [(await chat.state())["refreshCount"] - first[chat.name] for chat in (alice, bob)]
        if min(refreshes) >= 2 and n >= 10:
            break
        sender = alice if n % 2 == 0 else bob
        text = f"{marker} #{n:03d} from {sender.name}"
        await sender.send(text)
        sent.append(text)
        n += 1
        await alice.page.wait_for_timeout(1500)
    assert min(refreshes) >= 2, f"refreshes {refreshes} in 90 s"
    for chat in (alice, bob):
        await chat.wait_text(sent[-1])
        assert await chat.texts(marker) == sent, chat.name  # every message, once, in order
        assert (await chat.state())["connection"] == "live"
    print(f"\n{len(sent)} messages across {refreshes} token refreshes")
    for chat in (alice, bob):
        await chat.close()


async def test_open_mode_guests_chat_under_their_display_names_marked_as_guests(browser: Browser) -> None:
    config = stack_config("Open")
    async with Stack(config) as open_stack:
        ann = await Chat.open(browser, open_stack, "ann")
        ben = await Chat.open(browser, open_stack, "ben")
        for chat, display in ((ann, "Ann"), (ben, "alice")):  # a guest may call itself alice, and stays a guest
            await chat.page.fill("#login-name", display)
            await chat.page.press("#login-name", "Enter")
            await chat.wait_live()
        assert (await ann.state())["tokenId"] == "guest:Ann"
        marker = uuid.uuid4().hex[:8]
        await ben.send(f"{marker} I am not really alice")
        await ann.wait_text(f"{marker} I am not really alice")
        seen = [(m["tokenId"], m["senderKind"]) for m in await ann.messages() if marker in m["text"]]
        assert seen == [("guest:alice", "guest")]
        assert await ann.page.locator(".messages .badge--guest").count() >= 1
        for chat in (ann, ben):
            await chat.close()


async def test_the_pages_reconnect_after_the_emulator_restarts(stack: Stack, browser: Browser) -> None:
    """Last in this module: it restarts the shared stack's emulator."""
    alice = await Chat.open(browser, stack, "alice")
    bob = await Chat.open(browser, stack, "bob")
    for chat in (alice, bob):
        await chat.login()
        await chat.wait_live()
    marker = uuid.uuid4().hex[:8]
    await alice.send(f"{marker} before")
    await bob.wait_text(f"{marker} before")

    await stack.restart_emulator()
    for chat in (alice, bob):
        await chat.wait("window.__chat.state().connection === 'live'", 45)
        # A resubscribed room has no history: wait until each page's room subscription is back.
        await chat.wait(
            "(s => s.rooms.some(r => r.room === s.activeRoom && r.status === 'live'))(window.__chat.state())", 45
        )
    await alice.page.wait_for_timeout(1000)
    await alice.send(f"{marker} after 1")
    await bob.wait_text(f"{marker} after 1", 45)
    await bob.send(f"{marker} after 2")
    await alice.wait_text(f"{marker} after 2", 45)
    for chat in (alice, bob):
        assert await chat.texts(marker) == [f"{marker} before", f"{marker} after 1", f"{marker} after 2"]
        await chat.close()
