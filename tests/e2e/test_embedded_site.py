"""The chat site in its Session mode, served by the example app (examples/fastapi_chat) under uvicorn on a free port,
in Debian's headless chromium: people sign in on the app's own login page, chat with verified names, renew their
tokens with the session cookie, and sign out through the app.

The pages are driven through the UI and observed through `window.__chat` (tests/e2e/chat_page.py), as in the other
browser tests; Momento is the session's emulator (its grpc-web port).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser

from momento_emulator.testing import EmulatorThread
from tests.e2e.chat_page import PASSWORDS, RECORD_CSP_VIOLATIONS, Chat
from tests.e2e.example_app import serve_example_app

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

TOKEN_TTL_SECONDS = 10  # the shortest the site may ask for: a renewal within about 8 s


@pytest.fixture(scope="module")
def app_url(emulator_thread: EmulatorThread) -> Iterator[str]:
    """The example app under uvicorn (its own thread and event loop) on a free port of 127.0.0.1."""
    with serve_example_app(emulator_thread, TOKEN_TTL_SECONDS) as url:
        yield url


async def signed_in(browser: Browser, app_url: str, name: str) -> Chat:
    """A browser of its own for `name`: the chat's signed-out screen, its Sign in link to the app's login page,
    the form, and back to the chat, live."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.add_init_script(RECORD_CSP_VIOLATIONS)
    chat = Chat(page, name)
    await page.goto(f"{app_url}/?room=room-lobby")
    await chat.wait("window.__chat && window.__chat.state().view === 'signed-out'")
    await page.get_by_role("link", name="Sign in").click()
    await page.wait_for_url(f"{app_url}/login?next=*")
    await page.get_by_label("Username").fill(name)
    await page.get_by_label("Password").fill(PASSWORDS[name])
    await page.get_by_role("button", name="Sign in").click()
    await chat.wait_live()
    assert page.url.startswith(f"{app_url}/?room=room-lobby"), "the login page brings the person back"
    return chat


async def test_alice_and_bob_sign_in_on_the_apps_page_and_see_each_others_verified_messages(
    browser: Browser, app_url: str
) -> None:
    alice = await signed_in(browser, app_url, "alice")
    bob = await signed_in(browser, app_url, "bob")
    marker = uuid.uuid4().hex[:8]
    await alice.send(f"hello bob {marker}")
    await bob.wait_text(f"hello bob {marker}")
    await bob.send(f"hi alice {marker}")
    await alice.wait_text(f"hi alice {marker}")
    await alice.wait_text(f"hello bob {marker}")  # each page's own message, echoed back by Momento
    await bob.wait_text(f"hi alice {marker}")

    seen_by_alice = [(m["sender"], m["senderKind"], m["own"]) for m in await alice.messages() if marker in m["text"]]
    seen_by_bob = [(m["sender"], m["senderKind"], m["own"]) for m in await bob.messages() if marker in m["text"]]
    assert seen_by_alice == [("alice", "user", True), ("bob", "user", False)]
    assert seen_by_bob == [("alice", "user", False), ("bob", "user", True)]
    assert await bob.page.locator(".messages").get_by_text("alice", exact=True).count() >= 1
    state = await alice.state()
    assert (state["tokenId"], state["tier"], state["role"]) == ("alice", "readwrite", "publish_subscribe")
    for chat in (alice, bob):
        assert await chat.csp_violations() == []
        assert chat.errors == []
        await chat.close()


async def test_tokens_renew_with_the_cookie_and_log_out_ends_the_apps_session(browser: Browser, app_url: str) -> None:
    viewer = await signed_in(browser, app_url, "viewer")
    state = await viewer.state()
    assert (state["tier"], state["canSend"]) == ("readonly", False)
    assert state["tokenExpiresAt"] - time.time() <= TOKEN_TTL_SECONDS + 1
    await viewer.wait("window.__chat.state().refreshCount >= 1", TOKEN_TTL_SECONDS + 5)  # renewed, cookie and all
    await viewer.wait_live()

    await viewer.page.get_by_role("button", name="Log out").click()
    await viewer.wait("window.__chat.state().view === 'signed-out'")
    await viewer.wait("document.querySelector('#login-notice')?.textContent.includes('signed out')")
    # The app ended the session (the browser's same-origin POST passed its Origin/Sec-Fetch-Site check).
    after = await viewer.page.request.get(f"{app_url}/api/momento/token?topics=room-lobby")
    assert after.status == 401
    assert await viewer.csp_violations() == []
    assert viewer.errors == []
    await viewer.close()
