"""The local stack survives its parts: a killed (or cleanly exited) emulator or moto is started again on the same
ports, moto is re-seeded, the log says what happened, and stopping during a restart leaves no process behind.

Each test runs its own stack (`make dev`'s code) on free ports and signals the real child processes by pid.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
import pytest_asyncio
from momento import CacheClientAsync, Configurations, CredentialProvider
from momento.responses import CacheGet, CacheSet

from devstack import Stack, StackConfig
from devstack.config import RestartPolicy
from devstack.seed import ISSUANCE_TABLE_NAME, MOMENTO_KEY_SECRET_NAME, USERS_SECRET_NAME, secret_arn

HOST = "127.0.0.1"
CACHE = "default-cache"
BACK_WITHIN = 20.0  # seconds a restart may take on a busy two-core machine (about 0.5 s when idle)


def on_free_ports(auth: str = "LambdaAuthorizer", **restart: float) -> StackConfig:
    return StackConfig(
        auth=auth,
        api_port=0,
        site_port=0,
        momento_grpc_port=0,
        momento_web_port=0,
        moto_port=0,
        restart=RestartPolicy(**restart),
    )


@pytest.fixture
def devstack_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="devstack")
    return caplog


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def basic(username: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {base64.b64encode(f'{username}:{password}'.encode()).decode()}"}


async def vend(http: aiohttp.ClientSession, stack: Stack, scheme: str = "Basic") -> tuple[int, Any]:
    async with http.get(f"{stack.api_url}/token", headers=basic("alice", "alice-password", scheme)) as response:
        return response.status, await response.json(content_type=None)


async def vend_within(http: aiohttp.ClientSession, stack: Stack, seconds: float, scheme: str = "Basic") -> Any:
    """The first 200 from `GET /token` within `seconds` (the functions answer 503 while a part is down)."""
    deadline = time.monotonic() + seconds
    while True:
        status, body = await vend(http, stack, scheme)
        if status == 200:
            return body
        assert time.monotonic() < deadline, (status, body)
        await asyncio.sleep(0.1)


def sdk_client(stack: Stack, auth_token: str) -> CacheClientAsync:
    provider = dataclasses.replace(
        CredentialProvider.from_disposable_token(auth_token),
        control_endpoint=HOST,
        cache_endpoint=HOST,
        token_endpoint=HOST,
        port=stack.emulator_grpc_port,
    )
    return CacheClientAsync(Configurations.Laptop.v1(), provider, timedelta(minutes=1))


async def round_trip(client: CacheClientAsync) -> bool:
    """True when the client can write and read back a key in the stack's cache (which must exist)."""
    value = uuid.uuid4().hex
    written = await client.set(CACHE, "supervision", value)
    if not isinstance(written, CacheSet.Success):
        return False
    read = await client.get(CACHE, "supervision")
    return isinstance(read, CacheGet.Hit) and read.value_string == value


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def our_children() -> set[int]:
    """Processes whose parent is this test process (a stack's children, wherever they are in a restart)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z" and int(fields[1]) == os.getpid():
                found.add(int(entry.name))
    return found


def logged(caplog: pytest.LogCaptureFixture, fragment: str) -> list[str]:
    return [message for message in caplog.messages if fragment in message]


async def wait_logged(caplog: pytest.LogCaptureFixture, fragment: str, seconds: float = BACK_WITHIN) -> str:
    deadline = time.monotonic() + seconds
    while not (found := logged(caplog, fragment)):
        assert time.monotonic() < deadline, (fragment, caplog.messages)
        await asyncio.sleep(0.02)
    return found[-1]


async def kill_and_wait_back(stack: Stack, name: str, sig: signal.Signals = signal.SIGKILL) -> tuple[int, float]:
    """Signal `name`, wait until it is back: (its old pid, seconds until back)."""
    assert name in ("emulator", "moto")
    pid = stack.child_pid(name)  # type: ignore[arg-type]
    assert pid is not None
    before = stack.restarts[name]
    started = time.perf_counter()
    os.kill(pid, sig)
    async with asyncio.timeout(BACK_WITHIN):
        await stack.wait_ready(name, before + 1)  # type: ignore[arg-type]
    took = time.perf_counter() - started
    assert stack.restarts[name] == before + 1
    assert stack.child_pid(name) not in (None, pid)  # type: ignore[arg-type]
    assert not alive(pid)
    print(f"\n{name} back in {took:.2f} s after {sig.name}")
    return pid, took


def assert_no_process_left(pids: Iterable[int], baseline: set[int]) -> None:
    """None of `pids` is alive, and this process has no child it did not have before the stack (`baseline`)."""
    assert [pid for pid in pids if alive(pid)] == []
    left = our_children() - baseline
    assert left == set(), {pid: (Path("/proc") / str(pid) / "cmdline").read_bytes() for pid in left}


# ---------------------------------------------------------------------- the emulator
async def test_a_killed_emulator_comes_back_on_its_ports_and_old_tokens_still_work(
    http: aiohttp.ClientSession, devstack_log: pytest.LogCaptureFixture
) -> None:
    async with Stack(on_free_ports()) as stack:
        waiting = asyncio.ensure_future(stack.wait())
        body = await vend_within(http, stack, 5)
        token = body["authToken"]
        ports = (stack.emulator_grpc_port, stack.emulator_web_port)
        async with sdk_client(stack, token) as before_crash:
            assert await round_trip(before_crash)

            await kill_and_wait_back(stack, "emulator")

            assert (stack.emulator_grpc_port, stack.emulator_web_port) == ports
            # A client made now, with the token vended before the crash: the same key signs it, the cache is there.
            async with sdk_client(stack, token) as after_crash:
                assert await round_trip(after_crash)
            # The client that lived through the crash reconnects to the same address by itself.
            deadline = time.monotonic() + 15
            while not await round_trip(before_crash):
                assert time.monotonic() < deadline, "the client made before the crash never worked again"
                await asyncio.sleep(0.2)

        grpc, web = ports
        assert logged(
            devstack_log,
            f"devstack: the Momento emulator exited (signal SIGKILL); restarting it on {HOST}:{grpc}/{web} in 0.2 s",
        )
        assert logged(devstack_log, "devstack: the Momento emulator is back (restart 1, ")
        # The API vends again (the vending function reconnects to the same endpoint).
        assert (await vend_within(http, stack, 15))["endpoint"] == f"{HOST}:{grpc}"
        assert not waiting.done()  # wait() did not end with the crash
        waiting.cancel()


async def test_an_emulator_that_exits_with_code_0_is_restarted_and_repeated_crashes_back_off(
    devstack_log: pytest.LogCaptureFixture,
) -> None:
    async with Stack(on_free_ports("Open")) as stack:
        waiting = asyncio.ensure_future(stack.wait())
        await kill_and_wait_back(stack, "emulator", signal.SIGTERM)  # it stops cleanly: exit code 0
        assert logged(devstack_log, "the Momento emulator exited (exit code 0); restarting it on ")
        await kill_and_wait_back(stack, "emulator")  # again at once: it was not up for 30 s, so the delay doubles
        assert logged(devstack_log, "the Momento emulator exited (signal SIGKILL); restarting it on ")[-1].endswith(
            " in 0.4 s"
        )
        assert logged(devstack_log, "the Momento emulator is back (restart 2, ")
        assert stack.restarts == {"emulator": 2, "moto": 0}
        # restart_emulator() (what other tests use) goes through the same supervisor.
        await stack.restart_emulator()
        assert stack.restarts["emulator"] == 3
        assert stack.child_ready("emulator")
        assert not waiting.done()
        waiting.cancel()


async def test_a_port_taken_while_the_emulator_is_down_is_retried_until_free(
    devstack_log: pytest.LogCaptureFixture,
) -> None:
    async with Stack(on_free_ports("Open", first_delay_seconds=0.5)) as stack:
        web_port = stack.emulator_web_port
        pid = stack.child_pid("emulator")
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            deadline = time.monotonic() + 0.4  # before the restart, 0.5 s after the crash
            while True:
                try:
                    squatter.bind((HOST, web_port))
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the killed emulator's port was never free"
                    await asyncio.sleep(0.005)
            squatter.listen(1)
            line = await wait_logged(
                devstack_log, f"devstack: the Momento emulator is not back: port {web_port} (MOMENTO_WEB_PORT) is taken"
            )
            assert " by another program; retrying in " in line
            assert not stack.child_ready("emulator")
        async with asyncio.timeout(BACK_WITHIN):
            await stack.wait_ready("emulator", 1)
        assert stack.emulator_web_port == web_port
        assert logged(devstack_log, "the Momento emulator is back (restart 1, ")


# ---------------------------------------------------------------------- moto
async def test_a_killed_moto_comes_back_with_its_secrets_under_the_same_arns(
    http: aiohttp.ClientSession, devstack_log: pytest.LogCaptureFixture
) -> None:
    async with Stack(on_free_ports("LambdaAuthorizer")) as stack:
        waiting = asyncio.ensure_future(stack.wait())
        secrets = boto3.client(
            "secretsmanager",
            endpoint_url=stack.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        arns = [secret_arn(MOMENTO_KEY_SECRET_NAME), secret_arn(USERS_SECRET_NAME)]

        def read_all() -> list[tuple[str, str]]:
            values = [secrets.get_secret_value(SecretId=arn) for arn in arns]
            return [(value["ARN"], value["SecretString"]) for value in values]

        held = await asyncio.to_thread(read_all)
        assert [arn for arn, _ in held] == arns
        await vend_within(http, stack, 5)

        await kill_and_wait_back(stack, "moto")

        assert await asyncio.to_thread(read_all) == held  # the same values under the same ARNs
        port = stack.moto_url.rsplit(":", 1)[1]
        assert logged(devstack_log, f"devstack: moto exited (signal SIGKILL); restarting it on {HOST}:{port} in 0.2 s")
        assert logged(
            devstack_log,
            "devstack: moto is back (restart 1, ",
        )[-1].endswith("; re-seeded: secret tvm/momento-api-key, secret tvm/users, table tvm-issuance)")
        # The issuance table is back too (empty: every caller's bucket starts full again).
        tables = boto3.client(
            "dynamodb",
            endpoint_url=stack.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).list_tables()["TableNames"]
        assert tables == [ISSUANCE_TABLE_NAME]
        # A spelling of the header no request used before: the gateway's authorizer cache cannot answer for it.
        back = time.perf_counter()
        assert (await vend_within(http, stack, 5, scheme="BASIC"))["tokenId"] == "alice"
        print(f"GET /token 200 again {time.perf_counter() - back:.2f} s after moto was back")
        assert not waiting.done()
        waiting.cancel()


# ---------------------------------------------------------------------- stopping during a restart
async def test_stop_while_a_restart_waits_out_its_backoff_leaves_no_process() -> None:
    baseline = our_children()
    stack = Stack(on_free_ports("Open", first_delay_seconds=3.0))
    await stack.start()
    try:
        pids = set(stack.child_pids())
        emulator = stack.child_pid("emulator")
        assert emulator is not None and len(pids) == 2
        os.kill(emulator, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while stack.child_ready("emulator"):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        stopping = time.perf_counter()
        await stack.stop()
    took = time.perf_counter() - stopping
    assert took < 2.5, f"stop() waited for the restart's backoff ({took:.2f} s)"
    assert stack.restarts["emulator"] == 0
    assert_no_process_left(pids, baseline)


async def test_stop_while_a_restarted_child_is_starting_leaves_no_process() -> None:
    baseline = our_children()
    stack = Stack(on_free_ports("LambdaAuthorizer", first_delay_seconds=0.05))
    await stack.start()
    seen: set[int] = set()
    try:
        seen.update(stack.child_pids())
        moto = stack.child_pid("moto")
        assert moto is not None
        os.kill(moto, signal.SIGKILL)
        # Wait for the new moto process, and stop before it answers (or, on a fast machine, right after).
        deadline = time.monotonic() + 10
        while (pid := stack.child_pid("moto")) in (None, moto):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.002)
        seen.add(pid)
        caught_starting = not stack.child_ready("moto")
    finally:
        await stack.stop()
    print(f"\nstopped while the new moto was {'starting' if caught_starting else 'already back'}")
    assert_no_process_left(seen, baseline)
