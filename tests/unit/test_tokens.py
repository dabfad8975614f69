"""The token service on its own: who a key is, what a minted token carries, and every refusal."""

from __future__ import annotations

import pytest

from momento_emulator.errors import InvalidArgumentError, PermissionDeniedError, UnauthenticatedError
from momento_emulator.permissions import CacheGrant, CacheRole, Scope, TopicGrant, TopicRole
from momento_emulator.tokens import TokenAuthority

SCOPE = Scope(
    topics=(TopicGrant(TopicRole.READ_ONLY, "chat", topic_prefix="room-"),),
    caches=(CacheGrant(CacheRole.READ_WRITE, None, key_prefix=b"\x00k"),),
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authority(clock: Clock) -> TokenAuthority:
    return TokenAuthority("root-key", 3600, clock)


def test_root_key_is_the_super_user(authority: TokenAuthority) -> None:
    root = authority.authenticate("root-key")
    assert root.is_root
    assert root.scope.super_user
    assert root.expires_at is None


def test_a_minted_token_carries_its_scope_id_and_expiry(authority: TokenAuthority, clock: Clock) -> None:
    root = authority.authenticate("root-key")
    token, valid_until = authority.mint(root, SCOPE, 60, "alice")
    assert valid_until == 1_000_060
    who = authority.authenticate(token)
    assert (who.is_root, who.scope, who.token_id, who.expires_at) == (False, SCOPE, "alice", 1_000_060)
    assert "root-key" not in token


def test_a_token_expires_at_valid_until(authority: TokenAuthority, clock: Clock) -> None:
    token, valid_until = authority.mint(authority.authenticate("root-key"), SCOPE, 10, "")
    clock.now = valid_until - 0.001
    authority.authenticate(token)
    clock.now = valid_until
    with pytest.raises(UnauthenticatedError):
        authority.authenticate(token)


def test_tokens_survive_a_restart_with_the_same_root_key_only(clock: Clock) -> None:
    first = TokenAuthority("root-key", 3600, clock)
    token, _ = first.mint(first.authenticate("root-key"), SCOPE, 60, "bob")
    assert TokenAuthority("root-key", 3600, clock).authenticate(token).token_id == "bob"
    with pytest.raises(UnauthenticatedError):
        TokenAuthority("another-root-key", 3600, clock).authenticate(token)


@pytest.mark.parametrize("key", ["", "root-key ", "ROOT-KEY", "emu1.e30.AAAA", "emu1..", "émoji", "a.b.c.d"])
def test_unknown_or_malformed_keys_are_unauthenticated(authority: TokenAuthority, key: str) -> None:
    with pytest.raises(UnauthenticatedError) as refused:
        authority.authenticate(key)
    assert "root-key" not in refused.value.message


def test_a_tampered_token_is_unauthenticated(authority: TokenAuthority) -> None:
    token, _ = authority.mint(authority.authenticate("root-key"), SCOPE, 60, "")
    head, body, mac = token.split(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    with pytest.raises(UnauthenticatedError):
        authority.authenticate(f"{head}.{flipped}.{mac}")


@pytest.mark.parametrize(
    ("ttl", "token_id", "scope"),
    [
        (0, "", SCOPE),
        (-5, "", SCOPE),
        (3601, "", SCOPE),
        (60, "x" * 65, SCOPE),
        (60, "", Scope()),
        (60, "", Scope(super_user=True)),
    ],
)
def test_invalid_mint_requests(authority: TokenAuthority, ttl: int, token_id: str, scope: Scope) -> None:
    with pytest.raises(InvalidArgumentError):
        authority.mint(authority.authenticate("root-key"), scope, ttl, token_id)


def test_only_the_root_key_may_mint(authority: TokenAuthority) -> None:
    token, _ = authority.mint(authority.authenticate("root-key"), SCOPE, 60, "")
    with pytest.raises(PermissionDeniedError):
        authority.mint(authority.authenticate(token), SCOPE, 60, "")


def test_maximum_ttl_and_64_character_token_id_are_accepted(authority: TokenAuthority) -> None:
    _, valid_until = authority.mint(authority.authenticate("root-key"), SCOPE, 3600, "x" * 64)
    assert valid_until == 1_003_600
