"""The chat site in Debian's headless chromium while parts of the `make dev` stack fail (devstack's `Stack`, on free
ports): what the page says and that it recovers by itself.

- Secrets Manager (moto) hung with SIGSTOP before the first login, in LambdaAuthorizer mode: the authorizer cannot
  read the users store, so the gateway answers `500 {"message":"Internal Server Error"}`. The sign-in form says the
  service is unavailable and retries; it never says the password is wrong. After SIGCONT the login completes by
  itself and alice can send.
- The Momento emulator killed with SIGKILL while alice and bob chat: both pages say the chat service is unreachable
  within a few seconds; once `make dev`'s supervisor has restarted it (after a delay lengthened for the test, so the
  outage can be seen) they resubscribe, go live and deliver a new message exactly once, without a reload.

Each test starts its own stack: both break a part of it. The pages are driven through the UI and observed through
`window.__chat` (the site's read-only test hook) and the DOM; the page's CSP forbids eval, so waits are functions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser

from devstack import Stack
from devstack.config import RestartPolicy
from tests.e2e.chat_page import Chat
from tests.e2e.stacks import stack_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WRONG_PASSWORD_WORDS = ("wrong", "password", "refused", "forbidden")

# Every text the sign-in form's error and progress lines ever showed, recorded in the page as it happens (polling
# from here could miss a text that was shown between two polls).
RECORD_LOGIN_TEXTS = """
(() => {
  const seen = window.__loginTexts = [];
  const record = () => {
    for (const id of ['login-error', 'login-progress']) {
      const text = document.getElementById(id)?.textContent ?? '';
      if (text !== '' && seen.at(-1)?.text !== text) {
        seen.push({id, text, at: Date.now()});
      }
    }
  };
  new MutationObserver(record).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


# A crashed child comes back after this long (make dev: 0.2 s), so that the pages have time to say it is down.
RESTART_DELAY_SECONDS = 8.0


@contextlib.asynccontextmanager
async def fresh_stack() -> AsyncIterator[Stack]:
    config = stack_config(
        "LambdaAuthorizer",
        restart=RestartPolicy(first_delay_seconds=RESTART_DELAY_SECONDS, max_delay_seconds=RESTART_DELAY_SECONDS),
    )
    async with Stack(config) as running:
        assert running.info.site_content == "built site", "build the site first: make install-site"
        yield running


class Tab(Chat):
    """One user's tab, recording every text its sign-in form shows."""

    @classmethod
    async def open_recording(cls, browser: Browser, stack: Stack, name: str) -> Tab:
        return await cls.open(browser, stack, name, init_scripts=(RECORD_LOGIN_TEXTS,))

    async def wait_room_live(self, timeout_s: float = 15) -> None:
        await self.wait(
            "window.__chat.state().connection === 'live' && (s => s.rooms.some(r => r.room === s.activeRoom && "
            "r.status === 'live'))(window.__chat.state())",
            timeout_s,
        )

    async def login_texts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.page.evaluate("() => window.__loginTexts")
        return result


def assert_never_a_wrong_password(texts: list[dict[str, Any]]) -> None:
    for entry in texts:
        lowered = entry["text"].lower()
        assert not any(word in lowered for word in WRONG_PASSWORD_WORDS), f"the form said {entry['text']!r}"


async def test_a_secrets_manager_outage_at_first_login_is_unavailable_and_retried_never_a_wrong_password(
    browser: Browser,
) -> None:
    async with fresh_stack() as stack:
        alice = await Tab.open_recording(browser, stack, "alice")
        moto = stack.child_pid("moto")
        assert moto is not None
        os.kill(moto, signal.SIGSTOP)  # before the first login: the authorizer has never read the users store
        try:
            stopped = time.monotonic()
            await alice.login()
            await alice.wait(
                "(document.getElementById('login-progress')?.textContent ?? '').includes('unavailable') || "
                "(document.getElementById('login-error')?.textContent ?? '') !== ''",
                30,
            )
            shown_after = time.monotonic() - stopped
            assert_never_a_wrong_password(await alice.login_texts())
            progress = await alice.page.text_content("#login-progress") or ""
            assert progress.startswith("The sign-in service is unavailable (HTTP 500); retrying in "), progress
            # The status line is announced (role=status), the form offers to try now and to cancel.
            assert await alice.page.get_attribute("#login-progress", "role") == "status"
            assert await alice.page.is_visible("text=Try now")
            # It keeps retrying by itself while Secrets Manager is down, and never calls the password wrong.
            await alice.wait("window.__loginTexts.filter(t => t.text.includes('retrying in')).length >= 2", 30)
            assert (await alice.state())["view"] == "login"
            assert await alice.page.text_content("#login-error") == ""
        finally:
            os.kill(moto, signal.SIGCONT)
        resumed = time.monotonic()
        await alice.wait("window.__chat.state().view === 'chat'", 30)
        signed_in_after = time.monotonic() - resumed
        await alice.wait_room_live()
        marker = uuid.uuid4().hex[:8]
        await alice.send(f"{marker} after the outage")
        await alice.wait_text(f"{marker} after the outage")
        texts = await alice.login_texts()
        assert_never_a_wrong_password(texts)
        assert alice.errors == []
        print(
            f"\nunavailable shown {shown_after:.1f} s after SIGSTOP; signed in {signed_in_after:.1f} s after SIGCONT; "
            f"form texts: {[t['text'] for t in texts]}"
        )
        await alice.close()


async def test_pages_say_the_chat_service_is_unreachable_when_the_emulator_dies_and_recover_by_themselves(
    browser: Browser,
) -> None:
    async with fresh_stack() as stack:
        alice = await Tab.open_recording(browser, stack, "alice")
        bob = await Tab.open_recording(browser, stack, "bob")
        for tab in (alice, bob):
            await tab.login()
            await tab.wait_room_live()
        marker = uuid.uuid4().hex[:8]
        await alice.send(f"{marker} before")
        await bob.wait_text(f"{marker} before")

        restarts = stack.restarts["emulator"]
        pid = stack.child_pid("emulator")
        assert pid is not None
        killed = time.monotonic()
        os.kill(pid, signal.SIGKILL)  # make dev's supervisor restarts it, after RESTART_DELAY_SECONDS
        for tab in (alice, bob):
            await tab.wait("window.__chat.state().connection === 'unreachable'", RESTART_DELAY_SECONDS - 3)
        unreachable_after = time.monotonic() - killed
        for tab in (alice, bob):
            label = await tab.page.text_content(".connection")
            assert label is not None and "Chat service unreachable; retrying" in label, label
            assert await tab.page.get_attribute(".connection", "aria-live") == "polite"
            assert "chat service unreachable" in (await tab.page.text_content(".room__state") or "")
        # It stays that way (not "Reconnecting…") while the service is down.
        await alice.page.wait_for_timeout(max(0, (RESTART_DELAY_SECONDS - 1 - unreachable_after) * 1000))
        for tab in (alice, bob):
            assert (await tab.state())["connection"] == "unreachable"
        async with asyncio.timeout(30):
            await stack.wait_ready("emulator", restarts + 1)
        back = time.monotonic()
        for tab in (alice, bob):
            await tab.wait_room_live(45)
        live_after = time.monotonic() - back
        await alice.page.wait_for_timeout(500)
        await alice.send(f"{marker} after 1")
        await bob.wait_text(f"{marker} after 1", 30)
        await bob.send(f"{marker} after 2")
        await alice.wait_text(f"{marker} after 2", 30)
        await alice.page.wait_for_timeout(1000)  # a repeat would arrive by now
        for tab in (alice, bob):
            assert await tab.texts(marker) == [f"{marker} before", f"{marker} after 1", f"{marker} after 2"], tab.name
            assert (await tab.state())["connection"] == "live"
            assert tab.errors == []
        print(f"\nunreachable shown {unreachable_after:.1f} s after SIGKILL; live {live_after:.1f} s after restart")
        for tab in (alice, bob):
            await tab.close()
