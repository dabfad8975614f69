"""The HTTP contract of the token routes, with no web framework: what to answer for `GET`/`POST .../token` and
`GET .../token/explain`, given the caller's verified identity (or None, or a callable that finds it) and the raw
query or body.

The Lambda handler and the FastAPI and Flask integrations all answer through here, so the status codes, the JSON
(`{"error": {"code", "message"}}` for every refusal), `Cache-Control: no-store` and `Retry-After` on a 503 are the
same everywhere. Each answer is reported to one observer (momento_tvm.observe): the integrations log through stdlib
logging, the Lambda adds its metrics; a log line carries the user (a verified username, or a guest as
`guest#<hash>`: a guest's display name is the caller's text), tier, rule and a scope digest: never the token, the
key, a password or a value the caller sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from .errors import TvmError, UnauthenticatedError, UpstreamUnavailableError
from .identity import Identity
from .observe import LoggingObserver, RouteObserver
from .parsing import MAX_BODY_BYTES, ParsedRequest, parse_body, parse_event_body, parse_query
from .vending import VendingMachine

__all__ = [
    "HttpAnswer",
    "IdentitySource",
    "TokenRoutes",
    "error_answer",
    "joined_query",
    "json_answer",
    "read_bounded",
]

# Who is asking: the identity the host verified, None (nobody signed in: a 401), or a callable that finds it from the
# parsed request, called after parsing (so a bad request is a 400 first) and inside the routes' guard (so its
# TvmError is answered like any other). The Lambda's is a callable: an Open-mode guest's name is in the request.
IdentitySource: TypeAlias = Identity | Callable[[ParsedRequest], Identity | None] | None

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
    """A refusal in the envelope; a 503 or a 429 also says when to come back (Retry-After, whole seconds)."""
    if error.retry_after is not None:
        return json_answer(error.status, error.to_json(), {"Retry-After": str(error.retry_after)})
    return json_answer(error.status, error.to_json())


def joined_query(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A query string's pairs as API Gateway's payload 2.0 gives them: a repeated key's values joined by commas."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


class TokenRoutes:
    """The three routes over one `VendingMachine`. Each method takes who is asking (`IdentitySource`) and returns the
    `HttpAnswer`; none raises, whatever the caller sent. Each answer is reported to `observer` (momento_tvm.observe;
    a `logging.Logger` or None means a `LoggingObserver` on it, or on `momento_tvm`)."""

    def __init__(self, machine: VendingMachine, observer: RouteObserver | logging.Logger | None = None) -> None:
        self.machine = machine
        self.observer = observer if isinstance(observer, RouteObserver) else LoggingObserver(observer)

    # `source_ip`: the caller's address as the host saw it (the gateway's requestContext.http.sourceIp, the
    # framework's client address): an anonymous caller's issuance limit is counted by it.
    def get(
        self, identity: IdentitySource, query: Mapping[str, Any] | None, *, source_ip: str | None = None
    ) -> HttpAnswer:
        return self._guarded(lambda: self._vend(identity, parse_query(query), source_ip))

    def post(
        self,
        identity: IdentitySource,
        body: bytes | str | None,
        *,
        base64_encoded: bool = False,
        source_ip: str | None = None,
    ) -> HttpAnswer:
        """`body` as read (bytes), or as API Gateway's payload 2.0 gives it: text, base64 when `base64_encoded`."""
        return self._guarded(lambda: self._vend(identity, _parsed_body(body, base64_encoded), source_ip))

    def explain(
        self, identity: IdentitySource, query: Mapping[str, Any] | None, *, source_ip: str | None = None
    ) -> HttpAnswer:
        return self._guarded(lambda: self._explain(identity, parse_query(query), source_ip))

    async def aget(
        self, identity: IdentitySource, query: Mapping[str, Any] | None, *, source_ip: str | None = None
    ) -> HttpAnswer:
        """`get` off the event loop (the mint is a blocking gRPC call)."""
        return await asyncio.to_thread(lambda: self.get(identity, query, source_ip=source_ip))

    async def apost(self, identity: IdentitySource, body: bytes | None, *, source_ip: str | None = None) -> HttpAnswer:
        return await asyncio.to_thread(lambda: self.post(identity, body, source_ip=source_ip))

    async def aexplain(
        self, identity: IdentitySource, query: Mapping[str, Any] | None, *, source_ip: str | None = None
    ) -> HttpAnswer:
        """`explain` off the event loop (the limiter may read its store)."""
        return await asyncio.to_thread(lambda: self.explain(identity, query, source_ip=source_ip))

    def _vend(self, identity: IdentitySource, parsed: ParsedRequest, source_ip: str | None) -> HttpAnswer:
        token = self.machine.vend(_signed_in(identity, parsed), parsed.request, source_ip=source_ip)
        self.observer.issued(token)
        return json_answer(200, token.to_json())

    def _explain(self, identity: IdentitySource, parsed: ParsedRequest, source_ip: str | None) -> HttpAnswer:
        explanation = self.machine.explain(_signed_in(identity, parsed), parsed.request, source_ip=source_ip)
        self.observer.explained(explanation)
        return json_answer(200, explanation.to_json())

    def _guarded(self, route: Callable[[], HttpAnswer]) -> HttpAnswer:
        try:
            return route()
        except UpstreamUnavailableError as error:
            self.observer.unavailable(error)
            return error_answer(error)
        except TvmError as error:
            self.observer.refused(error)
            return error_answer(error)
        except Exception as error:  # a bug of ours: the class only (values may hold secrets), no stack trace out
            self.observer.failed(error)
            return json_answer(500, INTERNAL_ERROR)


def _parsed_body(body: object, base64_encoded: bool) -> ParsedRequest:
    """Bytes as read by a host; anything else as a gateway event's `body` (text, base64, or junk: a 400)."""
    if isinstance(body, bytes):
        return parse_body(body)
    return parse_event_body(body, base64_encoded)


def _signed_in(identity: IdentitySource, parsed: ParsedRequest) -> Identity:
    """The caller; the vending machine checks it as a gateway's would be (`InvalidIdentityError`, a 401, for a name
    that cannot be a token id)."""
    found = identity(parsed) if callable(identity) else identity
    if found is None:
        raise UnauthenticatedError(SIGN_IN_FIRST)
    return found


def read_bounded(chunks: Iterable[bytes]) -> bytes:
    """At most MAX_BODY_BYTES + 1 bytes of a request body (one more than allowed, so parse_body refuses it): a
    huge upload is never held in memory."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            break
    return bytes(body[: MAX_BODY_BYTES + 1])
