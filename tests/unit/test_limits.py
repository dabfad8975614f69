"""Issuance limits (momento_tvm.limits): the bucket arithmetic as properties, the in-memory limiter, the keys callers
are counted by, the policy's `limits`, and what `VendingMachine` does with them (429 with Retry-After, explain, the
limiter failing open or closed). The DynamoDB limiter runs against moto in tests/functional/test_dynamodb_limiter.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from momento_tvm import TokenRequest, VendingMachine, guest_identity, verified_identity
from momento_tvm.errors import LimiterUnavailableError, PolicyError, RateLimitedError
from momento_tvm.http import TokenRoutes
from momento_tvm.limits import (
    DEFAULT_LIMIT,
    Allowance,
    InMemoryLimiter,
    LimiterError,
    RateLimit,
    decide,
    limit_key,
)
from momento_tvm.minting import MintedToken
from momento_tvm.policy import limit_warnings, parse_policy

POLICY = Path(__file__).resolve().parents[2] / "functions" / "token_vending" / "policy.yaml"

limits = st.builds(
    RateLimit,
    burst=st.integers(min_value=1, max_value=50),
    refill_seconds=st.sampled_from([0.01, 0.25, 1.0, 2.5, 12.0, 60.0, 3600.0]),
)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the arithmetic
@given(limit=limits, start=st.floats(min_value=1e9, max_value=2e9))
def test_a_full_bucket_allows_exactly_burst_at_once(limit: RateLimit, start: float) -> None:
    tat = None
    answers = []
    for _ in range(limit.burst + 3):
        allowance, new_tat = decide(tat, start, limit)
        answers.append(allowance)
        tat = new_tat if new_tat is not None else tat
    assert [a.allowed for a in answers] == [True] * limit.burst + [False] * 3
    assert [a.remaining for a in answers[: limit.burst]] == list(range(limit.burst - 1, -1, -1))
    refused = answers[limit.burst]
    assert refused.retry_after == max(1, math.ceil(limit.refill_seconds - 1e-9))


@settings(max_examples=300)
@given(
    limit=limits,
    gaps=st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=60),
)
def test_no_window_ever_allows_more_than_burst_plus_what_refilled(limit: RateLimit, gaps: list[float]) -> None:
    """Over any span of time, allowed takes <= burst + span / refill_seconds (+1 for the edges)."""
    now, tat = 1_800_000_000.0, None
    allowed_at: list[float] = []
    for gap in gaps:
        now += gap
        allowance, new_tat = decide(tat, now, limit)
        if allowance.allowed:
            allowed_at.append(now)
            tat = new_tat
        else:
            assert allowance.retry_after >= 1
            # Waiting what it says is enough: one is allowed then.
            assert decide(tat, now + allowance.retry_after, limit)[0].allowed
    for i, first in enumerate(allowed_at):
        for j in range(i, len(allowed_at)):
            span = allowed_at[j] - first
            assert j - i + 1 <= limit.burst + span / limit.refill_seconds + 1e-6


@given(limit=limits, idle=st.floats(min_value=0, max_value=1e6))
def test_an_idle_bucket_refills_to_burst_and_no_further(limit: RateLimit, idle: float) -> None:
    now = 1_800_000_000.0
    allowance, tat = decide(None, now, limit)
    assert allowance.allowed
    later = now + idle
    # In whole milliseconds, as the limiter counts.
    refilled = min(limit.burst, limit.burst - 1 + round(idle * 1000) // round(limit.refill_seconds * 1000))
    limiter = InMemoryLimiter(clock=lambda: later)
    limiter._tats["k"] = tat  # type: ignore[assignment]  # the state decide() left
    assert limiter.peek("k", limit).remaining == refilled


def test_the_limit_is_checked_when_made() -> None:
    for burst, refill in ((0, 1.0), (1, 0.0), (1, 0.001), (1, 90_000.0), (True, 1.0)):
        with pytest.raises(ValueError, match=r"burst|refill_seconds"):
            RateLimit(burst, refill)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the in-memory limiter
def test_the_in_memory_limiter_refills_one_per_period_and_peek_counts_nothing() -> None:
    clock = Clock()
    limiter = InMemoryLimiter(clock=clock)
    limit = RateLimit(2, 10.0)
    assert [limiter.take("alice", limit).allowed for _ in range(3)] == [True, True, False]
    assert limiter.peek("alice", limit) == Allowance(False, 0, 10)
    assert limiter.take("bob", limit).allowed  # another caller, another bucket
    clock.now += 9.5
    assert limiter.take("alice", limit) == Allowance(False, 0, 1)
    clock.now += 0.5
    assert limiter.peek("alice", limit).remaining == 1
    assert limiter.take("alice", limit) == Allowance(True, 0, 0)
    assert not limiter.take("alice", limit).allowed


def test_the_in_memory_limiter_forgets_the_least_recent_caller_first() -> None:
    limiter = InMemoryLimiter(clock=Clock(), max_keys=2)
    limit = RateLimit(1, 60.0)
    for key in ("a", "b", "c"):
        assert limiter.take(key, limit).allowed
    assert limiter.take("a", limit).allowed  # forgotten, so full again
    assert not limiter.take("c", limit).allowed


# ---------------------------------------------------------------- who is counted
@pytest.mark.parametrize(
    ("username", "anonymous", "source_ip", "case_insensitive", "key"),
    [
        ("Alice", False, "10.0.0.1", False, "user#Alice"),
        ("Alice", False, None, True, "user#alice"),
        ("guest:Ann", True, "203.0.113.7", False, "ip#203.0.113.7"),
        ("guest:Bob", True, "203.0.113.7", False, "ip#203.0.113.7"),  # same address, same bucket, any name
        ("guest:Ann", True, "2001:db8:1:2:aaaa::1", False, "ip#2001:db8:1:2::/64"),
        ("guest:Ann", True, "2001:db8:1:2:bbbb::9", False, "ip#2001:db8:1:2::/64"),
        ("guest:Ann", True, "::ffff:198.51.100.4", False, "ip#198.51.100.4"),
        ("guest:Ann", True, None, False, "ip#unknown"),
        ("guest:Ann", True, "not an address", False, "ip#unknown"),
    ],
)
def test_callers_are_counted_by_username_or_address(
    username: str, anonymous: bool, source_ip: str | None, case_insensitive: bool, key: str
) -> None:
    assert limit_key(username, anonymous=anonymous, source_ip=source_ip, case_insensitive=case_insensitive) == key


# ---------------------------------------------------------------- the policy
def _policy(limits: Any = "absent") -> str:
    tier = "  t:\n    topics: {role: subscribe_only, names: ['*']}\n    ttl_seconds: 60\n    max_ttl_seconds: 60\n"
    if limits != "absent":
        tier += f"    limits: {limits}\n"
    return f"version: 1\ndefault_tier: t\ngroups: []\ntiers:\n{tier}"


def test_a_tier_without_limits_gets_the_default_and_null_means_none() -> None:
    assert parse_policy(_policy()).tiers["t"].limit == DEFAULT_LIMIT
    assert parse_policy(_policy("null")).tiers["t"].limit is None
    assert parse_policy(_policy("{burst: 3, refill_seconds: 0.5}")).tiers["t"].limit == RateLimit(3, 0.5)


@pytest.mark.parametrize(
    "limits",
    [
        "{burst: 0, refill_seconds: 1}",
        "{burst: 2}",
        "{burst: 2, refill_seconds: 0}",
        "{burst: 2, refill_seconds: 1, x: 1}",
        "5",
        "{burst: 1.5, refill_seconds: 1}",
        "{burst: 1001, refill_seconds: 1}",
    ],
)
def test_a_bad_limit_is_refused_with_its_line(limits: str) -> None:
    with pytest.raises(PolicyError, match=r"<policy>:\d+: "):
        parse_policy(_policy(limits))


def test_check_policy_warns_about_no_limit_and_a_limit_over_momentos_quota() -> None:
    assert limit_warnings(parse_policy(_policy())) == []
    assert "no issuance limit" in limit_warnings(parse_policy(_policy("null")))[0]
    assert "more than Momento's 5 mints/s" in limit_warnings(parse_policy(_policy("{burst: 6, refill_seconds: 60}")))[0]
    assert (
        "more than Momento's 5 mints/s" in limit_warnings(parse_policy(_policy("{burst: 1, refill_seconds: 0.1}")))[0]
    )


def test_the_deployed_policy_states_its_limits_and_none_warns() -> None:
    policy = parse_policy(POLICY.read_text(encoding="utf-8"))
    assert {name: tier.limit for name, tier in policy.tiers.items()} == {
        "readwrite": RateLimit(5, 12.0),
        "readonly": RateLimit(5, 12.0),
        "guest": RateLimit(3, 20.0),
    }
    assert limit_warnings(policy) == []


# ---------------------------------------------------------------- the vending machine
class CountingMinter:
    def __init__(self) -> None:
        self.mints = 0

    def mint(self, grant: object) -> MintedToken:
        self.mints += 1
        return MintedToken("secret-token-bytes", 1_900_000_000, "127.0.0.1:1")


class BrokenLimiter:
    def take(self, key: str, limit: RateLimit) -> Allowance:
        raise LimiterError("ProvisionedThroughputExceededException")

    def peek(self, key: str, limit: RateLimit) -> Allowance:
        raise LimiterError("Timeout")


def machine(limiter: Any = None, **options: Any) -> tuple[VendingMachine, CountingMinter]:
    minter = CountingMinter()
    policy = _policy("{burst: 2, refill_seconds: 30}").replace("default_tier: t", "default_tier: t\nanonymous_tier: t")
    return VendingMachine(parse_policy(policy), lambda: minter, cache_name="c", limiter=limiter, **options), minter


def test_over_the_limit_is_a_429_with_retry_after_and_nothing_is_minted() -> None:
    clock = Clock()
    vendor, minter = machine(InMemoryLimiter(clock=clock))
    alice = verified_identity("alice", [])
    assert [vendor.vend(alice).allowance for _ in range(2)] == [Allowance(True, 1, 0), Allowance(True, 0, 0)]
    with pytest.raises(RateLimitedError) as raised:
        vendor.vend(alice)
    assert (raised.value.status, raised.value.code, raised.value.retry_after, raised.value.tier) == (
        429,
        "rate_limited",
        30,
        "t",
    )
    assert minter.mints == 2
    answer = TokenRoutes(vendor).get(alice, {})
    assert answer.status == 429 and answer.headers["Retry-After"] == "30"
    assert answer.body == {"error": {"code": "rate_limited", "message": "too many token requests: try again in 30 s"}}
    assert TokenRoutes(vendor).get(verified_identity("bob", []), {}).status == 200  # bob is not alice
    clock.now += 30
    assert vendor.vend(alice).allowance == Allowance(True, 0, 0)


def test_explain_shows_the_limit_and_what_is_left_and_counts_nothing() -> None:
    vendor, minter = machine(InMemoryLimiter(clock=Clock()))
    alice = verified_identity("alice", [])
    for _ in range(3):
        assert vendor.explain(alice).to_json()["limits"] == {
            "burst": 2,
            "refillSeconds": 30.0,
            "remaining": 2,
            "retryAfterSeconds": 0,
        }
    vendor.vend(alice)
    assert vendor.explain(alice).to_json()["limits"]["remaining"] == 1
    assert minter.mints == 1


def test_guests_are_counted_by_address_whatever_name_they_pick() -> None:
    vendor, _ = machine(InMemoryLimiter(clock=Clock()))
    for name in ("Ann", "Bob"):
        vendor.vend(guest_identity(name), source_ip="203.0.113.9")
    with pytest.raises(RateLimitedError):
        vendor.vend(guest_identity("Cat"), source_ip="203.0.113.9")
    vendor.vend(guest_identity("Ann"), source_ip="203.0.113.10")


def test_cognito_style_names_share_one_bucket_when_asked() -> None:
    vendor, _ = machine(InMemoryLimiter(clock=Clock()), case_insensitive_usernames=True)
    vendor.vend(verified_identity("Alice", []))
    vendor.vend(verified_identity("alice", []))
    with pytest.raises(RateLimitedError):
        vendor.vend(verified_identity("ALICE", []))


def test_a_limiter_that_cannot_decide_lets_the_mint_through_or_refuses_as_configured() -> None:
    vendor, minter = machine(BrokenLimiter())
    token = vendor.vend(verified_identity("alice", []), TokenRequest())
    assert (token.allowance, token.limiter_error, minter.mints) == (None, "ProvisionedThroughputExceededException", 1)
    assert vendor.explain(verified_identity("alice", [])).to_json()["limits"] == {
        "burst": 2,
        "refillSeconds": 30.0,
        "remaining": None,
        "retryAfterSeconds": None,
    }
    strict, strict_minter = machine(BrokenLimiter(), on_store_error="refuse")
    with pytest.raises(LimiterUnavailableError) as raised:
        strict.vend(verified_identity("alice", []))
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (503, "upstream_unavailable", 2)
    assert "Throughput" not in raised.value.message and strict_minter.mints == 0
    with pytest.raises(ValueError, match="on_store_error"):
        machine(BrokenLimiter(), on_store_error="maybe")


def test_a_tier_without_a_limit_is_never_counted() -> None:
    minter = CountingMinter()
    vendor = VendingMachine(parse_policy(_policy("null")), lambda: minter, cache_name="c", limiter=BrokenLimiter())
    for _ in range(20):
        assert vendor.vend(verified_identity("alice", [])).allowance is None
    assert vendor.explain(verified_identity("alice", [])).to_json()["limits"] is None
