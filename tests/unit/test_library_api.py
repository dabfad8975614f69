"""The library's public API as an embedding app meets it: settings checked up front, typed results whose `repr` holds
no secret, policies from a file or a mapping, and the same refusals as the Lambda."""

from __future__ import annotations

from pathlib import Path

import pytest

import momento_emulator
from momento_tvm import (
    EMULATOR_API_KEY,
    Identity,
    MomentoSettings,
    PolicyError,
    ScopeDeniedError,
    TokenRequest,
    UnauthenticatedError,
    VendingMachine,
    verified_identity,
)
from momento_tvm.minting import MintedToken

POLICY = Path(__file__).resolve().parents[2] / "functions" / "token_vending" / "policy.yaml"
CLOUD = "cell-4-us-west-2-1.prod.a.momentohq.com"


class RecordingMinter:
    """A stand-in Momento for the pure parts (what was asked to be minted); the real mint is tested against the
    emulator in tests/integration/test_embedded.py and test_wheel.py."""

    def __init__(self) -> None:
        self.grants: list[object] = []

    def mint(self, grant: object) -> MintedToken:
        self.grants.append(grant)
        return MintedToken("secret-token-bytes", 1_900_000_000, "127.0.0.1:1")


def test_the_emulator_key_is_the_emulators_own() -> None:
    assert EMULATOR_API_KEY == momento_emulator.DEFAULT_API_KEY
    assert MomentoSettings.emulator(9090).endpoint == "127.0.0.1:9090"


@pytest.mark.parametrize(
    ("api_key", "endpoint"),
    [("not-a-v2-key", CLOUD), ("", "127.0.0.1:8080"), ("k\n", "127.0.0.1:8080"), (EMULATOR_API_KEY, "a/b")],
)
def test_bad_settings_fail_when_made_and_never_name_the_key(api_key: str, endpoint: str) -> None:
    with pytest.raises(ValueError, match="Momento") as raised:
        MomentoSettings(api_key, endpoint)
    assert api_key.strip() == "" or api_key not in str(raised.value)


def test_settings_from_the_environment_name_what_is_missing() -> None:
    with pytest.raises(ValueError, match="MOMENTO_API_KEY and MOMENTO_ENDPOINT"):
        MomentoSettings.from_env({})
    settings = MomentoSettings.from_env({"MOMENTO_API_KEY": EMULATOR_API_KEY, "MOMENTO_ENDPOINT": CLOUD})
    assert settings.endpoint == CLOUD
    assert EMULATOR_API_KEY not in repr(settings)


def test_a_vended_token_is_typed_and_its_repr_holds_no_token() -> None:
    minter = RecordingMinter()
    machine = VendingMachine(POLICY, lambda: minter, cache_name="chat")
    token = machine.vend(verified_identity("alice", ["readwrite"]), TokenRequest(topics=("room-1",)))
    assert (token.token_id, token.tier, token.expires_at) == ("alice", "readwrite", 1_900_000_000)
    assert token.to_json()["authToken"] == "secret-token-bytes"
    assert token.to_json()["scope"]["topics"]["names"] == ["room-1"]
    assert "secret-token-bytes" not in repr(token)
    assert len(minter.grants) == 1


def test_explain_mints_nothing() -> None:
    minter = RecordingMinter()
    machine = VendingMachine(POLICY, lambda: minter, cache_name="chat")
    explained = machine.explain(verified_identity("viewer", ["readonly"]))
    assert explained.to_json()["scope"]["topics"] == {
        "role": "subscribe_only",
        "cache": "chat",
        "all": True,
        "names": [],
        "prefixes": [],
    }
    assert minter.grants == []


def test_a_policy_mapping_is_checked_like_a_file() -> None:
    policy = {
        "version": 1,
        "default_tier": "members",
        "groups": [],
        "tiers": {
            "members": {
                "topics": {"role": "publish_subscribe", "names": ["room-*"]},
                "ttl_seconds": 600,
                "max_ttl_seconds": 900,
            }
        },
    }
    machine = VendingMachine(policy, RecordingMinter, cache_name="chat")
    grant = machine.decide(verified_identity("bob"))
    assert grant.topics is not None and grant.topics.prefixes == ("room-",)
    assert machine.decide(verified_identity("bob"), TokenRequest(topics=("room-2",))).ttl_seconds == 600
    exact = VendingMachine({**policy, "topic_patterns": "exact"}, RecordingMinter, cache_name="chat")
    with pytest.raises(ScopeDeniedError, match="name the topics"):
        exact.decide(verified_identity("bob"))
    with pytest.raises(PolicyError, match=r"^<policy mapping>:1: must contain"):
        VendingMachine({"version": 1, "tiers": {}}, RecordingMinter, cache_name="chat")
    with pytest.raises(PolicyError, match="policy mapping"):
        VendingMachine({**policy, "default_tier": "nobody"}, RecordingMinter, cache_name="chat")
    with pytest.raises(PolicyError, match="not a policy document"):
        VendingMachine({"version": object()}, RecordingMinter, cache_name="chat")


@pytest.mark.parametrize("cache_name", ["", "  "])
def test_a_machine_needs_a_cache_and_a_sane_cap(cache_name: str) -> None:
    with pytest.raises(ValueError, match="cache_name"):
        VendingMachine(POLICY, RecordingMinter, cache_name=cache_name)
    with pytest.raises(ValueError, match="max_ttl_seconds"):
        VendingMachine(POLICY, RecordingMinter, cache_name="chat", max_ttl_seconds=True)


@pytest.mark.parametrize("username", ["alice smith", "guest:bob", "", "a" * 65, None])
def test_verified_identity_refuses_names_that_cannot_be_token_ids(username: object) -> None:
    with pytest.raises(UnauthenticatedError):
        verified_identity(username, ["readwrite"])


def test_verified_identity_keeps_group_names_only() -> None:
    assert verified_identity("alice", ["readwrite", "", 3, "team,red"]) == Identity("alice", ("readwrite", "team,red"))
    with pytest.raises(TypeError, match="list of group names"):
        verified_identity("alice", "readwrite")
