"""Typed errors: each carries the HTTP status and the stable error code clients see.

Responses use the envelope `{"error": {"code": ..., "message": ...}}`. Messages are written for the caller: they never
contain a token, a key, a password or a stack trace. `log_message` is what the function logs: the same text unless the
message quotes something the caller sent, which is never logged.
"""

from __future__ import annotations

__all__ = [
    "InvalidIdentityError",
    "InvalidRequestError",
    "LimiterUnavailableError",
    "PolicyError",
    "QuotaExceededError",
    "RateLimitedError",
    "RevokedError",
    "ScopeDeniedError",
    "TierPausedError",
    "TvmError",
    "UnauthenticatedError",
    "UpstreamUnavailableError",
    "VendingPausedError",
]


class TvmError(Exception):
    status: int = 500
    code: str = "internal_error"
    retry_after: int | None = None  # whole seconds: answered as the Retry-After header when set

    def __init__(self, message: str, *, log_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log_message = message if log_message is None else log_message

    def to_json(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class InvalidRequestError(TvmError):
    """The caller's request is malformed (400)."""

    status = 400
    code = "invalid_request"


class UnauthenticatedError(TvmError):
    """No verified identity reached the function (401): the gateway's authorizer is missing or misconfigured."""

    status = 401
    code = "unauthenticated"


class InvalidIdentityError(UnauthenticatedError):
    """The identity cannot be a token id (401 `unauthenticated`, as every route answers it): a name outside 1-64 of
    `A-Z a-z 0-9 _ . @ + -`, the reserved `guest`, or a guest id `guest_identity` did not make. The host's or the
    authorizer's bug, never the caller's: nothing is minted for it. The message never quotes the name."""


class ScopeDeniedError(TvmError):
    """The caller's tier allows nothing of what was asked (403)."""

    status = 403
    code = "scope_denied"


class RevokedError(TvmError):
    """An operator revoked this user's access to tokens (403): nothing is vended until it is restored."""

    status = 403
    code = "revoked"

    def __init__(self, tier: str) -> None:
        super().__init__("your access to tokens has been revoked")
        self.tier = tier


class TierPausedError(TvmError):
    """An operator paused vending for this caller's tier (403)."""

    status = 403
    code = "tier_paused"

    def __init__(self, tier: str) -> None:
        super().__init__("token vending is paused for your tier")
        self.tier = tier


class VendingPausedError(TvmError):
    """An operator paused all vending (403)."""

    status = 403
    code = "vending_paused"

    def __init__(self, tier: str) -> None:
        super().__init__("token vending is paused")
        self.tier = tier


class UpstreamUnavailableError(TvmError):
    """Momento or Secrets Manager failed or timed out (503); the caller may retry after `retry_after` seconds."""

    status = 503
    code = "upstream_unavailable"

    def __init__(self, message: str, retry_after: int = 2) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LimiterUnavailableError(UpstreamUnavailableError):
    """The shared store (the issuance limits', the revocations') could not answer, and the deployment refuses rather
    than let the mint through (on_store_error="refuse"): a 503 `upstream_unavailable` like any other outage.
    `store_code` is the store's error code (for the log), never shown to the caller."""

    def __init__(self, store_code: str, what: str = "issuance limits") -> None:
        super().__init__(f"the token service cannot check {what} now", retry_after=2)
        self.store_code = store_code
        self.log_message = f"the store of {what} failed ({store_code})"


class RateLimitedError(TvmError):
    """This caller took its tier's issuance limit (429): one more token in `retry_after` seconds. `tier` is the
    caller's, for the metric; the message says only how long to wait."""

    status = 429
    code = "rate_limited"

    def __init__(self, retry_after: int, tier: str) -> None:
        super().__init__(f"too many token requests: try again in {retry_after} s")
        self.retry_after = retry_after
        self.tier = tier


class QuotaExceededError(TvmError):
    """Momento refused the mint for the account's quota (gRPC RESOURCE_EXHAUSTED, the SDKs' LIMIT_EXCEEDED_ERROR):
    429, every caller waits `retry_after` seconds (jittered by the minter, so they do not all come back at once)."""

    status = 429
    code = "quota_exceeded"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the token service is busy: try again in {retry_after} s")
        self.retry_after = retry_after


class PolicyError(ValueError):
    """The tier policy file is invalid; the message names the file and line."""
