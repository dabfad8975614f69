"""`make dev`'s settings and the files it reads, on a copy of the checkout: one clear line for a bad policy, users
file or setting (exit 2, nothing started); TOKEN_TTL_SECONDS reaching the site's config.js; ALLOWED_ORIGINS in the
API's CORS; and users and policy edited while it runs (through `python -m tvm_users` too) applied at once.

The stacks run on a copy (template, functions, the demo users; for `python -m devstack`, its code too), so the
files can be broken and edited without touching the checkout.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import shutil
import signal
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

from devstack import ConfigError, Stack, StackConfig, config_from_env, ready_block
from devstack.cognito import local_client_id, sign_in
from devstack.seed import USERS_SECRET_NAME, secret_arn
from tests.stack_settings import unlimited_policy
from tvm_users.store import loads_store

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = ("API_PORT", "SITE_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "MOTO_PORT")
POLICY = Path("functions/token_vending/policy.yaml")
USERS = Path("local/demo_users.json")
VITE = "http://localhost:5173"  # Momento's Vite chat app, on Vite's default port
APPLY_TIMEOUT = 30.0
# moto's access line for a request it refused ("POST / HTTP/1.1" 400 -): an edit of the users file printed one for
# each call that was expected to fail (creating the secret or the Cognito users that moto held already).
MOTO_REFUSED = re.compile(r'\[moto\].*" 4\d\d ')


def copy_checkout(target: Path, *, with_code: bool = False) -> Path:
    """What a stack reads, copied: the template, the functions' code, the demo users (and the tools' code)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "node_modules")
    for name in ("functions", "authorizers", *(("local", "tools") if with_code else ())):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    (target / "local").mkdir(exist_ok=True)
    shutil.copy2(ROOT / USERS, target / USERS)
    shutil.copy2(ROOT / "template.yaml", target / "template.yaml")
    return target


def on_free_ports(root: Path = ROOT, **settings: Any) -> StackConfig:
    ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
    return StackConfig(root=root, **ports, **settings)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


async def token(http: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with http.get(url, headers=headers or {}) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of `path` holding `text`."""
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# ---------------------------------------------------------------------- one clear line, exit 2, nothing started
def _break_policy(root: Path) -> None:
    policy = root / POLICY
    policy.write_text(
        policy.read_text().replace(
            "  - group: readonly\n    tier: readonly", "  - group: readonly\n    tier: readonlyx"
        )
    )


def _bad_yaml(root: Path) -> None:
    (root / POLICY).write_text("version: 1\ntiers: [unclosed\n")


def _bad_users(root: Path) -> None:
    (root / USERS).write_text('{"users": {"alice": {"password": "alice-password", "groups": "readwrite"}}}\n')


def _users_not_json(root: Path) -> None:
    (root / USERS).write_text('{"users": {\n  "alice": {"password": "alice-password",}\n}}\n')


def _no_users(root: Path) -> None:
    (root / USERS).unlink()


def _nothing(root: Path) -> None:
    pass


@pytest.mark.parametrize(
    ("breaks", "env", "expected"),
    [
        (
            _break_policy,
            {},
            f"{POLICY}:{line_of(ROOT / POLICY, '- group: readonly') + 1}: groups[1] names an unknown tier 'readonlyx'. "
            "Fix it and start make dev again (`.venv/bin/python -m momento_tvm check-policy "
            f"{POLICY}` checks it)",
        ),
        (_bad_yaml, {}, f"{POLICY}:3: not valid YAML"),
        (_bad_users, {}, f"{USERS}: user 'alice' needs a string 'password' and a list of string 'groups'"),
        (_users_not_json, {}, f"{USERS}: not valid JSON (line 2)"),
        (_no_users, {}, f"{USERS}: no such file. Restore the demo users with `git checkout {USERS}`"),
        (_nothing, {"TOKEN_TTL_SECONDS": "4000"}, "TOKEN_TTL_SECONDS=4000 is longer than tier 'readwrite' allows"),
        (_nothing, {"TOKEN_TTL_SECONDS": "9"}, "TOKEN_TTL_SECONDS=9 is too short"),
        (_nothing, {"TOKEN_TTL_SECONDS": "1m"}, "TOKEN_TTL_SECONDS='1m' is not a whole number of seconds"),
        (_nothing, {"ALLOWED_ORIGINS": "http://localhost:5173/chat"}, "ALLOWED_ORIGINS: 'http://localhost:5173/chat'"),
        (_nothing, {"ALLOWED_ORIGINS": "*"}, "ALLOWED_ORIGINS: '*' is not an origin"),
    ],
    ids=[
        "unknown-tier",
        "policy-yaml",
        "users-shape",
        "users-json",
        "users-missing",
        "ttl-long",
        "ttl-short",
        "ttl-text",
        "origin-path",
        "origin-wildcard",
    ],
)
def test_a_bad_file_or_setting_is_one_line_and_exit_2(
    tmp_path: Path, breaks: Any, env: dict[str, str], expected: str
) -> None:
    root = copy_checkout(tmp_path, with_code=True)
    breaks(root)
    path = os.pathsep.join(str(root / folder) for folder in ("local", "authorizers/credentials", "tools"))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "--ready-json"],
        cwd=root,
        env={**os.environ, **dict.fromkeys(PORT_VARIABLES, "0"), "PYTHONPATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    print(f"\n{done.stderr.strip()}  ({elapsed:.2f} s)")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # nothing was started: no child's line, no "devstack: stopped"
    assert lines[0].startswith("devstack: ") and expected in lines[0], lines[0]
    assert str(root) not in lines[0]  # the file as it is named in the checkout


# ---------------------------------------------------------------------- TOKEN_TTL_SECONDS and ALLOWED_ORIGINS
def test_the_environment_settings_are_read_and_checked() -> None:
    config = config_from_env(
        "Open", {"TOKEN_TTL_SECONDS": " 60 ", "ALLOWED_ORIGINS": f"{VITE}/, https://chat.example.com:8443,{VITE}"}
    )
    assert config.token_ttl_seconds == 60
    assert config.allowed_origins == (VITE, "https://chat.example.com:8443")
    assert config.watch_files
    unset = config_from_env("Open", {})
    assert (unset.token_ttl_seconds, unset.allowed_origins) == (None, ())
    for bad in ("ftp://x", "http://x:99999", "http://*.example.com", "localhost:5173", "http://a b"):
        with pytest.raises(ConfigError, match="ALLOWED_ORIGINS"):
            config_from_env("Open", {"ALLOWED_ORIGINS": bad})


async def test_token_ttl_seconds_reaches_the_sites_config_and_the_ready_block(http: aiohttp.ClientSession) -> None:
    async with Stack(on_free_ports(auth="Open", token_ttl_seconds=20)) as stack:
        async with http.get(f"{stack.site_url}config.js") as response:
            config_js = await response.text()
        config = json.loads(config_js.split("window.TVM_CONFIG = ", 1)[1].rstrip().rstrip(";"))
        assert config["tokenTtlSeconds"] == 20
        block = ready_block(stack.info)
        print("\n" + block)
        assert "Tokens   20 s (TOKEN_TTL_SECONDS): the site renews each one before it expires" in block
        assert stack.info.to_json()["token_ttl_seconds"] == 20
        # what the site then asks for is granted
        status, body = await token(http, f"{stack.api_url}/token?topics=chat-lobby&ttlSeconds=20")
        assert status == 200, body
        assert 15 <= body["expiresAt"] - time.time() <= 20

    async with Stack(on_free_ports(auth="Open")) as stack:
        async with http.get(f"{stack.site_url}config.js") as response:
            assert "tokenTtlSeconds" not in await response.text()
        assert "`TOKEN_TTL_SECONDS=60 make dev` to watch renewals" in ready_block(stack.info)


async def test_allowed_origins_get_the_apis_cors_and_other_origins_do_not(http: aiohttp.ClientSession) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    # No issuance limit: seven tokens for one address is what this test sends (the limits have their own tests).
    async with Stack(on_free_ports(auth="Open", allowed_origins=(VITE,), policy=unlimited_policy())) as stack:
        url = f"{stack.api_url}/token?topics=chat-lobby"
        for origin in (VITE, *stack.site_origins):
            async with http.options(url, headers={"Origin": origin, **preflight}) as response:
                assert response.status == 204
                assert response.headers.get("Access-Control-Allow-Origin") == origin, origin
                assert "GET" in response.headers["Access-Control-Allow-Methods"]
                assert "authorization" in response.headers["Access-Control-Allow-Headers"]
            async with http.get(url, headers={"Origin": origin}) as response:
                assert response.status == 200
                assert response.headers.get("Access-Control-Allow-Origin") == origin, origin
        for other in ("http://localhost:5174", "http://evil.example"):
            async with http.options(url, headers={"Origin": other, **preflight}) as response:
                assert "Access-Control-Allow-Origin" not in response.headers
            async with http.get(url, headers={"Origin": other}) as response:
                assert response.status == 200  # CORS is the browser's check: the answer just lacks the header
                assert "Access-Control-Allow-Origin" not in response.headers

        # the emulator's grpc-web port answers the Vite app's origin too (any origin, as Momento's endpoint)
        web = f"{stack.info.momento_web_url}/cache_client.pubsub.Pubsub/Subscribe"
        headers = {"Origin": VITE, "Access-Control-Request-Method": "POST"}
        async with http.options(web, headers=headers) as response:
            assert response.headers.get("Access-Control-Allow-Origin") == VITE

        assert stack.info.api_cors_origins == (*stack.site_origins, VITE)
        block = ready_block(stack.info)
        assert f"CORS     API: {', '.join(stack.site_origins)}, {VITE} (ALLOWED_ORIGINS)" in block


# ---------------------------------------------------------------------- edits applied while running
def tvm_users(root: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m tvm_users ARGV --file <the copy's local/demo_users.json>`, as a developer runs it."""
    return subprocess.run(
        [sys.executable, "-m", "tvm_users", *argv, "--file", str(root / USERS)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest_asyncio.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Stack, Path]]:
    root = copy_checkout(tmp_path)
    async with Stack(on_free_ports(root, watch_files=True, watch_interval_seconds=0.2)) as stack:
        yield stack, root


async def test_users_added_and_removed_with_tvm_users_apply_at_once(
    watched: tuple[Stack, Path], http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    stack, root = watched
    caplog.set_level(logging.INFO, logger="devstack")
    url = f"{stack.api_url}/token"
    alice = basic("alice", "alice-password")
    assert (await token(http, url, alice))[0] == 200  # now cached: by the gateway and in the authorizer
    assert (await token(http, url, basic("carol", "carol-password")))[0] == 403

    done = tvm_users(root, "add-user", "carol", "--group", "readonly", "--password-stdin", stdin="carol-password\n")
    written = time.perf_counter()
    assert done.returncode == 0, done.stderr
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_changes_handled(1)
    status, body = await token(http, url, basic("carol", "carol-password"))
    print(f"\ncarol admitted {time.perf_counter() - written:.2f} s after `tvm_users add-user`")
    assert status == 200, body
    assert body["scope"]["tier"] == "readonly"
    assert [(user.username, user.tier) for user in stack.info.users][-1] == ("carol", "readonly")
    assert "local/demo_users.json changed: applied (secret tvm/users re-seeded" in caplog.text
    assert not MOTO_REFUSED.findall(caplog.text), caplog.text
    assert "carol readonly" in caplog.text
    assert "carol-password" not in caplog.text

    done = tvm_users(root, "remove-user", "alice")
    written = time.perf_counter()
    assert done.returncode == 0, done.stderr
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_changes_handled(2)
    status, _ = await token(http, url, alice)
    print(f"alice refused {time.perf_counter() - written:.2f} s after `tvm_users remove-user` (cached before)")
    assert status == 403  # not the 300 s the gateway's and the authorizer's caches would keep her for

    # a broken edit is refused with its one line, and the users in force stay
    (root / USERS).write_text('{"users": {"bob": {"password": "short", "groups": []}}}')
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_changes_handled(3)
    assert "local/demo_users.json changed, NOT applied: local/demo_users.json: user 'bob': a password must be" in (
        caplog.text
    )
    # carol still gets in: asked through explain (the authorizer decides the same), since a second mint of hers within
    # her tier's refill is the issuance limiter's failed conditional write, a 400 in moto's log like a refused call
    assert (await token(http, f"{url}/explain", basic("carol", "carol-password")))[0] == 200
    assert stack.changes_applied == 2

    # a moto that crashes now comes back with the users in force, not the ones of the start
    restarts = stack.restarts["moto"]
    pid = stack.child_pid("moto")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_ready("moto", restarts + 1)
    secret = await asyncio.to_thread(users_secret_value, stack.moto_url)
    assert sorted(loads_store(secret).users) == ["bob", "carol", "viewer"]
    assert not MOTO_REFUSED.findall(caplog.text), caplog.text  # two edits and a re-seed: not one refused call


def users_secret_value(moto_url: str) -> str:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    value: str = client.get_secret_value(SecretId=secret_arn(USERS_SECRET_NAME))["SecretString"]
    return value


async def test_a_policy_edit_applies_and_a_broken_one_is_refused(
    watched: tuple[Stack, Path], http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    stack, root = watched
    caplog.set_level(logging.INFO, logger="devstack")
    url = f"{stack.api_url}/token"
    viewer = basic("viewer", "viewer-password")
    status, body = await token(http, url, viewer)
    assert (status, body["scope"]["tier"]) == (200, "readonly")

    policy = root / POLICY
    original = policy.read_text()
    policy.write_text(
        original.replace("  - group: readonly\n    tier: readonly", "  - group: readonly\n    tier: readwrite")
    )
    written = time.perf_counter()
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_changes_handled(1)
    status, body = await token(http, url, viewer)
    print(f"\nthe new tier served {time.perf_counter() - written:.2f} s after the policy was saved")
    assert (status, body["scope"]["tier"]) == (200, "readwrite")
    assert "functions/token_vending/policy.yaml changed: applied (the API's functions restarted" in caplog.text
    assert [user.tier for user in stack.info.users if user.username == "viewer"] == ["readwrite"]

    policy.write_text(
        original.replace("  - group: readonly\n    tier: readonly", "  - group: readonly\n    tier: nope")
    )
    async with asyncio.timeout(APPLY_TIMEOUT):
        await stack.wait_changes_handled(2)
    line = line_of(policy, "tier: nope")
    assert (
        f"functions/token_vending/policy.yaml changed, NOT applied: functions/token_vending/policy.yaml:{line}: "
        "groups[1] names an unknown tier 'nope' (the previous version stays)"
    ) in caplog.text
    assert "Traceback" not in caplog.text
    status, body = await token(http, url, viewer)
    assert (status, body["scope"]["tier"]) == (200, "readwrite")  # the policy in force is the last good one


async def test_in_cognito_mode_a_user_added_to_the_file_can_sign_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="devstack")
    root = copy_checkout(tmp_path)
    config = on_free_ports(root, auth="AmazonCognito", watch_files=True, watch_interval_seconds=0.2)
    async with Stack(config) as stack:
        client_id = await asyncio.to_thread(local_client_id, stack.moto_url)
        done = tvm_users(root, "add-user", "carol", "--group", "readonly", "--password-stdin", stdin="carol-password")
        assert done.returncode == 0, done.stderr
        done = tvm_users(root, "remove-user", "bob")
        assert done.returncode == 0, done.stderr
        async with asyncio.timeout(APPLY_TIMEOUT):
            while stack.changes_applied < 1 or {u.username for u in stack.info.users} != {"alice", "viewer", "carol"}:
                await stack.wait_changes_handled(stack.changes_handled + 1)
        assert "local/demo_users.json changed: applied (the local Cognito pool's users synced" in caplog.text
        assert not MOTO_REFUSED.findall(caplog.text), caplog.text  # no user created twice, none deleted twice
        result = await asyncio.to_thread(sign_in, stack.moto_url, client_id, "carol", "carol-password")
        assert result["IdToken"]
        with pytest.raises(Exception, match="UserNotFoundException"):
            await asyncio.to_thread(sign_in, stack.moto_url, client_id, "bob", "bob-password")
        # moto logs that refusal (its 400) on its stderr, which the stack relays a moment later (later still on a
        # loaded machine): it must land before the restart's part of the log starts, or it would be counted there.
        deadline = time.monotonic() + APPLY_TIMEOUT
        while not MOTO_REFUSED.findall(caplog.text):  # caplog signals nothing: read it again shortly
            assert time.monotonic() < deadline, "moto's refusal of bob's sign-in was never relayed"
            await asyncio.sleep(0.05)

        # a moto restart re-seeds the pool (the users in force) without a refused call either
        logged = len(caplog.text)
        restarts, pid = stack.restarts["moto"], stack.child_pid("moto")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        async with asyncio.timeout(APPLY_TIMEOUT):
            await stack.wait_ready("moto", restarts + 1)
        assert "devstack: moto is back" in caplog.text[logged:]
        assert not MOTO_REFUSED.findall(caplog.text[logged:]), caplog.text[logged:]
        result = await asyncio.to_thread(sign_in, stack.moto_url, client_id, "carol", "carol-password")
        assert result["IdToken"]
