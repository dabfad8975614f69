"""The chat site's phone layout and accessibility, in Debian's headless chromium: axe-core (pinned in
static_site/package.json) finds no violation on any page of any mode at 390 x 844 (a phone) and 1280 x 800, the
conversation keeps most of a phone's screen (the rooms are a drawer), the newest message stays in view when an
on-screen keyboard shortens the viewport, the drawer works from the keyboard, and the words say what is true.

One stack per mode, started once: LambdaAuthorizer (`lambda_stack`, shared by most tests; its emulator is killed by
the last test), and Open, AmazonCognito and Session mode (the example app) each within its test. axe runs in the
page as served, under its CSP: its script is served from the page's own origin by a Playwright route.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, ViewportSize

from devstack import Stack, StackConfig
from devstack.config import RestartPolicy
from momento_emulator.testing import EmulatorThread
from tests.e2e.chat_page import RECORD_CSP_VIOLATIONS, Chat
from tests.e2e.example_app import serve_example_app
from tests.e2e.stacks import stack_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

AXE_SCRIPT: Final = Path(__file__).resolve().parents[2] / "static_site" / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH: Final = "/__axe__/axe.min.js"  # served by a route on each page's own origin (script-src 'self')
PHONE: Final[ViewportSize] = {"width": 390, "height": 844}
KEYBOARD: Final[ViewportSize] = {"width": 390, "height": 500}  # a phone with its on-screen keyboard open
DESKTOP: Final[ViewportSize] = {"width": 1280, "height": 800}
SIZES: Final = (PHONE, DESKTOP)
# The emulator, once killed by the last test, comes back after this long: the pages have time to say it is down.
RESTART_DELAY_SECONDS: Final = 8.0

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n').slice(-1)[0]),
  }));
}"""

# Where each part of the chat is, in CSS pixels, and whether the newest message is inside the visible scroller.
GEOMETRY = """() => {
  const box = selector => {
    const e = document.querySelector(selector);
    if (e === null || e.getClientRects().length === 0) return null;
    const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height};
  };
  const items = document.querySelectorAll('.messages > li');
  const last = items.length ? items[items.length - 1].getBoundingClientRect() : null;
  const scroller = box('.messages__scroller');
  return {
    viewport: window.innerHeight,
    visualViewport: window.visualViewport ? window.visualViewport.height : null,
    appHeightVar: getComputedStyle(document.documentElement).getPropertyValue('--viewport-height'),
    scrollY: window.scrollY,
    topbar: box('.topbar'), roomHeader: box('.room__header'), scroller, composer: box('.composer'),
    drawer: box('#rooms-drawer'),
    newestVisible: last !== null && scroller !== null && last.top >= scroller.top - 1 &&
      last.bottom <= scroller.bottom + 1 && last.bottom <= window.innerHeight,
  };
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def lambda_stack() -> AsyncIterator[Stack]:
    config = stack_config(
        "LambdaAuthorizer",
        restart=RestartPolicy(first_delay_seconds=RESTART_DELAY_SECONDS, max_delay_seconds=RESTART_DELAY_SECONDS),
    )
    async with Stack(config) as running:
        assert running.info.site_content == "built site", "build the site first: make install-site"
        yield running


def open_stack_config(auth: str) -> StackConfig:
    return stack_config(auth)


async def serve_axe(page: Page) -> None:
    """axe-core from static_site/node_modules, on the page's own origin (the site's CSP allows only 'self')."""
    assert AXE_SCRIPT.is_file(), "axe-core is a devDependency of the site: cd static_site && npm ci"
    script = AXE_SCRIPT.read_text()

    async def fulfil(route: Route) -> None:
        await route.fulfill(status=200, content_type="text/javascript", body=script)

    await page.route(f"**{AXE_PATH}", fulfil)


async def new_page(browser: Browser, viewport: ViewportSize = PHONE) -> Page:
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    await page.add_init_script(RECORD_CSP_VIOLATIONS)
    await serve_axe(page)
    return page


async def chat_page(browser: Browser, stack: Stack, name: str, viewport: ViewportSize = PHONE) -> Chat:
    chat = await Chat.open(browser, stack, name, viewport=viewport)
    await serve_axe(chat.page)
    return chat


async def settle(page: Page) -> None:
    """Two animation frames: layout, resize observers and the viewport's resize event have run."""
    await page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


async def axe_violations(page: Page, label: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (empty: none)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        origin = await page.evaluate("() => location.origin")
        await page.add_script_tag(url=f"{origin}{AXE_PATH}")
    found: list[dict[str, Any]] = await page.evaluate(AXE_RUN)
    size = page.viewport_size or {"width": 0, "height": 0}
    return [f"{label} at {size['width']}x{size['height']}: {json.dumps(v)}" for v in found]


async def axe_at_both_sizes(page: Page, label: str) -> list[str]:
    """Violations at 390 x 844 and at 1280 x 800 (the page is left at 390 x 844)."""
    found: list[str] = []
    for size in (DESKTOP, PHONE):
        await page.set_viewport_size(size)
        await settle(page)
        found += await axe_violations(page, label)
    return found


async def csp_violations(page: Page) -> list[str]:
    result: list[str] = await page.evaluate("() => window.__csp || []")
    return result


async def geometry(page: Page) -> dict[str, Any]:
    await settle(page)
    result: dict[str, Any] = await page.evaluate(GEOMETRY)
    return result


async def signed_in(browser: Browser, stack: Stack, name: str, viewport: ViewportSize = PHONE) -> Chat:
    chat = await chat_page(browser, stack, name, viewport)
    await chat.login()
    await chat.wait_live()
    await chat.wait("(s => s.rooms.some(r => r.room === s.activeRoom && r.status === 'live'))(window.__chat.state())")
    return chat


# --- every page of every mode, axe-clean at both sizes ------------------------------------------------------------


async def test_the_not_configured_page_is_axe_clean(lambda_stack: Stack, browser: Browser) -> None:
    page = await new_page(browser)

    async def unconfigured(route: Route) -> None:  # a config.js that sets nothing, as a half-done deployment serves
        await route.fulfill(status=200, content_type="text/javascript", body="// nothing here\n")

    await page.route("**/config.js", unconfigured)
    await page.goto(lambda_stack.site_url)
    await page.wait_for_function("() => window.__chat && window.__chat.state().view === 'config-error'")
    assert await axe_at_both_sizes(page, "not configured") == []
    await page.context.close()


async def test_the_sign_in_page_and_its_error_are_axe_clean(lambda_stack: Stack, browser: Browser) -> None:
    mallory = await chat_page(browser, lambda_stack, "mallory")
    await mallory.page.wait_for_selector("#login-username")
    found = await axe_at_both_sizes(mallory.page, "sign-in")
    await mallory.login("alice", "not-her-password")
    await mallory.wait("document.querySelector('#login-error').textContent !== ''")
    found += await axe_at_both_sizes(mallory.page, "sign-in, wrong password")
    assert found == []
    assert await csp_violations(mallory.page) == []
    await mallory.close()


async def test_the_chat_is_axe_clean_with_messages_with_the_drawer_open_and_with_no_room(
    lambda_stack: Stack, browser: Browser
) -> None:
    alice = await signed_in(browser, lambda_stack, "alice")
    bob = await signed_in(browser, lambda_stack, "bob", DESKTOP)
    marker = uuid.uuid4().hex[:8]
    await alice.send(f"{marker} hello bob")
    await bob.send(f"{marker} hi alice, a longer message that wraps onto a second line on a phone")
    await alice.wait_text(f"{marker} hi alice, a longer message that wraps onto a second line on a phone")
    found = await axe_at_both_sizes(alice.page, "chat with messages")
    await alice.page.emulate_media(color_scheme="dark")  # the dark palette's contrast too
    found += await axe_at_both_sizes(alice.page, "chat with messages, dark")
    await alice.page.emulate_media(color_scheme="light")

    # The message list's markup: a log region holding a real list of items (axe's listitem / aria-allowed-role).
    assert await alice.page.evaluate(
        "() => [...document.querySelectorAll('[role=log] > ol.messages > li.msg')].length"
    ) == len(await alice.messages())

    await alice.page.click("#rooms-toggle")
    await alice.wait("document.querySelector('#rooms-toggle').getAttribute('aria-expanded') === 'true'")
    found += await axe_violations(alice.page, "chat, drawer open")
    await alice.page.keyboard.press("Escape")

    await alice.page.click("text=Leave room")
    await alice.wait("window.__chat.state().activeRoom === null")
    found += await axe_at_both_sizes(alice.page, "chat, no room open")
    assert found == []
    for chat in (alice, bob):
        assert await csp_violations(chat.page) == []
        assert chat.errors == []
        await chat.close()


async def test_open_mode_name_page_and_guest_chat_are_axe_clean(browser: Browser) -> None:
    async with Stack(open_stack_config("Open")) as stack:
        guest = await chat_page(browser, stack, "ann")
        await guest.page.wait_for_selector("#login-name")
        found = await axe_at_both_sizes(guest.page, "name page (Open)")
        await guest.page.fill("#login-name", "Ann")
        await guest.page.press("#login-name", "Enter")
        await guest.wait_live()
        await guest.send(f"{uuid.uuid4().hex[:8]} a guest's message")
        await guest.wait("window.__chat.messages().length >= 1")
        found += await axe_at_both_sizes(guest.page, "guest chat (Open)")
        assert found == []
        assert await csp_violations(guest.page) == []
        await guest.close()


async def test_the_cognito_sign_in_page_is_axe_clean(browser: Browser) -> None:
    async with Stack(open_stack_config("AmazonCognito")) as stack:
        assert stack.info.site_content == "built site", "build the site first: make install-site"
        visitor = await chat_page(browser, stack, "alice")
        await visitor.page.wait_for_selector("#login-username")
        assert "Amazon Cognito" in (await visitor.page.text_content(".card") or "")
        assert await axe_at_both_sizes(visitor.page, "sign-in (AmazonCognito)") == []
        assert await csp_violations(visitor.page) == []
        await visitor.close()


async def test_the_session_mode_signed_out_screen_is_axe_clean(
    browser: Browser, emulator_thread: EmulatorThread
) -> None:
    with serve_example_app(emulator_thread, token_ttl_seconds=60) as app_url:
        page = await new_page(browser)
        await page.goto(f"{app_url}/?room=room-lobby")
        await page.wait_for_function("() => window.__chat && window.__chat.state().view === 'signed-out'")
        assert await axe_at_both_sizes(page, "signed-out screen (Session)") == []
        assert await csp_violations(page) == []
        await page.context.close()


# --- the phone layout ----------------------------------------------------------------------------------------------


async def test_on_a_phone_the_conversation_keeps_most_of_the_screen_and_the_newest_message_stays_in_view(
    lambda_stack: Stack, browser: Browser
) -> None:
    alice = await signed_in(browser, lambda_stack, "alice")
    marker = uuid.uuid4().hex[:8]
    for n in range(12):  # more than a screenful
        await alice.send(f"{marker} message {n:02d}")
    await alice.wait_text(f"{marker} message 11")
    phone = await geometry(alice.page)
    share = phone["scroller"]["height"] / phone["viewport"]
    assert share >= 0.6, phone
    assert phone["drawer"] is None  # the room list is in the closed drawer, not above the conversation
    assert phone["composer"]["bottom"] <= phone["viewport"] + 0.5  # pinned at the bottom, on screen
    assert phone["newestVisible"], phone

    # The on-screen keyboard opens (the viewport shrinks with the focus in the composer): the newest message stays.
    await alice.page.focus("#composer-input")
    await alice.page.set_viewport_size(KEYBOARD)
    keyboard = await geometry(alice.page)
    assert keyboard["appHeightVar"].strip() == f"{KEYBOARD['height']}px", keyboard  # follows visualViewport
    assert keyboard["scrollY"] == 0, keyboard  # the page itself does not scroll: the header stays
    assert keyboard["composer"]["bottom"] <= KEYBOARD["height"] + 0.5, keyboard
    assert keyboard["scroller"]["height"] / KEYBOARD["height"] >= 0.6, keyboard
    assert keyboard["newestVisible"], keyboard
    await alice.send(f"{marker} sent with the keyboard open")
    await alice.wait_text(f"{marker} sent with the keyboard open")
    after_send = await geometry(alice.page)
    assert after_send["newestVisible"], after_send
    assert await alice.page.evaluate("() => document.activeElement.id") == "composer-input"

    await alice.page.set_viewport_size(DESKTOP)
    desktop = await geometry(alice.page)
    assert desktop["drawer"] is not None and desktop["drawer"]["height"] > 0  # the room list is beside it
    assert not await alice.page.is_visible("#rooms-toggle")
    assert await csp_violations(alice.page) == []  # the height is set through CSSOM, which the CSP allows
    print(
        f"\nmessages get {phone['scroller']['height']:.0f} of {phone['viewport']} px at 390x844 ({share:.0%}), "
        f"{keyboard['scroller']['height']:.0f} of {KEYBOARD['height']} px with the keyboard open; "
        f"header {phone['topbar']['height']:.0f} + room header {phone['roomHeader']['height']:.0f} px"
    )
    assert alice.errors == []
    await alice.close()


async def test_the_rooms_drawer_opens_and_closes_from_the_keyboard(lambda_stack: Stack, browser: Browser) -> None:
    alice = await signed_in(browser, lambda_stack, "alice")
    page = alice.page
    expanded = "() => document.querySelector('#rooms-toggle').getAttribute('aria-expanded')"
    focus_in_drawer = "() => document.querySelector('#rooms-drawer').contains(document.activeElement)"
    assert await page.get_attribute("#rooms-toggle", "aria-controls") == "rooms-drawer"
    assert await page.evaluate(expanded) == "false"
    assert not await page.is_visible("#rooms-drawer")

    await page.focus("#rooms-toggle")
    await page.keyboard.press("Enter")
    assert await page.evaluate(expanded) == "true"
    assert await page.is_visible("#rooms-drawer")
    assert await page.evaluate(focus_in_drawer)  # the open room's button
    assert await page.evaluate("() => document.activeElement.getAttribute('data-room')") == "room-lobby"
    assert await page.evaluate("() => document.querySelector('main').inert")  # the conversation waits behind it
    await page.keyboard.press("Tab")
    assert await page.evaluate(focus_in_drawer)

    await page.keyboard.press("Escape")
    assert await page.evaluate(expanded) == "false"
    assert not await page.is_visible("#rooms-drawer")
    assert await page.evaluate("() => document.activeElement.id") == "rooms-toggle"
    assert not await page.evaluate("() => document.querySelector('main').inert")

    # Open it again and join a room by typing: the drawer closes on the new room, the focus is in its composer.
    await page.keyboard.press("Enter")
    await page.focus("#join-room")
    room = f"drawer-{uuid.uuid4().hex[:6]}"
    await page.keyboard.type(room)
    await page.keyboard.press("Enter")
    await alice.wait(f"window.__chat.state().activeRoom === 'room-{room}'")
    assert await page.evaluate(expanded) == "false"
    assert await page.evaluate("() => document.activeElement.id") == "composer-input"

    # The button also closes what it opened, and the focus stays on it.
    await page.focus("#rooms-toggle")
    await page.keyboard.press("Space")
    assert await page.evaluate(expanded) == "true"
    await page.focus("#rooms-toggle")
    await page.keyboard.press("Space")
    assert await page.evaluate(expanded) == "false"
    assert await page.evaluate("() => document.activeElement.id") == "rooms-toggle"

    # With the drawer closed, the Rooms button tells of new messages in another room (room-lobby, still subscribed).
    bob = await signed_in(browser, lambda_stack, "bob", DESKTOP)
    await bob.send(f"{uuid.uuid4().hex[:8]} for alice, in the lobby")
    await alice.wait("window.__chat.state().rooms.some(r => r.room === 'room-lobby' && r.unread === 1)")
    assert await page.locator("#rooms-toggle").aria_snapshot() == '- button "Rooms (1 unread)"'
    for chat in (alice, bob):
        assert chat.errors == []
        await chat.close()


# --- the words -----------------------------------------------------------------------------------------------------


async def test_the_header_and_the_session_line_say_what_is_true(lambda_stack: Stack, browser: Browser) -> None:
    alice = await signed_in(browser, lambda_stack, "alice", DESKTOP)
    page = alice.page
    summary = await page.text_content("#session-status .session__summary")
    assert summary == "Access renews automatically"
    status = await page.text_content("#session-status") or ""
    assert "Next renewal in " in status and "Token valid for " in status, status
    assert " left" not in (await page.text_content("body") or "")

    # Leave every room: the header says no room is open, and nothing else ("# No room open · live" was untrue).
    while (await alice.state())["activeRoom"] is not None:
        await page.click("text=Leave room")
        await page.wait_for_timeout(50)
    heading = await page.evaluate(
        "() => { const h = document.querySelector('.room__header'); return h.innerText.replace(/\\s+/g, ' ').trim(); }"
    )
    assert heading == "No room open", heading
    assert await page.is_visible("text=No room open. Join one, or pick a recent one, under Rooms.")
    body = await page.text_content("body") or ""
    assert "later issue" not in body
    await alice.close()


# --- last: it kills the shared stack's emulator --------------------------------------------------------------------


async def test_the_service_unreachable_notice_is_axe_clean(lambda_stack: Stack, browser: Browser) -> None:
    alice = await signed_in(browser, lambda_stack, "alice")
    pid = lambda_stack.child_pid("emulator")
    assert pid is not None
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)  # make dev's supervisor brings it back after RESTART_DELAY_SECONDS
    await alice.wait("window.__chat.state().connection === 'unreachable'", RESTART_DELAY_SECONDS - 2)
    assert time.monotonic() - killed < RESTART_DELAY_SECONDS
    assert "Chat service unreachable" in (await alice.page.text_content(".connection") or "")
    assert await axe_at_both_sizes(alice.page, "chat service unreachable") == []
    await alice.close()
