"""The `GenerateDisposableToken` request and answer, built from Momento's published protobuf types.

Pure: no I/O and no grpc, so the bytes can be compared with the `momento` SDK's
(tests/functional/test_mint_request_bytes.py).
The shapes follow momento 1.29.1 (`momento/internal/_utilities/_permissions.py`) exactly: one permission entry per
topic name or cache key/prefix; a whole cache is `all_items` when it is the only permission but has no item selector
when it sits beside topics (the SDK's `CachePermission`). Topic-name prefixes, which the SDK cannot express, are sent
as `topic_name_prefix`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from ._deferred import defer_init

defer_init("momento_wire_types")  # its __init__ imports every generated module: the mint needs two (_deferred.py)

from google.protobuf.message import DecodeError  # noqa: E402  (after the registration above)
from momento_wire_types.generated import permissionmessages_pb2 as pm  # noqa: E402
from momento_wire_types.generated import token_pb2  # noqa: E402

from .control import control_key, topic_name  # noqa: E402
from .grant import CacheGrant, Grant, TopicGrant  # noqa: E402

__all__ = [
    "METHOD",
    "WireToken",
    "control_topics",
    "disposable_token",
    "mint_request",
    "parse_answer",
    "permissions",
]

METHOD = "/token.Token/GenerateDisposableToken"

_TOPIC_ROLES = {
    "publish_subscribe": pm.TopicReadWrite,
    "subscribe_only": pm.TopicReadOnly,
    "publish_only": pm.TopicWriteOnly,
}
_CACHE_ROLES = {"read_write": pm.CacheReadWrite, "read_only": pm.CacheReadOnly, "write_only": pm.CacheWriteOnly}
_PT = pm.PermissionsType


@dataclass(frozen=True)
class WireToken:
    """What the token service answered, with the token clients use (as the SDK builds it)."""

    auth_token: str
    endpoint: str
    valid_until: int


def mint_request(api_key: str, grant: Grant, control: tuple[str, ...] | None = None) -> Any:
    """The request message, field for field what `AuthClient.generate_disposable_token` builds for the same grant
    (plus, for a grant with control subjects, one subscribe-only topic entry each, named under `api_key`; `control`:
    those names when the caller already has them, `control_topics(api_key, grant)`)."""
    return token_pb2._GenerateDisposableTokenRequest(
        auth_token=api_key,
        expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=grant.ttl_seconds),
        permissions=permissions(grant, control_topics(api_key, grant) if control is None else control),
        token_id=grant.token_id,
    )


def control_topics(api_key: str, grant: Grant) -> tuple[str, ...]:
    """The opaque names of the grant's control topics (momento_tvm.control), in the order of its subjects."""
    if not grant.control:
        return ()
    key = control_key(api_key)
    return tuple(topic_name(key, subject) for subject in grant.control)


def permissions(grant: Grant, control: tuple[str, ...] = ()) -> Any:
    """The grant as `permission_messages.Permissions` (explicit), with a subscribe-only entry for each `control`
    topic in the grant's cache. A grant that holds nothing is a bug: ValueError."""
    entries = _topic_entries(grant.topics) if grant.topics is not None else []
    listened = tuple(name for name in control if not _subscribable(grant.topics, grant.cache_name, name))
    if listened:
        entries += _topic_entries(TopicGrant("subscribe_only", grant.cache_name, names=listened))
    if grant.cache is not None:
        entries += _cache_entries(grant.cache, beside_topics=bool(entries))
    if not entries:
        raise ValueError("a grant must hold at least one permission")
    return pm.Permissions(explicit=pm.ExplicitPermissions(permissions=entries))


def _subscribable(topics: TopicGrant | None, cache: str, name: str) -> bool:
    """Whether the grant's own topics already let its holder subscribe to `name` in `cache` (a `*` tier's do): then
    the control topic costs no statement of Momento's 20 per token."""
    if topics is None or topics.cache != cache or topics.role == "publish_only":
        return False
    return topics.all_topics or name in topics.names or any(name.startswith(p) for p in topics.prefixes)


def _topic_entries(topics: TopicGrant) -> list[Any]:
    role, cache = _role(_TOPIC_ROLES, topics.role), _PT.CacheSelector(cache_name=topics.cache)

    def entry(**which: Any) -> Any:
        return _PT(topic_permissions=_PT.TopicPermissions(role=role, cache_selector=cache, **which))

    if topics.all_topics:
        return [entry(all_topics=_PT.All())]
    selectors = [_PT.TopicSelector(topic_name=name) for name in topics.names]
    selectors += [_PT.TopicSelector(topic_name_prefix=prefix) for prefix in topics.prefixes]
    return [entry(topic_selector=selector) for selector in selectors]


def _cache_entries(items: CacheGrant, *, beside_topics: bool) -> list[Any]:
    role, cache = _role(_CACHE_ROLES, items.role), _PT.CacheSelector(cache_name=items.cache)

    def entry(**which: Any) -> Any:
        return _PT(cache_permissions=_PT.CachePermissions(role=role, cache_selector=cache, **which))

    if items.all_items:
        return [entry()] if beside_topics else [entry(all_items=_PT.All())]
    if beside_topics:
        raise ValueError("topics and key-scoped cache items cannot be minted in one token")
    selectors = [_PT.CacheItemSelector(key=key.encode()) for key in items.keys]
    selectors += [_PT.CacheItemSelector(key_prefix=prefix.encode()) for prefix in items.key_prefixes]
    return [entry(item_selector=selector) for selector in selectors]


def _role(roles: dict[str, Any], name: str) -> Any:
    if name not in roles:
        raise ValueError(f"unknown role {name!r}")
    return roles[name]


def parse_answer(data: bytes) -> WireToken:
    """The token service's answer; ValueError if it is not a usable token (undecodable, or a field missing)."""
    try:
        answer = token_pb2._GenerateDisposableTokenResponse.FromString(data)
    except DecodeError:
        raise ValueError("the answer is not a GenerateDisposableTokenResponse") from None
    if not answer.api_key or not answer.endpoint or answer.valid_until <= 0:
        raise ValueError("the answer lacks a key, an endpoint or an expiry")
    return WireToken(disposable_token(answer.api_key, answer.endpoint), answer.endpoint, int(answer.valid_until))


def disposable_token(api_key: str, endpoint: str) -> str:
    """The token clients are given: base64 of JSON {endpoint, api_key}, byte for byte as momento 1.29.1 builds it
    (`GenerateDisposableToken.Success.from_grpc_response`), so `CredentialProvider.from_disposable_token` reads it."""
    return base64.b64encode(json.dumps({"endpoint": endpoint, "api_key": api_key}).encode("utf-8")).decode("utf-8")
