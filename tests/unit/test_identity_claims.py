"""AmazonCognito mode: who the caller is and which groups they are in, from the JWT claims API Gateway verified.

The gateway hands every claim over as a string, `cognito:groups` included ("[a b]", space-separated, no quotes); a
list is accepted too (a local verifier, a test event). Group names are matched exactly as Cognito holds them: never
decoded as JSON, never split on anything but whitespace (which no Cognito group name holds). The tier then comes from
the policy (`decide`): the first rule matching one of the groups, else `default_tier`, else 403. Nothing the caller
sends beside the verified token (headers, query, body, a proposed display name) can change any of it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from momento_tvm import Identity, TokenRequest, decide, identity_from_event, parse_policy
from momento_tvm.errors import ScopeDeniedError, TvmError, UnauthenticatedError
from momento_tvm.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "functions" / "token_vending" / "policy.yaml")
NO_DEFAULT = parse_policy(
    textwrap.dedent(
        """
        version: 1
        default_tier: null
        groups:
          - {group: readwrite, tier: readwrite}
          - {group: red, tier: red}
        tiers:
          readwrite:
            topics: {role: publish_subscribe, names: ["*"]}
            ttl_seconds: 600
            max_ttl_seconds: 600
          red:
            topics: {role: subscribe_only, names: ["red-room"]}
            ttl_seconds: 600
            max_ttl_seconds: 600
        """
    )
)


def event(claims: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    """An HTTP API payload-2.0 event whose JWT authorizer verified `claims`."""
    authorizer = {"jwt": {"claims": claims, "scopes": None}} if claims is not None else {}
    return {"version": "2.0", "headers": {}, "requestContext": {"authorizer": authorizer}, **extra}


def cognito(claims: dict[str, Any] | None, **extra: Any) -> Identity:
    return identity_from_event(event(claims, **extra), "AmazonCognito")


def tier_of(identity: Identity, policy: Any = POLICY) -> str:
    return decide(policy, identity, TokenRequest(), cache_name="c", max_ttl_seconds=3600).tier


# --- cognito:groups -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        ("[readwrite]", ("readwrite",)),  # API Gateway's form, one group
        ("[readwrite readonly]", ("readwrite", "readonly")),  # API Gateway's form, several
        ("  [ readwrite   readonly ]  ", ("readwrite", "readonly")),
        ('["readwrite", "readonly"]', ('"readwrite",', '"readonly"')),  # never decoded: names with quotes
        ('["readonly"]', ('"readonly"',)),
        (["readwrite", "readonly"], ("readwrite", "readonly")),  # a list (moto's ID token, decoded as is)
        (["readonly"], ("readonly",)),
        ("[]", ()),
        ("", ()),
        ([], ()),
        ('[""]', ('""',)),
        ("readonly", ("readonly",)),  # no brackets: still one group, never a different one
    ],
)
def test_the_groups_claim_in_every_form(claim: Any, groups: tuple[str, ...]) -> None:
    assert cognito({"cognito:username": "alice", "cognito:groups": claim}).groups == groups


def test_a_missing_groups_claim_is_no_group() -> None:
    assert cognito({"cognito:username": "alice"}).groups == ()
    assert cognito({"cognito:username": "alice", "cognito:groups": None}).groups == ()


@pytest.mark.parametrize(
    ("claim", "groups"),
    [
        # Cognito group names may hold punctuation, commas included: API Gateway separates groups by spaces only,
        # so "team,red" is one group, and its members are not in group "red".
        ("[team,red]", ("team,red",)),
        ("[team,red readonly]", ("team,red", "readonly")),
        ("team,red", ("team,red",)),
        # a list holding something other than strings has no group in those places
        (["readonly", 5, None, ["readwrite"]], ("readonly",)),
        ('["readonly", 5, null]', ('"readonly",', "5,", "null")),
    ],
)
def test_group_names_are_never_split_or_invented(claim: Any, groups: tuple[str, ...]) -> None:
    identity = cognito({"cognito:username": "alice", "cognito:groups": claim})
    assert identity.groups == groups


def test_a_comma_in_a_group_name_does_not_grant_another_groups_tier() -> None:
    assert tier_of(cognito({"cognito:username": "alice", "cognito:groups": "[red]"}), NO_DEFAULT) == "red"
    identity = cognito({"cognito:username": "alice", "cognito:groups": "[team,red]"})
    with pytest.raises(ScopeDeniedError):
        tier_of(identity, NO_DEFAULT)


# --- the username -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "username"),
    [
        ({"cognito:username": "alice", "username": "other", "sub": "u-1"}, "alice"),  # an ID token
        ({"username": "alice", "sub": "u-1", "client_id": "abc", "token_use": "access"}, "alice"),  # an access token
        ({"sub": "5f2a8c1e-0000-4000-8000-000000000001"}, "5f2a8c1e-0000-4000-8000-000000000001"),
        ({"cognito:username": "", "username": "alice", "sub": "u-1"}, "alice"),
        ({"cognito:username": "alice@example.com"}, "alice@example.com"),
    ],
)
def test_the_username_prefers_cognito_username_then_username_then_sub(claims: dict[str, Any], username: str) -> None:
    identity = cognito(claims)
    assert (identity.username, identity.verified) == (username, True)


@pytest.mark.parametrize(
    "claims",
    [
        None,  # no JWT authorizer ran (sam local, a misconfigured route)
        {},
        {"cognito:groups": "[readwrite]"},  # groups but nobody
        {"cognito:username": "guest:alice"},  # never a guest's token id
        {"cognito:username": "ann lee"},
        {"cognito:username": "a" * 65},
        {"cognito:username": ["alice"]},
    ],
)
def test_no_usable_username_is_401(claims: dict[str, Any] | None) -> None:
    with pytest.raises(UnauthenticatedError) as info:
        cognito(claims)
    assert info.value.status == 401


# --- group -> tier ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "tier"),
    [
        ("[readwrite]", "readwrite"),
        ("[readonly]", "readonly"),
        ("[readonly readwrite]", "readwrite"),  # the policy's first matching rule wins, whatever the claim's order
        ("[ReadWriteUserGroup]", "readwrite"),  # Momento's example pool's group names (migration aliases)
        ("[ReadOnlyUserGroup]", "readonly"),
        ("[admins]", "readonly"),  # in no listed group: default_tier
        (None, "readonly"),
        ("[]", "readonly"),
    ],
)
def test_the_groups_pick_the_tier(claim: str | None, tier: str) -> None:
    claims: dict[str, Any] = {"cognito:username": "alice"}
    if claim is not None:
        claims["cognito:groups"] = claim
    assert tier_of(cognito(claims)) == tier


@pytest.mark.parametrize("claim", [None, "", "[]", "[admins]"])
def test_no_listed_group_and_no_default_tier_is_403(claim: str | None) -> None:
    claims: dict[str, Any] = {"cognito:username": "alice"}
    if claim is not None:
        claims["cognito:groups"] = claim
    with pytest.raises(ScopeDeniedError) as info:
        tier_of(cognito(claims), NO_DEFAULT)
    assert isinstance(info.value, TvmError) and info.value.status == 403


# --- nothing but the verified claims ------------------------------------------------------------------------------


def test_headers_query_body_and_a_display_name_change_nothing() -> None:
    """Momento's example read the tier from a `usergroup` header; here every such attempt is ignored."""
    claims = {"cognito:username": "viewer", "cognito:groups": "[readonly]"}
    forged = event(
        claims,
        headers={
            "usergroup": "ReadWriteUserGroup",
            "cognito:groups": "[readwrite]",
            "x-cognito-groups": "readwrite",
            "x-username": "alice",
        },
        queryStringParameters={"groups": "readwrite", "username": "alice", "name": "alice"},
        rawQueryString="groups=readwrite&username=alice&name=alice",
        body='{"groups": ["readwrite"], "username": "alice", "name": "alice"}',
    )
    # a Lambda authorizer's context in the same event is not this mode's: ignored too
    forged["requestContext"]["authorizer"]["lambda"] = {"username": "alice", "groups": "readwrite"}
    identity = identity_from_event(forged, "AmazonCognito", "alice")
    assert identity == Identity("viewer", ("readonly",), verified=True)
    assert tier_of(identity) == "readonly"


def test_a_lambda_context_without_jwt_claims_is_not_an_identity() -> None:
    forged = {"requestContext": {"authorizer": {"lambda": {"username": "alice", "groups": "readwrite"}}}}
    with pytest.raises(UnauthenticatedError):
        identity_from_event(forged, "AmazonCognito")


def test_the_sample_event_is_bob_in_readwrite() -> None:
    import json

    sample = json.loads((ROOT / "events" / "token" / "get_token_jwt.json").read_text())
    identity = identity_from_event(sample, "AmazonCognito")
    assert (identity.username, identity.groups, tier_of(identity)) == ("bob", ("readwrite",), "readwrite")
