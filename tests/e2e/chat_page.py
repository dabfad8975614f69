"""One user's tab of the chat site, driven through its UI and observed through `window.__chat` (the site's read-only
test hook: no credentials, no token in it). The page's CSP forbids eval, so every wait is a function string."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Self

from playwright.async_api import Browser, BrowserContext, Page, Route, ViewportSize

from devstack import Stack

__all__ = ["PASSWORDS", "Chat", "viewer_reads_but_cannot_send"]

PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "viewer": "viewer-password"}
RECORD_CSP_VIOLATIONS = """document.addEventListener('securitypolicyviolation', e => {
    (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI); });"""


class Chat:
    """One user's tab."""

    def __init__(self, page: Page, name: str) -> None:
        self.page = page
        self.name = name
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    @classmethod
    async def open(
        cls,
        browser: Browser,
        stack: Stack,
        name: str,
        token_ttl: int | None = None,
        init_scripts: tuple[str, ...] = (),
        viewport: ViewportSize | None = None,
    ) -> Self:
        """A new browser context on the stack's site (1280 x 800 unless `viewport` says otherwise)."""
        context = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800})
        return await cls.tab(context, stack.site_url, name, token_ttl, init_scripts)

    @classmethod
    async def tab(
        cls,
        context: BrowserContext,
        url: str,
        name: str,
        token_ttl: int | None = None,
        init_scripts: tuple[str, ...] = (),
        before_load: Callable[[Page], Awaitable[None]] | None = None,
    ) -> Self:
        """A new tab in `context` (the tabs of one context share one browser's storage, locks and channels), at `url`.
        `before_load` runs once the page exists, before it loads (e.g. to install Playwright's fake clock)."""
        page = await context.new_page()
        for script in (RECORD_CSP_VIOLATIONS, *init_scripts):
            await page.add_init_script(script)
        if token_ttl is not None:  # the site asks for ttlSeconds when config.js sets tokenTtlSeconds

            async def with_ttl(route: Route) -> None:
                response = await route.fetch()
                body = await response.text() + f"\nwindow.TVM_CONFIG.tokenTtlSeconds = {token_ttl};\n"
                await route.fulfill(response=response, body=body)

            await page.route("**/config.js", with_ttl)
        if before_load is not None:
            await before_load(page)
        chat = cls(page, name)  # listening for page errors from the start
        await page.goto(url)
        return chat

    async def login(self, username: str | None = None, password: str | None = None) -> None:
        username = username or self.name
        await self.page.fill("#login-username", username)
        await self.page.fill("#login-password", password or PASSWORDS[username])
        await self.page.press("#login-password", "Enter")

    async def wait(self, condition: str, timeout_s: float = 15) -> None:
        await self.page.wait_for_function(f"() => ({condition})", timeout=timeout_s * 1000)

    async def wait_live(self, timeout_s: float = 15) -> None:
        await self.wait("window.__chat && window.__chat.state().connection === 'live'", timeout_s)

    async def state(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.page.evaluate("() => window.__chat.state()")
        return result

    async def messages(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self.page.evaluate("() => window.__chat.messages()")
        return result

    async def send(self, text: str) -> None:
        await self.page.fill("#composer-input", text)
        await self.page.press("#composer-input", "Enter")
        await self.wait(
            "document.querySelector('#composer-input').value === '' || "
            "document.querySelector('#composer-error').textContent !== ''",
            10,
        )
        error = await self.page.text_content("#composer-error")
        assert not error, f"{self.name} could not send: {error}"

    async def wait_text(self, text: str, timeout_s: float = 15) -> None:
        await self.wait(f"window.__chat.messages().some(m => m.text === {json.dumps(text)})", timeout_s)

    async def texts(self, marker: str) -> list[str]:
        return [m["text"] for m in await self.messages() if marker in m["text"]]

    async def csp_violations(self) -> list[str]:
        result: list[str] = await self.page.evaluate("() => window.__csp || []")
        return result

    async def close(self) -> None:
        await self.page.context.close()


async def viewer_reads_but_cannot_send(browser: Browser, stack: Stack, note_selector: str) -> None:
    """The readonly tier in any sign-in mode: the composer is disabled, the page says why (in `note_selector`), and
    what alice sends still arrives."""
    viewer = await Chat.open(browser, stack, "viewer")
    await viewer.login()
    await viewer.wait_live()
    state = await viewer.state()
    assert (state["tier"], state["role"], state["canSend"]) == ("readonly", "subscribe_only", False)
    assert await viewer.page.is_disabled("#composer-input")
    assert "can read but not send" in (await viewer.page.text_content(note_selector) or "")

    alice = await Chat.open(browser, stack, "alice")
    await alice.login()
    await alice.wait_live()
    text = f"for the viewer {uuid.uuid4().hex[:8]}"
    await alice.send(text)
    await viewer.wait_text(text)
    for chat in (viewer, alice):
        await chat.close()
