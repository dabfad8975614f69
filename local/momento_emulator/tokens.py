"""The emulator's token service: who a key is, and minting disposable tokens.

Disposable tokens are self-contained and signed (HMAC-SHA256 under a key derived from the root key), so no token
table grows without bound and tokens stay valid across an emulator restart with the same root key, as real Momento
tokens outlive a service restart. Clients treat the token as opaque; its format is the emulator's own:
`emu1.<base64url JSON claims>.<base64url MAC>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import InvalidArgumentError, PermissionDeniedError, UnauthenticatedError
from .permissions import Scope

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MAX_TOKEN_TTL_SECONDS",
    "MAX_TOKEN_ID_LENGTH",
    "Principal",
    "TokenAuthority",
    "v1_api_key",
]

# The documented development root key. It is public: it only ever unlocks a local emulator. It is shaped as a
# Momento v2 ("global") API key (a JWT whose claim `t` is "g") so the SDKs' `from_api_key_v2` accept it.
DEFAULT_API_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0IjoiZyIsImlkIjoibW9tZW50by1lbXVsYXRvci1kZXYifQ."
    "9HLX0W-vHh06-_T6o1VUZUkkdxG1IG4jASNw82-mq1U"
)
MAX_TOKEN_ID_LENGTH = 64
# The longest disposable token the emulator vends by default: 25 hours, the limit Momento's own token vending machine
# example states ("disposable tokens must expire within 25 hours") in github.com/momentohq/client-sdk-javascript,
# examples/nodejs/token-vending-machine/lambda/token-vending-machine/config.ts. Neither SDK checks a maximum; the
# service does. `--max-token-ttl` changes it.
DEFAULT_MAX_TOKEN_TTL_SECONDS = 25 * 3600
_PREFIX = "emu1"
_ROOT_SCOPE = Scope(super_user=True)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `expires_at` is None for the root key."""

    is_root: bool
    scope: Scope
    token_id: str = ""
    expires_at: int | None = None

    def seconds_left(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now


class TokenAuthority:
    """Authenticates keys and mints disposable tokens. Pure: the clock is injected."""

    def __init__(self, root_key: str, max_ttl_seconds: int, clock: Callable[[], float] = time.time) -> None:
        if not root_key:
            raise ValueError("the root API key must not be empty")
        self._root = root_key.encode("utf-8")
        self._mac_key = hmac.new(self._root, b"momento-emulator/disposable-token/v1", hashlib.sha256).digest()
        self.max_ttl_seconds = max_ttl_seconds
        self._clock = clock

    def authenticate(self, key: str) -> Principal:
        """Who this key is. Unknown, forged and expired keys are all UNAUTHENTICATED (never echoing the key)."""
        if not key:
            raise UnauthenticatedError("missing authorization")
        if hmac.compare_digest(key.encode("utf-8"), self._root):
            return Principal(is_root=True, scope=_ROOT_SCOPE)
        claims = self._verify(key)
        if claims is None:
            raise UnauthenticatedError("Invalid API key")
        principal = Principal(
            is_root=False, scope=Scope.from_json(claims["s"]), token_id=claims["id"], expires_at=claims["exp"]
        )
        if principal.expires_at is not None and self._clock() >= principal.expires_at:
            raise UnauthenticatedError("the disposable token has expired")
        return principal

    def mint(self, caller: Principal, scope: Scope, valid_for_seconds: int, token_id: str) -> tuple[str, int]:
        """A new disposable token and its expiry (epoch seconds). Only the root key may vend."""
        if not caller.is_root:
            raise PermissionDeniedError("disposable tokens cannot generate tokens; use an API key")
        if valid_for_seconds <= 0:
            raise InvalidArgumentError("expiry must be greater than zero seconds")
        if valid_for_seconds > self.max_ttl_seconds:
            raise InvalidArgumentError(
                f"expiry of {valid_for_seconds} s is over the maximum of {self.max_ttl_seconds} s"
            )
        if len(token_id) > MAX_TOKEN_ID_LENGTH:
            raise InvalidArgumentError(f"token_id is longer than {MAX_TOKEN_ID_LENGTH} characters")
        if scope.is_empty():
            raise InvalidArgumentError("permissions must not be empty")
        if scope.super_user:
            raise InvalidArgumentError("disposable tokens cannot be super-user tokens")
        valid_until = int(self._clock()) + valid_for_seconds
        claims = {"id": token_id, "exp": valid_until, "s": scope.to_json()}
        body = _b64url(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        signed = f"{_PREFIX}.{body}"
        return f"{signed}.{_b64url(self._mac(signed))}", valid_until

    def _mac(self, signed: str) -> bytes:
        return hmac.new(self._mac_key, signed.encode("ascii"), hashlib.sha256).digest()

    def _verify(self, key: str) -> dict[str, Any] | None:
        parts = key.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX or not key.isascii():
            return None
        signed = f"{parts[0]}.{parts[1]}"
        try:
            mac = _unb64url(parts[2])
            if not hmac.compare_digest(mac, self._mac(signed)):
                return None
            claims = json.loads(_unb64url(parts[1]))
        except (ValueError, binascii.Error):
            return None
        return claims if isinstance(claims, dict) else None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def v1_api_key(endpoint: str, api_key: str = DEFAULT_API_KEY) -> str:
    """`api_key` in the base64 JSON form of Momento's v1 API keys, `{"endpoint", "api_key"}`.

    For credential providers that accept only that form (the Node SDK's `CredentialProvider.fromString`, which
    Momento's example token vending machine uses): they send the inner `api_key` as is, so the emulator sees its
    own key. `endpoint` must not be empty (the SDKs refuse the key), but SDKs derive TLS hosts from it, so give
    them endpoint overrides too (docs/emulator.md).
    """
    if not endpoint:
        raise ValueError("the endpoint must not be empty")
    document = json.dumps({"endpoint": endpoint, "api_key": api_key}, separators=(",", ":"))
    return base64.b64encode(document.encode("utf-8")).decode("ascii")
