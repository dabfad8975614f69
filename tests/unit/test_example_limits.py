"""The example apps' sign-in limits (examples/fastapi_chat/limits.py) on a clock of the test's own: who waits how
long after how many failures, what one address may try, how many checks run at once, and that memory stays bounded
whatever names and addresses come. The apps' answers (429, 503, Retry-After) are tested over HTTP in
tests/integration/test_example_sign_in_defenses.py."""

from __future__ import annotations

import pytest

from examples.fastapi_chat.limits import Refusal, SignInLimiter, SignInLimits
from tests.example_servers import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> SignInLimiter:
    return SignInLimiter(clock=clock)


def attempt(
    limiter: SignInLimiter, username: str, *, right: bool = False, client: str = "198.51.100.1"
) -> Refusal | None:
    """One sign-in: admitted and checked (right or wrong), or refused."""
    refusal = limiter.admit(client, username)
    if refusal is None:
        limiter.finish(username, succeeded=right)
    return refusal


def test_five_failures_are_free_then_the_wait_doubles_from_30_s_to_at_most_15_min(
    limiter: SignInLimiter, clock: Clock
) -> None:
    for _ in range(5):
        assert attempt(limiter, "alice") is None
    waits = []
    for n in range(8):  # each time the wait is over, one more wrong guess, from a new address each time
        refusal = attempt(limiter, "alice", right=True, client=f"198.51.100.{10 + n}")
        assert refusal is not None and refusal.status == 429
        waits.append(refusal.retry_after_seconds)
        clock.now += refusal.retry_after_seconds - 1
        assert attempt(limiter, "alice", right=True, client=f"198.51.100.{10 + n}") is not None  # 1 s early
        clock.now += 1
        assert attempt(limiter, "alice", client=f"198.51.100.{10 + n}") is None
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]


def test_a_success_clears_the_failures(limiter: SignInLimiter, clock: Clock) -> None:
    for _ in range(4):
        assert attempt(limiter, "alice") is None
    assert attempt(limiter, "alice", right=True) is None
    for _ in range(5):
        assert attempt(limiter, "alice") is None  # five free again
    refusal = attempt(limiter, "alice", right=True)
    assert refusal is not None and refusal.retry_after_seconds == 30


def test_failures_are_forgotten_15_minutes_after_the_wait_ends(limiter: SignInLimiter, clock: Clock) -> None:
    for _ in range(5):
        attempt(limiter, "alice")
    clock.now += 30 + 15 * 60 - 1
    assert attempt(limiter, "alice") is None  # still counted: the 6th failure
    refusal = attempt(limiter, "alice", right=True)
    assert refusal is not None and refusal.retry_after_seconds == 60
    clock.now += 60 + 15 * 60
    for _ in range(5):
        assert attempt(limiter, "alice") is None  # forgotten: five free again


def test_a_username_waits_whichever_address_asks_and_others_do_not_wait(limiter: SignInLimiter) -> None:
    for n in range(5):
        attempt(limiter, "alice", client=f"203.0.113.{n}")
    assert attempt(limiter, "alice", right=True, client="203.0.113.99") is not None
    assert attempt(limiter, "bob", right=True, client="203.0.113.99") is None


def test_one_address_has_20_attempts_a_minute_refilled_one_every_3_s(limiter: SignInLimiter, clock: Clock) -> None:
    for n in range(20):
        assert attempt(limiter, f"name-{n}") is None
    refusal = attempt(limiter, "alice", right=True)
    assert refusal is not None and (refusal.status, refusal.retry_after_seconds) == (429, 3)
    assert "from your network" in refusal.message
    assert attempt(limiter, "alice", right=True, client="198.51.100.2") is None  # another address
    clock.now += 2.5
    assert attempt(limiter, "alice", right=True) is not None
    clock.now += 0.5
    assert attempt(limiter, "alice", right=True) is None
    clock.now += 60
    for n in range(20):  # a full minute: the whole allowance back, not more
        assert attempt(limiter, f"other-{n}") is None
    assert attempt(limiter, "alice") is not None


def test_attempts_refused_for_the_username_still_count_against_the_address(limiter: SignInLimiter) -> None:
    for _ in range(5):
        attempt(limiter, "alice")
    for _ in range(15):
        assert attempt(limiter, "alice") is not None  # waiting: no check, but an attempt
    refusal = attempt(limiter, "bob", right=True)
    assert refusal is not None and refusal.reason == "too many attempts from a client"


def test_four_checks_at_once_then_503_until_one_finishes(limiter: SignInLimiter) -> None:
    for n in range(4):
        assert limiter.admit(f"198.51.100.{n}", f"user-{n}") is None  # checking: not finished yet
    busy = limiter.admit("198.51.100.9", "bob")
    assert busy is not None and (busy.status, busy.retry_after_seconds) == (503, 1)
    limiter.finish("user-0", succeeded=False)
    assert limiter.admit("198.51.100.9", "bob") is None
    for n in range(1, 4):
        limiter.finish(f"user-{n}", succeeded=False)
    limiter.finish("bob", succeeded=True)


def test_a_flood_of_new_names_and_addresses_stays_within_the_bound(clock: Clock) -> None:
    limiter = SignInLimiter(SignInLimits(max_remembered=1_000), clock)
    for n in range(20_000):
        attempt(limiter, f"made-up-{n}-" + "x" * 4000, client=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert limiter.remembered() == (1_000, 1_000)
    # The newest are the ones remembered: the last name's failure still counts.
    for _ in range(4):
        attempt(limiter, "made-up-19999-" + "x" * 4000, client="192.0.2.1")
    assert attempt(limiter, "made-up-19999-" + "x" * 4000, client="192.0.2.2") is not None


def test_what_is_over_is_forgotten_as_new_records_come(limiter: SignInLimiter, clock: Clock) -> None:
    for n in range(50):
        attempt(limiter, f"name-{n}", client=f"198.51.100.{n}")
    assert limiter.remembered() == (50, 50)
    clock.now += 15 * 60 + 1  # every failure forgotten, every address's allowance full again
    attempt(limiter, "alice")
    assert limiter.remembered() == (1, 1)  # alice's failure, from one address
