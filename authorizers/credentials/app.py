"""HTTP API (payload 2.0, simple responses) Lambda authorizer: Basic credentials against a hashed users store.

Why it looks like this:
- Cold start is on the caller's path, so only the standard library is imported here, even for the users secret:
  a SigV4-signed GetSecretValue of our own (momento_tvm.aws_json, from the layer both functions share; the package
  loads nothing else until asked), not boto3 (150 ms to import).
- The users store (a Secrets Manager secret, see `tvm_users.store`) is cached in the warm container for
  min(AUTH_CACHE_TTL_SECONDS, 300) s, and verified results for no longer than that and AUTH_CACHE_TTL_SECONDS, so a
  removed user or a changed password takes effect within about two gateway cache periods.
- Cached results are keyed by an HMAC of the header under a random per-container key: the raw header, which carries
  the password, is never kept as a key or written anywhere.
- Bad credentials are a deny (`isAuthorized: false`, which the gateway caches). Not being able to check is not a
  deny: when the users store cannot be read (Secrets Manager down, slow, throttled or forbidden; no secret
  configured; an invalid store), or on a bug, `handler` raises `AuthorizerUnavailableError`, a function error that
  API Gateway answers as 500 and never caches. A deny would tell a user with the right password that it is wrong,
  and the gateway would keep saying so for `ReauthorizeEvery` after Secrets Manager came back.
- The secret read has its own deadline (1 s to connect, 1 s per read, one attempt: about 1 s at worst), well inside
  the function's 10 s timeout, so an outage fails fast and the warm container survives.
- When a refresh fails, the last good store is used for at most STALE_STORE_SECONDS more, for allows only: a user
  the last good store verifies is let in (a removal takes effect that much later), and anything it would deny fails
  instead, since the store we cannot read may say otherwise (a new user, a changed password). Meanwhile one request
  per RETRY_AFTER_FAILURE_SECONDS tries the refresh, so an outage does not slow every request down by the deadline.
- Logs carry the decision and a reason code, plus the username only when it names a known user (an unknown
  "username" may be a password typed in the wrong field), and for a failure only the AWS error class and code.
- What a warm container remembers (the store, its verified results, their HMAC key, when to retry a failed read) is
  one `UsersCache` (its fetch, max age, stale grace, retry-after and clock), shaped like the vending function's key
  cache (momento_tvm.secret_cache). `handler` serves `authorizer`, built at import; a test builds its own
  `Authorizer(UsersCache(...))` with the clock and fetch it wants, and never patches this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from momento_tvm.aws_json import SECRETS_MANAGER, AwsConfigError, AwsError, StdlibAwsClient, get_secret_string
from tvm_users.store import UsersStore, UsersStoreError, authenticate, is_valid_username, loads_store

__all__ = ["Authorizer", "AuthorizerUnavailableError", "UsersCache", "fetch_users_store", "handler"]

MAX_HEADER_CHARS: Final = 4096
MAX_PASSWORD_CHARS: Final = 1024
MAX_STORE_CACHE_SECONDS: Final = 300
MAX_AUTH_CACHE_SECONDS: Final = 3600  # the gateway's own upper bound for ReauthorizeEvery
MAX_CACHED_RESULTS: Final = 1024
STALE_STORE_SECONDS: Final = 300  # how long past its expiry the last good store may still allow, while reads fail
RETRY_AFTER_FAILURE_SECONDS: Final = 5.0  # while serving a stale store, how often a request tries the refresh
# The secret read's deadline: one attempt of at most 1 s, so even a cold authorizer facing a hung Secrets Manager
# answers (the gateway's 500) in about 1 s; the client retries, which is the retry that matters.
SECRETS_CONNECT_TIMEOUT_SECONDS: Final = 1.0
SECRETS_READ_TIMEOUT_SECONDS: Final = 1.0
SECRETS_MAX_ATTEMPTS: Final = 1  # in all, the first attempt included: StdlibAwsClient never retries

logger = logging.getLogger("tvm.authorizer")
logger.setLevel(logging.getLevelNamesMapping().get(os.environ.get("LOG_LEVEL", "").upper(), logging.INFO))


class AuthorizerUnavailableError(RuntimeError):
    """The authorizer could not decide (the gateway answers 500 and caches nothing). Its message is fixed."""

    def __init__(self) -> None:
        super().__init__("the authorizer cannot check credentials now; its log line says why")


# NamedTuples and a plain class, not dataclasses: `dataclasses` (with `inspect`) costs milliseconds of cold start.
class _Verified(NamedTuple):
    username: str
    groups: str
    expires_at: float


class _Snapshot:
    """The users store as fetched, and the results verified against it (they never outlive its freshness)."""

    __slots__ = ("expires_at", "results", "stale_until", "store")

    def __init__(self, store: UsersStore, expires_at: float, stale_until: float) -> None:
        self.store = store
        self.expires_at = expires_at
        self.stale_until = stale_until
        self.results: dict[bytes, _Verified] = {}


class _Deny(Exception):
    """A decision to deny: a reason code and the username only for known users."""

    def __init__(self, reason: str, username: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.username = username


class _Unavailable(Exception):
    """No decision can be made: a reason code and, for AWS errors, the error class and code (never a message)."""

    def __init__(self, reason: str, **extra: str) -> None:
        super().__init__(reason)
        self.reason = reason
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


secrets_manager = StdlibAwsClient(SECRETS_MANAGER, timeout=SECRETS_READ_TIMEOUT_SECONDS)


def secrets_manager_url() -> str:
    """Where the store is read: SECRETS_MANAGER_ENDPOINT when set (local runs), else what boto3 would use."""
    return secrets_manager.endpoint_url


def fetch_users_store() -> UsersStore:
    """Read and validate the users secret; raises _Unavailable, saying only what kind of failure it was.

    A standard-library SigV4 GetSecretValue (momento_tvm.aws_json), one attempt with the read's deadline: boto3 is never
    imported, which was most of a cold start.
    """
    arn = os.environ.get("USERS_SECRET_ARN")
    if not arn:
        raise _Unavailable("not_configured")
    try:
        text = get_secret_string(secrets_manager, arn)
    except AwsError as exc:  # down, slow, throttled, forbidden, missing: its code, no message
        extra = {"error": exc.code, "error_code": exc.code} if exc.from_aws else {"error": exc.code}
        if isinstance(exc, AwsConfigError):  # nothing was sent: which variable to fix, how
            extra["fix"] = exc.fix  # fixed text naming the variable, never its value
        raise _Unavailable("users_store_unavailable", **extra) from None
    try:
        return loads_store(text)
    except UsersStoreError:  # its message may name records: not logged
        raise _Unavailable("users_store_invalid") from None


class UsersCache:
    """The users store as last fetched, the results verified against it, and the per-container HMAC key they are
    kept under: everything a warm container remembers.

    - `fetch`: reads and validates the store, raising _Unavailable (`fetch_users_store`).
    - `max_age`: a store is kept min(this, the gateway's cache time) seconds, and not at all when that is 0.
    - `stale_for`: once expired, the last good store may still allow this long while refreshes fail.
    - `retry_after`: while it does, one refresh per this many seconds.
    - `max_results`: verified results kept per store (the oldest goes first).
    - `clock`: monotonic, so lifetimes never jump with the wall clock; tests pass one they move.
    """

    __slots__ = ("clock", "fetch", "key", "max_age", "max_results", "retry_after", "retry_at", "snapshot", "stale_for")

    def __init__(
        self,
        fetch: Callable[[], UsersStore],
        *,
        max_age: float = MAX_STORE_CACHE_SECONDS,
        stale_for: float = STALE_STORE_SECONDS,
        retry_after: float = RETRY_AFTER_FAILURE_SECONDS,
        max_results: int = MAX_CACHED_RESULTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.max_age = max_age
        self.stale_for = stale_for
        self.retry_after = retry_after
        self.max_results = max_results
        self.clock = clock
        self.clear()

    def clear(self) -> None:
        """Forget everything and make a new HMAC key: random per container (what secrets.token_bytes does, without
        importing random). Under SnapStart every restored container would share the snapshot's key otherwise."""
        self.key = os.urandom(32)
        self.snapshot: _Snapshot | None = None
        self.retry_at = 0.0  # while a stale store is served: no refresh before this time

    def current(self, now: float, ttl: int) -> tuple[_Snapshot, bool]:
        """(the users store to decide with, whether it is stale). Raises _Unavailable when there is none to use.

        Fresh: the cached one. Expired: a new fetch; if that fails, the last good store while it is within its stale
        grace (and no new fetch until `retry_at`), else the failure. Failures are never cached: with no store to fall
        back on, every request tries again.
        """
        cached = self.snapshot
        if cached is not None and now < cached.expires_at:
            return cached, False
        if cached is not None and now >= cached.stale_until:
            cached = self.snapshot = None
        if cached is not None and now < self.retry_at:
            return cached, True
        try:
            store = self.fetch()
        except _Unavailable as failure:
            if cached is None:
                raise
            self.retry_at = now + self.retry_after
            logger.info(
                json.dumps(
                    {"message": "users store refresh failed: using the last good one", "reason": failure.reason}
                    | failure.extra,
                    sort_keys=True,
                )
            )
            return cached, True
        expires_at = now + min(ttl, self.max_age)
        snapshot = _Snapshot(store, expires_at, expires_at + self.stale_for)
        self.snapshot = snapshot if ttl > 0 else None
        self.retry_at = 0.0
        return snapshot, False


def _authorize(event: object, users: UsersCache) -> dict[str, Any]:
    header = _authorization_header(event)
    if header is None:
        raise _Deny("missing_credentials")
    username, password = _parse_basic(header)
    now, ttl = users.clock(), _cache_seconds()
    key = hmac.new(users.key, header.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    snapshot, stale = users.current(now, ttl)
    cached = snapshot.results.get(key)
    if cached is not None and now < cached.expires_at:
        _log("allow", "cached", cached.username)
        return _allow(cached.username, cached.groups)
    result = authenticate(snapshot.store, username, password)
    if result is None:
        reason, known = ("wrong_password", username) if username in snapshot.store.users else ("unknown_user", None)
        if stale:  # the store we could not read may know this user or this password: no deny on old data
            raise _Unavailable("users_store_stale", would_deny=reason)
        raise _Deny(reason, known)
    groups = ",".join(result[1])
    if ttl > 0 and not stale:
        if len(snapshot.results) >= users.max_results:
            del snapshot.results[next(iter(snapshot.results))]
        snapshot.results[key] = _Verified(username, groups, min(now + ttl, snapshot.expires_at))
    if stale:
        _log("allow", "verified", username, store="stale")
    else:
        _log("allow", "verified", username)
    return _allow(username, groups)


def _allow(username: str, groups: str) -> dict[str, Any]:
    return {"isAuthorized": True, "context": {"username": username, "groups": groups}}


class Authorizer:
    """The authorizer over one users cache (the module's `authorizer`, or one a test built)."""

    __slots__ = ("users",)

    def __init__(self, users: UsersCache) -> None:
        self.users = users

    def handler(self, event: object, context: object = None) -> dict[str, Any]:
        """A simple response for any credentials, good or bad; raises when it cannot check them.

        The exception is a fresh AuthorizerUnavailableError with a fixed message and no cause or context attached, so
        neither the runtime's error log nor the gateway learns anything from it; the reason is in the log line.
        """
        try:
            return _authorize(event, self.users)
        except _Deny as deny:
            _log("deny", deny.reason, deny.username)
            return {"isAuthorized": False}
        except _Unavailable as failure:
            _log("error", failure.reason, **failure.extra)
        except Exception as exc:  # a bug: no decision was made, so none may be cached; its trace might hold secrets
            _log("error", "internal_error", error=type(exc).__name__)
        raise AuthorizerUnavailableError from None


authorizer = Authorizer(UsersCache(fetch_users_store))


def _after_restore() -> None:
    """SnapStart's restore hook: a fresh HMAC key and no state from before the snapshot (there should be none: the
    store is read on the first request, never at import)."""
    authorizer.users.clear()


try:  # the Lambda Python runtime's restore hooks (python3.12+); absent locally, where there is no snapshot
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - local runs
    pass
else:  # pragma: no cover - only inside Lambda
    register_after_restore(_after_restore)


DEPLOY_CHECK_EVENT: Final = {"deployCheck": "import"}


def handler(event: object, context: object = None) -> dict[str, Any]:
    """Lambda entry point: a simple response for any credentials, good or bad; raises when it cannot check them.

    The exception is a fresh AuthorizerUnavailableError with a fixed message and no cause or context attached, so
    neither the runtime's error log nor the gateway learns anything from it; the reason is in the log line.
    The stack's deploy check (template.yaml, DeployCheck) invokes it directly with {"deployCheck": "import"}: the
    answer says this module loaded. No gateway event has that shape, and the answer is no authorization.
    """
    if event == DEPLOY_CHECK_EVENT:
        return {"deployCheck": "ok"}
    return authorizer.handler(event, context)
