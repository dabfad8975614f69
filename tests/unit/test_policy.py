"""The tier policy: validation that names the line, and golden tests from (identity, request) to the minted scope."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from momento_tvm import (
    Identity,
    InvalidRequestError,
    PolicyError,
    ScopeDeniedError,
    TokenRequest,
    decide,
    guest_identity,
    identity_from_event,
    load_policy,
    parse_policy,
)
from momento_tvm.policy import Policy

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"

GOLDEN_POLICY = textwrap.dedent(
    """\
    version: 1
    anonymous_tier: guest
    default_tier: null
    groups:
      - group: admins
        tier: staff
      - group: members
        tier: member
      - group: profiles
        tier: profile
    tiers:
      staff:
        topics: {role: publish_subscribe, names: ["*"]}
        cache: {role: read_write, items: ["*"]}
        ttl_seconds: 600
        max_ttl_seconds: 7200
      member:
        topics: {role: subscribe_only, names: ["news", "room-*", "dm-{username}"]}
        ttl_seconds: 300
        max_ttl_seconds: 900
      profile:
        cache: {role: read_only, items: ["profile:{username}", "public:*"]}
        ttl_seconds: 60
        max_ttl_seconds: 120
      guest:
        topics: {role: publish_only, names: ["chat-*"], cache_name: lobby-cache}
        ttl_seconds: 30
        max_ttl_seconds: 60
    """
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return parse_policy(GOLDEN_POLICY, "golden.yaml")


def grant_json(policy: Policy, identity: Identity, request: TokenRequest | None = None, max_ttl: int = 3600) -> Any:
    grant = decide(policy, identity, request or TokenRequest(), cache_name="c", max_ttl_seconds=max_ttl)
    return {"id": grant.token_id, "ttl": grant.ttl_seconds, "rule": grant.rule, **grant.scope_json()}


ALICE_ADMIN = Identity("alice", ("members", "admins"))
BOB_MEMBER = Identity("bob", ("members",))
CAROL_PROFILE = Identity("carol", ("profiles",))


@pytest.mark.parametrize(
    ("identity", "request_", "expected"),
    [
        pytest.param(
            ALICE_ADMIN,
            None,
            {
                "id": "alice",
                "ttl": 600,
                "rule": "groups[0]: group 'admins' -> tier 'staff'",
                "tier": "staff",
                "cache": "c",
                "topics": {"role": "publish_subscribe", "cache": "c", "all": True, "names": [], "prefixes": []},
                "cacheItems": {"role": "read_write", "cache": "c", "all": True, "keys": [], "keyPrefixes": []},
            },
            id="first-matching-group-rule-wins-everything",
        ),
        pytest.param(
            ALICE_ADMIN,
            TokenRequest(topics=("a", "b", "a"), ttl_seconds=3600),
            {
                "id": "alice",
                "ttl": 3600,
                "rule": "groups[0]: group 'admins' -> tier 'staff'",
                "tier": "staff",
                "cache": "c",
                "topics": {
                    "role": "publish_subscribe",
                    "cache": "c",
                    "all": False,
                    "names": ["a", "b"],
                    "prefixes": [],
                },
                "cacheItems": None,
            },
            id="topics-narrowed-deduplicated-ttl-capped-by-deployment",
        ),
        pytest.param(
            BOB_MEMBER,
            None,
            {
                "id": "bob",
                "ttl": 300,
                "rule": "groups[1]: group 'members' -> tier 'member'",
                "tier": "member",
                "cache": "c",
                "topics": {
                    "role": "subscribe_only",
                    "cache": "c",
                    "all": False,
                    "names": ["news", "dm-bob"],
                    "prefixes": ["room-"],
                },
                "cacheItems": None,
            },
            id="unrequested-patterns-mint-as-prefixes-beside-exact-names-and-templates",
        ),
        pytest.param(
            BOB_MEMBER,
            TokenRequest(topics=("room-a*", "news", "secret-*")),
            {
                "id": "bob",
                "ttl": 300,
                "rule": "groups[1]: group 'members' -> tier 'member'",
                "tier": "member",
                "cache": "c",
                "topics": {
                    "role": "subscribe_only",
                    "cache": "c",
                    "all": False,
                    "names": ["news"],
                    "prefixes": ["room-a"],
                },
                "cacheItems": None,
            },
            id="a-requested-prefix-narrows-within-the-tiers-patterns",
        ),
        pytest.param(
            BOB_MEMBER,
            TokenRequest(topics=("room-1", "dm-bob", "dm-alice", "secret"), ttl_seconds=900),
            {
                "id": "bob",
                "ttl": 900,
                "rule": "groups[1]: group 'members' -> tier 'member'",
                "tier": "member",
                "cache": "c",
                "topics": {
                    "role": "subscribe_only",
                    "cache": "c",
                    "all": False,
                    "names": ["room-1", "dm-bob"],
                    "prefixes": [],
                },
                "cacheItems": None,
            },
            id="allowed-intersect-requested",
        ),
        pytest.param(
            CAROL_PROFILE,
            None,
            {
                "id": "carol",
                "ttl": 60,
                "rule": "groups[2]: group 'profiles' -> tier 'profile'",
                "tier": "profile",
                "cache": "c",
                "topics": None,
                "cacheItems": {
                    "role": "read_only",
                    "cache": "c",
                    "all": False,
                    "keys": ["profile:carol"],
                    "keyPrefixes": ["public:"],
                },
            },
            id="cache-key-template-and-prefix",
        ),
        pytest.param(
            CAROL_PROFILE,
            TokenRequest(cache_items=("public:news:*", "public:a", "profile:dave", "private:*")),
            {
                "id": "carol",
                "ttl": 60,
                "rule": "groups[2]: group 'profiles' -> tier 'profile'",
                "tier": "profile",
                "cache": "c",
                "topics": None,
                "cacheItems": {
                    "role": "read_only",
                    "cache": "c",
                    "all": False,
                    "keys": ["public:a"],
                    "keyPrefixes": ["public:news:"],
                },
            },
            id="cache-items-narrowed-to-narrower-prefixes",
        ),
        pytest.param(
            guest_identity("Ann"),
            TokenRequest(topics=("chat-1",)),
            {
                "id": "guest:Ann",
                "ttl": 30,
                "rule": "anonymous_tier -> tier 'guest'",
                "tier": "guest",
                "cache": "c",
                "topics": {
                    "role": "publish_only",
                    "cache": "lobby-cache",
                    "all": False,
                    "names": ["chat-1"],
                    "prefixes": [],
                },
                "cacheItems": None,
            },
            id="anonymous-on-the-rule-s-own-cache",
        ),
    ],
)
def test_golden_grants(policy: Policy, identity: Identity, request_: TokenRequest | None, expected: Any) -> None:
    assert grant_json(policy, identity, request_) == expected


@pytest.mark.parametrize(
    ("identity", "request_", "error", "match"),
    [
        (Identity("dave", ()), TokenRequest(), ScopeDeniedError, "none of the caller's groups"),
        (Identity("dave", ("strangers",)), TokenRequest(), ScopeDeniedError, "none of the caller's groups"),
        (BOB_MEMBER, TokenRequest(topics=("secret",)), ScopeDeniedError, "allows none"),
        (CAROL_PROFILE, TokenRequest(topics=("news-*",)), ScopeDeniedError, "allows none"),
        (CAROL_PROFILE, TokenRequest(topics=("news",)), ScopeDeniedError, "allows none"),
        (BOB_MEMBER, TokenRequest(ttl_seconds=9), InvalidRequestError, "between 10 and 900"),
        (ALICE_ADMIN, TokenRequest(ttl_seconds=3601), InvalidRequestError, "between 10 and 3600"),
        (BOB_MEMBER, TokenRequest(ttl_seconds=901), InvalidRequestError, "between 10 and 900"),
        (BOB_MEMBER, TokenRequest(topics=("*",)), InvalidRequestError, "one trailing"),
        (BOB_MEMBER, TokenRequest(topics=("ro*m-*",)), InvalidRequestError, "one trailing"),
        (BOB_MEMBER, TokenRequest(topics=tuple(f"t{i}" for i in range(51))), InvalidRequestError, "at most 50"),
        (BOB_MEMBER, TokenRequest(topics=("bad\nname",)), InvalidRequestError, "printable"),
    ],
)
def test_denials(
    policy: Policy, identity: Identity, request_: TokenRequest, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        decide(policy, identity, request_, cache_name="c", max_ttl_seconds=3600)


def test_topic_patterns_exact_mints_only_what_every_sdk_can_express() -> None:
    """The policy switch: patterns grant only the exact names requested; naming none, or a pattern, is refused."""
    policy = parse_policy(GOLDEN_POLICY.replace("version: 1\n", "version: 1\ntopic_patterns: exact\n"), "exact.yaml")
    assert policy.topic_patterns == "exact"
    bob = grant_json(policy, BOB_MEMBER)
    assert (bob["topics"]["names"], bob["topics"]["prefixes"]) == (["news", "dm-bob"], [])
    named = grant_json(policy, BOB_MEMBER, TokenRequest(topics=("room-1",)))
    assert (named["topics"]["names"], named["topics"]["prefixes"]) == (["room-1"], [])
    with pytest.raises(ScopeDeniedError, match="name the topics"):
        decide(policy, guest_identity(None), TokenRequest(), cache_name="c", max_ttl_seconds=3600)
    with pytest.raises(InvalidRequestError, match="exact names"):
        decide(policy, BOB_MEMBER, TokenRequest(topics=("room-*",)), cache_name="c", max_ttl_seconds=3600)
    with pytest.raises(PolicyError, match="topic_patterns"):
        parse_policy(GOLDEN_POLICY.replace("version: 1\n", "version: 1\ntopic_patterns: regex\n"), "bad.yaml")


def test_topics_and_key_scoped_items_in_one_token_are_refused() -> None:
    policy = parse_policy(DEFAULT_POLICY.read_text())
    viewer = Identity("viewer", ("readonly",))
    with pytest.raises(InvalidRequestError, match="separate tokens"):
        decide(policy, viewer, TokenRequest(topics=("t",), cache_items=("k",)), cache_name="c", max_ttl_seconds=3600)
    both = decide(policy, viewer, TokenRequest(topics=("t",), cache_items=("*",)), cache_name="c", max_ttl_seconds=60)
    assert both.topics is not None and both.cache is not None and both.cache.all_items
    assert both.ttl_seconds == 60


def test_the_default_policy_reproduces_momentos_example() -> None:
    policy = load_policy(DEFAULT_POLICY)
    readwrite = grant_json(policy, Identity("alice", ("readwrite",)))
    readonly = grant_json(policy, Identity("viewer", ("readonly",)))
    guest = grant_json(policy, guest_identity("Ann"), TokenRequest(topics=("chat-lobby", "room-1", "admin")))
    assert (readwrite["topics"]["role"], readwrite["topics"]["all"], readwrite["cacheItems"]["role"]) == (
        "publish_subscribe",
        True,
        "read_write",
    )
    assert (readonly["topics"]["role"], readonly["cacheItems"]["role"]) == ("subscribe_only", "read_only")
    assert guest["topics"] == {
        "role": "publish_subscribe",
        "cache": "c",
        "all": False,
        "names": ["chat-lobby", "room-1"],
        "prefixes": [],
    }
    assert guest["cacheItems"] is None
    # Naming no topics (what Momento's own chat app asks): every chat-* and room-* topic, as two prefixes.
    assert grant_json(policy, guest_identity("Ann"))["topics"]["prefixes"] == ["chat-", "room-"]
    assert grant_json(policy, Identity("nogroup", ()))["tier"] == "readonly"


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("version: 1\ngroups: []\ntiers: {}\n", 3, "tiers must contain at least 1"),
        ("version: 2\ngroups: []\ntiers: {a: {ttl_seconds: 10, max_ttl_seconds: 10}}\n", 1, "version"),
        ("version: 1\ngroups: [\n", 3, "not valid YAML"),
        (
            "version: 1\ngroups:\n  - {group: g, tier: nope}\ntiers:\n"
            "  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
            "    topics: {role: publish_subscribe, names: ['*']}\n",
            3,
            "unknown tier 'nope'",
        ),
        (
            "version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
            "    topics: {role: publish_subscribe, names: ['a*b']}\n",
            7,
            "must match pattern",
        ),
        (
            "version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
            "    topics: {role: owner, names: ['*']}\n",
            7,
            "must be one of",
        ),
        ("version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n", 4, "grants nothing"),
        (
            "version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 100\n    max_ttl_seconds: 10\n"
            "    topics: {role: publish_subscribe, names: ['*']}\n",
            5,
            "over max_ttl_seconds",
        ),
        (
            "version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
            "    topics: {role: publish_subscribe, names: ['*']}\n    cache: {role: read_only, items: ['k']}\n",
            8,
            "may only grant the whole cache",
        ),
        (
            "version: 1\ngroups: []\nanonymous_tier: ghost\ntiers:\n"
            "  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n"
            "    topics: {role: publish_subscribe, names: ['*']}\n",
            3,
            "anonymous_tier names an unknown tier",
        ),
        (
            "version: 1\ngroups: []\ntiers:\n  a:\n    ttl_seconds: 10\n    max_ttl_seconds: 10\n    extra: true\n"
            "    topics: {role: publish_subscribe, names: ['*']}\n",
            4,
            "must not contain",
        ),
    ],
)
def test_a_bad_policy_is_an_error_naming_the_line(text: str, line: int, match: str) -> None:
    with pytest.raises(PolicyError, match=match) as error:
        parse_policy(text, "bad.yaml")
    assert str(error.value).startswith(f"bad.yaml:{line}:"), str(error.value)


def test_a_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("authorizer", "mode", "expected"),
    [
        ({"lambda": {"username": "alice", "groups": "a, b,,c"}}, "LambdaAuthorizer", ("alice", ("a", "b", "c"))),
        ({"lambda": {"username": "alice"}}, "LambdaAuthorizer", ("alice", ())),
        (
            {"jwt": {"claims": {"cognito:username": "bob", "cognito:groups": "[x y]"}}},
            "AmazonCognito",
            ("bob", ("x", "y")),
        ),
        ({"jwt": {"claims": {"username": "bob", "cognito:groups": ["x"]}}}, "AmazonCognito", ("bob", ("x",))),
        # never decoded as JSON: a Cognito group may be named '"x","y"' (tests/unit/test_identity_claims.py)
        ({"jwt": {"claims": {"sub": "u-1", "cognito:groups": '["x","y"]'}}}, "AmazonCognito", ("u-1", ('"x","y"',))),
        ({"jwt": {"claims": {"sub": "u-1"}}}, "AmazonCognito", ("u-1", ())),
    ],
)
def test_identity_comes_from_the_verified_context(authorizer: Any, mode: str, expected: Any) -> None:
    identity = identity_from_event({"requestContext": {"authorizer": authorizer}}, mode)
    assert (identity.username, identity.groups, identity.verified) == (*expected, True)


@pytest.mark.parametrize(
    "authorizer",
    [
        {},
        {"lambda": {}},
        {"lambda": {"username": ""}},
        {"lambda": {"username": "guest:x"}},
        {"lambda": {"username": 5}},
    ],
)
def test_no_or_unusable_verified_identity_is_unauthenticated(authorizer: Any) -> None:
    from momento_tvm import UnauthenticatedError

    with pytest.raises(UnauthenticatedError):
        identity_from_event({"requestContext": {"authorizer": authorizer}}, "LambdaAuthorizer")


@pytest.mark.parametrize(
    ("proposed", "expected"),
    [
        ("Ann", "guest:Ann"),
        ("  Ann   Lee ", "guest:Ann Lee"),
        ("a:b<c>", "guest:abc"),
        ("x" * 100, "guest:" + "x" * 32),
    ],
)
def test_guest_names_are_sanitised_bounded_and_never_verified(proposed: str, expected: str) -> None:
    guest = guest_identity(proposed)
    assert (guest.username, guest.verified) == (expected, False)
    assert len(guest.username) <= 64


def test_open_mode_ignores_any_authorizer_context() -> None:
    event = {"requestContext": {"authorizer": {"lambda": {"username": "alice", "groups": "readwrite"}}}}
    identity = identity_from_event(event, "Open", "alice")
    assert identity == Identity("guest:alice", (), verified=False)
