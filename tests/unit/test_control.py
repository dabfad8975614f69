"""The control channel's pure parts (momento_tvm.control): opaque, per-subject topic names; the one message a client
obeys; and the permission statements a token spends on it, as check-policy counts them and as the mint request
really holds them."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from momento_tvm import VendingMachine, guest_identity, verified_identity, wire
from momento_tvm.control import (
    EVENTS,
    TOPIC_PREFIX,
    control_key,
    message,
    parse_message,
    tier_subject,
    topic_name,
    user_subject,
)
from momento_tvm.minting import MintedToken
from momento_tvm.policy import load_policy, parse_policy, statement_warnings, statements

ROOT = Path(__file__).resolve().parents[2]
POLICIES = [ROOT / "functions" / "token_vending" / "policy.yaml", ROOT / "examples" / "fastapi_chat" / "policy.yaml"]
KEY = control_key("example-key")


def test_names_are_opaque_stable_and_per_subject_and_per_key() -> None:
    alice = topic_name(KEY, user_subject("user#alice"))
    assert alice == topic_name(control_key("example-key"), "user#alice")  # the CLI and the function agree
    assert alice.startswith(TOPIC_PREFIX) and len(alice) == len(TOPIC_PREFIX) + 26
    assert "alice" not in alice
    assert alice != topic_name(KEY, "user#bob") != topic_name(KEY, tier_subject("readwrite"))
    assert alice != topic_name(control_key("another-key"), "user#alice")  # a rotated key renames every topic


@given(st.text(min_size=1, max_size=64))
def test_any_subject_gets_a_valid_topic_name(subject: str) -> None:
    name = topic_name(KEY, subject)
    assert name.isascii() and name.isprintable() and len(name) <= 64


def test_only_an_unsigned_known_event_is_obeyed() -> None:
    for event in EVENTS:
        assert parse_message(message(event), "") == event
        assert parse_message(message(event), "alice") is None  # any vended token's message: never obeyed
        assert parse_message(message(event), "guest:Ann") is None
    for text in ("", "revoked", "[]", '{"event": "revoked"}', '{"v": 2, "event": "revoked"}', '{"v": 1, "event": "x"}'):
        assert parse_message(text, "") is None, text
    assert json.loads(message("paused")) == {"v": 1, "event": "paused"}  # the event, no name, no reason


@given(st.text(max_size=200), st.text(max_size=20))
def test_parse_message_never_raises(text: str, publisher: str) -> None:
    parsed = parse_message(text, publisher)
    assert parsed is None or (publisher == "" and parsed in EVENTS)


class KeyedFake:
    """A minter that mints nothing but names the control topics as MomentoMinter does, from its key."""

    def mint(self, grant: object) -> MintedToken:
        from momento_tvm.grant import Grant

        assert isinstance(grant, Grant)
        return MintedToken("t", 1_900_000_000, "127.0.0.1:1", wire.control_topics("example-key", grant))


def test_the_counted_statements_are_the_mint_requests_for_every_shipped_tier() -> None:
    for path in POLICIES:
        policy = load_policy(path)
        machine = VendingMachine(policy, lambda: KeyedFake(), cache_name="default-cache")
        for name, tier in policy.tiers.items():
            group = next((rule.group for rule in policy.groups if rule.tier == name), None)
            who = verified_identity("alice", [group]) if group else guest_identity("Ann")
            grant = machine.decide(who)
            sent = wire.mint_request("example-key", grant).permissions.explicit.permissions
            counted, control = statements(tier)
            listened = len(wire.control_topics("example-key", grant))
            assert listened == (3 if who.verified else 2), (path.name, name)
            # A guest has no topic of its own: the count is the larger token, a verified user's.
            assert len(sent) == counted - (0 if who.verified or control == 0 else 1), (path.name, name, len(sent))
            assert machine.vend(who).to_json()["control"]["topics"] == list(wire.control_topics("example-key", grant))


def test_a_tier_over_momentos_twenty_statements_is_warned_about() -> None:
    names = [f"room-{n}" for n in range(18)]
    policy = parse_policy(
        json.dumps(
            {
                "version": 1,
                "default_tier": "many",
                "groups": [],
                "tiers": {
                    "many": {
                        "topics": {"role": "publish_subscribe", "names": names},
                        "ttl_seconds": 60,
                        "max_ttl_seconds": 60,
                    },
                    "wide": {
                        "topics": {"role": "subscribe_only", "names": ["*"]},
                        "ttl_seconds": 60,
                        "max_ttl_seconds": 60,
                    },
                },
            }
        )
    )
    assert statements(policy.tiers["many"]) == (21, 3)
    assert statements(policy.tiers["wide"]) == (1, 0)
    (warning,) = statement_warnings(policy)
    assert warning.startswith("tier 'many': a token holding all it allows needs 21 permission statements (3 for")
