"""The shared issuance limiter against a real DynamoDB API (moto): through the standard-library client the Lambda
uses and the boto3 one an embedded app passes, alike; several processes sharing the table allow exactly what one
would; the table going away fails fast and typed, and the vending machine then lets the mint through or refuses, as
configured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from momento_tvm import VendingMachine, verified_identity
from momento_tvm.aws_boto3 import Boto3JsonClient
from momento_tvm.aws_json import DYNAMODB, AwsError, AwsJsonClient, StdlibAwsClient
from momento_tvm.errors import LimiterUnavailableError, RateLimitedError
from momento_tvm.limits import Allowance, DynamoDbLimiter, InMemoryLimiter, LimiterError, RateLimit
from momento_tvm.minting import MintedToken
from momento_tvm.policy import parse_policy
from tests.aws_moto import Moto, create_issuance_table, moto_server

ROOT = Path(__file__).resolve().parents[2]
KINDS = ["stdlib", "boto3"]
NOW = 1_800_000_000.0


def create_table(moto: Moto, name: str) -> None:
    """The table as the template declares it (tests/unit/test_template.py holds the template to these keys)."""
    create_issuance_table(moto.client("dynamodb"), name)


def environ(url: str) -> dict[str, str]:
    return {
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "DYNAMODB_ENDPOINT": url,
    }


def client(kind: str, url: str) -> AwsJsonClient:
    """One attempt, as the function's client makes (no retry hides a wrong answer), with a deadline far above moto's
    answer on a loaded machine: these tests are about what the table answers, not how fast (CI once saw 0.3 s pass)."""
    if kind == "stdlib":
        return StdlibAwsClient(DYNAMODB, timeout=5.0, environ=environ(url))
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=5)
    return Boto3JsonClient(
        boto3.client(
            "dynamodb",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )
    )


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(moto: Moto) -> str:
    create_table(moto, "tvm-issuance")
    return "tvm-issuance"


@pytest.mark.parametrize("kind", KINDS)
def test_the_shared_bucket_allows_burst_then_one_per_period(kind: str, moto: Moto, table: str) -> None:
    clock = Clock()
    limiter = DynamoDbLimiter(client(kind, moto.url), table, clock=clock)
    limit = RateLimit(3, 10.0)
    answers = [limiter.take("user#alice", limit) for _ in range(4)]
    assert answers == [Allowance(True, 2, 0), Allowance(True, 1, 0), Allowance(True, 0, 0), Allowance(False, 0, 10)]
    assert limiter.peek("user#alice", limit) == Allowance(False, 0, 10)
    assert limiter.take("user#bob", limit).allowed
    clock.now += 10
    assert limiter.peek("user#alice", limit).remaining == 1
    assert limiter.take("user#alice", limit) == Allowance(True, 0, 0)
    clock.now += 3600  # long idle: full again, through the first (fresh-bucket) write
    assert limiter.take("user#alice", limit) == Allowance(True, 2, 0)
    item = moto.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}}
    )["Item"]
    assert set(item) == {"pk", "sk", "tat", "expires_at"}
    assert float(item["tat"]["N"]) == clock.now + 10
    assert int(item["expires_at"]["N"]) >= clock.now + 10  # DynamoDB's TTL deletes it only once the bucket is full


class CountingClient:
    """The standard-library client, counting the UpdateItem calls that failed their condition."""

    def __init__(self, inner: AwsJsonClient) -> None:
        self.inner = inner
        self.failed = 0

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.inner.call(operation, params)
        except AwsError as error:
            self.failed += error.code == "ConditionalCheckFailedException"
            raise


def test_a_caller_vending_again_costs_one_write_not_a_failed_one_first(moto: Moto, table: str) -> None:
    """The write a process expects goes first: a second and third token within the refill period, and a token after
    a long idle, each succeed at their first write; only the refusal fails one (and needs no second)."""
    counting = CountingClient(client("stdlib", moto.url))
    clock = Clock()
    limiter = DynamoDbLimiter(counting, table, clock=clock)
    limit = RateLimit(3, 10.0)
    assert [limiter.take("user#alice", limit).allowed for _ in range(3)] == [True] * 3
    assert counting.failed == 0
    assert not limiter.take("user#alice", limit).allowed
    assert counting.failed == 1
    clock.now += 3600
    assert limiter.take("user#alice", limit) == Allowance(True, 2, 0)
    assert counting.failed == 1  # an hour on, the hint says the bucket is full again: the fresh write, first time


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_table_or_a_dead_endpoint_is_a_limiter_error_with_a_code(kind: str, moto: Moto) -> None:
    limiter = DynamoDbLimiter(client(kind, moto.url), "no-such-table", clock=Clock())
    with pytest.raises(LimiterError) as raised:
        limiter.take("user#alice", RateLimit(1, 1.0))
    assert raised.value.code == "ResourceNotFoundException"
    dead = DynamoDbLimiter(client(kind, "http://127.0.0.1:9"), "t", clock=Clock())
    for call in (dead.take, dead.peek):
        with pytest.raises(LimiterError) as raised:
            call("user#alice", RateLimit(1, 1.0))
        assert raised.value.code == "ConnectionError"


_WORKER = """
import json, sys
from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient
from momento_tvm.limits import DynamoDbLimiter, RateLimit
url, table, now, takes = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
limiter = DynamoDbLimiter(StdlibAwsClient(DYNAMODB, timeout=2.0), table, clock=lambda: now)
sys.stdin.readline()  # start together
print(json.dumps(sum(limiter.take("user#shared", RateLimit(7, 60.0)).allowed for _ in range(takes))))
"""


@contextmanager
def one_request_at_a_time() -> Iterator[Moto]:
    """A moto server answering one request at a time. moto checks a condition and applies the update without a lock,
    so two of its threads can both pass one condition (four processes once got 8 tokens from a bucket of 7), where
    DynamoDB applies each item's writes one after another. A server without threads plays DynamoDB's atomicity."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=False, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Moto("127.0.0.1", server.server_port)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_processes_sharing_the_table_allow_exactly_what_one_would(table: str) -> None:
    """Four processes take 10 each from one bucket of 7 at the same instant: 7 allowed in all, never more."""
    with one_request_at_a_time() as moto:
        allowed = _four_processes(moto.url, table)
    assert sum(allowed) == 7, allowed


def _four_processes(url: str, table: str) -> list[int]:
    env = {**os.environ, **environ(url)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, url, table, str(NOW), "10"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(4)
    ]
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return [json.loads(worker.communicate(timeout=60)[0]) for worker in workers]


class CountingMinter:
    def __init__(self) -> None:
        self.mints = 0

    def mint(self, grant: object) -> MintedToken:
        self.mints += 1
        return MintedToken("secret-token-bytes", 1_900_000_000, "127.0.0.1:1")


POLICY = """
version: 1
default_tier: t
groups: []
tiers:
  t:
    topics: {role: subscribe_only, names: ["*"]}
    ttl_seconds: 60
    max_ttl_seconds: 60
    limits: {burst: 2, refill_seconds: 60}
"""


@pytest.mark.parametrize("on_error", ["allow", "refuse"])
def test_an_outage_of_the_table_lets_mints_through_or_refuses_them_fast(on_error: str) -> None:
    with moto_server() as server:
        table = f"tvm-outage-{on_error}"  # moto's state is the process's: every server shares it
        create_table(server, table)
        url = server.url
        minter = CountingMinter()
        vendor = VendingMachine(
            parse_policy(POLICY),
            lambda: minter,
            cache_name="c",
            limiter=DynamoDbLimiter(client("stdlib", url), table, clock=Clock()),
            on_store_error=on_error,
        )
        alice = verified_identity("alice", [])
        vendor.vend(alice)
        vendor.vend(alice)
        with pytest.raises(RateLimitedError):
            vendor.vend(alice)
    # moto is gone now: nothing listens on its port.
    started = time.monotonic()
    if on_error == "allow":
        token = vendor.vend(alice)
        assert (token.limiter_error, token.allowance) == ("ConnectionError", None)
        assert minter.mints == 3
    else:
        with pytest.raises(LimiterUnavailableError) as raised:
            vendor.vend(alice)
        assert (raised.value.status, raised.value.retry_after, raised.value.store_code) == (503, 2, "ConnectionError")
        assert minter.mints == 2
    assert time.monotonic() - started < 1.0  # one attempt within the 0.3 s deadline, never a hang


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    burst=st.integers(min_value=1, max_value=4),
    refill=st.sampled_from([0.5, 2.0, 7.5]),
    steps=st.lists(
        st.tuples(st.sampled_from([0, 0, 0.1, 0.5, 1.0, 3.0, 20.0]), st.sampled_from("ab"), st.sampled_from([0, 1])),
        max_size=24,
    ),
)
def test_the_table_answers_exactly_as_the_in_memory_arithmetic(
    moto_server: Moto, burst: int, refill: float, steps: list[tuple[float, str, int]]
) -> None:
    """Two limiters on one table (two processes, each with its own hints of which write to try first) give, take by
    take, the answers of the pure bucket (InMemoryLimiter)."""
    name = f"tvm-model-{uuid.uuid4().hex[:8]}"
    create_table(moto_server, name)
    clock = Clock()
    processes = [DynamoDbLimiter(client("stdlib", moto_server.url), name, clock=clock) for _ in range(2)]
    model = InMemoryLimiter(clock=clock)
    limit = RateLimit(burst, refill)
    for gap, key, process in steps:
        clock.now += gap
        shared = processes[process]
        assert shared.take(key, limit) == model.take(key, limit), (gap, key, process)
        assert shared.peek(key, limit) == model.peek(key, limit)
    moto_server.client("dynamodb").delete_table(TableName=name)
