"""Momento's RPCs over the core: protobuf in, protobuf out, shared by both transports.

Each RPC is one entry in `MomentoService.methods()`, keyed by its gRPC path. A transport only has to frame bytes and
hand over the call's metadata (lowercased header names); everything Momento-specific (which header carries the key,
the heartbeat rules, how scopes are read off the wire) lives here, once.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message
from momento_wire_types.generated import (
    cacheclient_pb2,
    cachepubsub_pb2,
    common_pb2,
    controlclient_pb2,
    permissionmessages_pb2,
    token_pb2,
)

from .broker import Discontinuity, TopicMessage
from .core import EmulatorCore
from .errors import InvalidArgumentError, UnauthenticatedError
from .permissions import CacheGrant, CacheRole, Scope, TopicGrant, TopicRole
from .tokens import Principal

__all__ = ["Method", "MomentoService", "scope_from_proto"]

Metadata = Mapping[str, str]
UnaryHandler = Callable[[Any, Metadata], Awaitable[Message]]
StreamHandler = Callable[[Any, Metadata], AsyncGenerator[bytes, None]]  # yields serialized messages


@dataclass(frozen=True)
class Method:
    """One RPC: its request type, and a unary or a server-streaming handler."""

    path: str
    request_type: type[Message]
    unary: UnaryHandler | None = None
    stream: StreamHandler | None = None

    def parse(self, data: bytes) -> Any:
        try:
            return self.request_type.FromString(data)
        except (DecodeError, ValueError, RecursionError):
            raise InvalidArgumentError(f"malformed {self.request_type.DESCRIPTOR.name} message") from None


class MomentoService:
    def __init__(self, core: EmulatorCore, clock: Callable[[], float] = time.monotonic) -> None:
        self.core = core
        self._monotonic = clock

    def methods(self) -> dict[str, Method]:
        pubsub = "/cache_client.pubsub.Pubsub/"
        scs = "/cache_client.Scs/"
        control = "/control_client.ScsControl/"
        table = [
            Method("/token.Token/GenerateDisposableToken", token_pb2._GenerateDisposableTokenRequest, self.vend),
            Method(pubsub + "Publish", cachepubsub_pb2._PublishRequest, self.publish),
            Method(pubsub + "Subscribe", cachepubsub_pb2._SubscriptionRequest, stream=self.subscribe),
            Method(scs + "Get", cacheclient_pb2._GetRequest, self.get),
            Method(scs + "Set", cacheclient_pb2._SetRequest, self.set),
            Method(scs + "Delete", cacheclient_pb2._DeleteRequest, self.delete),
            Method(control + "CreateCache", controlclient_pb2._CreateCacheRequest, self.create_cache),
            Method(control + "DeleteCache", controlclient_pb2._DeleteCacheRequest, self.delete_cache),
            Method(control + "ListCaches", controlclient_pb2._ListCachesRequest, self.list_caches),
        ]
        return {m.path: m for m in table}

    def _caller(self, metadata: Metadata) -> Principal:
        return self.core.authenticate(metadata.get("authorization", ""))

    # --- token.Token -------------------------------------------------------------------------------------------
    async def vend(self, request: Any, metadata: Metadata) -> Message:
        # The Python SDK sends the key as metadata and in the body; the Node SDK only in the body. Accept either,
        # refuse a request whose two copies disagree (which identity would it be?).
        header, body = metadata.get("authorization", ""), request.auth_token
        if header and body and header != body:
            raise UnauthenticatedError("the authorization header and the request's auth_token differ")
        caller = self.core.authenticate(header or body)
        self.core.spend_auth_operation()
        if not request.HasField("expires"):
            raise InvalidArgumentError("expires is required")
        scope = scope_from_proto(request.permissions) if request.HasField("permissions") else Scope()
        api_key, endpoint, valid_until = self.core.generate_disposable_token(
            caller, scope, request.expires.valid_for_seconds, request.token_id
        )
        return token_pb2._GenerateDisposableTokenResponse(api_key=api_key, endpoint=endpoint, valid_until=valid_until)

    # --- cache_client.pubsub.Pubsub ----------------------------------------------------------------------------
    async def publish(self, request: Any, metadata: Metadata) -> Message:
        caller = self._caller(metadata)
        kind = request.value.WhichOneof("kind")
        if kind is None:
            raise InvalidArgumentError("a topic value must be text or binary")
        value = {kind: getattr(request.value, kind)}
        self.core.publish(caller, request.cache_name, request.topic, **value)
        return common_pb2._Empty()

    async def subscribe(self, request: Any, metadata: Metadata) -> AsyncGenerator[bytes, None]:
        """Heartbeat first (the SDKs wait for it), then items, discontinuities and a heartbeat every interval.

        Yields serialized messages: a published item is encoded once (`_encoded`) however many subscribers get it.

        When the caller's disposable token expires, the stream ends with UNAUTHENTICATED (an error, never a
        graceful end: the Python SDK spins on a stream that ends normally).
        """
        caller = self._caller(metadata)
        subscription = self.core.subscribe(
            caller,
            request.cache_name,
            request.topic,
            request.resume_at_topic_sequence_number,
            request.sequence_page,
        )
        interval = self.core.config.heartbeat_interval_seconds
        heartbeat = _HEARTBEAT
        with subscription:
            yield heartbeat
            next_beat = self._monotonic() + interval
            while True:
                wait = next_beat - self._monotonic()
                left = caller.seconds_left(self.core.now())
                if left is not None:
                    if left <= 0:
                        raise UnauthenticatedError("the disposable token has expired")
                    wait = min(wait, left)
                event = await subscription.next(max(wait, 0.0))
                if event is not None:
                    yield _encoded(event)
                if self._monotonic() >= next_beat:
                    yield heartbeat
                    next_beat = self._monotonic() + interval

    # --- cache_client.Scs (the cache name travels in the `cache` header) ---------------------------------------
    async def get(self, request: Any, metadata: Metadata) -> Message:
        value = self.core.get(self._caller(metadata), metadata.get("cache", ""), request.cache_key)
        if value is None:
            return cacheclient_pb2._GetResponse(result=cacheclient_pb2.Miss)
        return cacheclient_pb2._GetResponse(result=cacheclient_pb2.Hit, cache_body=value)

    async def set(self, request: Any, metadata: Metadata) -> Message:
        self.core.set(
            self._caller(metadata),
            metadata.get("cache", ""),
            request.cache_key,
            request.cache_body,
            request.ttl_milliseconds,
        )
        return cacheclient_pb2._SetResponse(result=cacheclient_pb2.Ok)

    async def delete(self, request: Any, metadata: Metadata) -> Message:
        self.core.delete(self._caller(metadata), metadata.get("cache", ""), request.cache_key)
        return cacheclient_pb2._DeleteResponse()

    # --- control_client.ScsControl -----------------------------------------------------------------------------
    async def create_cache(self, request: Any, metadata: Metadata) -> Message:
        self.core.create_cache(self._caller(metadata), request.cache_name)
        return controlclient_pb2._CreateCacheResponse()

    async def delete_cache(self, request: Any, metadata: Metadata) -> Message:
        self.core.delete_cache(self._caller(metadata), request.cache_name)
        return controlclient_pb2._DeleteCacheResponse()

    async def list_caches(self, request: Any, metadata: Metadata) -> Message:
        names = self.core.list_caches(self._caller(metadata))
        return controlclient_pb2._ListCachesResponse(cache=[controlclient_pb2._Cache(cache_name=n) for n in names])


_HEARTBEAT = cachepubsub_pb2._SubscriptionItem(heartbeat=cachepubsub_pb2._Heartbeat()).SerializeToString()


@functools.lru_cache(maxsize=256)  # fan-out happens right after a publish: a short memory suffices
def _encoded(event: TopicMessage | Discontinuity) -> bytes:
    """The serialized item, shared by every subscriber of the same message (events are frozen and hashable)."""
    return _subscription_item(event).SerializeToString()


def _subscription_item(event: TopicMessage | Discontinuity) -> Message:
    if isinstance(event, Discontinuity):
        return cachepubsub_pb2._SubscriptionItem(
            discontinuity=cachepubsub_pb2._Discontinuity(
                last_topic_sequence=max(event.last_sequence, 0),
                new_topic_sequence=event.new_sequence,
                new_sequence_page=event.new_page,
            )
        )
    value = (
        cachepubsub_pb2._TopicValue(text=event.text)
        if event.text is not None
        else cachepubsub_pb2._TopicValue(binary=event.binary or b"")
    )
    return cachepubsub_pb2._SubscriptionItem(
        item=cachepubsub_pb2._TopicItem(
            topic_sequence_number=event.sequence,
            value=value,
            publisher_id=event.publisher_id,
            sequence_page=event.page,
        )
    )


_TOPIC_ROLES = {
    permissionmessages_pb2.TopicReadWrite: TopicRole.READ_WRITE,
    permissionmessages_pb2.TopicReadOnly: TopicRole.READ_ONLY,
    permissionmessages_pb2.TopicWriteOnly: TopicRole.WRITE_ONLY,
}
_CACHE_ROLES = {
    permissionmessages_pb2.CacheReadWrite: CacheRole.READ_WRITE,
    permissionmessages_pb2.CacheReadOnly: CacheRole.READ_ONLY,
    permissionmessages_pb2.CacheWriteOnly: CacheRole.WRITE_ONLY,
}


def scope_from_proto(permissions: Any) -> Scope:
    """Read `permission_messages.Permissions`; anything this emulator cannot enforce exactly is INVALID_ARGUMENT."""
    kind = permissions.WhichOneof("kind")
    if kind == "super_user":
        return Scope(super_user=True)
    if kind is None:
        return Scope()
    topics: list[TopicGrant] = []
    caches: list[CacheGrant] = []
    for entry in permissions.explicit.permissions:
        which = entry.WhichOneof("kind")
        if which == "topic_permissions":
            topics.append(_topic_grant(entry.topic_permissions))
        elif which == "cache_permissions":
            caches.append(_cache_grant(entry.cache_permissions))
        elif which == "function_permissions":
            raise InvalidArgumentError("function permissions are not supported by the emulator")
        else:
            raise InvalidArgumentError("a permission entry has no kind")
    return Scope(topics=tuple(topics), caches=tuple(caches))


def _cache_name(message: Any) -> str | None:
    which = message.WhichOneof("cache")
    if which == "all_caches":
        return None
    if which == "cache_selector" and message.cache_selector.WhichOneof("kind") == "cache_name":
        if not message.cache_selector.cache_name:
            raise InvalidArgumentError("a cache selector names an empty cache")
        return str(message.cache_selector.cache_name)
    raise InvalidArgumentError("a permission must select all caches or one cache by name")


def _topic_grant(message: Any) -> TopicGrant:
    role = _TOPIC_ROLES.get(message.role)
    if role is None:
        raise InvalidArgumentError("a topic permission needs a role")
    cache = _cache_name(message)
    which = message.WhichOneof("topic")
    if which == "all_topics":
        return TopicGrant(role, cache)
    selector = message.topic_selector.WhichOneof("kind") if which == "topic_selector" else None
    if selector == "topic_name" and message.topic_selector.topic_name:
        return TopicGrant(role, cache, topic=message.topic_selector.topic_name)
    if selector == "topic_name_prefix" and message.topic_selector.topic_name_prefix:
        return TopicGrant(role, cache, topic_prefix=message.topic_selector.topic_name_prefix)
    raise InvalidArgumentError("a topic permission must select all topics, a topic name or a name prefix")


def _cache_grant(message: Any) -> CacheGrant:
    role = _CACHE_ROLES.get(message.role)
    if role is None:
        raise InvalidArgumentError("a cache permission needs a role")
    cache = _cache_name(message)
    which = message.WhichOneof("cache_item")
    if which in (None, "all_items"):
        return CacheGrant(role, cache)
    selector = message.item_selector.WhichOneof("kind")
    if selector == "key" and message.item_selector.key:
        return CacheGrant(role, cache, key=message.item_selector.key)
    if selector == "key_prefix" and message.item_selector.key_prefix:
        return CacheGrant(role, cache, key_prefix=message.item_selector.key_prefix)
    raise InvalidArgumentError("a cache item selector must name a key or a key prefix")
