"""Issue 18 end to end: identities the vending core refuses, what an unchecked username can still get, a verified user
named `guest`, Cognito group names, and how the logs name a guest. Momento is the session's emulator and every
token is tried with the real `momento` SDK; the logs are the vending Lambda's (in-process) and the library's
(`momento_tvm.http`, through a FastAPI host).

The expected log name of a guest is computed here from its definition (`guest#` + 12 hex digits of the SHA-256 of the
token id), not with the library's helper, so these tests also run, and fail, against the code before the fix.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from momento_tvm import (
    EMULATOR_API_KEY,
    Identity,
    MomentoMinter,
    MomentoSettings,
    TokenRequest,
    UnauthenticatedError,
    VendingMachine,
    decide,
    guest_identity,
    parse_policy,
)
from momento_tvm.fastapi import token_router
from tests import sdk_rights
from tests.conftest import CACHE
from tests.integration.vending import as_user, invoke, load_event, merge, with_query

# One policy for verified users and guests (an embedding app whose current_user returns a guest for a visitor), with
# the `inbox-{username}:*` form the README recommends.
POLICY: dict[str, Any] = {
    "version": 1,
    "anonymous_tier": "chat",
    "default_tier": "chat",
    "groups": [],
    "tiers": {
        "chat": {
            "topics": {"role": "publish_subscribe", "names": ["inbox-{username}:*", "dm-{username}"]},
            "ttl_seconds": 300,
            "max_ttl_seconds": 300,
        }
    },
}
DISPLAY_NAME = "Zebediah Quux"  # a guest's chosen name: it must never reach a log line


def guest_log_name(token_id: str) -> str:
    return "guest#" + hashlib.sha256(token_id.encode()).hexdigest()[:12]


@pytest.fixture(scope="module")
def machine(emulator_thread: Any) -> Iterator[VendingMachine]:
    with VendingMachine(POLICY, MomentoSettings.emulator(emulator_thread.grpc_port), cache_name=CACHE) as made:
        yield made


async def rights(token: str, port: int, topic: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on `topic`, asked of the real SDK."""
    return await sdk_rights.topic_rights(sdk_rights.emulator_provider(token, port), CACHE, topic)


# --- the direct API checks the identity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity",
    [Identity("*"), Identity("al*"), Identity("guest"), Identity("GUEST"), Identity("guest:*", verified=False)],
    ids=repr,
)
def test_vend_and_explain_refuse_an_identity_that_cannot_be_a_token_id(
    machine: VendingMachine, identity: Identity
) -> None:
    for call in (machine.vend, machine.explain):
        with pytest.raises(UnauthenticatedError) as raised:
            call(identity, None)
        assert (raised.value.status, raised.value.code) == (401, "unauthenticated")


async def test_alice_and_a_guest_still_get_their_own_topics(machine: VendingMachine, emulator_thread: Any) -> None:
    port = emulator_thread.grpc_port
    alice = machine.vend(Identity("alice"))
    assert await rights(alice.auth_token, port, "dm-alice") == (True, True)
    assert await rights(alice.auth_token, port, "inbox-alice:hello") == (True, True)
    assert await rights(alice.auth_token, port, "dm-alicia") == (False, False)
    ann = machine.vend(guest_identity("Ann"))
    assert ann.token_id == "guest:Ann"
    assert await rights(ann.auth_token, port, "inbox-guest:Ann:hello") == (True, True)
    assert await rights(ann.auth_token, port, "inbox-guest:Bob:hello") == (False, False)


# --- the decision alone, with no identity check: a username is literal text --------------------------------------


@pytest.mark.parametrize(
    ("username", "own", "others"),
    [
        ("al*", ["dm-al*", "inbox-al*:x"], ["dm-alice", "dm-al", "inbox-alice:x", "inbox-al:x"]),
        ("*", ["dm-*", "inbox-*:x"], ["dm-alice", "inbox-alice:x", "anything"]),
    ],
)
async def test_a_token_minted_from_an_unchecked_username_opens_only_its_literal_names(
    emulator_thread: Any, username: str, own: list[str], others: list[str]
) -> None:
    """`decide` takes the identity as given (the machine checks it first); minted as is, the token still reaches no
    other user's topics, as the SDK sees it."""
    port = emulator_thread.grpc_port
    grant = decide(
        parse_policy(json.dumps(POLICY)), Identity(username), TokenRequest(), cache_name=CACHE, max_ttl_seconds=300
    )
    minter = MomentoMinter(EMULATOR_API_KEY, f"127.0.0.1:{port}")
    try:
        token = minter.mint(grant).auth_token
    finally:
        minter.close()
    for topic in own:
        assert await rights(token, port, topic) == (True, True), topic
    for topic in others:
        assert await rights(token, port, topic) == (False, False), topic


# --- an embedding app serving users and guests with one policy ----------------------------------------------------


def current_user(request: Request) -> Identity:
    """The host's login: X-User is a signed-in user; anyone else is a guest named by X-Guest (the host's choice)."""
    name = request.headers.get("x-user")
    return Identity(name) if name is not None else guest_identity(request.headers.get("x-guest"))


@pytest.fixture(scope="module")
def client(machine: VendingMachine) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(token_router(machine, current_user))
    with TestClient(app) as test_client:
        yield test_client


async def test_a_user_named_guest_cannot_read_the_guests_inboxes(client: TestClient, emulator_thread: Any) -> None:
    port = emulator_thread.grpc_port
    ann = client.get("/api/momento/token", headers={"X-Guest": "Ann"})
    assert ann.status_code == 200, ann.text
    assert ann.json()["scope"]["topics"]["prefixes"] == ["inbox-guest:Ann:"]
    assert await rights(ann.json()["authToken"], port, "inbox-guest:Ann:from-bob") == (True, True)
    for name in ("guest", "Guest"):
        answer = client.get("/api/momento/token", headers={"X-User": name})
        assert answer.status_code == 401, answer.text  # before the fix: 200, a token for every inbox-guest:...
        assert answer.json()["error"]["code"] == "unauthenticated"
        explained = client.get("/api/momento/token/explain", headers={"X-User": name})
        assert explained.status_code == 401
    guest1 = client.get("/api/momento/token", headers={"X-User": "guest1"})  # a name that merely starts so
    assert guest1.status_code == 200
    assert await rights(guest1.json()["authToken"], port, "inbox-guest:Ann:from-bob") == (False, False)


def test_the_library_logs_a_guest_by_a_hash_never_by_its_chosen_name(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="momento_tvm"):
        vended = client.get("/api/momento/token", headers={"X-Guest": DISPLAY_NAME})
        client.get("/api/momento/token?topics=nope", headers={"X-Guest": DISPLAY_NAME})
        client.get("/api/momento/token", headers={"X-User": "alice"})
    assert vended.json()["tokenId"] == f"guest:{DISPLAY_NAME}"  # the token still carries it: subscribers see it
    records = [r for r in caplog.records if r.name == "momento_tvm"]
    assert [r.getMessage() for r in records] == ["token issued", "request refused", "token issued"]
    assert [getattr(r, "user", None) for r in records] == [guest_log_name(f"guest:{DISPLAY_NAME}"), None, "alice"]
    everything = json.dumps([{"message": r.getMessage(), **vars(r)} for r in records], default=str)
    for part in DISPLAY_NAME.split():
        assert part not in everything


# --- the vending Lambda -------------------------------------------------------------------------------------------


def issued_lines(logs: io.StringIO) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    return [r for r in records if r.get("message") == "token issued"]


def test_the_lambda_logs_a_guest_by_a_hash_never_by_its_chosen_name(function: ModuleType, logs: io.StringIO) -> None:
    open_event = with_query(load_event("get_token_open.json"), topics="chat-lobby", name=DISPLAY_NAME)
    status, _, body = invoke(function, open_event, "Open")
    assert status == 200, body
    assert body["tokenId"] == f"guest:{DISPLAY_NAME}"
    refused = with_query(load_event("get_token_open.json"), topics="secret", name=DISPLAY_NAME)
    assert invoke(function, refused, "Open")[0] == 403
    explain = merge(open_event, {"routeKey": "GET /token/explain", "rawPath": "/token/explain"})
    explain["requestContext"]["http"]["path"] = "/token/explain"
    explain["requestContext"]["routeKey"] = "GET /token/explain"
    assert invoke(function, explain, "Open")[0] == 200
    assert invoke(function, as_user("alice", "readwrite"))[0] == 200
    issued = issued_lines(logs)
    assert [line["user"] for line in issued] == [guest_log_name(f"guest:{DISPLAY_NAME}"), "alice"]
    for part in DISPLAY_NAME.split():
        assert part not in logs.getvalue()


def test_the_lambda_refuses_a_verified_user_named_guest(function: ModuleType) -> None:
    for name in ("guest", "GUEST"):
        status, _, body = invoke(function, as_user(name, "readwrite"))
        assert status == 401, body
        assert body["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("claim", ['["readwrite"]', '["read\\u0077rite"]', '[other "readwrite"]'])
def test_the_lambda_gives_a_quoted_group_name_no_readwrite(function: ModuleType, claim: str) -> None:
    """Cognito allows quotes in a group name; API Gateway sends the claim as `[name name]`, never as JSON."""
    event = load_event("get_token_jwt.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = claim
    status, _, body = invoke(function, event, "AmazonCognito")
    assert status == 200, body
    assert body["scope"]["tier"] == "readonly"  # the deployed policy's default_tier
    real = load_event("get_token_jwt.json")
    assert invoke(function, real, "AmazonCognito")[2]["scope"]["tier"] == "readwrite"
