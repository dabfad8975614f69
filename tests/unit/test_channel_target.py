"""Where the Momento key goes, and whether it goes readable: `minting.channel_target`, the one rule the library
(`MomentoSettings`, `MomentoMinter`) and the vending Lambda share (issue 18, item 1).

Plaintext gRPC (the key is the call's `authorization` metadata) only for a loopback `host:port` or for the endpoint
named as a local emulator (MOMENTO_EMULATOR_ENDPOINT, the template's local-development-only MomentoEmulatorEndpoint).
Before, any explicit port other than 443 meant "a local emulator": `MomentoEndpoint=cell-...momentohq.com:8443` sent
the super-user key in plaintext on every mint. tests/integration/test_momento_key_in_transit.py watches the bytes;
tests/functional/test_channel_target.py checks that a refused mint dials nothing.
"""

from __future__ import annotations

import pytest

from momento_tvm import EMULATOR_API_KEY, Grant, MomentoSettings, TopicGrant
from momento_tvm.minting import channel_target, is_loopback_endpoint

KEY = EMULATOR_API_KEY  # a v2 key: the TLS branch accepts it
GRANT = Grant("alice", "t", "r", "chat", 300, TopicGrant("publish_subscribe", "chat", names=("room",)), None)

LOOPBACK = ["127.0.0.1:8080", "127.1.2.3:9000", "[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", "localhost:9000", "LOCALHOST:1"]
# Everything else is TLS, whatever the port: a cloud cell on a copied port, a private address, the Docker bridge
# (sam local's emulator, plaintext only when named: below), names that merely resolve to 127.0.0.1 on some machine,
# loopback hosts without a port or on TLS's own port, and look-alikes.
NOT_LOOPBACK = [
    "cell-x.momentohq.com:8443",
    "cell-4-us-west-2-1.prod.a.momentohq.com:8080",
    "10.0.0.5:8080",
    "172.17.0.1:8080",
    "192.168.1.20:9000",
    "host.docker.internal:8080",
    "vm:8080",
    "x.localhost:8080",
    "localhost.example.com:8080",
    "127.0.0.1.nip.io:8080",
    "127.1:8080",
    "[::ffff:127.0.0.1]:8080",
    "[::1%lo]:8080",
    "::1:8080",
    "127.0.0.1:443",
    "localhost:443",
    "127.0.0.1:0",
    "127.0.0.1:65536",
]


@pytest.mark.parametrize("endpoint", LOOPBACK)
def test_a_loopback_endpoint_with_a_port_is_plaintext_whatever_the_key(endpoint: str) -> None:
    assert is_loopback_endpoint(endpoint)
    assert channel_target(KEY, endpoint) == (endpoint, False)
    assert channel_target("not-a-v2-key", endpoint) == (endpoint, False)


@pytest.mark.parametrize("endpoint", NOT_LOOPBACK)
def test_every_other_endpoint_is_the_token_host_over_tls_whatever_the_port(endpoint: str) -> None:
    assert not is_loopback_endpoint(endpoint)
    assert channel_target(KEY, endpoint) == (f"token.{endpoint}", True)
    assert channel_target(KEY, endpoint, emulator_endpoint="") == (f"token.{endpoint}", True)  # as deployed
    with pytest.raises(ValueError, match="v2 API key"):  # never plaintext instead, whatever the key
        channel_target("not-a-v2-key", endpoint)


@pytest.mark.parametrize("endpoint", ["172.17.0.1:8080", "10.0.0.5:8080", "cell-x.momentohq.com:8443", "[::1]:8080"])
def test_the_named_emulator_endpoint_is_plaintext_when_it_is_the_endpoint(endpoint: str) -> None:
    """sam local: MomentoEndpoint and MomentoEmulatorEndpoint are both the bridge's `172.17.0.1:port`."""
    assert channel_target(KEY, endpoint, emulator_endpoint=endpoint) == (endpoint, False)
    assert channel_target("any-key", endpoint, emulator_endpoint=endpoint) == (endpoint, False)


@pytest.mark.parametrize(
    ("endpoint", "emulator"),
    [
        ("cell-x.momentohq.com:8443", "172.17.0.1:8080"),  # a deployment given the local parameter by mistake
        ("cell-x.momentohq.com", "172.17.0.1:8080"),
        ("172.17.0.1:8081", "172.17.0.1:8080"),  # one changed without the other
        ("127.0.0.1:8080", "172.17.0.1:8080"),  # loopback too: the two settings disagree
        ("172.17.0.1:8080", "172.17.0.1:08080"),  # exactly, not "resolves the same"
    ],
)
def test_an_emulator_endpoint_set_but_different_is_refused(endpoint: str, emulator: str) -> None:
    with pytest.raises(ValueError, match="configuration error: MOMENTO_EMULATOR_ENDPOINT is set but is not"):
        channel_target(KEY, endpoint, emulator_endpoint=emulator)
    with pytest.raises(ValueError, match="configuration error") as refused:
        MomentoSettings(KEY, endpoint, emulator_endpoint=emulator)
    assert KEY not in str(refused.value)


@pytest.mark.parametrize("endpoint", ["172.17.0.1", "emulator", "172.17.0.1:", "172.17.0.1:0", "172.17.0.1:99999"])
def test_an_emulator_endpoint_must_be_host_and_port(endpoint: str) -> None:
    with pytest.raises(ValueError, match="MOMENTO_EMULATOR_ENDPOINT must be host:port"):
        channel_target(KEY, endpoint, emulator_endpoint=endpoint)


def test_settings_carry_the_emulator_endpoint_from_the_environment() -> None:
    env = {"MOMENTO_API_KEY": KEY, "MOMENTO_ENDPOINT": "172.17.0.1:8080"}
    assert MomentoSettings.from_env(env).emulator_endpoint == ""  # a bridge address alone would be TLS
    named = MomentoSettings.from_env({**env, "MOMENTO_EMULATOR_ENDPOINT": " 172.17.0.1:8080 "})
    assert named.emulator_endpoint == "172.17.0.1:8080"
    with pytest.raises(ValueError, match="configuration error"):
        MomentoSettings.from_env({**env, "MOMENTO_EMULATOR_ENDPOINT": "172.17.0.1:9090"})
    bridge = MomentoSettings.emulator(8080, "172.17.0.1")  # emulator() names its endpoint: plaintext on any host
    assert channel_target(bridge.api_key, bridge.endpoint, emulator_endpoint=bridge.emulator_endpoint) == (
        "172.17.0.1:8080",
        False,
    )
    assert KEY not in repr(named)
