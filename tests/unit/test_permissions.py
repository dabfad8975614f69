"""The permission check: every role, selector and kind, in and out of scope, stated as a table."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from momento_emulator.permissions import CacheGrant, CacheOp, CacheRole, Scope, TopicGrant, TopicOp, TopicRole

PUB, SUB = TopicOp.PUBLISH, TopicOp.SUBSCRIBE
READ, WRITE = CacheOp.READ, CacheOp.WRITE


@pytest.mark.parametrize(
    ("grant", "op", "cache", "topic", "allowed"),
    [
        (TopicGrant(TopicRole.READ_WRITE), PUB, "c", "t", True),
        (TopicGrant(TopicRole.READ_WRITE), SUB, "c", "t", True),
        (TopicGrant(TopicRole.READ_ONLY), SUB, "c", "t", True),
        (TopicGrant(TopicRole.READ_ONLY), PUB, "c", "t", False),
        (TopicGrant(TopicRole.WRITE_ONLY), PUB, "c", "t", True),
        (TopicGrant(TopicRole.WRITE_ONLY), SUB, "c", "t", False),
        (TopicGrant(TopicRole.READ_WRITE, "c"), PUB, "c", "t", True),
        (TopicGrant(TopicRole.READ_WRITE, "c"), PUB, "d", "t", False),
        (TopicGrant(TopicRole.READ_WRITE, "c", topic="t"), SUB, "c", "t", True),
        (TopicGrant(TopicRole.READ_WRITE, "c", topic="t"), SUB, "c", "t2", False),
        (TopicGrant(TopicRole.READ_WRITE, "c", topic="t"), SUB, "c", "", False),
        (TopicGrant(TopicRole.READ_WRITE, None, topic_prefix="room-"), SUB, "c", "room-1", True),
        (TopicGrant(TopicRole.READ_WRITE, None, topic_prefix="room-"), SUB, "c", "room-", True),
        (TopicGrant(TopicRole.READ_WRITE, None, topic_prefix="room-"), SUB, "c", "room", False),
        (TopicGrant(TopicRole.READ_WRITE, None, topic_prefix="room-"), SUB, "c", "xroom-1", False),
    ],
)
def test_topic_grants(grant: TopicGrant, op: TopicOp, cache: str, topic: str, allowed: bool) -> None:
    assert Scope(topics=(grant,)).allows_topic(op, cache, topic) is allowed


@pytest.mark.parametrize(
    ("grant", "op", "cache", "key", "allowed"),
    [
        (CacheGrant(CacheRole.READ_WRITE), READ, "c", b"k", True),
        (CacheGrant(CacheRole.READ_WRITE), WRITE, "c", b"k", True),
        (CacheGrant(CacheRole.READ_ONLY), READ, "c", b"k", True),
        (CacheGrant(CacheRole.READ_ONLY), WRITE, "c", b"k", False),
        (CacheGrant(CacheRole.WRITE_ONLY), WRITE, "c", b"k", True),
        (CacheGrant(CacheRole.WRITE_ONLY), READ, "c", b"k", False),
        (CacheGrant(CacheRole.READ_WRITE, "c"), READ, "d", b"k", False),
        (CacheGrant(CacheRole.READ_WRITE, "c", key=b"k"), READ, "c", b"k", True),
        (CacheGrant(CacheRole.READ_WRITE, "c", key=b"k"), READ, "c", b"k2", False),
        (CacheGrant(CacheRole.READ_WRITE, "c", key_prefix=b"user:"), READ, "c", b"user:1", True),
        (CacheGrant(CacheRole.READ_WRITE, "c", key_prefix=b"user:"), READ, "c", b"use", False),
    ],
)
def test_cache_grants(grant: CacheGrant, op: CacheOp, cache: str, key: bytes, allowed: bool) -> None:
    assert Scope(caches=(grant,)).allows_cache(op, cache, key) is allowed


def test_cache_grants_never_open_topics_and_topic_grants_never_open_caches() -> None:
    caches_only = Scope(caches=(CacheGrant(CacheRole.READ_WRITE),))
    topics_only = Scope(topics=(TopicGrant(TopicRole.READ_WRITE),))
    assert not caches_only.allows_topic(PUB, "c", "t")
    assert not caches_only.allows_topic(SUB, "c", "t")
    assert not topics_only.allows_cache(READ, "c", b"k")
    assert not topics_only.allows_cache(WRITE, "c", b"k")


def test_any_matching_grant_allows() -> None:
    scope = Scope(topics=(TopicGrant(TopicRole.READ_ONLY, "c", "a"), TopicGrant(TopicRole.WRITE_ONLY, "c", "b")))
    assert scope.allows_topic(SUB, "c", "a")
    assert not scope.allows_topic(PUB, "c", "a")
    assert scope.allows_topic(PUB, "c", "b")
    assert not scope.allows_topic(SUB, "c", "b")


def test_empty_scope_allows_nothing_and_super_user_everything() -> None:
    assert Scope().is_empty()
    assert not Scope().allows_topic(SUB, "c", "t")
    assert Scope(super_user=True).allows_cache(WRITE, "any", b"any")


def test_a_grant_cannot_name_both_a_value_and_a_prefix() -> None:
    with pytest.raises(ValueError, match="not both"):
        TopicGrant(TopicRole.READ_WRITE, topic="a", topic_prefix="b")
    with pytest.raises(ValueError, match="not both"):
        CacheGrant(CacheRole.READ_WRITE, key=b"a", key_prefix=b"b")


names = st.one_of(st.none(), st.text(max_size=8))
topic_grants = st.builds(
    lambda role, cache, which, value: TopicGrant(
        role, cache, value if which == "name" else None, value if which == "prefix" else None
    ),
    st.sampled_from(TopicRole),
    names,
    st.sampled_from(["all", "name", "prefix"]),
    st.text(min_size=1, max_size=8),
)
cache_grants = st.builds(
    lambda role, cache, which, value: CacheGrant(
        role, cache, value if which == "key" else None, value if which == "prefix" else None
    ),
    st.sampled_from(CacheRole),
    names,
    st.sampled_from(["all", "key", "prefix"]),
    st.binary(min_size=1, max_size=8),
)


@given(st.builds(Scope, st.booleans(), st.tuples(topic_grants, topic_grants), st.tuples(cache_grants)))
def test_scopes_survive_the_json_round_trip_inside_tokens(scope: Scope) -> None:
    assert Scope.from_json(scope.to_json()) == scope
