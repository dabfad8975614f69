"""What a caller sees while Momento or Secrets Manager is down, through the whole local stack, at concurrency 1.

The reproductions from operating `make dev`:
- the emulator hung (SIGSTOP): `GET /token` hung for the function's whole 10 s timeout, then a bare 500; now a
  `503 upstream_unavailable` with Retry-After in under 2 s, and the first 200 within 1 s of Momento answering again;
- Secrets Manager (moto) down in LambdaAuthorizer mode: the authorizer denied (403, "wrong password") and the
  gateway cached the deny, so alice stayed refused after it came back; now the gateway's own, uncached
  `500 {"message":"Internal Server Error"}`, and alice's next request after the outage gets in.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from momento import CacheClient, Configurations, CredentialProvider
from momento.responses import CacheGet

from devstack.stack import Stack
from tests.integration.stack_thread import StackThread

ALICE = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-password").decode()}
BOB = {"Authorization": "Basic " + base64.b64encode(b"bob:bob-password").decode()}
GATEWAY_500 = {"message": "Internal Server Error"}
HUNG_ANSWER_SECONDS = 2.0
RECOVERY_SECONDS = 1.0


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def get_token(stack: Stack, headers: dict[str, str], timeout: float = 15.0) -> Answer:
    port = int(stack.api_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("GET", "/token", headers=headers)
        response = connection.getresponse()
        raw = response.read()
        headers_seen = {k.lower(): v for k, v in response.getheaders()}
        return Answer(response.status, headers_seen, json.loads(raw), time.perf_counter() - started)
    finally:
        connection.close()


def momento_answers(stack: Stack) -> bool:
    """A direct probe of the emulator with the real SDK and the root key (a cache miss is an answer)."""
    key = stack.config.resolved_api_key()
    provider = CredentialProvider(key, "127.0.0.1", "127.0.0.1", "127.0.0.1", stack.emulator_grpc_port)
    config = Configurations.Laptop.v1().with_client_timeout(timedelta(seconds=0.5))
    with CacheClient(config, provider, timedelta(seconds=60)) as client:
        return not isinstance(client.get(stack.info.cache_name, "probe"), CacheGet.Error)


def first_200_after(stack: Stack, headers: dict[str, str], within: float) -> float:
    """Seconds from now until `GET /token` first answers 200 (requests one after another, as a client retrying)."""
    started = time.perf_counter()
    while True:
        answer = get_token(stack, headers)
        if answer.status == 200:
            return time.perf_counter() - started
        assert answer.status == 503 and answer.body["error"]["code"] == "upstream_unavailable", answer
        assert time.perf_counter() - started < within + HUNG_ANSWER_SECONDS, "no 200 in time"


def assert_fast_503(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.body["error"]["code"] == "upstream_unavailable"
    assert int(answer.headers["retry-after"]) > 0
    assert answer.seconds < HUNG_ANSWER_SECONDS, f"a hung Momento took {answer.seconds:.2f} s to answer"


@pytest.fixture
def running() -> Iterator[StackThread]:
    """A fresh stack per test: every test starts with cold functions and empty caches."""
    thread = StackThread("LambdaAuthorizer")
    with thread:
        yield thread


def test_a_hung_momento_is_a_fast_503_and_recovers_within_a_second(running: StackThread) -> None:
    stack = running.stack
    assert get_token(stack, ALICE).status == 200
    pid = stack.child_pid("emulator")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(3):  # the warm container keeps answering: it was not lost to a timeout
            assert_fast_503(get_token(stack, ALICE))
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 10
    while not momento_answers(stack):
        assert time.monotonic() < deadline, "the emulator did not answer after SIGCONT"
    assert first_200_after(stack, ALICE, RECOVERY_SECONDS) < RECOVERY_SECONDS


def test_a_killed_momento_is_a_fast_503_and_its_restart_is_picked_up_within_a_second(running: StackThread) -> None:
    stack = running.stack
    assert get_token(stack, ALICE).status == 200
    restarts = stack.restarts["emulator"]
    pid = stack.child_pid("emulator")
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert_fast_503(get_token(stack, ALICE))
    running.run(asyncio.wait_for(stack.wait_ready("emulator", restarts + 1), 30))
    assert momento_answers(stack)
    assert first_200_after(stack, ALICE, RECOVERY_SECONDS) < RECOVERY_SECONDS


def test_secrets_manager_down_is_the_gateways_uncached_500_never_a_deny(running: StackThread) -> None:
    """A fresh stack: nothing is cached yet, so the authorizer must read the users store, and cannot."""
    stack = running.stack
    pid = stack.child_pid("moto")
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        for _ in range(2):
            answer = get_token(stack, ALICE)
            assert (answer.status, answer.body) == (500, GATEWAY_500), answer
            assert answer.seconds < 5.0, f"the authorizer took {answer.seconds:.2f} s to give up"
    finally:
        os.kill(pid, signal.SIGCONT)
    # Nothing was cached: alice (who was refused) and bob (who was not) both get in at once.
    for who in (ALICE, BOB):
        answer = get_token(stack, who)
        assert answer.status == 200, answer
