"""Revocations and pauses (momento_tvm.revocations), one suite over every implementation: in memory, and in a
DynamoDB table (moto) through the standard-library client and the boto3 one; and what `VendingMachine` answers for
each block (403 revoked / tier_paused / vending_paused, explain too), and when the store cannot be read."""

from __future__ import annotations

from typing import Any

import pytest

from momento_tvm import VendingMachine, guest_identity, verified_identity
from momento_tvm.errors import LimiterUnavailableError, RevokedError, TierPausedError, VendingPausedError
from momento_tvm.http import TokenRoutes
from momento_tvm.minting import MintedToken
from momento_tvm.policy import parse_policy
from momento_tvm.revocations import Block, DynamoDbRevocations, InMemoryRevocations, Revocations, StoreError
from tests.aws_moto import Moto
from tests.functional.test_dynamodb_limiter import Clock, client, create_table

KINDS = ["memory", "stdlib", "boto3"]
POLICY = """
version: 1
anonymous_tier: guest
default_tier: readonly
groups: [{group: readwrite, tier: readwrite}]
tiers:
  readwrite: {topics: {role: publish_subscribe, names: ["*"]}, ttl_seconds: 60, max_ttl_seconds: 60, limits: null}
  readonly: {topics: {role: subscribe_only, names: ["*"]}, ttl_seconds: 60, max_ttl_seconds: 60, limits: null}
  guest: {topics: {role: publish_subscribe, names: ["chat-*"]}, ttl_seconds: 60, max_ttl_seconds: 60, limits: null}
"""


def store(kind: str, moto: Moto, clock: Clock) -> Revocations:
    if kind == "memory":
        return InMemoryRevocations(clock=clock)
    create_table(moto, "tvm-control")
    return DynamoDbRevocations(client(kind, moto.url), "tvm-control", clock=clock)


def revoked(user: str, at: float, until: int | None = None, prior: bool | None = None) -> Block:
    return Block("revoked", f"user#{user}", "compromised laptop", "ops@example", int(at), until, prior)


@pytest.mark.parametrize("kind", KINDS)
def test_a_block_applies_until_lifted_or_until_its_time_and_is_listed(kind: str, moto: Moto) -> None:
    clock = Clock()
    blocks = store(kind, moto, clock)
    assert blocks.check("user#alice", "readwrite") is None
    blocks.put(revoked("alice", clock.now, prior=True))
    blocks.put(Block("tier_paused", "readonly", "abuse", "ops", int(clock.now), int(clock.now) + 60))
    assert blocks.check("user#alice", "readwrite") == revoked("alice", clock.now, prior=True)
    assert blocks.check("user#bob", "readwrite") is None
    assert blocks.check("user#bob", "readonly").kind == "tier_paused"  # type: ignore[union-attr]
    assert blocks.check(None, "readwrite") is None  # a guest has no user key
    assert [block.kind for block in blocks.list()] == ["tier_paused", "revoked"]
    clock.now += 60
    assert blocks.check("user#bob", "readonly") is None  # lapsed by itself
    blocks.put(Block("vending_paused", "all", "incident", "ops", int(clock.now)))
    assert blocks.check("user#alice", "readwrite").kind == "vending_paused"  # type: ignore[union-attr]
    assert blocks.check(None, "guest").kind == "vending_paused"  # type: ignore[union-attr]
    assert blocks.remove("vending_paused", "all") is not None
    assert blocks.remove("vending_paused", "all") is None
    assert blocks.remove("revoked", "user#alice") == revoked("alice", clock.now - 60, prior=True)
    assert blocks.check("user#alice", "readwrite") is None
    assert "revoked: alice" in revoked("alice", 0).describe()


@pytest.mark.parametrize("kind", ["stdlib", "boto3"])
def test_the_table_cannot_be_read_is_a_store_error_with_a_code(kind: str) -> None:
    blocks = DynamoDbRevocations(client(kind, "http://127.0.0.1:9"), "t")
    with pytest.raises(StoreError) as raised:
        blocks.check("user#alice", "readwrite")
    assert raised.value.code == "ConnectionError"


class Minter:
    def __init__(self) -> None:
        self.mints = 0

    def mint(self, grant: object) -> MintedToken:
        self.mints += 1
        return MintedToken("t", 1_900_000_000, "127.0.0.1:1")


class Broken:
    def check(self, user_key: str | None, tier: str) -> Block | None:
        raise StoreError("ProvisionedThroughputExceededException")

    def put(self, block: Block) -> None: ...

    def remove(self, kind: Any, subject: str) -> Block | None:
        return None

    def list(self) -> list[Block]:
        return []


@pytest.mark.parametrize("kind", KINDS)
def test_the_machine_refuses_each_block_with_its_own_403_on_vend_and_explain(kind: str, moto: Moto) -> None:
    clock = Clock()
    blocks = store(kind, moto, clock)
    minter = Minter()
    vendor = VendingMachine(parse_policy(POLICY), lambda: minter, cache_name="c", revocations=blocks)
    alice, bob = verified_identity("alice", ["readwrite"]), verified_identity("bob", ["readwrite"])
    viewer = verified_identity("viewer", [])
    blocks.put(revoked("alice", clock.now))
    for call in (vendor.vend, vendor.explain):
        with pytest.raises(RevokedError):
            call(alice)
    vendor.vend(bob)
    answer = TokenRoutes(vendor).get(alice, {})
    assert (answer.status, answer.body["error"]["code"]) == (403, "revoked")
    blocks.put(Block("tier_paused", "readonly", "r", "ops", int(clock.now)))
    with pytest.raises(TierPausedError):
        vendor.vend(viewer)
    vendor.vend(bob)
    blocks.put(Block("tier_paused", "guest", "r", "ops", int(clock.now)))
    with pytest.raises(TierPausedError):
        vendor.vend(guest_identity("Ann"), source_ip="203.0.113.1")
    blocks.put(Block("vending_paused", "all", "r", "ops", int(clock.now)))
    for who in (alice, bob, viewer):
        with pytest.raises(VendingPausedError):
            vendor.vend(who)
    assert minter.mints == 2  # bob's two, before the global pause
    for kind_, subject in (("vending_paused", "all"), ("tier_paused", "readonly"), ("revoked", "user#alice")):
        blocks.remove(kind_, subject)  # type: ignore[arg-type]
    vendor.vend(alice)
    vendor.vend(viewer)


def test_a_cognito_style_machine_revokes_every_spelling_of_a_name() -> None:
    blocks = InMemoryRevocations()
    vendor = VendingMachine(
        parse_policy(POLICY), Minter, cache_name="c", revocations=blocks, case_insensitive_usernames=True
    )
    blocks.put(revoked("alice", 0))
    with pytest.raises(RevokedError):
        vendor.vend(verified_identity("Alice", ["readwrite"]))


def test_an_unreadable_store_lets_the_mint_through_or_refuses_as_configured() -> None:
    lenient = VendingMachine(parse_policy(POLICY), Minter, cache_name="c", revocations=Broken())
    token = lenient.vend(verified_identity("alice", ["readwrite"]))
    assert token.limiter_error == "ProvisionedThroughputExceededException"
    strict = VendingMachine(parse_policy(POLICY), Minter, cache_name="c", revocations=Broken(), on_store_error="refuse")
    with pytest.raises(LimiterUnavailableError) as raised:
        strict.vend(verified_identity("alice", ["readwrite"]))
    assert (raised.value.status, raised.value.message) == (503, "the token service cannot check revocations now")
