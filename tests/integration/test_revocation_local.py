"""Cutting callers off under `make dev` (devstack's Stack, free ports): `python -m tvm_users revoke|restore|pause|
resume --local`, run as an operator runs it, against the stack's moto, and what the API then answers.

The vending function reads the revocations on every vend, so a revoked user's next vend is refused at once although
the gateway's authorizer cache (300 s, as AWS's ReauthorizeEvery) still holds their allow, and in AmazonCognito mode
although their ID token is still valid. One stack per mode, each in its own test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import pytest_asyncio
from yarl import URL

from devstack import Stack, StackConfig
from tests.stack_settings import unlimited_policy
from tvm_users.demo import load_demo_users

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = load_demo_users(ROOT / "local" / "demo_users.json")
AUTHORIZER = "CredentialsAuthorizerFunction"
WITHIN = 1.0  # seconds from the command's end to the refusal


def on_free_ports(auth: str) -> StackConfig:
    """Explicit settings: no issuance limit (many requests as one user) and no Momento quota."""
    ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
    return StackConfig(auth=auth, policy=unlimited_policy(), momento_auth_quota=None, **ports)


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def basic(username: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{DEMO_USERS[username][0]}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def bearer(id_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {id_token}"}


async def vend(
    http: aiohttp.ClientSession, stack: Stack, headers: dict[str, str], path: str = "/token"
) -> tuple[int, str | None]:
    """(status, error code or None) of a GET, as a client sees it."""
    async with http.get(f"{stack.api_url}{path}", headers=headers) as response:
        body = json.loads(await response.text())
    if response.status == 200:
        assert body.get("authToken") or body.get("scope"), body
        return 200, None
    return response.status, body["error"]["code"]


async def tvm_users(stack: Stack, *argv: str) -> tuple[int, str, str, float]:
    """`python -m tvm_users ARGV --local` with MOTO_PORT at the stack's moto; (status, stdout, stderr, when it
    ended on time.monotonic())."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["MOTO_PORT"] = str(URL(stack.moto_url).port)
    env["MOMENTO_GRPC_PORT"] = str(stack.info.momento_grpc_port)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tvm_users", *argv, "--local"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    ended = time.monotonic()
    assert "Traceback" not in done.stderr
    return done.returncode, done.stdout, done.stderr, ended


async def refused_within(
    http: aiohttp.ClientSession, stack: Stack, headers: dict[str, str], ended: float, code: str
) -> float:
    """The first vend after the command is refused with `code`; how long after the command ended it answered."""
    assert await vend(http, stack, headers) == (403, code)
    elapsed = time.monotonic() - ended
    assert elapsed < WITHIN, elapsed
    return elapsed


# ---------------------------------------------------------------------- LambdaAuthorizer (make dev's default)
async def test_revoke_pause_and_resume_under_make_dev(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports("LambdaAuthorizer")) as stack:
        alice, bob, viewer = basic("alice"), basic("bob"), basic("viewer")
        for who in (alice, bob, viewer):
            assert await vend(http, stack, who) == (200, None)
        authorized = stack.api.invocations(AUTHORIZER)  # each of the three is in the gateway's cache now

        status, out, err, ended = await tvm_users(stack, "revoke", "alice", "--reason", "compromised laptop")
        assert (status, out, err) == (0, "revoked alice (until lifted): compromised laptop; open clients told\n", "")
        elapsed = await refused_within(http, stack, alice, ended, "revoked")
        print(f"\nalice refused {elapsed * 1000:.0f} ms after revoke ended")
        async with http.get(f"{stack.api_url}/token", headers=alice) as response:
            assert json.loads(await response.text()) == {
                "error": {"code": "revoked", "message": "your access to tokens has been revoked"}
            }
        assert await vend(http, stack, alice, "/token/explain") == (403, "revoked")
        assert await vend(http, stack, bob) == (200, None)
        # The gateway never asked the authorizer again: its cached allow stood, and the function refused.
        assert stack.api.invocations(AUTHORIZER) == authorized

        status, out, _, _ = await tvm_users(stack, "blocks")
        assert status == 0 and out.startswith("revoked: alice (until lifted; since ") and out.count("\n") == 1
        assert out.endswith(" by local: compromised laptop)\n"), out

        assert (await tvm_users(stack, "restore", "alice"))[:3] == (0, "restored alice; open clients told\n", "")
        assert await vend(http, stack, alice) == (200, None)

        status, out, _, ended = await tvm_users(stack, "pause", "readonly")
        assert (status, out) == (0, "paused tier readonly (until lifted): paused by an operator; open clients told\n")
        await refused_within(http, stack, viewer, ended, "tier_paused")
        assert await vend(http, stack, alice) == (200, None)

        status, out, _, ended = await tvm_users(stack, "pause", "--all", "--reason", "incident")
        assert (status, out) == (0, "paused all vending (until lifted): incident; open clients told\n")
        await refused_within(http, stack, alice, ended, "vending_paused")
        for who in (bob, viewer):
            assert await vend(http, stack, who) == (403, "vending_paused")

        assert (await tvm_users(stack, "resume", "--all"))[:2] == (0, "resumed all vending; open clients told\n")
        assert await vend(http, stack, alice) == (200, None)
        assert await vend(http, stack, viewer) == (403, "tier_paused")
        assert (await tvm_users(stack, "resume", "readonly"))[:2] == (0, "resumed tier readonly; open clients told\n")
        for who in (alice, bob, viewer):
            assert await vend(http, stack, who) == (200, None)
        assert stack.api.invocations(AUTHORIZER) == authorized
        status, out, err, _ = await tvm_users(stack, "blocks")
        assert (status, out) == (0, "") and err.startswith("no revocations or pauses in make dev's moto at ")


# ---------------------------------------------------------------------- Open
async def test_open_mode_pauses_the_guest_tier(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports("Open")) as stack:
        guest: dict[str, str] = {}
        path = "/token?name=Ann&topics=chat-lobby"
        assert await vend(http, stack, guest, path) == (200, None)

        status, out, err, _ = await tvm_users(stack, "revoke", "Ann")
        assert (status, out) == (2, "")
        assert err.splitlines() == [
            f"error: make dev's moto at {stack.moto_url} (table tvm-issuance) runs AuthenticationMethod=Open: guests "
            "choose their own names, so revoking one means nothing; pause their tier instead: "
            "python -m tvm_users pause guest --local"
        ]

        status, out, _, ended = await tvm_users(stack, "pause", "guest", "--reason", "spam")
        assert (status, out) == (0, "paused tier guest (until lifted): spam; open clients told\n")
        async with http.get(f"{stack.api_url}{path}") as response:
            assert (response.status, json.loads(await response.text())["error"]["code"]) == (403, "tier_paused")
        assert time.monotonic() - ended < WITHIN
        assert await vend(http, stack, guest, "/token?name=Bea&topics=chat-lobby") == (403, "tier_paused")

        assert (await tvm_users(stack, "resume", "guest"))[:2] == (0, "resumed tier guest; open clients told\n")
        assert await vend(http, stack, guest, path) == (200, None)


# ---------------------------------------------------------------------- AmazonCognito
def cognito_client(stack: Stack) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def sign_in(stack: Stack, username: str) -> dict[str, Any]:
    info = stack.info.cognito
    assert info is not None
    result: dict[str, Any] = cognito_client(stack).initiate_auth(
        ClientId=info.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": DEMO_USERS[username][0]},
    )["AuthenticationResult"]
    return result


def sign_in_refusal(stack: Stack, username: str) -> str:
    try:
        sign_in(stack, username)
    except Exception as error:
        return str(getattr(error, "response", {}).get("Error", {}).get("Message"))
    return "signed in"


async def test_cognito_revoke_refuses_a_still_valid_id_token_and_the_sign_in(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports("AmazonCognito")) as stack:
        info = stack.info.cognito
        assert info is not None
        alice = bearer((await asyncio.to_thread(sign_in, stack, "alice"))["IdToken"])
        bob = bearer((await asyncio.to_thread(sign_in, stack, "bob"))["IdToken"])
        assert await vend(http, stack, alice) == (200, None)

        # `Alice`: the pool compares names without case, and so does the function.
        status, out, err, ended = await tvm_users(stack, "revoke", "Alice", "--reason", "phished")
        assert (status, err) == (0, "")
        assert out == (
            "revoked alice (until lifted): phished; signed out everywhere and disabled in the local user pool "
            f"{info.user_pool_id}; open clients told\n"
        )
        elapsed = await refused_within(http, stack, alice, ended, "revoked")  # the same, still valid ID token
        print(f"\nalice's ID token refused {elapsed * 1000:.0f} ms after revoke ended")
        assert await vend(http, stack, bob) == (200, None)
        assert await asyncio.to_thread(sign_in_refusal, stack, "alice") == "User is disabled."

        status, out, _, _ = await tvm_users(stack, "restore", "alice")
        assert (status, out) == (
            0,
            f"restored alice; enabled again in the local user pool {info.user_pool_id}; open clients told\n",
        )
        assert await vend(http, stack, alice) == (200, None)
        again = bearer((await asyncio.to_thread(sign_in, stack, "alice"))["IdToken"])
        assert await vend(http, stack, again) == (200, None)
