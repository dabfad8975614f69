"""What the token routes report, in one place: `TokenRoutes` (momento_tvm.http) calls one `RouteObserver` method for
each answer, so a new refusal, log line or metric is added here (or in a host's observer), never at each route.

- `issued(token)`: a token was minted (200).
- `explained(explanation)`: `GET .../explain` answered (200).
- `refused(error)`: a typed refusal (`error.status` 4xx; `error.code`, e.g. `scope_denied`, is what to count by;
  `rate_limited` is a caller over its tier's issuance limit, `quota_exceeded` Momento's account quota).
- `unavailable(error)`: Momento, the key or (when the machine refuses on its errors) the issuance limiter could not
  be reached in time (503 `upstream_unavailable`; a `LimiterUnavailableError` for the limiter).
- `failed(error)`: a bug of ours (500 `internal_error`); log the class only, its message may hold anything.

`LoggingObserver` is the embedded integrations' observer (stdlib logging, the logger `momento_tvm`); the vending
Lambda's adds Powertools metrics to the same lines (functions/token_vending/app.py). Both log the same fields,
built here: never the token, the key, a password or a value the caller sent (`TvmError.log_message` quotes none).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: importing this module loads nothing but logging
    from .errors import TvmError, UpstreamUnavailableError
    from .vending import Explanation, VendedToken

__all__ = ["LoggingObserver", "RouteObserver", "issued_fields", "refused_fields"]


class RouteObserver:
    """Subclass and override what you need: every method does nothing here, so an observer written today keeps
    working when a later version reports one more kind of answer."""

    def issued(self, token: VendedToken) -> None:
        """A token was minted and is about to be answered (200)."""

    def explained(self, explanation: Explanation) -> None:
        """`explain` answered (200); nothing was minted."""

    def refused(self, error: TvmError) -> None:
        """A typed refusal (4xx): `error.code` says which, `error.log_message` why (never the caller's text)."""

    def unavailable(self, error: UpstreamUnavailableError) -> None:
        """An upstream (Momento, or the Lambda's key) failed or timed out: a 503 with Retry-After."""

    def failed(self, error: Exception) -> None:
        """A bug of ours: a 500 with no detail. Only the class is safe to log (the message may hold values)."""


def issued_fields(token: VendedToken) -> dict[str, object]:
    """The `token issued` line's fields: the holder (a guest as `guest#<hash>`), tier, rule, a scope digest, expiry."""
    grant = token.grant
    fields: dict[str, object] = {
        "user": grant.log_name,
        "tier": grant.tier,
        "rule": grant.rule,
        "scope_digest": grant.digest(),
        "expires_at": token.expires_at,
    }
    if token.allowance is not None:  # what is left of the caller's issuance limit after this token
        fields["limit_remaining"] = token.allowance.remaining
    if token.limiter_error is not None:  # issued without a limit check: the limiter's store could not decide
        fields["limiter_error"] = token.limiter_error
    return fields


def refused_fields(error: TvmError) -> dict[str, object]:
    """The `request refused` line's fields: the error code and the reason (which quotes nothing the caller sent)."""
    fields: dict[str, object] = {"code": error.code, "reason": error.log_message}
    if error.retry_after is not None:
        fields["retry_after"] = error.retry_after
    tier = getattr(error, "tier", None)
    if tier is not None:
        fields["tier"] = tier
    return fields


class LoggingObserver(RouteObserver):
    """Standard-library logging, on `logger` (default: `momento_tvm`). Every detail is a record attribute (for a
    JSON formatter); an outage's cause is in the message text too (`upstream unavailable: cannot reach Momento
    (...)`), so a plain `logging.basicConfig` shows it."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("momento_tvm")

    def issued(self, token: VendedToken) -> None:
        self.log.info("token issued", extra=issued_fields(token))

    def refused(self, error: TvmError) -> None:
        self.log.info("request refused", extra=refused_fields(error))

    def unavailable(self, error: UpstreamUnavailableError) -> None:
        self.log.warning("upstream unavailable: %s", error.log_message, extra={"reason": error.log_message})

    def failed(self, error: Exception) -> None:
        self.log.error("unexpected error", extra={"error_type": type(error).__name__})
