"""`MomentoMinter` against the real emulator in a subprocess: its tokens work with the real `momento` SDK, a hung
emulator (SIGSTOP) fails a mint within the deadline, and a resumed or restarted one is minting again within 1 s.

The SDK-based minter this replaces had no deadline at all: with the emulator stopped, its mint returned only once
the emulator was resumed (measured in the change's report; not a test, it would be slow by design).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import grpc
import pytest
from momento import CredentialProvider, TopicClientAsync, TopicConfigurations
from momento.errors import MomentoErrorCode
from momento.responses import TopicPublish, TopicSubscribe, TopicSubscriptionItem
from momento_wire_types.generated import permissionmessages_pb2, token_pb2

from momento_emulator import DEFAULT_API_KEY
from momento_tvm import Grant, TopicGrant, UpstreamUnavailableError
from momento_tvm.minting import MintedToken, MomentoMinter

CACHE = "chat"
DEADLINE = 1.0


@dataclass
class Emulator:
    """`python -m momento_emulator` in a subprocess, on free ports (or the ports it is given)."""

    process: subprocess.Popen[str]
    grpc_port: int
    web_port: int

    @classmethod
    def start(cls, grpc_port: int = 0, web_port: int = 0) -> Emulator:
        command = [sys.executable, "-m", "momento_emulator", "--grpc-port", str(grpc_port), "--web-port"]
        command += [str(web_port), "--cache", CACHE, "--log-level", "WARNING"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())  # written once both ports serve
        return cls(process, ready["grpc_port"], ready["web_port"])

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def signal(self, number: signal.Signals) -> None:
        os.kill(self.process.pid, number)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    running = Emulator.start()
    yield running
    running.kill()


def grant(topic: str, role: str = "publish_subscribe") -> Grant:
    return Grant("alice", "t", "r", CACHE, 300, TopicGrant(role, CACHE, names=(topic,)), None)


def probe(endpoint: str, timeout: float = 10.0) -> float:
    """Wait until the emulator answers a vend on a fresh channel; the monotonic time it did."""
    request = token_pb2._GenerateDisposableTokenRequest(
        auth_token=DEFAULT_API_KEY,
        expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=60),
        permissions=permissionmessages_pb2.Permissions(
            explicit=permissionmessages_pb2.ExplicitPermissions(
                permissions=[
                    permissionmessages_pb2.PermissionsType(
                        topic_permissions=permissionmessages_pb2.PermissionsType.TopicPermissions(
                            role=permissionmessages_pb2.TopicReadOnly,
                            cache_selector=permissionmessages_pb2.PermissionsType.CacheSelector(cache_name=CACHE),
                            all_topics=permissionmessages_pb2.PermissionsType.All(),
                        )
                    )
                ]
            )
        ),
    ).SerializeToString()
    give_up = time.monotonic() + timeout
    while True:
        with grpc.insecure_channel(endpoint) as channel:
            try:
                channel.unary_unary("/token.Token/GenerateDisposableToken")(request, timeout=0.5)
                return time.monotonic()
            except grpc.RpcError:
                if time.monotonic() > give_up:
                    raise
        time.sleep(0.01)


def timed_mint(minter: MomentoMinter, topic: str = "room") -> tuple[MintedToken | UpstreamUnavailableError, float]:
    started = time.monotonic()
    try:
        result: MintedToken | UpstreamUnavailableError = minter.mint(grant(topic))
    except UpstreamUnavailableError as error:
        result = error
    return result, time.monotonic() - started


def first_success_after(minter: MomentoMinter, since: float, limit: float = 5.0) -> tuple[float, list[str]]:
    """Mint every 20 ms until one succeeds: (seconds from `since` to that success, the failures before it)."""
    failures = []
    while time.monotonic() - since < limit:
        result, took = timed_mint(minter)
        if isinstance(result, MintedToken):
            return time.monotonic() - since, failures
        assert took < DEADLINE + 0.5
        failures.append(result.message)
        time.sleep(0.02)
    pytest.fail(f"no mint succeeded within {limit} s: {failures[-3:]}")


def token_provider(emulator: Emulator, token: MintedToken) -> CredentialProvider:
    provider = CredentialProvider.from_disposable_token(token.auth_token)
    host = "127.0.0.1"
    return CredentialProvider(provider.auth_token, host, host, host, emulator.grpc_port)


# --- the tokens work with the real SDK ------------------------------------------------------------------------------
async def test_a_minted_token_publishes_and_subscribes_as_its_scope_says(emulator: Emulator) -> None:
    topic = f"room-{uuid.uuid4().hex[:8]}"
    minter = MomentoMinter(DEFAULT_API_KEY, emulator.endpoint)
    both, reader = minter.mint(grant(topic)), minter.mint(grant(topic, "subscribe_only"))
    assert both.endpoint == emulator.endpoint
    assert both.expires_at - time.time() == pytest.approx(300, abs=5)
    config = TopicConfigurations.Default.v1().with_client_timeout(timedelta(minutes=1))
    async with (
        TopicClientAsync(config, token_provider(emulator, both)) as client,
        TopicClientAsync(config, token_provider(emulator, reader)) as read_only,
    ):
        subscription = await read_only.subscribe(CACHE, topic)
        assert isinstance(subscription, TopicSubscribe.SubscriptionAsync), subscription
        assert isinstance(await client.publish(CACHE, topic, "hello"), TopicPublish.Success)
        item = await subscription.__anext__()
        assert isinstance(item, TopicSubscriptionItem.Text) and item.value == "hello"
        subscription.unsubscribe()
        for denied in (await client.publish(CACHE, "other", "x"), await read_only.publish(CACHE, topic, "x")):
            assert isinstance(denied, TopicPublish.Error) and denied.error_code == MomentoErrorCode.PERMISSION_ERROR
    minter.close()


# --- a hung emulator, resumed ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("hung_for", [1.2, 4.0], ids=["short-hang", "long-hang-keepalive-drops-the-connection"])
def test_a_hung_emulator_fails_mints_within_the_deadline_and_a_resumed_one_mints_within_a_second(
    emulator: Emulator, hung_for: float
) -> None:
    threads = threading.active_count()
    minter = MomentoMinter(DEFAULT_API_KEY, emulator.endpoint, deadline_seconds=DEADLINE)
    assert isinstance(timed_mint(minter)[0], MintedToken)

    emulator.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    outcomes = []
    while time.monotonic() - stopped < hung_for:
        result, took = timed_mint(minter)
        assert isinstance(result, UpstreamUnavailableError), result
        assert took < DEADLINE + 0.5, (took, result.message)
        assert DEFAULT_API_KEY not in result.message
        outcomes.append(result.message)
    assert "Momento did not mint a token (DEADLINE_EXCEEDED)" in outcomes[0]

    emulator.signal(signal.SIGCONT)
    answered = probe(emulator.endpoint)
    recovered_in, failures = first_success_after(minter, answered)
    assert recovered_in < 1.0, (recovered_in, failures)
    assert all("UNAVAILABLE" in f or "DEADLINE_EXCEEDED" in f for f in failures), failures
    minter.close()
    assert threading.active_count() == threads


# --- a crashed emulator, restarted on the same ports ----------------------------------------------------------------
def test_a_restarted_emulator_on_the_same_ports_mints_within_a_second_of_ready(emulator: Emulator) -> None:
    threads = threading.active_count()
    minter = MomentoMinter(DEFAULT_API_KEY, emulator.endpoint, deadline_seconds=DEADLINE)
    assert isinstance(timed_mint(minter)[0], MintedToken)

    emulator.kill()
    for _ in range(3):
        result, took = timed_mint(minter)
        assert isinstance(result, UpstreamUnavailableError) and "(UNAVAILABLE)" in result.message, result
        assert took < DEADLINE + 0.5
        time.sleep(0.3)

    restarted = Emulator.start(emulator.grpc_port, emulator.web_port)
    try:
        ready = time.monotonic()
        recovered_in, failures = first_success_after(minter, ready)
        assert recovered_in < 1.0, (recovered_in, failures)
    finally:
        restarted.kill()
    minter.close()
    assert threading.active_count() == threads
