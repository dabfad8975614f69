"""The local stack (`make dev`'s own code) on free ports, over real HTTP, with tokens tried through the real SDK.

One LambdaAuthorizer stack for the module (as `make dev` starts it), one Open stack in its own test. The stack's
emulator and moto are real subprocesses; the local HTTP API runs the real handlers from template.yaml.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from momento import CredentialProvider
from yarl import URL

from devstack import Stack, StackConfig
from devstack.site import PLACEHOLDER_DIR, SiteServer, site_directory
from site_tools import SiteConfig
from tests import sdk_rights
from tests.sdk_rights import emulator_provider
from tests.stack_settings import unlimited_policy
from tvm_users.demo import load_demo_users

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
CACHE = "default-cache"
DEMO_USERS = load_demo_users(ROOT / "local" / "demo_users.json")
EXPECTED_TIERS = {"alice": "readwrite", "bob": "readwrite", "viewer": "readonly"}
AUTHORIZER = "CredentialsAuthorizerFunction"


def on_free_ports(auth: str) -> StackConfig:
    """Explicit settings: no issuance limit (many requests as one user) and no Momento quota."""
    ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
    return StackConfig(auth=auth, policy=unlimited_policy(), momento_auth_quota=None, **ports)


def basic(username: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}


def demo_auth(username: str) -> dict[str, str]:
    return basic(username, DEMO_USERS[username][0])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    started = time.perf_counter()
    stack = Stack(on_free_ports("LambdaAuthorizer"))
    await stack.start()
    print(f"\nLambdaAuthorizer stack ready in {time.perf_counter() - started:.2f} s")
    try:
        yield stack
    finally:
        await stack.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def get_json(
    http: aiohttp.ClientSession, url: str | URL, headers: dict[str, str] | None = None
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with http.get(url, headers=headers or {}) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None, response


# ---------------------------------------------------------------------- the SDK against the stack's emulator
def provider(stack: Stack, auth_token: str) -> CredentialProvider:
    return emulator_provider(auth_token, stack.emulator_grpc_port, HOST)


async def topic_rights(stack: Stack, auth_token: str, topic: str) -> tuple[bool, bool]:
    return await sdk_rights.topic_rights(provider(stack, auth_token), CACHE, topic)


async def cache_rights(stack: Stack, auth_token: str, key: str) -> tuple[bool, bool]:
    return await sdk_rights.cache_rights(provider(stack, auth_token), CACHE, key)


# ---------------------------------------------------------------------- tokens for the demo users
@pytest.mark.parametrize("username", sorted(DEMO_USERS))
async def test_each_demo_user_gets_a_token_with_their_tiers_rights(
    stack: Stack, http: aiohttp.ClientSession, username: str
) -> None:
    status, body, response = await get_json(http, f"{stack.api_url}/token", demo_auth(username))
    assert status == 200, body
    assert response.headers["Cache-Control"] == "no-store"
    assert body["tokenId"] == username
    assert body["endpoint"] == f"{HOST}:{stack.emulator_grpc_port}"
    assert body["scope"]["tier"] == EXPECTED_TIERS[username]
    assert body["expiresAt"] > time.time()

    topic = f"room-{uuid.uuid4().hex[:8]}"
    if EXPECTED_TIERS[username] == "readwrite":
        assert await topic_rights(stack, body["authToken"], topic) == (True, True)
        assert await cache_rights(stack, body["authToken"], f"key-{username}") == (True, True)
    else:
        assert await topic_rights(stack, body["authToken"], topic) == (False, True)
        assert await cache_rights(stack, body["authToken"], f"key-{username}") == (True, False)


async def test_post_token_narrows_to_the_topics_asked_for(stack: Stack, http: aiohttp.ClientSession) -> None:
    payload = {"topics": ["room-1"], "ttlSeconds": 120}
    async with http.post(f"{stack.api_url}/token", json=payload, headers=demo_auth("alice")) as response:
        body = await response.json()
    assert response.status == 200, body
    assert body["scope"]["topics"]["names"] == ["room-1"]
    assert 110 <= body["expiresAt"] - time.time() <= 120
    assert await topic_rights(stack, body["authToken"], "room-1") == (True, True)
    assert await topic_rights(stack, body["authToken"], "room-2") == (False, False)


# ---------------------------------------------------------------------- refusals, in the gateway's and our shapes
async def test_no_credentials_is_the_gateways_401(stack: Stack, http: aiohttp.ClientSession) -> None:
    status, body, _ = await get_json(http, f"{stack.api_url}/token")
    assert (status, body) == (401, {"message": "Unauthorized"})


async def test_a_wrong_password_is_the_gateways_403(stack: Stack, http: aiohttp.ClientSession) -> None:
    status, body, _ = await get_json(http, f"{stack.api_url}/token", basic("alice", f"wrong-{uuid.uuid4()}"))
    assert (status, body) == (403, {"message": "Forbidden"})
    status, body, _ = await get_json(http, f"{stack.api_url}/token", basic("nobody", "alice-password"))
    assert (status, body) == (403, {"message": "Forbidden"})


def readme_says(case: str) -> tuple[int, Any]:
    """What README.md says `case` gets: the `STATUS BODY` in backquotes after "<case> gets" (lines joined)."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    match = re.search(re.escape(case) + r" gets `(\d{3}) (\{[^`]*\})`", text)
    assert match, f"README.md no longer says what {case} gets"
    return int(match[1]), json.loads(match[2])


async def test_the_readme_says_what_a_refused_client_sees(stack: Stack, http: aiohttp.ClientSession) -> None:
    """The README once said "every refusal is a typed 4xx with a reason": true of the function only. A failed
    sign-in is the gateway's bare answer, and the README now says which, checked here against the local API."""
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "every refusal is a typed 4xx" not in text
    assert "every refusal by the vending function is a typed 4xx with a reason" in text

    status, body, _ = await get_json(http, f"{stack.api_url}/token")
    assert (
        (status, body) == readme_says("A request with no `Authorization` header") == (401, {"message": "Unauthorized"})
    )
    for wrong in (basic("alice", f"wrong-{uuid.uuid4()}"), basic("nobody", "alice-password")):
        status, body, _ = await get_json(http, f"{stack.api_url}/token", wrong)
        assert (status, body) == readme_says("a wrong username or password") == (403, {"message": "Forbidden"})

    # and the function's own refusals are typed, with a reason
    for query in ("ttlSeconds=abc", "topic=typo"):
        status, body, _ = await get_json(http, f"{stack.api_url}/token?{query}", demo_auth("viewer"))
        assert (status, body["error"]["code"]) == (400, "invalid_request"), body
        assert set(body["error"]) == {"code", "message"} and body["error"]["message"]


@pytest.mark.parametrize("query", ["ttlSeconds=abc", "ttlSeconds=5", "topics=ro*m-*", "topic=typo", "topics=a,,b"])
async def test_malformed_parameters_are_a_typed_400(stack: Stack, http: aiohttp.ClientSession, query: str) -> None:
    status, body, _ = await get_json(http, f"{stack.api_url}/token?{query}", demo_auth("alice"))
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert body["error"]["message"]


async def test_an_unknown_route_is_404(stack: Stack, http: aiohttp.ClientSession) -> None:
    for headers in ({}, demo_auth("alice")):
        status, body, _ = await get_json(http, f"{stack.api_url}/no-such-route", headers)
        assert (status, body) == (404, {"message": "Not Found"})


# ---------------------------------------------------------------------- CORS: the site's origin, and no other
async def test_a_preflight_from_the_sites_origin_is_allowed(stack: Stack, http: aiohttp.ClientSession) -> None:
    assert stack.site_url.rstrip("/") in stack.site_origins
    for origin in stack.site_origins:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        async with http.options(f"{stack.api_url}/token", headers=headers) as response:
            assert 200 <= response.status < 300
            assert response.headers["Access-Control-Allow-Origin"] == origin
            assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
            assert "GET" in response.headers["Access-Control-Allow-Methods"]
        # and the real request from that origin may be read by the page
        async with http.get(f"{stack.api_url}/token", headers={"Origin": origin, **demo_auth("bob")}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_a_preflight_from_another_origin_gets_no_allow_origin(stack: Stack, http: aiohttp.ClientSession) -> None:
    for origin in ("http://evil.example", "http://127.0.0.1:1", "https://127.0.0.1:" + stack.site_url.split(":")[-1]):
        headers = {
            "Origin": origin.rstrip("/"),
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        }
        async with http.options(f"{stack.api_url}/token", headers=headers) as response:
            assert "Access-Control-Allow-Origin" not in response.headers


# ---------------------------------------------------------------------- explain, authorizer cache
async def test_explain_matches_what_token_mints(stack: Stack, http: aiohttp.ClientSession) -> None:
    for username, query in (("alice", ""), ("alice", "?topics=room-1,room-2&ttlSeconds=60"), ("viewer", "")):
        status, explained, _ = await get_json(http, f"{stack.api_url}/token/explain{query}", demo_auth(username))
        assert status == 200, explained
        assert "authToken" not in explained
        before = time.time()
        status, minted, _ = await get_json(http, f"{stack.api_url}/token{query}", demo_auth(username))
        assert status == 200, minted
        assert explained["scope"] == minted["scope"]
        assert explained["tokenId"] == minted["tokenId"] == username
        assert before + explained["ttlSeconds"] - 1 <= minted["expiresAt"] <= time.time() + explained["ttlSeconds"]
        assert explained["rule"]


async def test_the_authorizer_runs_once_for_repeated_requests(stack: Stack, http: aiohttp.ClientSession) -> None:
    # The scheme is case-insensitive for the authorizer, but the gateway caches by the header's exact value: this
    # spelling is used by no other test, so its first request is a cache miss whatever ran before.
    headers = basic("bob", DEMO_USERS["bob"][0], scheme="bAsIc")
    before = stack.api.invocations(AUTHORIZER)
    for path in ("/token", "/token", "/token/explain", "/token"):  # the cache is shared by every route
        status, body, _ = await get_json(http, f"{stack.api_url}{path}", headers)
        assert status == 200, body
        assert body["tokenId"] == "bob"
    assert stack.api.invocations(AUTHORIZER) == before + 1


# ---------------------------------------------------------------------- the site
async def test_the_site_serves_its_page_and_config(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(stack.site_url) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
    assert "config.js" in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None
    assert stack.api_url in csp.group(1)

    async with http.get(f"{stack.site_url}config.js") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "javascript" in response.content_type
        script = await response.text()
    match = re.search(r"window\.TVM_CONFIG = (\{.*\});", script, re.DOTALL)
    assert match is not None, script
    assert json.loads(match.group(1)) == {
        "apiUrl": stack.api_url,
        "authMethod": "LambdaAuthorizer",
        "momentoEndpointOverride": f"http://{HOST}:{stack.emulator_web_port}",
    }
    assert not stack.site_url.startswith(stack.api_url)  # its own origin, as on CloudFront


async def test_the_site_serves_nothing_outside_its_directory(stack: Stack, http: aiohttp.ClientSession) -> None:
    for path in ("/../template.yaml", "/%2e%2e/template.yaml", "/..%2ftemplate.yaml", "/no-such-file.js"):
        async with http.get(URL(stack.site_url.rstrip("/") + path, encoded=True)) as response:
            assert response.status == 404, path


# ---------------------------------------------------------------------- Open mode
async def test_restart_emulator_keeps_its_ports_and_old_tokens(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports("LambdaAuthorizer")) as own:
        status, body, _ = await get_json(http, f"{own.api_url}/token", demo_auth("alice"))
        assert status == 200, body
        topic = f"room-{uuid.uuid4().hex[:8]}"
        assert await topic_rights(own, body["authToken"], topic) == (True, True)
        ports = (own.emulator_grpc_port, own.emulator_web_port)
        await own.restart_emulator()
        assert (own.emulator_grpc_port, own.emulator_web_port) == ports
        # A token vended before the restart still works: the emulator's tokens are signed, not stored.
        assert await topic_rights(own, body["authToken"], topic) == (True, True)
        assert await cache_rights(own, body["authToken"], "after-restart") == (True, True)


async def test_open_mode_vends_guest_tokens_without_login(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports("Open")) as open_stack:
        status, body, _ = await get_json(http, f"{open_stack.api_url}/token?name=Ann&topics=chat-lobby")
        assert status == 200, body
        assert body["tokenId"] == "guest:Ann"
        assert body["scope"]["tier"] == "guest"
        assert await topic_rights(open_stack, body["authToken"], "chat-lobby") == (True, True)
        assert await topic_rights(open_stack, body["authToken"], "chat-other") == (False, False)

        status, body, _ = await get_json(http, f"{open_stack.api_url}/token?topics=secret-room")
        assert status == 403, body
        assert body["error"]["code"] == "scope_denied"

        async with http.get(f"{open_stack.site_url}config.js") as response:
            assert '"authMethod": "Open"' in await response.text()
        assert open_stack.info.users == ()
        assert open_stack.info.guest_tier == "guest"


# ---------------------------------------------------------------------- what the site serves
async def test_the_site_directory_is_the_build_then_the_sources_then_the_placeholder(tmp_path: Path) -> None:
    assert site_directory(tmp_path) == (PLACEHOLDER_DIR, "placeholder")
    (tmp_path / "static_site").mkdir()
    assert site_directory(tmp_path) == (PLACEHOLDER_DIR, "placeholder")
    (tmp_path / "static_site" / "index.html").write_text("<html><head></head></html>")
    assert site_directory(tmp_path) == (tmp_path / "static_site", "site sources")
    (tmp_path / "static_site" / "dist").mkdir()
    assert site_directory(tmp_path) == (tmp_path / "static_site" / "dist", "built site")


async def test_the_placeholder_page_is_served_with_its_csp_and_config(http: aiohttp.ClientSession) -> None:
    site = SiteServer(PLACEHOLDER_DIR, HOST, 0)
    await site.start()
    try:
        async with http.get(f"{site.url}/config.js") as response:
            assert response.status == 503  # not before the API is up
        site.config = SiteConfig(
            api_url="http://127.0.0.1:3999", auth_method="Open", momento_endpoint_override="http://127.0.0.1:3998"
        )
        async with http.get(f"{site.url}/") as response:
            assert response.status == 200
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            page = await response.text()
        assert "Get a token" in page
        assert "connect-src http://127.0.0.1:3999 http://127.0.0.1:3998" in page
        for asset, kind in (("/app.js", "javascript"), ("/style.css", "text/css")):
            async with http.get(f"{site.url}{asset}") as response:
                assert response.status == 200
                assert kind in response.content_type
        async with http.get(f"{site.url}/app.js") as response:
            script = await response.text()
        assert "innerHTML" not in script  # answers are shown as text
        assert not re.search(r"localStorage|sessionStorage|document\.cookie|indexedDB", script)  # nothing stored
        async with http.get(f"{site.url}/config.js") as response:
            assert "window.TVM_CONFIG" in await response.text()
    finally:
        await site.stop()
