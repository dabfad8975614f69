"""An operator's cut-off, in headless chromium against the offline stack: `python -m tvm_users revoke|pause --local`
run as an operator runs it while people chat.

- A revoked user's tab is signed out at its next renewal with the page's own message for `403 revoked` (never the
  generic refusal), asks for no more tokens, and signing in again says the same; another user chats on. `restore`
  lets her sign in again.
- During a global pause a sign-in gets the pause's message, and `resume` lets it in.
"""

from __future__ import annotations

import json
import uuid

import pytest
from playwright.async_api import Browser, Page

from devstack import Stack
from tests.e2e.chat_page import Chat
from tests.e2e.stacks import stack_config
from tests.integration.test_revocation_local import tvm_users

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

# static_site/src/tvm.ts's BLOCKED_TEXT, as a person reads it.
REVOKED_TEXT = "Your access to the chat has been revoked. Contact the site's administrator."
PAUSED_TEXT = "The chat is paused. Try again later."


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


async def test_a_revoked_user_is_signed_out_at_renewal_with_its_own_message_and_restore_lets_her_back(
    browser: Browser,
) -> None:
    async with Stack(stack_config("LambdaAuthorizer")) as stack:
        assert stack.info.site_content == "built site", "build the site first: make install-site"
        bob = await Chat.open(browser, stack, "bob")
        await bob.login()
        await bob.wait_live()
        alice = await Chat.open(browser, stack, "alice", token_ttl=10)  # renews at about 5 s
        statuses = token_requests(alice.page)
        await alice.login()
        await alice.wait_live()
        marker = uuid.uuid4().hex[:8]
        await alice.send(f"{marker} before")
        await bob.wait_text(f"{marker} before")

        status, out, err, _ = await tvm_users(stack, "revoke", "alice", "--reason", "e2e")
        assert (status, err) == (0, ""), err
        assert out == "revoked alice (until lifted): e2e; open clients told\n", out

        # Her renewal is refused: the page signs her out with the revocation's own words and the status.
        await wait_for_text(alice, "#login-notice", REVOKED_TEXT)
        assert await text_of(alice, "#login-notice") == f"You were signed out: {REVOKED_TEXT} (HTTP 403)."
        assert (await alice.state())["view"] == "login"
        assert statuses[0] == 200 and statuses[-1] == 403, statuses
        asked = len(statuses)
        await alice.page.wait_for_timeout(3_000)
        assert len(statuses) == asked, f"a refusal for revocation was retried: {statuses}"

        # Bob chats on, with his own tokens.
        await bob.send(f"{marker} bob after")
        await bob.wait_text(f"{marker} bob after")
        assert (await bob.state())["view"] == "chat"

        # Signing in again is refused with the same words, not "wrong password" or a generic 403.
        await alice.login()
        await wait_for_text(alice, "#login-error", REVOKED_TEXT)
        assert await text_of(alice, "#login-error") == REVOKED_TEXT

        status, out, _, _ = await tvm_users(stack, "restore", "alice")
        assert (status, out) == (0, "restored alice; open clients told\n")
        await alice.login()
        await alice.wait_live()
        await alice.send(f"{marker} restored")
        await bob.wait_text(f"{marker} restored")
        assert alice.errors == [] and bob.errors == []
        for chat in (alice, bob):
            await chat.close()


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
