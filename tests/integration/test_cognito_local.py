"""AmazonCognito mode offline (`make dev AUTH=AmazonCognito`'s own code) on free ports, end to end.

moto's Cognito holds the template's pool, client and groups and the demo users; a user signs in with boto3's
`initiate_auth` (USER_PASSWORD_AUTH) against moto, sends the ID token to `GET /token` through the local API (whose JWT
check is API Gateway's), and the vended token is tried with the real `momento` SDK against the emulator. One stack for
the module; the last test SIGKILLs its moto (a restart re-creates everything with the same ids).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack import Stack, StackConfig
from devstack.cognito import LOCAL_PASSWORD_POLICY
from devstack.ready import ready_block, ready_json
from local_api.template import deployed_resources
from tests.integration.test_devstack import topic_rights as devstack_topic_rights
from tvm_users.demo import load_demo_users

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
CACHE = "default-cache"
REGION = "us-east-1"
DEMO_USERS = load_demo_users(ROOT / "local" / "demo_users.json")
EXPECTED_TIERS = {"alice": "readwrite", "bob": "readwrite", "viewer": "readonly"}
FUNCTION = "TokenVendingFunction"
BACK_WITHIN = 20.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[Stack]:
    started = time.perf_counter()
    config = StackConfig(
        auth="AmazonCognito", api_port=0, site_port=0, momento_grpc_port=0, momento_web_port=0, moto_port=0
    )
    stack = Stack(config)
    await stack.start()
    print(f"\nAmazonCognito stack ready in {time.perf_counter() - started:.2f} s")
    try:
        yield stack
    finally:
        await stack.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture(scope="module")
def cognito(stack: Stack) -> Iterator[Any]:
    """A boto3 Cognito client for the stack's moto (what the site's library and `tvm_users` call too)."""
    client = boto3.client(
        "cognito-idp",
        endpoint_url=stack.moto_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    yield client
    client.close()


def ids(stack: Stack) -> tuple[str, str]:
    info = stack.info.cognito
    assert info is not None
    return info.user_pool_id, info.client_id


def sign_in(stack: Stack, cognito: Any, username: str, password: str | None = None) -> dict[str, Any]:
    _, client_id = ids(stack)
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password or DEMO_USERS[username][0]},
    )["AuthenticationResult"]
    return result


def refreshed(stack: Stack, cognito: Any, refresh_token: str) -> dict[str, Any]:
    """REFRESH_TOKEN_AUTH: new ID and access tokens, with the user's groups as they are now."""
    _, client_id = ids(stack)
    result: dict[str, Any] = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh_token}
    )["AuthenticationResult"]
    return result


async def vend(http: aiohttp.ClientSession, stack: Stack, id_token: str | None) -> tuple[int, Any]:
    headers = {} if id_token is None else {"Authorization": f"Bearer {id_token}"}
    async with http.get(f"{stack.api_url}/token", headers=headers) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def topic_rights(stack: Stack, auth_token: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on a new topic, with the real SDK (test_devstack's check)."""
    return await devstack_topic_rights(stack, auth_token, f"room-{uuid.uuid4().hex[:8]}")


RIGHTS = {"readwrite": (True, True), "readonly": (False, True)}


# ---------------------------------------------------------------------- the pool is the template's
async def test_the_pool_client_and_groups_are_the_templates(stack: Stack, cognito: Any) -> None:
    pool_id, client_id = ids(stack)
    template = deployed_resources(
        ROOT / "template.yaml",
        {
            "AuthenticationMethod": "AmazonCognito",
            "MomentoApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-AbCdEf",
            "MomentoEndpoint": "127.0.0.1:8080",
        },
    )
    groups = {r.properties["GroupName"] for r in template.values() if r.type == "AWS::Cognito::UserPoolGroup"}
    client_properties = template["UserPoolClient"].properties

    pool = (await asyncio.to_thread(cognito.describe_user_pool, UserPoolId=pool_id))["UserPool"]
    assert pool["Name"] == template["UserPool"].properties["UserPoolName"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    # Relaxed for the demo passwords, in moto only; the template keeps its strong policy for deployments.
    assert {k: pool["Policies"]["PasswordPolicy"][k] for k in LOCAL_PASSWORD_POLICY} == LOCAL_PASSWORD_POLICY
    assert template["UserPool"].properties["Policies"]["PasswordPolicy"]["MinimumLength"] == 12

    client = await asyncio.to_thread(cognito.describe_user_pool_client, UserPoolId=pool_id, ClientId=client_id)
    client = client["UserPoolClient"]
    assert client["ClientName"] == client_properties["ClientName"]
    assert "ClientSecret" not in client
    assert sorted(client["ExplicitAuthFlows"]) == sorted(client_properties["ExplicitAuthFlows"])

    listed = (await asyncio.to_thread(cognito.list_groups, UserPoolId=pool_id))["Groups"]
    assert {group["GroupName"] for group in listed} == groups == {"readwrite", "readonly"}
    for username, (_, user_groups) in DEMO_USERS.items():
        held = await asyncio.to_thread(cognito.admin_list_groups_for_user, UserPoolId=pool_id, Username=username)
        assert {group["GroupName"] for group in held["Groups"]} == set(user_groups)


async def test_the_site_and_the_ready_report_carry_the_pool(stack: Stack, http: aiohttp.ClientSession) -> None:
    pool_id, client_id = ids(stack)
    async with http.get(f"{stack.site_url}config.js") as response:
        config = json.loads((await response.text()).split("window.TVM_CONFIG = ", 1)[1].rstrip().rstrip(";"))
    assert config["authMethod"] == "AmazonCognito"
    assert config["cognito"] == {
        "region": REGION,
        "userPoolId": pool_id,
        "clientId": client_id,
        "endpoint": stack.moto_url,
    }
    async with http.get(stack.site_url) as response:
        page = await response.text()
    assert f"connect-src {stack.api_url}" in page and stack.moto_url in page.split("connect-src", 1)[1].split(";")[0]

    ready = json.loads(ready_json(stack.info))
    assert ready["cognito"]["user_pool_id"] == pool_id
    assert ready["cognito"]["client_id"] == client_id
    assert ready["cognito"]["endpoint"] == stack.moto_url
    assert [user["username"] for user in ready["users"]] == sorted(DEMO_USERS)
    block = ready_block(stack.info)
    assert pool_id in block and client_id in block and "LOCAL ONLY" in block
    assert "python -m devstack token alice" in block


# ---------------------------------------------------------------------- sign in -> GET /token -> Momento
@pytest.mark.parametrize("username", sorted(DEMO_USERS))
async def test_each_demo_user_signs_in_and_gets_their_groups_tier(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession, username: str
) -> None:
    started = time.perf_counter()
    result = await asyncio.to_thread(sign_in, stack, cognito, username)
    print(f"\nsign-in of {username} against moto: {(time.perf_counter() - started) * 1000:.0f} ms")
    status, body = await vend(http, stack, result["IdToken"])
    assert status == 200, body
    assert body["tokenId"] == username
    assert body["scope"]["tier"] == EXPECTED_TIERS[username]
    assert await topic_rights(stack, body["authToken"]) == RIGHTS[EXPECTED_TIERS[username]]


async def test_a_raw_token_without_bearer_is_admitted_too(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession
) -> None:
    result = await asyncio.to_thread(sign_in, stack, cognito, "viewer")
    async with http.get(f"{stack.api_url}/token", headers={"Authorization": result["IdToken"]}) as response:
        assert response.status == 200


async def test_no_or_a_bad_token_is_the_gateways_401_and_runs_nothing(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession
) -> None:
    result = await asyncio.to_thread(sign_in, stack, cognito, "alice")
    claims = jwt.decode(result["IdToken"], options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers={"kid": "dummy"})
    before = stack.api.invocations(FUNCTION)
    for token in (None, forged, result["AccessToken"][:-4] + "AAAA", "Bearer"):
        status, body = await vend(http, stack, token)
        assert (status, body) == (401, {"message": "Unauthorized"}), token
    assert stack.api.invocations(FUNCTION) == before


async def test_a_wrong_password_is_refused_by_cognito(stack: Stack, cognito: Any) -> None:
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        await asyncio.to_thread(sign_in, stack, cognito, "alice", "not-alice-password")


async def test_a_user_in_no_group_gets_the_policys_default_tier(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession
) -> None:
    pool_id, _ = ids(stack)
    username = f"nogroup-{uuid.uuid4().hex[:6]}"
    await asyncio.to_thread(cognito.admin_create_user, UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    await asyncio.to_thread(
        cognito.admin_set_user_password, UserPoolId=pool_id, Username=username, Password="nogroup-pw", Permanent=True
    )
    try:
        result = await asyncio.to_thread(sign_in, stack, cognito, username, "nogroup-pw")
        assert "cognito:groups" not in jwt.decode(result["IdToken"], options={"verify_signature": False})
        status, body = await vend(http, stack, result["IdToken"])
        assert status == 200, body
        assert body["scope"]["tier"] == "readonly"  # policy.yaml's default_tier
    finally:
        await asyncio.to_thread(cognito.admin_delete_user, UserPoolId=pool_id, Username=username)


async def test_a_user_moved_to_another_group_gets_the_new_tier_after_a_refresh(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession
) -> None:
    pool_id, _ = ids(stack)
    first = await asyncio.to_thread(sign_in, stack, cognito, "viewer")
    status, body = await vend(http, stack, first["IdToken"])
    assert (status, body["scope"]["tier"]) == (200, "readonly")
    assert await topic_rights(stack, body["authToken"]) == RIGHTS["readonly"]

    await asyncio.to_thread(
        cognito.admin_remove_user_from_group, UserPoolId=pool_id, Username="viewer", GroupName="readonly"
    )
    await asyncio.to_thread(
        cognito.admin_add_user_to_group, UserPoolId=pool_id, Username="viewer", GroupName="readwrite"
    )
    try:
        # The old ID token still says readonly (its claims are what was signed): the tier follows the token.
        status, body = await vend(http, stack, first["IdToken"])
        assert (status, body["scope"]["tier"]) == (200, "readonly")
        renewed = await asyncio.to_thread(refreshed, stack, cognito, first["RefreshToken"])
        status, body = await vend(http, stack, renewed["IdToken"])
        assert (status, body["scope"]["tier"]) == (200, "readwrite")
        assert await topic_rights(stack, body["authToken"]) == RIGHTS["readwrite"]
    finally:
        await asyncio.to_thread(
            cognito.admin_remove_user_from_group, UserPoolId=pool_id, Username="viewer", GroupName="readwrite"
        )
        await asyncio.to_thread(
            cognito.admin_add_user_to_group, UserPoolId=pool_id, Username="viewer", GroupName="readonly"
        )


async def test_the_token_helper_prints_an_id_token_the_api_admits(stack: Stack, http: aiohttp.ClientSession) -> None:
    env = {**os.environ, "MOTO_PORT": stack.moto_url.rsplit(":", 1)[1]}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "devstack", "token", "bob"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status, body = await vend(http, stack, done.stdout.strip())
    assert (status, body["tokenId"]) == (200, "bob")
    wrong = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "devstack", "token", "bob", "--password-stdin"],
        env=env,
        input="not-bobs\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert wrong.returncode == 1 and "NotAuthorizedException" in wrong.stderr and wrong.stdout == ""


# ---------------------------------------------------------------------- make dev's process
def run_devstack_until_ready() -> tuple[float, dict[str, Any], int]:
    """`python -m devstack --auth AmazonCognito --ready-json` on free ports: (seconds to ready, the JSON, exit code
    after SIGTERM)."""
    env = {
        **os.environ,
        **dict.fromkeys(("API_PORT", "SITE_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "MOTO_PORT"), "0"),
    }
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "devstack", "--auth", "AmazonCognito", "--ready-json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            took = time.perf_counter() - started
            process.send_signal(signal.SIGTERM)
            return took, json.loads(line), process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


async def test_make_dev_in_cognito_mode_reports_the_pool_and_stops_cleanly() -> None:
    took, ready, returncode = await asyncio.to_thread(run_devstack_until_ready)
    print(
        f"\npython -m devstack --auth AmazonCognito ready in {took:.2f} s (its own count: {ready['startup_seconds']} s)"
    )
    assert ready["event"] == "ready" and ready["auth_method"] == "AmazonCognito"
    cognito = ready["cognito"]
    assert cognito["user_pool_id"].startswith(f"{REGION}_")
    assert cognito["client_id"] and cognito["endpoint"] == ready["moto_url"]
    assert cognito["issuer"] == f"https://cognito-idp.{REGION}.amazonaws.com/{cognito['user_pool_id']}"
    assert {user["username"]: user["tier"] for user in ready["users"]} == EXPECTED_TIERS
    assert returncode == 0


async def test_the_pool_and_client_ids_are_the_same_in_every_run(stack: Stack) -> None:
    """moto's HASH id strategies: a new `make dev` (not only a moto restart) gives the site the same ids."""
    _, ready, _ = await asyncio.to_thread(run_devstack_until_ready)
    assert (ready["cognito"]["user_pool_id"], ready["cognito"]["client_id"]) == ids(stack)


# ---------------------------------------------------------------------- moto crashes (last: it restarts moto)
async def test_a_killed_moto_is_reseeded_with_the_same_ids_and_sign_in_works_again(
    stack: Stack, cognito: Any, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack")
    pool_id, client_id = ids(stack)
    before_crash = await asyncio.to_thread(sign_in, stack, cognito, "alice")
    pid = stack.child_pid("moto")
    assert pid is not None
    restarts = stack.restarts["moto"]
    killed = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(BACK_WITHIN):
        await stack.wait_ready("moto", restarts + 1)
    print(f"\nmoto back and re-seeded {time.perf_counter() - killed:.2f} s after SIGKILL")
    assert stack.child_pid("moto") not in (None, pid)
    assert any(
        "re-seeded: secret tvm/momento-api-key, Cognito pool local-users (its client, 2 groups, 3 users)" in line
        for line in caplog.messages
    ), caplog.messages

    pools = (await asyncio.to_thread(cognito.list_user_pools, MaxResults=10))["UserPools"]
    assert [pool["Id"] for pool in pools] == [pool_id]
    clients = (await asyncio.to_thread(cognito.list_user_pool_clients, UserPoolId=pool_id))["UserPoolClients"]
    assert [client["ClientId"] for client in clients] == [client_id]

    # A token moto signed before the crash is still good (moto's key never changes) ...
    status, body = await vend(http, stack, before_crash["IdToken"])
    assert (status, body["tokenId"]) == (200, "alice")
    # moto forgot its sessions, though: a refresh token from before the crash is refused (AWS keeps them), so the
    # site must sign its user in again.
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        await asyncio.to_thread(refreshed, stack, cognito, before_crash["RefreshToken"])
    # ... and every demo user signs in again, with their groups.
    for username, tier in EXPECTED_TIERS.items():
        result = await asyncio.to_thread(sign_in, stack, cognito, username)
        status, body = await vend(http, stack, result["IdToken"])
        assert (status, body["scope"]["tier"]) == (200, tier)
