"""The control channel (momento_tvm.control) with the real `momento` SDK against the emulator: every tier's token
may subscribe to its control topics and nothing else there; the operator's message (published by `tvm_users`' own
`tell`, with the API key) arrives with an empty publisher id; and a message any vended token publishes carries its
holder's name, so `parse_message` never obeys it.

The Python SDK hides `publisher_id`, so the check of who published reads the stream on a plain gRPC channel with
Momento's generated messages (as tests/integration/test_python_sdk.py does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from momento_tvm import Identity, MomentoSettings, VendedToken, VendingMachine, guest_identity, verified_identity
from momento_tvm.control import TOPIC_PREFIX, control_key, message, parse_message, tier_subject, topic_name
from tests.conftest import RunningEmulator
from tests.raw_topics import RawSubscription
from tests.sdk_rights import emulator_provider, publish, topic_rights
from tvm_users.tell import Momento, tell

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"
CALLERS = {
    "readwrite": verified_identity("alice", ["readwrite"]),
    "readonly": verified_identity("viewer", ["readonly"]),
    "guest": guest_identity("Ann"),
}


@pytest.fixture
def machine(emulator: RunningEmulator) -> Iterator[VendingMachine]:
    with VendingMachine(
        POLICY, MomentoSettings.emulator(port=emulator.grpc_port), cache_name=emulator.cache_name
    ) as vending:
        yield vending


def operator(emulator: RunningEmulator) -> Momento:
    return Momento(lambda: emulator.api_key, f"127.0.0.1:{emulator.grpc_port}", emulator.cache_name, "the emulator")


def subscribe(emulator: RunningEmulator, token: str, topic: str) -> RawSubscription:
    return RawSubscription(f"{emulator.host}:{emulator.grpc_port}", emulator.cache_name, token, topic)


def vend(machine: VendingMachine, who: Identity) -> VendedToken:
    token = machine.vend(who, source_ip="203.0.113.9")
    assert token.to_json()["control"]["cache"] == machine.cache_name
    return token


@pytest.mark.parametrize("tier", list(CALLERS))
def test_every_tiers_token_may_subscribe_to_its_control_topics_and_not_publish_there(
    machine: VendingMachine, emulator: RunningEmulator, tier: str
) -> None:
    token = vend(machine, CALLERS[tier])
    topics = token.to_json()["control"]["topics"]
    # A verified user has their own topic, their tier's and everyone's; a guest (no identity to revoke) the last two.
    assert len(topics) == (2 if tier == "guest" else 3) and all(t.startswith(TOPIC_PREFIX) for t in topics)
    assert topics[-2] == topic_name(control_key(emulator.api_key), tier_subject(tier))
    provider = emulator_provider(token.auth_token, emulator.grpc_port)
    for topic in topics:
        may_publish, may_subscribe = asyncio.run(topic_rights(provider, emulator.cache_name, topic))
        assert may_subscribe, (tier, topic)
        # readwrite's `*` lets it publish anywhere in the cache, control topics too: what it writes is never obeyed
        # (the next test). The others get the control topics subscribe-only.
        assert may_publish == (tier == "readwrite"), (tier, topic)


def test_a_user_has_a_topic_of_their_own_and_a_token_id_case_does_not_matter_only_where_names_do_not(
    emulator: RunningEmulator,
) -> None:
    """Names are opaque and per user: alice's is not bob's, and in a case-insensitive deployment `Alice` is alice."""
    settings = MomentoSettings.emulator(port=emulator.grpc_port)
    with VendingMachine(POLICY, settings, cache_name=emulator.cache_name, case_insensitive_usernames=True) as folded:
        upper = vend(folded, verified_identity("Alice", ["readwrite"])).control_topics
        lower = vend(folded, verified_identity("alice", ["readwrite"])).control_topics
        bob = vend(folded, verified_identity("bob", ["readwrite"])).control_topics
    assert upper == lower and upper[0] != bob[0] and upper[1:] == bob[1:]
    assert "alice" not in upper[0].lower().removeprefix(TOPIC_PREFIX)


def test_the_operators_message_arrives_unsigned_and_a_users_forgery_carries_their_name(
    machine: VendingMachine, emulator: RunningEmulator
) -> None:
    alice = vend(machine, CALLERS["readwrite"])
    user_topic = alice.control_topics[0]
    listening = subscribe(emulator, alice.auth_token, user_topic)
    try:
        # The operator: tvm_users' own publish, with the API key, on alice's subject.
        tell(operator(emulator), "user#alice", "revoked")
        text, publisher = listening.next_item()
        assert (text, publisher) == (message("revoked"), "")
        assert parse_message(text, publisher) == "revoked"

        # alice herself (readwrite: `*`) publishes the very same bytes on her own control topic, and on every topic
        # of the cache she may publish to: each arrives with her name as the publisher, and is never obeyed.
        provider = emulator_provider(alice.auth_token, emulator.grpc_port)
        may_publish = asyncio.run(publish(provider, emulator.cache_name, user_topic, message("revoked")))
        assert may_publish
        text, publisher = listening.next_item()
        assert (text, publisher) == (message("revoked"), "alice")
        assert parse_message(text, publisher) is None
    finally:
        listening.close()


def test_a_tier_message_reaches_every_token_of_the_tier_and_only_them(
    machine: VendingMachine, emulator: RunningEmulator
) -> None:
    viewer = vend(machine, CALLERS["readonly"])
    alice = vend(machine, CALLERS["readwrite"])
    assert viewer.control_topics[1] != alice.control_topics[1]  # each tier its own topic
    assert viewer.control_topics[2] == alice.control_topics[2]  # everyone's is one
    viewers = subscribe(emulator, viewer.auth_token, viewer.control_topics[1])
    everyone = subscribe(emulator, alice.auth_token, alice.control_topics[2])
    try:
        tell(operator(emulator), tier_subject("readonly"), "paused")
        assert viewers.next_item() == (message("paused"), "")
        tell(operator(emulator), "all", "paused")
        assert everyone.next_item() == (message("paused"), "")
        assert everyone.items == [(message("paused"), "")]  # the tier's message did not reach alice's topics
    finally:
        viewers.close()
        everyone.close()


def test_control_topics_can_be_turned_off_and_cost_no_statement_where_the_tier_reaches_them(
    emulator: RunningEmulator,
) -> None:
    settings = MomentoSettings.emulator(port=emulator.grpc_port)
    with VendingMachine(POLICY, settings, cache_name=emulator.cache_name, control_topics=False) as off:
        token = off.vend(CALLERS["readonly"])
    assert "control" not in token.to_json() and token.control_topics == ()
    # The mint request: readwrite's and readonly's `*` already let them subscribe to their control topics, so none is
    # added; a guest (chat-*, room-*) gets one subscribe-only statement per control topic.
    from momento_tvm import wire

    with VendingMachine(POLICY, settings, cache_name=emulator.cache_name) as on:
        for who, added in (("readwrite", 0), ("readonly", 0), ("guest", 2)):
            grant = on.decide(CALLERS[who])
            plain = len(wire.permissions(grant).explicit.permissions)
            listed = len(wire.permissions(grant, wire.control_topics(emulator.api_key, grant)).explicit.permissions)
            assert listed - plain == added, who
