"""Issuance limits under `make dev` (devstack's Stack, free ports): moto holds the template's IssuanceTable, a vend
writes the caller's bucket in it, the tier's limit holds over real HTTP, and another process counting in the same
table (the library's DynamoDbLimiter, as a second function instance would) shares the caller's allowance.

The stack runs a policy of its own (`StackConfig(policy=...)`): the shipped tiers with a tiny limit on readwrite, so
the limit is met in three requests, long before it refills.
"""

from __future__ import annotations

import base64
import json
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
import yaml

from devstack import Stack, StackConfig
from devstack.seed import ISSUANCE_TABLE, ISSUANCE_TABLE_NAME, REGION
from local_api.template import deployed_resources
from momento_tvm.limits import DynamoDbLimiter

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
ALICE = ("alice", "alice-password")
BOB = ("bob", "bob-password")
BURST, REFILL_SECONDS = 2, 600  # readwrite's tiny limit here: two tokens, then one every ten minutes


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def tiny_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    policy = yaml.safe_load((ROOT / "functions" / "token_vending" / "policy.yaml").read_text())
    policy["tiers"]["readwrite"]["limits"] = {"burst": BURST, "refill_seconds": REFILL_SECONDS}
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    return path


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tiny_policy: Path) -> AsyncIterator[Stack]:
    ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
    async with Stack(StackConfig(auth="LambdaAuthorizer", policy=tiny_policy, **ports)) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def dynamodb(stack: Stack) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.moto_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def bucket_item(stack: Stack, username: str) -> dict[str, Any] | None:
    key = {"pk": {"S": f"limit#user#{username}"}, "sk": {"S": "bucket"}}
    item: dict[str, Any] | None = dynamodb(stack).get_item(TableName=ISSUANCE_TABLE_NAME, Key=key).get("Item")
    return item


async def vend(http: aiohttp.ClientSession, stack: Stack, who: tuple[str, str]) -> tuple[int, Any, dict[str, str]]:
    async with http.get(f"{stack.api_url}/token", headers=basic(*who)) as response:
        return response.status, json.loads(await response.text()), dict(response.headers)


# ---------------------------------------------------------------------- the table itself
async def test_moto_holds_the_templates_issuance_table(stack: Stack) -> None:
    """Made from template.yaml's own IssuanceTable (one source): its keys, its billing, its TTL."""
    resource = deployed_resources(
        ROOT / "template.yaml", {"MomentoEndpoint": "127.0.0.1:1", "MomentoApiKey": "k"}, REGION
    )[ISSUANCE_TABLE]
    client = dynamodb(stack)
    table = client.describe_table(TableName=ISSUANCE_TABLE_NAME)["Table"]
    assert table["KeySchema"] == resource.properties["KeySchema"]
    assert sorted(table["AttributeDefinitions"], key=str) == sorted(
        resource.properties["AttributeDefinitions"], key=str
    )
    assert table["BillingModeSummary"]["BillingMode"] == resource.properties["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = client.describe_time_to_live(TableName=ISSUANCE_TABLE_NAME)["TimeToLiveDescription"]
    assert ttl == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": resource.properties["TimeToLiveSpecification"]["AttributeName"],
    }
    recovery = client.describe_continuous_backups(TableName=ISSUANCE_TABLE_NAME)["ContinuousBackupsDescription"]
    assert recovery["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


# ---------------------------------------------------------------------- a vend writes the caller's bucket
async def test_a_vend_writes_the_callers_bucket_and_the_limit_holds(stack: Stack, http: aiohttp.ClientSession) -> None:
    assert bucket_item(stack, "alice") is None
    started = time.time()
    status, body, _ = await vend(http, stack, ALICE)
    assert status == 200, body
    item = bucket_item(stack, "alice")
    assert item is not None, "the vend wrote nothing into moto's table"
    tat, expires_at = float(item["tat"]["N"]), int(item["expires_at"]["N"])
    assert started + REFILL_SECONDS - 1 <= tat <= time.time() + REFILL_SECONDS + 1  # one token taken
    assert expires_at > tat  # DynamoDB's TTL deletes it only once the bucket is full again

    for _ in range(BURST - 1):
        status, body, _ = await vend(http, stack, ALICE)
        assert status == 200, body
    status, body, headers = await vend(http, stack, ALICE)
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= REFILL_SECONDS
    async with http.get(f"{stack.api_url}/token/explain", headers=basic(*ALICE)) as response:
        explained = json.loads(await response.text())
    assert explained["limits"]["burst"] == BURST and explained["limits"]["remaining"] == 0


# ---------------------------------------------------------------------- two processes, one count
def take_in_another_process(stack: Stack, key: str) -> dict[str, Any]:
    """One take of `key`'s bucket by the library in a fresh interpreter (not the API's worker, not this test's)."""
    script = (
        "import json, sys\n"
        "from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient\n"
        "from momento_tvm.limits import DynamoDbLimiter, RateLimit\n"
        "client = StdlibAwsClient(DYNAMODB, timeout=5)\n"
        "allowance = DynamoDbLimiter(client, sys.argv[1]).take(sys.argv[2], RateLimit(int(sys.argv[3]), "
        "float(sys.argv[4])))\n"
        "print(json.dumps({'allowed': allowance.allowed, 'remaining': allowance.remaining, "
        "'retry_after': allowance.retry_after}))\n"
    )
    environment = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "src"),
        "AWS_ENDPOINT_URL": stack.moto_url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    argv = [sys.executable, "-c", script, ISSUANCE_TABLE_NAME, key, str(BURST), str(REFILL_SECONDS)]
    ran = subprocess.run(argv, env=environment, capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stderr
    answer: dict[str, Any] = json.loads(ran.stdout)
    return answer


async def test_another_process_counting_in_the_table_shares_the_callers_allowance(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """bob's burst is two: one taken by another process, one by the API's vend; the API's next vend and the other
    process's next take are both refused."""
    assert DynamoDbLimiter.KEY_PREFIX == "limit#"
    assert take_in_another_process(stack, "user#bob") == {"allowed": True, "remaining": BURST - 1, "retry_after": 0}
    status, body, _ = await vend(http, stack, BOB)
    assert status == 200, body
    status, body, headers = await vend(http, stack, BOB)
    assert (status, body["error"]["code"]) == (429, "rate_limited"), body
    refused = take_in_another_process(stack, "user#bob")
    assert refused["allowed"] is False
    assert abs(refused["retry_after"] - int(headers["Retry-After"])) <= 2
