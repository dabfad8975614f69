"""Minting: the one seam between the decision and Momento.

`Minter` is a one-method protocol. `MomentoMinter` mints with one gRPC call of its own, `GenerateDisposableToken`,
built from Momento's published protobuf types (`wire.py`) and sent with a deadline. It does not use the `momento`
SDK: momento 1.29.1 passes no deadline to that call (a hung Momento held the function for its whole timeout), keeps
no keepalive and has no reconnect backoff to shorten. tests/functional/test_mint_request_bytes.py proves the request is
byte for byte the SDK's. grpc is imported on first mint: `GET /token/explain` never needs it.

The key travels as the call's `authorization` metadata, so `channel_target` is the one rule that decides whether it is
sent in plaintext: only to a loopback `host:port` or to the endpoint named as a local emulator, never to any other
endpoint, whatever its port (tests/integration/test_momento_key_in_transit.py watches the bytes).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import json
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import QuotaExceededError, UpstreamUnavailableError
from .grant import Grant

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "MintedToken",
    "Minter",
    "MomentoMinter",
    "channel_target",
    "is_loopback_endpoint",
    "quota_retry_after",
]

DEFAULT_DEADLINE_SECONDS = 1.0
_CONTROL_NAMES_KEPT = 4096  # control topic names kept per minter (per key), by the grant's subjects
# Momento's auth quota is per second: a refused caller waits 1 s, plus up to 2 s of jitter so that a crowd refused in
# the same second does not come back in the same second too.
QUOTA_RETRY_SECONDS = 1
QUOTA_RETRY_JITTER_SECONDS = 2


def quota_retry_after() -> int:
    """Whole seconds a caller refused for the account's quota waits: 1 to 3, at random."""
    return QUOTA_RETRY_SECONDS + secrets.randbelow(QUOTA_RETRY_JITTER_SECONDS + 1)


# Fast recovery (measured against the emulator: tests/integration/test_minter.py).
# - Reconnects: a channel in TRANSIENT_FAILURE tries again after 100 ms, backing off to at most 500 ms (+20% jitter),
#   so a Momento that is back is reached within about 0.6 s. `min_reconnect_backoff_ms` is gRPC's minimum connect
#   timeout: 1 s, as long as a mint may take (shorter would fail a slow TLS handshake every time).
# - Keepalive: pings only while a call is in flight (never in an idle container, which Lambda freezes: its timers
#   fire late on thaw), at most one per second since the last byte read, and a ping unanswered for 1 s closes the
#   connection (`ping_timeout_ms`; grpcio 1.85 times keepalive pings with it, default 60 s). So a hung Momento, or
#   a connection that died unnoticed during a freeze, is dropped about 2 s into a hung call and later mints fail
#   fast or reconnect, instead of each waiting out its deadline on a dead connection until TCP gives up.
# - No BDP probe pings (flow-control window tuning): a mint is a few hundred bytes; they only add pings to calls.
CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 1000),
    ("grpc.keepalive_time_ms", 1000),
    ("grpc.keepalive_timeout_ms", 1000),
    ("grpc.http2.ping_timeout_ms", 1000),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.http2.bdp_probe", 0),
    ("grpc.service_config_disable_resolution", 1),
    # A minter rebuilt for a rotated key gets its own connection, not the old minter's (and its backoff).
    ("grpc.use_local_subchannel_pool", 1),
)

_RUNTIME_VERSION = (
    f"python {sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro} "
    f"({sys.version_info.releaselevel} {sys.version_info.serial})"
)


@dataclass(frozen=True)
class MintedToken:
    auth_token: str
    expires_at: int
    endpoint: str
    # The names of the token's control topics (momento_tvm.control), in the order of the grant's subjects.
    control_topics: tuple[str, ...] = ()


class Minter(Protocol):
    def mint(self, grant: Grant) -> MintedToken: ...


_IPV6_LOOPBACK = ipaddress.IPv6Address("::1")


def is_loopback_endpoint(endpoint: str) -> bool:
    """`host:port` on this machine, with an explicit port other than 443 (TLS's): a 127.0.0.0/8 address, `[::1]` or
    `localhost`. Traffic to it never leaves the machine, so a local emulator there is reached in plaintext. Any other
    host, a name that merely resolves to 127.0.0.1 included, is not: the function cannot know where it leads."""
    host, _, port = endpoint.rpartition(":")
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536 and int(port) != 443):
        return False
    if host.lower() == "localhost":
        return True
    try:
        if host.startswith("[") and host.endswith("]"):
            return ipaddress.IPv6Address(host[1:-1]) == _IPV6_LOOPBACK
        return ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


class MomentoMinter:
    """Mints disposable tokens over one gRPC channel, built on first use and kept for the container's life.

    Where it connects is `channel_target`'s choice: `token.<endpoint>` with TLS (what the SDK's
    `CredentialProvider.from_api_key_v2` gives), or `host:port` in plaintext for a loopback endpoint or for
    `emulator_endpoint` (MOMENTO_EMULATOR_ENDPOINT: a local emulator elsewhere, named explicitly; empty when deployed).
    """

    def __init__(
        self,
        api_key: str,
        endpoint: str,
        *,
        emulator_endpoint: str = "",
        deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
    ) -> None:
        self._api_key = api_key
        self._endpoint = endpoint
        self._emulator_endpoint = emulator_endpoint
        self._deadline = deadline_seconds
        self._lock = threading.Lock()
        self._channel: Any = None
        self._call: Callable[..., bytes] | None = None
        # Control topic names by subjects, for this key: a warm container names the same few (its callers', their
        # tiers', everyone's) on every vend, each an HMAC and a base32 (about 35 us for three, issue 28). Bounded:
        # emptied when full. It goes with the minter, so a rotated key's names go with the old key.
        self._control: dict[tuple[str, ...], tuple[str, ...]] = {}

    def uses(self, api_key: str) -> bool:
        """Whether this minter was built for `api_key` (constant time: it is a secret)."""
        return hmac.compare_digest(self._api_key.encode(), api_key.encode())

    def mint(self, grant: Grant) -> MintedToken:
        """One call, answered or failed within the deadline. Every failure is `UpstreamUnavailableError` naming
        only the gRPC status (never the key or a token)."""
        from . import wire

        control = self._control.get(grant.control)
        if control is None:
            if len(self._control) >= _CONTROL_NAMES_KEPT:
                self._control.clear()
            control = self._control[grant.control] = wire.control_topics(self._api_key, grant)
        request = wire.mint_request(self._api_key, grant, control).SerializeToString()
        call = self._connect()
        import grpc

        metadata = (
            ("authorization", self._api_key),
            ("agent", "python:token:momento-tvm"),
            ("runtime-version", _RUNTIME_VERSION),
        )
        try:
            answer = call(request, timeout=self._deadline, metadata=metadata, wait_for_ready=False)
        except grpc.RpcError as error:  # the raised error is also a grpc.Call, which has the status
            code = getattr(error, "code", lambda: None)()
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED:  # the account's auth quota: a 429 every client waits out
                raise QuotaExceededError(quota_retry_after()) from None
            name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
            raise UpstreamUnavailableError(f"Momento did not mint a token ({name})") from None
        try:
            token = wire.parse_answer(answer)
        except ValueError:
            raise UpstreamUnavailableError("Momento did not mint a token (UNPARSABLE_ANSWER)") from None
        return MintedToken(token.auth_token, token.valid_until, self._endpoint, control)

    def close(self) -> None:
        """Close the channel (in-flight calls end with CANCELLED); the next mint opens a new one."""
        with self._lock:
            channel, self._channel, self._call = self._channel, None, None
        if channel is not None:
            channel.close()

    def _connect(self) -> Callable[..., bytes]:
        from .wire import METHOD

        with self._lock:
            if self._call is None:
                try:
                    self._channel = _channel(self._api_key, self._endpoint, self._emulator_endpoint)
                except ValueError as error:  # a malformed key or endpoint: our configuration, not the caller's fault
                    raise UpstreamUnavailableError(f"cannot reach Momento ({error})") from None
                # Raw bytes both ways: wire.py serializes and parses, so an unparsable answer is ours to report.
                self._call = self._channel.unary_unary(METHOD)
            return self._call


def channel_target(api_key: str, endpoint: str, *, emulator_endpoint: str = "") -> tuple[str, bool]:
    """(gRPC target, TLS?): where the key is sent, and whether anyone on the way can read it.

    - `host:port` in plaintext, whatever the key, only for a loopback endpoint (`is_loopback_endpoint`) or for an
      `endpoint` exactly equal to `emulator_endpoint` (MOMENTO_EMULATOR_ENDPOINT, the template's local-development-only
      MomentoEmulatorEndpoint: the emulator on the Docker bridge under `sam local`);
    - else, for a v2 key only, `token.<endpoint>` over TLS, as `CredentialProvider.from_api_key_v2` gives, whatever
      the port (`cell-...momentohq.com:8443` included: a port is no sign of an emulator);
    - an `emulator_endpoint` that is set but is not `endpoint` is refused: it is a configuration error (one of the
      two was changed without the other) and guessing would either send the key in plaintext to an endpoint never
      named as an emulator or silently ignore the setting.

    ValueError, never naming the key."""
    if not api_key or not (api_key.isascii() and api_key.isprintable()):
        raise ValueError("the Momento API key is empty or not printable ASCII")
    if not endpoint or not endpoint.isascii() or any(c.isspace() or c in "/@" for c in endpoint):
        raise ValueError("the Momento endpoint is not a host name")
    if emulator_endpoint:
        if emulator_endpoint != endpoint:
            raise ValueError(
                "configuration error: MOMENTO_EMULATOR_ENDPOINT is set but is not MOMENTO_ENDPOINT; set it to exactly"
                " the emulator's host:port for a local run, or leave it empty (every deployment) for TLS"
            )
        host, _, port = endpoint.rpartition(":")
        if not host or not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError("configuration error: MOMENTO_EMULATOR_ENDPOINT must be host:port")
        return endpoint, False
    if is_loopback_endpoint(endpoint):
        return endpoint, False
    if not _is_v2_api_key(api_key):
        raise ValueError("the Momento API key is not a v2 API key")
    return f"token.{endpoint}", True


def _channel(api_key: str, endpoint: str, emulator_endpoint: str) -> Any:
    import grpc

    target, tls = channel_target(api_key, endpoint, emulator_endpoint=emulator_endpoint)
    if tls:
        return grpc.secure_channel(target, grpc.ssl_channel_credentials(), options=CHANNEL_OPTIONS)
    return grpc.insecure_channel(target, options=CHANNEL_OPTIONS)


def _is_v2_api_key(api_key: str) -> bool:
    """A v2 ("global") key is a JWT whose claim `t` is "g": what momento 1.29.1 checks (with PyJWT, the signature
    unverified: it is Momento's to check)."""
    parts = api_key.split(".")
    if len(parts) != 3:
        return False
    try:
        decoded = [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in parts]
        header, claims = json.loads(decoded[0]), json.loads(decoded[1])
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and isinstance(claims, dict) and claims.get("t") == "g"
