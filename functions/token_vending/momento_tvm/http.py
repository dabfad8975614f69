"""The HTTP contract of the token routes, with no web framework: what to answer for `GET`/`POST .../token` and
`GET .../token/explain`, given the caller's verified identity (or None) and the raw query or body.

The Lambda handler and the FastAPI and Flask integrations all answer through here, so the status codes, the JSON
(`{"error": {"code", "message"}}` for every refusal), `Cache-Control: no-store`, `Retry-After` on a 503 and the
log lines are the same everywhere. Logs carry the user (a verified username, or a guest as `guest#<hash>`: a guest's
display name is the caller's text), tier, rule and a scope digest: never the token, the key, a password or a value
the caller sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import TvmError, UnauthenticatedError, UpstreamUnavailableError
from .identity import Identity
from .parsing import MAX_BODY_BYTES, ParsedRequest, parse_body, parse_query
from .vending import VendedToken, VendingMachine

__all__ = ["HttpAnswer", "TokenRoutes", "error_answer", "joined_query", "json_answer", "read_bounded"]

log = logging.getLogger("momento_tvm")

SIGN_IN_FIRST = "sign in first: no signed-in user reached the token route"
INTERNAL_ERROR = {"error": {"code": "internal_error", "message": "internal error"}}


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def body_text(self) -> str:
        return json.dumps(self.body, separators=(",", ":"))


def json_answer(status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> HttpAnswer:
    """Every answer of the token routes: JSON, never cached (a token, or a refusal that may change)."""
    return HttpAnswer(status, body, {"Cache-Control": "no-store", **(headers or {})})


def error_answer(error: TvmError) -> HttpAnswer:
    if isinstance(error, UpstreamUnavailableError):
        return json_answer(error.status, error.to_json(), {"Retry-After": str(error.retry_after)})
    return json_answer(error.status, error.to_json())


def joined_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A query string's pairs as API Gateway's payload 2.0 gives them: a repeated key's values joined by commas."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


class TokenRoutes:
    """The three routes over one `VendingMachine`. Each method takes the identity the host verified (None: nobody
    signed in, a 401) and returns the `HttpAnswer`; none raises, whatever the caller sent."""

    def __init__(self, machine: VendingMachine, logger: logging.Logger | None = None) -> None:
        self.machine = machine
        self.log = logger or log

    def get(self, identity: Identity | None, query: Mapping[str, str]) -> HttpAnswer:
        return self._guarded(lambda: self._vend(identity, parse_query(query)))

    def post(self, identity: Identity | None, body: bytes | None) -> HttpAnswer:
        return self._guarded(lambda: self._vend(identity, parse_body(body)))

    def explain(self, identity: Identity | None, query: Mapping[str, str]) -> HttpAnswer:
        return self._guarded(lambda: self._explain(identity, parse_query(query)))

    async def aget(self, identity: Identity | None, query: Mapping[str, str]) -> HttpAnswer:
        """`get` off the event loop (the mint is a blocking gRPC call)."""
        return await asyncio.to_thread(self.get, identity, query)

    async def apost(self, identity: Identity | None, body: bytes | None) -> HttpAnswer:
        return await asyncio.to_thread(self.post, identity, body)

    def _vend(self, identity: Identity | None, parsed: ParsedRequest) -> HttpAnswer:
        token = self.machine.vend(_signed_in(identity), parsed.request)
        self.log_issued(token)
        return json_answer(200, token.to_json())

    def _explain(self, identity: Identity | None, parsed: ParsedRequest) -> HttpAnswer:
        return json_answer(200, self.machine.explain(_signed_in(identity), parsed.request).to_json())

    def log_issued(self, token: VendedToken, **extra: Any) -> None:
        grant = token.grant
        self.log.info(
            "token issued",
            extra={
                "user": grant.log_name,
                "tier": grant.tier,
                "rule": grant.rule,
                "scope_digest": grant.digest(),
                "expires_at": token.expires_at,
                **extra,
            },
        )

    def log_refused(self, error: TvmError) -> None:
        if isinstance(error, UpstreamUnavailableError):
            self.log.warning("upstream unavailable", extra={"reason": error.log_message})
        else:
            self.log.info("request refused", extra={"code": error.code, "reason": error.log_message})

    def _guarded(self, route: Callable[[], HttpAnswer]) -> HttpAnswer:
        try:
            answer = route()
        except TvmError as error:
            self.log_refused(error)
            return error_answer(error)
        except Exception as error:  # a bug of ours: the class only (values may hold secrets), no stack trace out
            self.log.error("unexpected error", extra={"error_type": type(error).__name__})
            return json_answer(500, INTERNAL_ERROR)
        return answer


def _signed_in(identity: Identity | None) -> Identity:
    """The host's user; the vending machine checks it as a gateway's would be (`InvalidIdentityError`, a 401, for a
    name that cannot be a token id)."""
    if identity is None:
        raise UnauthenticatedError(SIGN_IN_FIRST)
    return identity


def read_bounded(chunks: Iterable[bytes]) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes of a request body (one more than allowed, so parse_body refuses it): a
    huge upload is never held in memory."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            break
    return bytes(body[: MAX_BODY_BYTES + 1])
