"""The chat site in AmazonCognito mode, in Debian's headless chromium, against the `make dev AUTH=AmazonCognito` stack
(devstack's `Stack` on free ports: moto's Cognito user pool seeded from the template, the local API checking the ID
token as API Gateway's JWT authorizer does, the Momento emulator).

The site signs in to moto's pool with the AWS SDK's Cognito client (unsigned public calls), sends the ID token to the
TVM as `Bearer`, and refreshes the Cognito session before each token renewal. The pages are driven through the UI
and observed through `window.__chat` (no credentials, no token in it); the page's CSP forbids eval, so every wait is
a function string.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Request

from devstack import Stack
from tests.e2e.chat_page import Chat, viewer_reads_but_cannot_send
from tests.e2e.stacks import stack_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="module")]

WRONG_CREDENTIALS = "Wrong username or password."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    config = stack_config("AmazonCognito")
    async with Stack(config) as running:
        assert running.info.site_content == "built site", "build the site first: make install-site"
        assert running.info.cognito is not None
        yield running


def cognito_admin(stack: Stack) -> Any:
    """boto3 on moto's Cognito, as an operator would use it on AWS (tvm_users does the same)."""
    assert stack.info.cognito is not None
    return boto3.client(
        "cognito-idp",
        endpoint_url=stack.info.cognito.endpoint,
        region_name=stack.info.cognito.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def new_user(stack: Stack) -> Iterator[tuple[str, str]]:
    """A user created by an admin with a temporary password, in group readonly; deleted afterwards."""
    assert stack.info.cognito is not None
    pool_id = stack.info.cognito.user_pool_id
    admin = cognito_admin(stack)
    username = f"newcomer-{uuid.uuid4().hex[:6]}"
    temporary = f"temporary-{uuid.uuid4().hex[:6]}"
    admin.admin_create_user(
        UserPoolId=pool_id, Username=username, TemporaryPassword=temporary, MessageAction="SUPPRESS"
    )
    admin.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName="readonly")
    yield username, temporary
    admin.admin_delete_user(UserPoolId=pool_id, Username=username)


class Wire:
    """What a page sent to Cognito (moto) and to the TVM: the headers that matter, never kept beyond the test."""

    def __init__(self, chat: Chat, stack: Stack) -> None:
        assert stack.info.cognito is not None
        self.cognito_origin = stack.info.cognito.endpoint.rstrip("/")
        self.token_url = f"{stack.api_url.rstrip('/')}/token"
        self.cognito: list[dict[str, str]] = []
        self.tvm_authorization: list[str] = []
        chat.page.on("request", self.record)

    def record(self, request: Request) -> None:
        if request.url.startswith(self.cognito_origin) and request.method == "POST":
            self.cognito.append(request.headers)
        elif request.url.startswith(self.token_url):
            self.tvm_authorization.append(request.headers.get("authorization", ""))

    def targets(self) -> list[str]:
        return [h.get("x-amz-target", "").rsplit(".", 1)[-1] for h in self.cognito]


async def no_tokens_kept(chat: Chat) -> None:
    """Tokens live in memory only: nothing JWT-like in localStorage, sessionStorage or cookies."""
    kept: str = await chat.page.evaluate(
        "() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert "eyJ" not in kept, kept
    assert (await chat.page.context.cookies()) == []


async def test_alice_signs_in_with_cognito_and_chats_with_bob(stack: Stack, browser: Browser) -> None:
    alice = await Chat.open(browser, stack, "alice")
    wire = Wire(alice, stack)
    await alice.login()
    await alice.wait_live()
    bob = await Chat.open(browser, stack, "bob")
    await bob.login()
    await bob.wait_live()
    state = await alice.state()
    assert (state["tokenId"], state["tier"], state["role"]) == ("alice", "readwrite", "publish_subscribe")

    marker = uuid.uuid4().hex[:8]
    await alice.send(f"hello bob {marker}")
    await bob.wait_text(f"hello bob {marker}")
    await bob.send(f"hi alice {marker}")
    await alice.wait_text(f"hi alice {marker}")
    await alice.wait_text(f"hello bob {marker}")  # her own, as Momento echoed it
    seen = [(m["sender"], m["senderKind"], m["own"]) for m in await alice.messages() if marker in m["text"]]
    assert seen == [("alice", "user", True), ("bob", "user", False)]

    # Cognito's calls are public ones, unsigned; the TVM got the ID token as Bearer.
    assert wire.targets() == ["InitiateAuth"]
    assert all("authorization" not in h and "x-amz-date" not in h for h in wire.cognito)
    assert wire.tvm_authorization and all(a.startswith("Bearer eyJ") for a in wire.tvm_authorization)
    await no_tokens_kept(alice)

    await alice.page.click("text=Log out")
    await alice.wait("window.__chat.state().view === 'login' && window.__chat.state().tokenId === null")
    # Signing out revokes the refresh token (moto has no RevokeToken and answers 500: the page ignores it).
    for _ in range(50):
        if "RevokeToken" in wire.targets():
            break
        await alice.page.wait_for_timeout(100)
    assert wire.targets()[-1] == "RevokeToken"
    for chat in (alice, bob):
        assert await chat.csp_violations() == []
        assert chat.errors == []
        await chat.close()


async def test_viewer_signs_in_and_reads_but_cannot_send(stack: Stack, browser: Browser) -> None:
    await viewer_reads_but_cannot_send(browser, stack, "#composer-note")


async def test_a_wrong_password_and_an_unknown_user_show_the_same_clear_error(stack: Stack, browser: Browser) -> None:
    mallory = await Chat.open(browser, stack, "mallory")
    wire = Wire(mallory, stack)
    shown: list[tuple[str | None, str | None]] = []
    for username, password in (("alice", "not-her-password"), (f"nobody-{uuid.uuid4().hex[:6]}", "whatever-pw")):
        await mallory.login(username, password)
        await mallory.wait("document.querySelector('#login-error').textContent !== ''")
        error = await mallory.page.text_content("#login-error")
        shown.append((error, await mallory.page.get_attribute("#login-password", "aria-invalid")))
        await mallory.page.evaluate("() => { document.querySelector('#login-error').textContent = '' }")
    # moto answers NotAuthorizedException then UserNotFoundException; the page must not tell them apart.
    assert shown == [(WRONG_CREDENTIALS, "true"), (WRONG_CREDENTIALS, "true")]
    assert wire.targets() == ["InitiateAuth", "InitiateAuth"]
    assert wire.tvm_authorization == []  # no token was asked for
    assert (await mallory.state())["view"] == "login"
    assert await mallory.page.is_enabled("#login-password")
    await mallory.close()


async def test_a_temporary_password_is_changed_on_the_way_in(
    stack: Stack, browser: Browser, new_user: tuple[str, str]
) -> None:
    username, temporary = new_user
    chat = await Chat.open(browser, stack, username)
    await chat.login(username, temporary)
    await chat.page.wait_for_selector("#new-password")
    assert await chat.page.text_content("#login-title") == "Choose a new password"

    # The pool's password policy (local: at least 8 characters) refuses a short one, and the form says so.
    await chat.page.fill("#new-password", "short")
    await chat.page.fill("#new-password-confirm", "short")
    await chat.page.press("#new-password-confirm", "Enter")
    await chat.wait("document.querySelector('#login-error').textContent !== ''")
    assert (await chat.page.text_content("#login-error") or "").startswith("The new password was not accepted: ")

    chosen = f"chosen-{uuid.uuid4().hex[:8]}"
    await chat.page.fill("#new-password", chosen)
    await chat.page.fill("#new-password-confirm", chosen)
    await chat.page.press("#new-password-confirm", "Enter")
    await chat.wait_live()
    assert ((await chat.state())["tokenId"], (await chat.state())["tier"]) == (username, "readonly")
    await chat.close()

    again = await Chat.open(browser, stack, username)  # the new password is the password now
    await again.login(username, chosen)
    await again.wait_live()
    await again.close()


async def test_a_group_change_shows_on_the_next_token_after_a_cognito_refresh(
    stack: Stack, browser: Browser, new_user: tuple[str, str]
) -> None:
    assert stack.info.cognito is not None
    username, _temporary = new_user
    pool_id = stack.info.cognito.user_pool_id
    admin = cognito_admin(stack)
    password = f"chosen-{uuid.uuid4().hex[:8]}"
    admin.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)

    chat = await Chat.open(browser, stack, username, token_ttl=20)
    await chat.login(username, password)
    await chat.wait_live()
    assert ((await chat.state())["tier"], (await chat.state())["canSend"]) == ("readonly", False)

    admin.admin_remove_user_from_group(UserPoolId=pool_id, Username=username, GroupName="readonly")
    admin.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName="readwrite")
    await chat.wait("window.__chat.state().tier === 'readwrite' && window.__chat.state().canSend", 45)
    state = await chat.state()
    assert state["identityRefreshCount"] >= 1 and state["refreshCount"] >= 1
    assert await chat.page.text_content(".whoami .badge") == "readwrite"
    marker = uuid.uuid4().hex[:8]
    await chat.send(f"promoted {marker}")
    await chat.wait_text(f"promoted {marker}")
    await chat.close()


async def test_a_conversation_continues_across_token_renewals_and_cognito_refreshes(
    stack: Stack, browser: Browser
) -> None:
    alice = await Chat.open(browser, stack, "alice", token_ttl=20)
    bob = await Chat.open(browser, stack, "bob", token_ttl=20)
    wire = Wire(alice, stack)
    for chat in (alice, bob):
        await chat.login()
        await chat.wait_live()
    first = {chat.name: (await chat.state())["refreshCount"] for chat in (alice, bob)}
    assert (await alice.state())["tokenExpiresAt"] - time.time() <= 21
    marker = uuid.uuid4().hex[:8]
    sent: list[str] = []
    refreshes = [0, 0]
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
        state = await chat.state()
        assert state["connection"] == "live"
        assert state["identityRefreshCount"] >= 2, state  # each renewal refreshed the Cognito session first
    # Each renewal carried a new ID token (REFRESH_TOKEN_AUTH before it), sent as Bearer.
    assert wire.targets().count("InitiateAuth") >= 3
    assert len(set(wire.tvm_authorization)) >= 3
    await no_tokens_kept(alice)
    print(f"\n{len(sent)} messages across {refreshes} token renewals")
    for chat in (alice, bob):
        assert chat.errors == []
        await chat.close()
