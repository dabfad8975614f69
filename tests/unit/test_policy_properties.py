"""Properties of the policy and the decision, for random policies, identities and requests (hypothesis).

- No token is ever wider than the caller's tier allows, and its tokenId is always the verified username.
- A pattern the loader accepts never lets one user reach a name that belongs to another through `{username}`; the
  loader refuses the patterns that would (`u-{username}-*`, `inbox-{username}*`: found by attacking `make dev`).

The oracle below is written from the documented pattern rules (README, policy.py), not from grant.py. The
reproductions of the refused patterns, which also run `python -m momento_tvm check-policy`, are
tests/functional/test_policy_properties.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from momento_tvm import Grant, Identity, PolicyError, ScopeDeniedError, TokenRequest, decide, parse_policy
from momento_tvm.errors import InvalidRequestError

DEPLOYMENT_MAX_TTL = 600
USERNAME_CHARS = "abcdefghijklmnopqrstuvwxyzABC0123456789_.@+-"
usernames = st.text(alphabet=USERNAME_CHARS, min_size=1, max_size=8)
# Pattern pieces: literal characters a username can contain, separators it cannot, and the placeholder.
pieces = st.sampled_from(["a", "b", "-", ".", "_", "x", ":", "/", "#", "{username}", "room", "al"])
patterns = st.builds(
    lambda parts, star: "".join(parts) + ("*" if star else ""), st.lists(pieces, min_size=1, max_size=5), st.booleans()
) | st.just("*")


def allowed(pattern: str, username: str, name: str) -> bool:
    """The documented rule: `*` everything, a trailing `*` a prefix, else exact; `{username}` the caller's name."""
    expanded = pattern.replace("{username}", username)
    if expanded == "*":
        return True
    if expanded.endswith("*"):
        return name.startswith(expanded[:-1])
    return name == expanded


def policy_text(topic_patterns: list[str] | None, cache_patterns: list[str] | None, ttl: int = 60) -> str:
    tier: dict[str, object] = {"ttl_seconds": ttl, "max_ttl_seconds": max(ttl, 300)}
    if topic_patterns is not None:
        tier["topics"] = {"role": "publish_subscribe", "names": topic_patterns}
    if cache_patterns is not None:
        tier["cache"] = {"role": "read_only", "items": cache_patterns}
    return json.dumps(  # JSON is YAML
        {"version": 1, "default_tier": "t", "groups": [{"group": "g", "tier": "t"}], "tiers": {"t": tier}}
    )


def try_decide(policy_source: str, identity: Identity, request: TokenRequest) -> Grant | None:
    try:
        return decide(
            parse_policy(policy_source), identity, request, cache_name="c", max_ttl_seconds=DEPLOYMENT_MAX_TTL
        )
    except (ScopeDeniedError, InvalidRequestError):
        return None


# --- the reproductions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["u-{username}:*", "inbox/{username}/*", "dm-{username}", "{username}-x", "news*"])
def test_safe_username_patterns_are_accepted(pattern: str) -> None:
    parse_policy(policy_text([pattern], None))


def test_a_separator_pattern_keeps_users_apart() -> None:
    source = policy_text(None, ["u-{username}:*"])
    al = Identity("al", ("g",))
    assert try_decide(source, al, TokenRequest(cache_items=("u-al:k",))) is not None
    assert try_decide(source, al, TokenRequest(cache_items=("u-al-x:k",))) is None
    assert try_decide(source, al, TokenRequest(cache_items=("u-al-x:*",))) is None


# --- properties --------------------------------------------------------------------------------------------------


user_patterns = st.builds(
    lambda before, after, star: "".join(before) + "{username}" + "".join(after) + ("*" if star else ""),
    st.lists(pieces, max_size=3),
    st.lists(pieces, max_size=3),
    st.booleans(),
)


@st.composite
def user_pairs(draw: st.DrawFn) -> tuple[str, str]:
    """(owner, intruder): unrelated names, or one a prefix of the other (where overlaps come from)."""
    owner = draw(usernames)
    intruder = draw(
        st.one_of(usernames, st.integers(1, len(owner)).map(lambda k: owner[:k]), usernames.map(lambda x: owner + x))
    )
    return (owner, intruder) if draw(st.booleans()) else (intruder, owner)


@settings(max_examples=400, deadline=None)
@given(pattern=user_patterns, pair=user_pairs(), suffix=st.text(alphabet="ab-:/", max_size=3))
def test_no_accepted_pattern_lets_one_user_reach_anothers_names(
    pattern: str, pair: tuple[str, str], suffix: str
) -> None:
    owner, intruder = pair
    assume(owner != intruder)
    try:
        parse_policy(policy_text([pattern], None))
    except PolicyError:
        return  # refused: nobody gets anything from it
    # A name that belongs to `owner` through this pattern:
    owned = pattern.replace("{username}", owner).removesuffix("*") + (suffix if pattern.endswith("*") else "")
    assert allowed(pattern, owner, owned)
    assert not allowed(pattern, intruder, owned), (pattern, owner, intruder, owned)
    for request in (TokenRequest(topics=(owned,)), TokenRequest(cache_items=(owned,))):
        source = policy_text([pattern], None) if request.topics else policy_text(None, [pattern])
        grant = try_decide(source, Identity(intruder, ("g",)), request)
        assert grant is None, (pattern, intruder, owned, grant)


names = st.text(alphabet="abrom-:*{}x", min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(
    topic_patterns=st.none() | st.lists(patterns, min_size=1, max_size=3),
    cache_patterns=st.none() | st.lists(patterns, min_size=1, max_size=3),
    username=usernames,
    groups=st.lists(st.sampled_from(["g", "h", "readwrite"]), max_size=2),
    requested_topics=st.none() | st.lists(names | usernames, min_size=1, max_size=4),
    requested_items=st.none() | st.lists(names | usernames, min_size=1, max_size=4),
    ttl=st.none() | st.integers(min_value=-5, max_value=2_000),
    tier_ttl=st.integers(min_value=10, max_value=900),
)
def test_a_grant_is_never_wider_than_the_tier_and_names_the_verified_user(
    topic_patterns: list[str] | None,
    cache_patterns: list[str] | None,
    username: str,
    groups: list[str],
    requested_topics: list[str] | None,
    requested_items: list[str] | None,
    ttl: int | None,
    tier_ttl: int,
) -> None:
    source = policy_text(topic_patterns, cache_patterns, tier_ttl)
    try:
        policy = parse_policy(source)
    except PolicyError:
        return
    request = TokenRequest(
        tuple(requested_topics) if requested_topics else None,
        tuple(requested_items) if requested_items else None,
        ttl,
    )
    identity = Identity(username, tuple(groups))
    try:
        grant = decide(policy, identity, request, cache_name="c", max_ttl_seconds=DEPLOYMENT_MAX_TTL)
    except (ScopeDeniedError, InvalidRequestError):
        return
    tier = policy.tiers["t"]
    assert grant.token_id == username
    assert 10 <= grant.ttl_seconds <= min(tier.max_ttl_seconds, DEPLOYMENT_MAX_TTL)
    if grant.topics is not None:
        assert tier.topics is not None and grant.topics.role == tier.topics.role
        if grant.topics.all_topics:
            assert "*" in tier.topics.names and request.topics is None
        for name in grant.topics.names:
            assert any(allowed(p, username, name) for p in tier.topics.names), name
            assert request.topics is None or name in request.topics
        for prefix in grant.topics.prefixes:
            # A topic prefix is minted as one `topic_name_prefix`: every topic under it must be allowed.
            assert any(
                p.replace("{username}", username) == "*"
                or (p.endswith("*") and prefix.startswith(p.replace("{username}", username)[:-1]))
                for p in tier.topics.names
            ), prefix
            assert request.topics is None or prefix + "*" in request.topics
    if grant.cache is not None:
        assert tier.cache is not None and grant.cache.role == tier.cache.role
        if grant.cache.all_items:
            assert "*" in tier.cache.items
        for key in grant.cache.keys:
            assert any(allowed(p, username, key) for p in tier.cache.items), key
            assert request.cache_items is None or key in request.cache_items
        for prefix in grant.cache.key_prefixes:
            # Every key under the granted prefix must be allowed: the prefix itself is covered by an allowed prefix.
            assert any(
                p.replace("{username}", username) == "*"
                or (p.endswith("*") and prefix.startswith(p.replace("{username}", username)[:-1]))
                for p in tier.cache.items
            ), prefix
            assert request.cache_items is None or prefix + "*" in request.cache_items
