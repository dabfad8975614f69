"""Momento's own clients against the local stack: the requests its Vite chat app sends, and what docs/migrating.md says
each one gets from us.

The app (github.com/momentohq/client-sdk-javascript, examples/web/vite-chat-app/src/utils/momento-web.ts) fetches
its token vending machine's URL with no query; with `lambda` auth it adds `username` and `password` headers, with
`cognito` auth `Authorization: Bearer <ID token>` plus `usergroup` (the token's first group) and `cachename`, and it
reads `authToken` and `expiresAt` from the answer. Each request is replayed here over plain HTTP, as the browser
sends it, against `make dev`'s own stack on free ports; vended tokens are tried with the real `momento` SDK.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.stack import Stack
from tests import sdk_rights
from tests.integration.stack_thread import StackThread
from tvm_users.demo import load_demo_users

CACHE = "default-cache"
DEMO_USERS = load_demo_users(Path(__file__).resolve().parents[2] / "local" / "demo_users.json")


def basic(username: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{DEMO_USERS[username][0]}".encode()).decode()


def send(stack: Stack, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    port = int(stack.api_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, json.loads(raw) if raw else None
    finally:
        connection.close()


def rights(stack: Stack, auth_token: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on a fresh room, asked of the real SDK against the stack's emulator."""
    provider = sdk_rights.emulator_provider(auth_token, stack.info.momento_grpc_port)
    return asyncio.run(sdk_rights.topic_rights(provider, CACHE, f"room-{uuid.uuid4().hex[:8]}"))


def assert_the_vite_app_can_read(body: Any) -> None:
    """The two fields the Vite app reads, as Momento's TVM returns them."""
    assert isinstance(body["authToken"], str) and body["authToken"], body
    assert isinstance(body["expiresAt"], int) and body["expiresAt"] > time.time(), body


@pytest.fixture(scope="module")
def lambda_stack() -> Iterator[Stack]:
    with StackThread("LambdaAuthorizer") as stack:
        yield stack


@pytest.fixture(scope="module")
def open_stack() -> Iterator[Stack]:
    with StackThread("Open") as stack:
        yield stack


@pytest.fixture(scope="module")
def cognito_stack() -> Iterator[Stack]:
    with StackThread("AmazonCognito") as stack:
        yield stack


# ---------------------------------------------------------------------- lambda auth
def test_username_and_password_headers_are_the_gateways_401_before_any_authorizer(lambda_stack: Stack) -> None:
    status, _, body = send(lambda_stack, "GET", "/token", {"username": "alice", "password": DEMO_USERS["alice"][0]})
    assert (status, body) == (401, {"message": "Unauthorized"})


def test_the_same_credentials_as_http_basic_vend_what_the_vite_app_reads(lambda_stack: Stack) -> None:
    status, headers, body = send(lambda_stack, "GET", "/token", {"Authorization": basic("alice")})
    assert status == 200, body
    assert_the_vite_app_can_read(body)
    assert headers["cache-control"] == "no-store"
    # No topics named: a tier whose topics are "*" grants every topic of the cache, so the app's room works.
    assert body["scope"]["topics"]["all"] is True, body
    assert rights(lambda_stack, body["authToken"]) == (True, True)


def test_a_preflight_for_the_custom_credential_headers_does_not_allow_them(lambda_stack: Stack) -> None:
    """What a browser asks before the `lambda` fetch: the answer lists only authorization and content-type."""
    origin = lambda_stack.info.site_origins[0]
    status, headers, _ = send(
        lambda_stack,
        "OPTIONS",
        "/token",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "password,username",
        },
    )
    assert status == 204
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert allowed == {"authorization", "content-type"}


def test_name_is_ignored_for_a_verified_user(lambda_stack: Stack) -> None:
    status, _, body = send(lambda_stack, "GET", "/token?name=Taylor", {"Authorization": basic("alice")})
    assert status == 200, body
    assert body["tokenId"] == "alice"


# ---------------------------------------------------------------------- open auth
def test_the_vite_apps_open_request_names_no_topics_and_gets_the_guest_tiers_patterns_as_prefixes(
    open_stack: Stack,
) -> None:
    """The app asks for a token naming no topics: it gets every chat-* and room-* topic (issue 14's prefix grants)."""
    status, _, body = send(open_stack, "GET", "/token", {})
    assert status == 200, body
    assert_the_vite_app_can_read(body)
    assert body["scope"]["topics"]["prefixes"] == ["chat-", "room-"]


def test_an_open_request_naming_its_room_vends_a_guest_token_with_the_name(open_stack: Stack) -> None:
    status, _, body = send(open_stack, "GET", "/token?topics=room-lobby&name=Taylor", {})
    assert status == 200, body
    assert_the_vite_app_can_read(body)
    assert body["tokenId"] == "guest:Taylor"
    assert body["scope"]["topics"]["names"] == ["room-lobby"]


# ---------------------------------------------------------------------- cognito auth
def id_token(stack: Stack, username: str) -> str:
    info = stack.info.cognito
    assert info is not None
    client = boto3.client(
        "cognito-idp",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    try:
        result = client.initiate_auth(
            ClientId=info.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": DEMO_USERS[username][0]},
        )
    finally:
        client.close()
    return str(result["AuthenticationResult"]["IdToken"])


def test_usergroup_and_cachename_headers_change_nothing(cognito_stack: Stack) -> None:
    """A read-only user claiming Momento's read-write group and another cache still gets read-only, on our cache."""
    headers = {
        "Authorization": f"Bearer {id_token(cognito_stack, 'viewer')}",
        "usergroup": "ReadWriteUserGroup",
        "cachename": "another-cache",
    }
    status, _, body = send(cognito_stack, "GET", "/token", headers)
    assert status == 200, body
    assert_the_vite_app_can_read(body)
    assert (body["tokenId"], body["scope"]["tier"], body["scope"]["cache"]) == ("viewer", "readonly", CACHE)
    assert rights(cognito_stack, body["authToken"]) == (False, True)


def test_a_preflight_for_usergroup_and_cachename_does_not_allow_them(cognito_stack: Stack) -> None:
    origin = cognito_stack.info.site_origins[0]
    status, headers, _ = send(
        cognito_stack,
        "OPTIONS",
        "/token",
        {
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,cachename,usergroup",
        },
    )
    assert status == 204
    allowed = {h.strip() for h in headers["access-control-allow-headers"].split(",")}
    assert "usergroup" not in allowed and "cachename" not in allowed
    assert "authorization" in allowed
