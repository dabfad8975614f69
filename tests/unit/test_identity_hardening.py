"""Identities the vending core mints for (issue 18), without a Momento: what `VendingMachine` refuses, what the pure
`decide` grants for any username, the reserved name `guest`, and Cognito group names taken exactly as written.

Two layers, tested apart:
- the machine (`VendingMachine.decide/explain/vend`, the documented direct API) checks every identity as the token
  routes do: `Identity("*")`, `Identity("al*")`, `Identity("guest")` or a hand-made guest id are a 401 and nothing
  is minted;
- the decision (`momento_tvm.decide`, which takes an identity as given) reads each pattern as exact, prefix or
  everything before it fills in `{username}`, so even an unchecked username is only ever literal text.

The tokens these grants become are tried with the real `momento` SDK in tests/integration/test_identity_hardening.py.
New names (InvalidIdentityError) are imported inside the tests that need them, so every other test here also runs,
and fails, against the code before the fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from local_api.jwt_authorizer import authorizer_context
from momento_tvm import (
    Grant,
    Identity,
    PolicyError,
    ScopeDeniedError,
    TokenRequest,
    UnauthenticatedError,
    VendingMachine,
    decide,
    guest_identity,
    identity_from_event,
    parse_policy,
    verified_identity,
)
from momento_tvm.errors import InvalidRequestError
from momento_tvm.identity import TOKEN_ID_CHARS
from momento_tvm.minting import MintedToken

ROOT = Path(__file__).resolve().parents[2]
DEPLOYED_POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"
# One policy serving verified users and guests alike: an embedding app whose current_user returns a guest for a
# visitor. The `inbox-{username}:*` form is the one the README and docs/api.md recommend.
SHARED: dict[str, Any] = {
    "version": 1,
    "anonymous_tier": "chat",
    "default_tier": "chat",
    "groups": [],
    "tiers": {
        "chat": {
            "topics": {"role": "publish_subscribe", "names": ["inbox-{username}:*", "dm-{username}", "room-*"]},
            "ttl_seconds": 600,
            "max_ttl_seconds": 600,
        }
    },
}
MAX_TTL = 600


class RecordingMinter:
    """A stand-in Momento recording what it was asked to mint (here: that nothing was); the real mint of these
    identities is tried against the emulator in tests/integration/test_identity_hardening.py."""

    def __init__(self) -> None:
        self.grants: list[Grant] = []

    def mint(self, grant: Grant) -> MintedToken:
        self.grants.append(grant)
        return MintedToken("token", 1_900_000_000, "127.0.0.1:1")


def machine_for(policy: Any = None) -> tuple[VendingMachine, RecordingMinter]:
    minter = RecordingMinter()
    return VendingMachine(SHARED if policy is None else policy, lambda: minter, cache_name="chat"), minter


def unchecked(policy: dict[str, Any], identity: Identity, request: TokenRequest | None = None) -> Grant:
    """The pure decision, for the identity as given (the second layer)."""
    return decide(
        parse_policy(json.dumps(policy)), identity, request or TokenRequest(), cache_name="c", max_ttl_seconds=MAX_TTL
    )


def one_tier(topics: list[str] | None = None, items: list[str] | None = None) -> dict[str, Any]:
    tier: dict[str, Any] = {"ttl_seconds": 60, "max_ttl_seconds": 60}
    if topics is not None:
        tier["topics"] = {"role": "publish_subscribe", "names": topics}
    if items is not None:
        tier["cache"] = {"role": "read_only", "items": items}
    return {"version": 1, "anonymous_tier": "t", "default_tier": "t", "groups": [], "tiers": {"t": tier}}


# --- layer 1: the machine checks every identity ---------------------------------------------------------------------

UNUSABLE = [
    Identity("*"),
    Identity("al*"),
    Identity("dm-*"),
    Identity("{username}"),
    Identity("alice smith"),
    Identity("a:b"),
    Identity("x" * 65),
    Identity("guest"),  # reserved: its `inbox-guest:` would be every guest's inbox
    Identity("Guest"),
    Identity("GUEST"),
    Identity("gUeSt"),
    Identity("*", verified=False),
    Identity("alice", verified=False),  # a guest id is guest:<name>
    Identity("guest:", verified=False),
    Identity("guest:*", verified=False),
    Identity("guest:a:b", verified=False),
    Identity("guest: Ann", verified=False),  # the sanitiser trims; a hand-made id must be one it makes
    Identity("guest:Ann  Lee", verified=False),
    Identity("guest:" + "x" * 33, verified=False),
]


@pytest.mark.parametrize("identity", UNUSABLE, ids=repr)
async def test_the_machine_refuses_an_identity_that_cannot_be_a_token_id_and_mints_nothing(identity: Identity) -> None:
    machine, minter = machine_for()
    calls: list[Callable[[], object]] = [
        lambda: machine.decide(identity),
        lambda: machine.explain(identity),
        lambda: machine.vend(identity),
        lambda: machine.vend(identity, TokenRequest(topics=("dm-alice", "inbox-alice:*"))),
    ]
    for call in calls:
        with pytest.raises(UnauthenticatedError) as raised:
            call()
        assert (raised.value.status, raised.value.code) == (401, "unauthenticated")
    for acall in (machine.avend, machine.aexplain):
        with pytest.raises(UnauthenticatedError):
            await acall(identity)
    assert minter.grants == []


def test_the_refusal_is_an_invalid_identity_error_that_never_quotes_the_name() -> None:
    from momento_tvm.errors import InvalidIdentityError

    machine, _ = machine_for()
    for identity in (Identity("al*"), Identity("dm-*x"), Identity("guest:a:b", verified=False)):
        with pytest.raises(InvalidIdentityError) as raised:
            machine.vend(identity)
        assert identity.username not in raised.value.message
        assert identity.username not in raised.value.log_message
        assert raised.value.to_json()["error"]["code"] == "unauthenticated"


def test_a_lone_string_of_groups_is_refused_not_read_as_its_letters() -> None:
    """`Identity("alice", "readwrite")`: `"read" in "readwrite"` would be a group match."""
    policy = {**SHARED, "default_tier": None, "groups": [{"group": "read", "tier": "chat"}]}
    machine, minter = machine_for(policy)
    with pytest.raises(TypeError, match="list of group names"):
        machine.vend(Identity("alice", "readwrite"))  # type: ignore[arg-type]
    assert minter.grants == []


@pytest.mark.parametrize(
    ("identity", "token_id"),
    [
        (Identity("alice"), "alice"),
        (verified_identity("guest1"), "guest1"),  # `inbox-guest1:` covers no guest's `inbox-guest:...`
        (verified_identity("guests"), "guests"),
        (verified_identity("al.ice@example.com"), "al.ice@example.com"),
        (Identity("guest:Ann", verified=False), "guest:Ann"),
        (Identity("guest:Ann Lee", verified=False), "guest:Ann Lee"),
        (guest_identity("  <b>Ann</b>  Lee "), "guest:bAnnb Lee"),
        (guest_identity("guest"), "guest:guest"),  # a guest may call itself anything: it is still a guest
    ],
)
def test_identities_a_gateway_or_the_helpers_make_still_vend(identity: Identity, token_id: str) -> None:
    machine, minter = machine_for()
    token = machine.vend(identity)
    assert token.token_id == token_id
    assert token.grant.topics is not None
    assert token.grant.topics.prefixes == (f"inbox-{token_id}:", "room-")
    assert token.grant.topics.names == (f"dm-{token_id}",)
    assert [grant.token_id for grant in minter.grants] == [token_id]


def test_a_random_guest_id_vends() -> None:
    machine, _ = machine_for()
    guest = guest_identity(None)
    assert machine.vend(guest).token_id == guest.username


@settings(max_examples=300, deadline=None)
@given(username=st.text(max_size=70) | st.sampled_from(["guest", "GUEST", "Guest", "guest:", "*", "a*", "guest:Ann"]))
def test_whatever_the_username_the_machine_mints_only_for_token_ids_the_gateway_could_give(username: str) -> None:
    """Verified: 1-64 of A-Z a-z 0-9 _ . @ + - and never `guest`; a guest: exactly what guest_identity makes."""
    machine, _ = machine_for()
    for verified in (True, False):
        try:
            token_id = machine.decide(Identity(username, verified=verified)).token_id
        except UnauthenticatedError:
            continue  # a 401 (the status is checked above, for each kind of name)
        if verified:
            assert 1 <= len(token_id) <= 64 and set(token_id) <= TOKEN_ID_CHARS - {" "}
            assert token_id.lower() != "guest"
        else:
            assert guest_identity(token_id.removeprefix("guest:")).username == token_id


# --- layer 2: the decision reads a pattern before it fills in {username} -------------------------------------------


@pytest.mark.parametrize(
    ("username", "names", "prefixes"),
    [
        ("*", ("dm-*",), ("inbox-*:", "room-")),
        ("al*", ("dm-al*",), ("inbox-al*:", "room-")),
        ("inbox-al", ("dm-inbox-al",), ("inbox-inbox-al:", "room-")),
    ],
)
def test_an_unchecked_username_is_only_ever_literal_text(
    username: str, names: tuple[str, ...], prefixes: tuple[str, ...]
) -> None:
    grant = unchecked(SHARED, Identity(username))
    assert grant.topics is not None and not grant.topics.all_topics
    assert (grant.topics.names, grant.topics.prefixes) == (names, prefixes)
    asked = unchecked(SHARED, Identity("al*"), TokenRequest(topics=("dm-alice", "inbox-alice:x", "room-1")))
    assert asked.topics is not None and (asked.topics.names, asked.topics.prefixes) == (("room-1",), ())
    with pytest.raises(ScopeDeniedError):
        unchecked(SHARED, Identity("al*"), TokenRequest(topics=("dm-al*", "inbox-alice:*")))


def test_a_username_of_star_is_not_everything() -> None:
    grant = unchecked(one_tier(topics=["{username}"]), Identity("*"))
    assert grant.topics is not None
    assert (grant.topics.all_topics, grant.topics.names, grant.topics.prefixes) == (False, ("*",), ())
    items = unchecked(one_tier(items=["{username}", "p-{username}"]), Identity("*"))
    assert items.cache is not None
    assert (items.cache.all_items, items.cache.keys, items.cache.key_prefixes) == (False, ("*", "p-*"), ())
    with pytest.raises(ScopeDeniedError):
        unchecked(one_tier(items=["p-{username}"]), Identity("*"), TokenRequest(cache_items=("p-secret",)))


def literal_allows(pattern: str, username: str, name: str) -> bool:
    """The documented rule, read in the right order: `*` alone, a trailing `*`, else exact; then `{username}`."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1].replace("{username}", username))
    return name == pattern.replace("{username}", username)


def literal_covers_prefix(pattern: str, username: str, prefix: str) -> bool:
    if pattern == "*":
        return True
    return pattern.endswith("*") and prefix.startswith(pattern[:-1].replace("{username}", username))


pieces = st.sampled_from(["a", "l", "-", ":", "/", "{username}", "room", "al", "x"])
patterns = st.just("*") | st.builds(
    lambda parts, star: "".join(parts) + ("*" if star else ""), st.lists(pieces, min_size=1, max_size=4), st.booleans()
)
hostile = st.lists(st.sampled_from(["*", "a", "l", ":", "-", "{username}", "{", "}", " ", "guest"]), min_size=1).map(
    "".join
) | st.text(min_size=1, max_size=12)
requested = st.none() | st.lists(
    st.lists(st.sampled_from(["a", "l", "-", ":", "/", "*", "room", "al"]), min_size=1, max_size=5).map("".join),
    min_size=1,
    max_size=4,
)


@settings(max_examples=500, deadline=None)
@given(
    topic_patterns=st.none() | st.lists(patterns, min_size=1, max_size=3),
    item_patterns=st.none() | st.lists(patterns, min_size=1, max_size=3),
    username=hostile,
    verified=st.booleans(),
    topics=requested,
    items=requested,
)
def test_no_username_yields_a_grant_wider_than_its_own_literal_substitution(
    topic_patterns: list[str] | None,
    item_patterns: list[str] | None,
    username: str,
    verified: bool,
    topics: list[str] | None,
    items: list[str] | None,
) -> None:
    """Any username at all, `*`, `al*` and `{username}` included, through the decision with no identity check."""
    assume(topic_patterns is not None or item_patterns is not None)
    policy = one_tier(topic_patterns, item_patterns)
    try:
        parse_policy(json.dumps(policy))
    except PolicyError:
        return
    request = TokenRequest(tuple(topics) if topics else None, tuple(items) if items else None)
    try:
        grant = unchecked(policy, Identity(username, verified=verified), request)
    except (ScopeDeniedError, InvalidRequestError):
        return
    if grant.topics is not None:
        assert topic_patterns is not None
        assert not grant.topics.all_topics or "*" in topic_patterns
        for name in grant.topics.names:
            assert any(literal_allows(p, username, name) for p in topic_patterns), (username, name)
        for prefix in grant.topics.prefixes:
            assert any(literal_covers_prefix(p, username, prefix) for p in topic_patterns), (username, prefix)
    if grant.cache is not None:
        assert item_patterns is not None
        assert not grant.cache.all_items or "*" in item_patterns
        for key in grant.cache.keys:
            assert any(literal_allows(p, username, key) for p in item_patterns), (username, key)
        for prefix in grant.cache.key_prefixes:
            assert any(literal_covers_prefix(p, username, prefix) for p in item_patterns), (username, prefix)


# --- a verified user named guest, and the class it belongs to ------------------------------------------------------


@pytest.mark.parametrize("name", ["guest", "Guest", "GUEST", "gUEst"])
def test_guest_is_no_verified_username_from_any_source(name: str) -> None:
    lambda_event = {"requestContext": {"authorizer": {"lambda": {"username": name, "groups": "readwrite"}}}}
    cognito_event = {"requestContext": {"authorizer": {"jwt": {"claims": {"cognito:username": name}}}}}
    makers: tuple[Callable[[], Identity], ...] = (
        lambda: verified_identity(name, ["readwrite"]),
        lambda: identity_from_event(lambda_event, "LambdaAuthorizer"),
        lambda: identity_from_event(cognito_event, "AmazonCognito"),
    )
    for make in makers:
        with pytest.raises(UnauthenticatedError) as raised:
            make()
        assert raised.value.status == 401


def test_a_user_named_guest_cannot_reach_the_guests_inboxes() -> None:
    machine, minter = machine_for()
    ann = machine.decide(guest_identity("Ann"))
    assert ann.topics is not None and ann.topics.prefixes == ("inbox-guest:Ann:", "room-")
    with pytest.raises(UnauthenticatedError):
        machine.vend(Identity("guest"), TokenRequest(topics=("inbox-guest:Ann:hello", "inbox-guest:*")))
    assert minter.grants == []


# Characters the loader accepts right after {username} in a prefix: none a verified username or display name holds.
followers = st.characters(exclude_characters=[*sorted(TOKEN_ID_CHARS), "*", "{", "}"], exclude_categories=["Cs", "Cc"])
usernames = st.sampled_from(
    ["guest", "Guest", "GUEST", "gues", "g", "guest.", "guest_", "guest-1", "GuestA"]
) | st.text(alphabet="abcdefghijklmnopqrstuvwxyzGUEST0123456789_.@+-", min_size=1, max_size=8)
display_names = st.sampled_from(["Ann", "guest", "guest Ann", "", "x"]) | st.text(
    alphabet="abc guestGUEST_.-:", max_size=12
)


@settings(max_examples=400, deadline=None)
@given(
    before=st.sampled_from(["", "inbox-", "u/", "guest", "g"]),
    follower=followers,
    after=st.sampled_from(["", "x", "-"]),
    username=usernames,
    display=display_names,
)
def test_no_verified_users_prefix_covers_a_guests_names_nor_the_reverse(
    before: str, follower: str, after: str, username: str, display: str
) -> None:
    """The class, not the instance: for every prefix form the loader accepts (`{username}` followed by a character no
    username holds), one policy serving both, no verified user's prefix reaches a guest's names, nor a guest's a
    user's. Only `guest` could (a guest id is the one id holding such a character, `:` after `guest`): reserved."""
    policy = one_tier(topics=[f"{before}{{username}}{follower}{after}*", f"dm-{{username}}{follower}"])
    try:
        parse_policy(json.dumps(policy))
    except PolicyError:
        return
    machine, _ = machine_for(policy)
    try:
        user = machine.decide(Identity(username))
    except UnauthenticatedError:
        assert username.lower() == "guest"
        return
    guest = machine.decide(guest_identity(display))
    assert user.topics is not None and guest.topics is not None
    for mine, theirs in ((user.topics, guest.topics), (guest.topics, user.topics)):
        for prefix in mine.prefixes:
            assert not any(p.startswith(prefix) for p in theirs.prefixes), (prefix, theirs.prefixes)
            assert not any(n.startswith(prefix) for n in theirs.names), (prefix, theirs.names)


# --- Cognito group names, exactly as written -----------------------------------------------------------------------


def cognito(claim: Any, username: str = "mallory") -> Identity:
    claims = {"cognito:username": username, "cognito:groups": claim}
    return identity_from_event({"requestContext": {"authorizer": {"jwt": {"claims": claims}}}}, "AmazonCognito")


NO_DEFAULT = {
    "version": 1,
    "default_tier": None,
    "groups": [{"group": "readwrite", "tier": "readwrite"}],
    "tiers": {
        "readwrite": {"topics": {"role": "publish_subscribe", "names": ["*"]}, "ttl_seconds": 60, "max_ttl_seconds": 60}
    },
}


@pytest.mark.parametrize(
    "claim",
    [
        '["readwrite"]',  # a group named "readwrite", quotes included (Cognito allows them), as the gateway sends it
        '["read\\u0077rite"]',  # the same with a JSON escape
        '["readwrite", "x"]',
        '["ReadWriteUserGroup"]',
        ['"readwrite"'],  # the same group in a list claim: matched as it is
        ["read\\u0077rite"],
    ],
)
def test_a_group_name_that_only_decodes_to_readwrite_gets_no_readwrite(claim: Any) -> None:
    identity = cognito(claim)
    assert "readwrite" not in identity.groups and "ReadWriteUserGroup" not in identity.groups
    deployed, _ = machine_for(DEPLOYED_POLICY)
    assert deployed.explain(identity).grant.tier == "readonly"  # the deployed policy's default_tier
    strict, minter = machine_for(NO_DEFAULT)
    with pytest.raises(ScopeDeniedError):
        strict.vend(identity)
    assert minter.grants == []


def test_the_real_group_still_gets_its_tier() -> None:
    deployed, _ = machine_for(DEPLOYED_POLICY)
    assert deployed.explain(cognito("[readwrite]")).grant.tier == "readwrite"
    assert deployed.explain(cognito(["readwrite"])).grant.tier == "readwrite"
    assert deployed.explain(cognito("[other readwrite]")).grant.tier == "readwrite"


# What Cognito allows in a group name: letters, marks, symbols, digits and punctuation; never whitespace.
group_names = st.text(alphabet=st.characters(categories=["L", "M", "S", "N", "P"]), min_size=1, max_size=20)


@settings(max_examples=300, deadline=None)
@given(groups=st.lists(group_names, max_size=4))
def test_the_groups_read_back_exactly_as_the_local_gateway_formats_them(groups: list[str]) -> None:
    """local/local_api/jwt_authorizer.py formats a list claim as API Gateway does (`[a b]`): the identity reads back
    exactly the names, whatever quotes, brackets, commas or escapes they hold."""
    claims = authorizer_context({"cognito:username": "mallory", "cognito:groups": groups})["jwt"]["claims"]
    assert isinstance(claims["cognito:groups"], str)
    assert cognito(claims["cognito:groups"]).groups == tuple(groups)


# --- how the logs name a guest -------------------------------------------------------------------------------------


def test_a_guest_is_logged_by_a_hash_of_its_token_id_a_user_by_name() -> None:
    """The one helper the Lambda's and the library's log lines use (`Grant.log_name`); the logs themselves are
    checked in tests/integration/test_identity_hardening.py."""
    from momento_tvm.identity import log_name

    assert log_name("alice") == "alice"
    assert log_name("guest:Ann") == "guest#aca4b7582d67"  # docs/api.md's example
    random_guest = guest_identity(None).username
    assert log_name(random_guest).startswith("guest#") and len(log_name(random_guest)) == len("guest#") + 12
    machine, _ = machine_for()
    assert machine.vend(guest_identity("Ann")).grant.log_name == "guest#aca4b7582d67"
