"""Issuance limits through the local stack (`make dev`'s code, the local API from template.yaml): a bounded flood from
one caller gets its tier's burst and then one token per refill period, every other answer a 429 with Retry-After,
while another caller is not affected; in Open mode the caller is its source address (a second client bound to
127.0.0.2 is another caller). Bounded: 1,000 requests at concurrency 16, to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import boto3
import pytest
import pytest_asyncio

from devstack import Stack, StackConfig
from tvm_users.demo import load_demo_users

ROOT = Path(__file__).resolve().parents[2]
DEMO_USERS = load_demo_users(ROOT / "local" / "demo_users.json")
BURST, REFILL_SECONDS = 5, 2.0
FLOOD, CONCURRENCY = 1000, 16


def policy(tmp: Path) -> Path:
    """The deployed tiers, each limited to BURST at once and one more every REFILL_SECONDS."""
    import json

    import yaml

    document = yaml.safe_load((ROOT / "functions" / "token_vending" / "policy.yaml").read_text())
    for tier in document["tiers"].values():
        tier["limits"] = {"burst": BURST, "refill_seconds": REFILL_SECONDS}
    path = tmp / "policy.json"
    path.write_text(json.dumps(document))
    return path


def config(auth: str, tmp: Path) -> StackConfig:
    return StackConfig(
        auth=auth,
        api_port=0,
        site_port=0,
        momento_grpc_port=0,
        momento_web_port=0,
        moto_port=0,
        policy=policy(tmp),
        momento_auth_quota=None,
    )


def basic(username: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{DEMO_USERS[username][0]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def flood(
    url: str, headers: dict[str, str], total: int, concurrency: int, local_addr: str = "127.0.0.1"
) -> tuple[Counter[int], list[str], float]:
    """(statuses, the Retry-After of each 429 with its error code, seconds taken)."""
    statuses: Counter[int] = Counter()
    refusals: list[str] = []
    left = total
    connector = aiohttp.TCPConnector(limit=concurrency, local_addr=(local_addr, 0))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                async with session.get(url, headers=headers) as response:
                    body = await response.json()
                    statuses[response.status] += 1
                    if response.status == 429:
                        refusals.append(f"{body['error']['code']} {response.headers.get('Retry-After')}")

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return statuses, refusals, time.monotonic() - started


def allowed_bounds(elapsed: float) -> tuple[int, int]:
    return BURST, BURST + int(elapsed / REFILL_SECONDS) + 1


@pytest_asyncio.fixture
async def authorizer_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    async with Stack(config("LambdaAuthorizer", tmp_path)) as stack:
        yield stack


@pytest.mark.timeout(240)
async def test_a_flood_from_one_user_gets_its_burst_then_429s_and_another_user_is_untouched(
    authorizer_stack: Stack,
) -> None:
    url = f"{authorizer_stack.api_url}/token"

    async def bob_meanwhile() -> list[int]:
        """Bob, during alice's flood: one request a second, within his own limit."""
        answers = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            for _ in range(BURST):
                async with session.get(url, headers=basic("bob")) as response:
                    answers.append(response.status)
                await asyncio.sleep(0.5)
        return answers

    (statuses, refusals, elapsed), bob = await asyncio.gather(
        flood(url, basic("alice"), FLOOD, CONCURRENCY), bob_meanwhile()
    )
    low, high = allowed_bounds(elapsed)
    assert set(statuses) <= {200, 429}, statuses
    assert low <= statuses[200] <= high, (statuses, elapsed)
    assert statuses[429] == FLOOD - statuses[200]
    codes = Counter(refusal.split()[0] for refusal in refusals)
    assert codes == {"rate_limited": statuses[429]}, codes
    assert all(1 <= int(refusal.split()[1]) <= REFILL_SECONDS for refusal in refusals), set(refusals)
    assert bob == [200] * BURST
    # Counted in the stack's DynamoDB table (as every deployed Lambda instance counts), not in the worker's memory.
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=authorizer_stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    item = dynamodb.get_item(TableName="tvm-issuance", Key={"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}})
    assert float(item["Item"]["tat"]["N"]) > time.time()  # alice's bucket: empty, refilling
    print(f"\nalice: {statuses[200]} of {FLOOD} in {elapsed:.1f} s (allowed {low}..{high}); bob: {bob}")


@pytest.mark.timeout(240)
async def test_open_mode_counts_each_source_address(tmp_path: Path) -> None:
    async with Stack(config("Open", tmp_path)) as stack:
        url = f"{stack.api_url}/token?name=Flood"
        first, _, elapsed = await flood(url, {}, 300, CONCURRENCY)
        low, high = allowed_bounds(elapsed)
        assert low <= first[200] <= high and first[200] + first[429] == 300, first
        # Another address (another name changes nothing): its own burst, while the first is still limited.
        other, _, _ = await flood(f"{stack.api_url}/token?name=Other", {}, BURST, 1, local_addr="127.0.0.2")
        assert other == {200: BURST}, other
        again, _, _ = await flood(f"{stack.api_url}/token?name=Renamed", {}, 1, 1)
        assert again == {429: 1}, again
