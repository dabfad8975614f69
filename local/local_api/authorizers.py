"""Lambda authorizers as an HTTP API runs them: identity sources, the result cache, and reading the response.

- Every identity source must be present and non-empty, or the gateway answers 401 without invoking the authorizer.
- A response is cached per authorizer and identity-source values for the authorizer's TTL (`ReauthorizeEvery`,
  0 = never), and reused on every route that uses the same authorizer: a cached deny is a deny everywhere.
- Simple responses (`{"isAuthorized", "context"}`) and IAM-policy responses (`{"principalId", "policyDocument",
  "context"}`) are both understood; a policy is evaluated against each request's `routeArn`, as AWS does with a
  cached policy. Anything else is an authorizer error (the gateway answers 500).
"""

from __future__ import annotations

import fnmatch
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

from .events import HttpRequest
from .template import AuthorizerSpec, LambdaAuthorizerSpec

__all__ = ["Decision", "DecisionCache", "InvalidAuthorizerResponseError", "decide", "identity_values"]

_MAX_CACHED: Final = 10_000


class InvalidAuthorizerResponseError(ValueError):
    """The authorizer answered something the gateway cannot read (the gateway answers 500)."""


@dataclass(frozen=True)
class Decision:
    authorized: bool
    context: Mapping[str, Any] = field(default_factory=dict)


def identity_values(spec: AuthorizerSpec, request: HttpRequest) -> list[str] | None:
    """The identity-source values in declared order; None when one is missing or empty (the gateway's 401)."""
    values: list[str] = []
    query: dict[str, str] | None = None
    for source in spec.identity_sources:
        _, kind, name = source.split(".", 2)
        if kind == "header":
            value = request.header(name)
        else:
            if query is None:
                query = {}
                for key, item in parse_qsl(request.raw_query, keep_blank_values=True):
                    query[key] = f"{query[key]},{item}" if key in query else item
            value = query.get(name)
        if not value:
            return None
        values.append(value)
    return values


def decide(spec: LambdaAuthorizerSpec, response: Any, route_arn: str) -> Decision:
    """Read an authorizer response for the route being requested."""
    if not isinstance(response, dict):
        raise InvalidAuthorizerResponseError("the authorizer's response is not an object")
    context = response.get("context") or {}
    if not isinstance(context, dict):
        raise InvalidAuthorizerResponseError("context must be an object")
    if spec.simple_responses:
        authorized = response.get("isAuthorized")
        if not isinstance(authorized, bool):
            raise InvalidAuthorizerResponseError("isAuthorized must be true or false")
        return Decision(authorized, context)
    policy = response.get("policyDocument")
    if not isinstance(policy, dict) or "principalId" not in response:
        raise InvalidAuthorizerResponseError("an IAM response needs principalId and policyDocument")
    return Decision(_policy_allows(policy, route_arn), context)


def _policy_allows(policy: Mapping[str, Any], route_arn: str) -> bool:
    """Allow when a statement allows execute-api:Invoke on the route and none denies it."""
    statements = policy.get("Statement") or []
    statements = [statements] if isinstance(statements, dict) else statements
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise InvalidAuthorizerResponseError("a policy statement is not an object")
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        invokes = any(fnmatch.fnmatchcase("execute-api:Invoke", action) for action in actions)
        matches = any(fnmatch.fnmatchcase(route_arn, resource) for resource in resources)
        if invokes and matches:
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)] if value is not None else []


class DecisionCache:
    """Authorizer responses by (authorizer name, identity values), each kept for its authorizer's TTL."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: OrderedDict[tuple[str, tuple[str, ...]], tuple[float, Any]] = OrderedDict()

    def get(self, authorizer: str, identity: list[str]) -> Any | None:
        key = (authorizer, tuple(identity))
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, response = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return response

    def clear(self) -> None:
        """Forget every cached response (what a redeployment of the API does: a new cache)."""
        self._entries.clear()

    def put(self, authorizer: str, identity: list[str], response: Any, ttl_seconds: int) -> None:
        if ttl_seconds <= 0 or not identity:
            return
        self._entries[(authorizer, tuple(identity))] = (self._clock() + ttl_seconds, response)
        while len(self._entries) > _MAX_CACHED:
            self._entries.popitem(last=False)
