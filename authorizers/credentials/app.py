"""HTTP API (payload 2.0, simple responses) Lambda authorizer: Basic credentials against a hashed users store.

Why it looks like this:
- Cold start is on the caller's path, so only the standard library is imported here; boto3 (in the Lambda runtime,
  but slow to import) is imported the first time the users secret must be fetched.
- The users store (a Secrets Manager secret, see `tvm_users.store`) is cached in the warm container for
  min(AUTH_CACHE_TTL_SECONDS, 300) s, and verified results for no longer than that and AUTH_CACHE_TTL_SECONDS, so a
  removed user or a changed password takes effect within about two gateway cache periods.
- Cached results are keyed by an HMAC of the header under a random per-container key: the raw header, which carries
  the password, is never kept as a key or written anywhere.
- Anything unexpected is a deny, never an exception; logs carry the decision and a reason code, plus the username
  only when it names a known user (an unknown "username" may be a password typed in the wrong field).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from tvm_users.store import UsersStore, UsersStoreError, authenticate, is_valid_username, loads_store

__all__ = ["handler"]

MAX_HEADER_CHARS: Final = 4096
MAX_PASSWORD_CHARS: Final = 1024
MAX_STORE_CACHE_SECONDS: Final = 300
MAX_AUTH_CACHE_SECONDS: Final = 3600  # the gateway's own upper bound for ReauthorizeEvery
MAX_CACHED_RESULTS: Final = 1024

logger = logging.getLogger("tvm.authorizer")
logger.setLevel(logging.getLevelNamesMapping().get(os.environ.get("LOG_LEVEL", "").upper(), logging.INFO))

# Monotonic: cache lifetimes must not jump with the wall clock. Tests replace it.
_clock: Callable[[], float] = time.monotonic
_CACHE_KEY: Final = os.urandom(32)  # what secrets.token_bytes does, without importing random


# NamedTuples and a plain class, not dataclasses: `dataclasses` (with `inspect`) costs milliseconds of cold start.
class _Verified(NamedTuple):
    username: str
    groups: str
    expires_at: float


class _Snapshot:
    """The users store as fetched, and the results verified against it (they never outlive it)."""

    __slots__ = ("expires_at", "results", "store")

    def __init__(self, store: UsersStore, expires_at: float) -> None:
        self.store = store
        self.expires_at = expires_at
        self.results: dict[bytes, _Verified] = {}


_snapshot: _Snapshot | None = None
_secrets_client: Any = None


class _Deny(Exception):
    """A decision to deny: a reason code, the username only for known users, and error class names if any."""

    def __init__(self, reason: str, username: str | None = None, **extra: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.username = username
        self.extra = extra


def _log(decision: str, reason: str, username: str | None = None, **extra: str) -> None:
    """One JSON line per decision; every value is a fixed code or a validated username."""
    record: dict[str, str] = {"message": "authorizer decision", "decision": decision, "reason": reason}
    if username is not None:
        record["username"] = username
    record.update(extra)
    logger.info(json.dumps(record, sort_keys=True))


def _cache_seconds() -> int:
    """AUTH_CACHE_TTL_SECONDS, clamped to the gateway's 0..3600; unset or invalid means no caching at all."""
    try:
        return max(0, min(int(os.environ.get("AUTH_CACHE_TTL_SECONDS", "0")), MAX_AUTH_CACHE_SECONDS))
    except ValueError:
        return 0


def _authorization_header(event: object) -> str | None:
    """The Authorization value: identitySource[0] (what the gateway caches on), else the header in any case."""
    if not isinstance(event, dict):
        return None
    sources = event.get("identitySource")
    if isinstance(sources, list) and sources and isinstance(sources[0], str) and sources[0]:
        return sources[0]
    headers = event.get("headers")
    if isinstance(headers, dict):
        for name, value in headers.items():
            if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str) and value:
                return value
    return None


def _parse_basic(header: str) -> tuple[str, str]:
    """(username, password) from ``Basic base64(user:password)``; raises _Deny for anything else."""
    if len(header) > MAX_HEADER_CHARS:
        raise _Deny("malformed_credentials")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _Deny("unsupported_scheme")
    try:
        decoded = base64.b64decode(token.strip().encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError):
        raise _Deny("malformed_credentials") from None
    username, colon, password = decoded.partition(":")
    if not colon or not password or len(password) > MAX_PASSWORD_CHARS:
        raise _Deny("malformed_credentials")
    if not is_valid_username(username):
        raise _Deny("invalid_username")
    return username, password


def _fetch_store() -> UsersStore:
    """Read and validate the users secret. boto3 is imported here, on the first fetch only."""
    global _secrets_client
    arn = os.environ.get("USERS_SECRET_ARN")
    if not arn:
        raise _Deny("not_configured")
    if _secrets_client is None:
        # Imported here, not at the top: boto3 costs most of a cold start. (Untyped, hence importlib and Any.)
        boto3 = importlib.import_module("boto3")
        config = importlib.import_module("botocore.config").Config(
            connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 2}
        )
        # botocore logs whole response bodies at DEBUG, and this body is the users store.
        for noisy in ("botocore", "boto3", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        _secrets_client = boto3.client("secretsmanager", config=config)
    return loads_store(_secrets_client.get_secret_value(SecretId=arn)["SecretString"])


def _aws_error_code(exc: Exception) -> dict[str, str]:
    """botocore's error code (a fixed AWS name such as AccessDeniedException), never the message."""
    response = getattr(exc, "response", None)
    error = response.get("Error") if isinstance(response, dict) else None
    code = error.get("Code") if isinstance(error, dict) else None
    return {"error_code": code} if isinstance(code, str) and code.isascii() and code.isalnum() else {}


def _current_snapshot(now: float, ttl: int) -> _Snapshot:
    """The cached store if still fresh, else a new fetch (failures are not cached: the next call retries)."""
    global _snapshot
    if _snapshot is not None and now < _snapshot.expires_at:
        return _snapshot
    _snapshot = None
    try:
        store = _fetch_store()
    except _Deny:
        raise
    except UsersStoreError:
        raise _Deny("users_store_invalid") from None
    except Exception as exc:  # Secrets Manager down, throttled, forbidden...: deny, and say only what kind of error
        raise _Deny("users_store_unavailable", error=type(exc).__name__, **_aws_error_code(exc)) from None
    snapshot = _Snapshot(store, now + min(ttl, MAX_STORE_CACHE_SECONDS))
    if ttl > 0:
        _snapshot = snapshot
    return snapshot


def _authorize(event: object) -> dict[str, Any]:
    header = _authorization_header(event)
    if header is None:
        raise _Deny("missing_credentials")
    username, password = _parse_basic(header)
    now, ttl = _clock(), _cache_seconds()
    key = hmac.new(_CACHE_KEY, header.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    snapshot = _current_snapshot(now, ttl)
    cached = snapshot.results.get(key)
    if cached is not None and now < cached.expires_at:
        _log("allow", "cached", cached.username)
        return _allow(cached.username, cached.groups)
    result = authenticate(snapshot.store, username, password)
    if result is None:
        if username in snapshot.store.users:
            raise _Deny("wrong_password", username)
        raise _Deny("unknown_user")
    groups = ",".join(result[1])
    if ttl > 0:
        if len(snapshot.results) >= MAX_CACHED_RESULTS:
            del snapshot.results[next(iter(snapshot.results))]
        snapshot.results[key] = _Verified(username, groups, min(now + ttl, snapshot.expires_at))
    _log("allow", "verified", username)
    return _allow(username, groups)


def _allow(username: str, groups: str) -> dict[str, Any]:
    return {"isAuthorized": True, "context": {"username": username, "groups": groups}}


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: a simple response; denies on any malformed input or internal failure."""
    try:
        return _authorize(event)
    except _Deny as deny:
        _log("deny", deny.reason, deny.username, **deny.extra)
    except Exception as exc:  # the last line of defence: a crash would be a 500, and its trace might hold secrets
        _log("deny", "internal_error", error=type(exc).__name__)
    return {"isAuthorized": False}
