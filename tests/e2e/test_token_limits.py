"""Too many token requests, in headless chromium against the offline stack: a 429 from the token route never signs
anyone out. The page says "Too many token requests; retrying in 7 s" (counting down), waits for the new token when the
wait outlasts the old one (not "Reconnecting…" forever), and the chat goes on by itself afterwards.

- The TVM's own issuance limit (429 `rate_limited`): alice's tier takes one token, then one every 20 s
  (policy_tight.yaml), and her 10-second token renews at 5 s.
- Momento's quota for the account (429 `quota_exceeded`): the emulator plays it (`momento_auth_quota`), here at one
  mint every 5 s, so that a burst, and a sign-in right after it, are over it without a race.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from dataclasses import dataclass

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Response

from devstack import Stack
from tests.e2e.chat_page import PASSWORDS, Chat
from tests.e2e.stacks import TIGHT_POLICY, stack_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

RENEWAL_LINE = "document.querySelector('.session__detail').textContent"
COUNTDOWN = "Too many token requests; retrying in "


@dataclass(frozen=True)
class Answer:
    """One answer of the token route, as the page (or the test's own client) got it."""

    status: int
    retry_after: str | None
    code: str | None


class TokenAnswers:
    """Every answer the page got from `GET /token` (not `/token/explain`), in order."""

    def __init__(self, page: Page) -> None:
        self._responses: list[Response] = []
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        if "/token" in response.url and "/token/explain" not in response.url and response.request.method == "GET":
            self._responses.append(response)

    async def all(self) -> list[Answer]:
        answers = []
        for response in self._responses:
            code = None
            if response.status != 200:
                body = await response.json()
                code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            answers.append(Answer(response.status, response.headers.get("retry-after"), code))
        return answers


async def countdown(chat: Chat, selector_text: str) -> int:
    """The seconds in "…retrying in N s" of the text `selector_text` evaluates to."""
    text: str = await chat.page.evaluate(f"() => {selector_text}")
    assert "retrying in " in text, text
    return int(text.split("retrying in ", 1)[1].split(" s", 1)[0])


async def test_a_renewal_refused_429_shows_the_wait_and_the_chat_goes_on_by_itself(browser: Browser) -> None:
    async with Stack(stack_config("LambdaAuthorizer", policy=TIGHT_POLICY)) as stack:
        assert stack.info.site_content == "built site", "build the site first: make install-site"
        await renewal_refused_then_recovered(browser, stack)


async def renewal_refused_then_recovered(browser: Browser, tight_stack: Stack) -> None:
    viewer = await Chat.open(browser, tight_stack, "viewer")  # readonly: no limit, watches the room
    await viewer.login()
    await viewer.wait_live()
    alice = await Chat.open(browser, tight_stack, "alice", token_ttl=10)
    answers = TokenAnswers(alice.page)
    await alice.login()
    await alice.wait_live()
    signed_in = time.monotonic()
    marker = uuid.uuid4().hex[:8]
    await alice.send(f"{marker} before")
    await viewer.wait_text(f"{marker} before")

    # The renewal (at 5 s) is refused for about 15 s: the session line counts the wait down.
    await alice.wait(f"{RENEWAL_LINE}.startsWith({COUNTDOWN!r})", 15)
    first = await countdown(alice, RENEWAL_LINE)
    await alice.page.wait_for_timeout(2_000)
    assert await countdown(alice, RENEWAL_LINE) < first
    refused = [a for a in await answers.all() if a.status == 429]
    assert refused and refused[0].code == "rate_limited", await answers.all()
    assert refused[0].retry_after is not None and 10 <= int(refused[0].retry_after) <= 20, refused

    # The wait outlasts the 10-second token: the page says it waits for a new token, and why, not "Reconnecting…".
    await alice.wait("window.__chat.state().connection === 'awaiting-token'", 15)
    assert await alice.page.text_content(".connection") == "Waiting for a new token…"
    assert (await alice.page.text_content(".room__state") or "").startswith("too many token requests; retrying in ")
    assert (await alice.state())["view"] == "chat"

    # After the wait the page asks again, gets a token and resubscribes, by itself.
    await alice.wait("window.__chat.state().connection === 'live' && window.__chat.state().refreshCount >= 1", 30)
    recovered_after = time.monotonic() - signed_in
    await alice.send(f"{marker} after")
    await viewer.wait_text(f"{marker} after")
    await alice.wait_text(f"{marker} after")
    assert await viewer.texts(marker) == [f"{marker} before", f"{marker} after"]
    state = await alice.state()
    assert state["view"] == "chat" and state["tokenId"] == "alice"  # never signed out
    statuses = [a.status for a in await answers.all()]
    assert statuses[0] == 200 and 429 in statuses and statuses[statuses.index(429) :].count(200) >= 1, statuses
    assert set(statuses) <= {200, 429}, statuses  # nothing else: no 401 or 403 signs the page out
    assert alice.errors == [] and viewer.errors == []
    print(f"\nrenewal refused (429, Retry-After {refused[0].retry_after} s); live again {recovered_after:.1f} s in")
    for chat in (alice, viewer):
        await chat.close()


# Momento's quota in this stack: one mint every 5 s (from rest: one at once). A burst takes it; a sign-in right after
# is over it for several of the TVM's 1-3 s Retry-After waits.
QUOTA_PER_SECOND = 0.2


async def burst(api_url: str, user: str, size: int) -> list[Answer]:
    """`size` token requests at once, as `user` (HTTP Basic), the way many tabs or a loop would send them."""
    basic = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode("ascii")
    headers = {"Authorization": f"Basic {basic}"}
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=15)) as session:

        async def one() -> Answer:
            async with session.get(f"{api_url}/token") as response:
                body = await response.json()
                code = body.get("error", {}).get("code") if response.status != 200 else None
                return Answer(response.status, response.headers.get("Retry-After"), code)

        return list(await asyncio.gather(*(one() for _ in range(size))))


async def test_over_momentos_quota_a_burst_is_answered_quota_exceeded_and_the_site_recovers(browser: Browser) -> None:
    async with Stack(stack_config("LambdaAuthorizer", momento_auth_quota=QUOTA_PER_SECOND)) as stack:
        alice = await Chat.open(browser, stack, "alice")
        answers = TokenAnswers(alice.page)
        await alice.page.fill("#login-username", "alice")
        await alice.page.fill("#login-password", PASSWORDS["alice"])

        # Bursts of 4 until one token is minted: the account's quota is then spent for the next 5 s.
        seen: list[Answer] = []
        async with asyncio.timeout(20):
            while not any(a.status == 200 for a in seen):
                seen += await burst(stack.info.api_url, "bob", 4)
        assert [a.status for a in seen].count(200) == 1, seen
        over = [a for a in seen if a.status != 200]
        assert len(over) >= 3 and all(a.status == 429 and a.code == "quota_exceeded" for a in over), seen
        assert all(a.retry_after is not None and 1 <= int(a.retry_after) <= 3 for a in over), seen

        # alice signs in at once: over the quota too. The form says so, counting down, and signs in by itself.
        await alice.page.press("#login-password", "Enter")
        progress = "document.querySelector('#login-progress').textContent"
        await alice.wait(f"{progress}.startsWith({COUNTDOWN!r})", 10)
        assert 1 <= await countdown(alice, progress) <= 4
        await alice.wait_live(30)
        marker = uuid.uuid4().hex[:8]
        await alice.send(f"{marker} made it")
        await alice.wait_text(f"{marker} made it")
        got = await answers.all()
        assert got[0].status == 429 and got[0].code == "quota_exceeded", got
        assert got[-1].status == 200 and {a.status for a in got} == {200, 429}, got
        assert all(a.retry_after is not None and 1 <= int(a.retry_after) <= 3 for a in got if a.status == 429), got
        assert (await alice.state())["view"] == "chat"
        assert alice.errors == []
        print(f"\nquota: burst {[a.status for a in seen]}; alice's sign-in {[a.status for a in got]}")
        await alice.close()
