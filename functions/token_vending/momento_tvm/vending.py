"""The vending core the Lambda handler, embedded apps and tests share: parse a request, decide, mint, answer.

No AWS here: the handler passes in the event's identity parts and a `Minter`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequestError
from .grant import Grant, TokenRequest, decide
from .identity import Identity
from .minting import Minter
from .policy import Policy

__all__ = ["ParsedRequest", "TokenVendor", "parse_body", "parse_query"]

MAX_BODY_BYTES = 16 * 1024
_QUERY_KEYS = {"topics", "cacheItems", "ttlSeconds", "name"}
_BODY_KEYS = {"topics", "cacheItems", "ttlSeconds", "name"}


@dataclass(frozen=True)
class ParsedRequest:
    request: TokenRequest
    display_name: str | None = None  # only used in Open mode


def parse_query(params: Mapping[str, str] | None) -> ParsedRequest:
    """`?topics=a,b&cacheItems=k,p*&ttlSeconds=60&name=Ann` (all optional)."""
    params = params or {}
    unknown = set(params) - _QUERY_KEYS
    if unknown:
        raise InvalidRequestError(f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    return ParsedRequest(
        TokenRequest(
            topics=_split(params.get("topics"), "topics"),
            cache_items=_split(params.get("cacheItems"), "cacheItems"),
            ttl_seconds=_int(params.get("ttlSeconds")),
        ),
        params.get("name"),
    )


def parse_body(body: str | None) -> ParsedRequest:
    """`{"topics": [...], "cacheItems": [...], "ttlSeconds": 60, "name": "Ann"}` (all optional; empty body = {})."""
    if body is None or not body.strip():
        return ParsedRequest(TokenRequest())
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise InvalidRequestError(f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidRequestError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    unknown = set(data) - _BODY_KEYS
    if unknown:
        raise InvalidRequestError(f"unknown field(s): {', '.join(sorted(unknown))}")
    ttl = data.get("ttlSeconds")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int)):
        raise InvalidRequestError("ttlSeconds must be an integer")
    name = data.get("name")
    if name is not None and not isinstance(name, str):
        raise InvalidRequestError("name must be a string")
    return ParsedRequest(
        TokenRequest(_list(data.get("topics"), "topics"), _list(data.get("cacheItems"), "cacheItems"), ttl), name
    )


def _split(value: str | None, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(part.strip() for part in value.split(","))
    if not value.strip() or any(not n for n in names):
        raise InvalidRequestError(f"{field} must be a comma-separated list of names")
    return names


def _list(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidRequestError(f"{field} must be a non-empty list of strings")
    return tuple(value)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise InvalidRequestError("ttlSeconds must be a whole number of seconds")
    return int(value)


class TokenVendor:
    """Decides with the policy and mints with the minter. One per process; thread-safe."""

    def __init__(self, policy: Policy, minter: Callable[[], Minter], *, cache_name: str, max_ttl_seconds: int) -> None:
        self.policy = policy
        self._minter = minter
        self.cache_name = cache_name
        self.max_ttl_seconds = max_ttl_seconds

    def decide(self, identity: Identity, request: TokenRequest) -> Grant:
        return decide(self.policy, identity, request, cache_name=self.cache_name, max_ttl_seconds=self.max_ttl_seconds)

    def explain(self, identity: Identity, request: TokenRequest) -> dict[str, Any]:
        """What `vend` would mint for the same caller and request, and the rule that decided it. Mints nothing."""
        grant = self.decide(identity, request)
        return {
            "tokenId": grant.token_id,
            "rule": grant.rule,
            "ttlSeconds": grant.ttl_seconds,
            "scope": grant.scope_json(),
        }

    def vend(self, identity: Identity, request: TokenRequest) -> tuple[dict[str, Any], Grant]:
        grant = self.decide(identity, request)
        minted = self._minter().mint(grant)
        body = {
            "authToken": minted.auth_token,
            "expiresAt": minted.expires_at,
            "tokenId": grant.token_id,
            "endpoint": minted.endpoint,
            "scope": grant.scope_json(),
        }
        return body, grant
