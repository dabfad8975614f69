"""Disposable-token scopes and the one permission check both transports use.

A scope is a list of grants. An operation is allowed when at least one grant matches its kind (topic or cache), its
role, its cache and its topic or key; nothing else is allowed. Cache grants never open topics and topic grants never
open the cache, as Momento documents. The model is plain data (no protobuf) so it can be stored inside a token and
tested on its own.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "CacheGrant",
    "CacheOp",
    "CacheRole",
    "Scope",
    "TopicGrant",
    "TopicOp",
    "TopicRole",
]


class TopicRole(Enum):
    """Topic roles, named as on the wire (`TopicReadWrite` = 1 ...)."""

    READ_WRITE = 1  # publish and subscribe
    READ_ONLY = 2  # subscribe
    WRITE_ONLY = 3  # publish


class CacheRole(Enum):
    """Cache roles, named as on the wire (`CacheReadWrite` = 1 ...)."""

    READ_WRITE = 1
    READ_ONLY = 2
    WRITE_ONLY = 3


class TopicOp(Enum):
    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"


class CacheOp(Enum):
    READ = "read"
    WRITE = "write"


_TOPIC_ROLE_ALLOWS = {
    TopicRole.READ_WRITE: {TopicOp.PUBLISH, TopicOp.SUBSCRIBE},
    TopicRole.READ_ONLY: {TopicOp.SUBSCRIBE},
    TopicRole.WRITE_ONLY: {TopicOp.PUBLISH},
}

_CACHE_ROLE_ALLOWS = {
    CacheRole.READ_WRITE: {CacheOp.READ, CacheOp.WRITE},
    CacheRole.READ_ONLY: {CacheOp.READ},
    CacheRole.WRITE_ONLY: {CacheOp.WRITE},
}


@dataclass(frozen=True)
class TopicGrant:
    """Topics a token may use. `cache` None = every cache; topic: all, one name, or a name prefix."""

    role: TopicRole
    cache: str | None = None
    topic: str | None = None
    topic_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.topic is not None and self.topic_prefix is not None:
            raise ValueError("a topic grant names a topic or a prefix, not both")

    def allows(self, op: TopicOp, cache: str, topic: str) -> bool:
        if op not in _TOPIC_ROLE_ALLOWS[self.role]:
            return False
        if self.cache is not None and self.cache != cache:
            return False
        if self.topic is not None:
            return self.topic == topic
        if self.topic_prefix is not None:
            return topic.startswith(self.topic_prefix)
        return True


@dataclass(frozen=True)
class CacheGrant:
    """Cache items a token may use. `cache` None = every cache; item: all, one key, or a key prefix."""

    role: CacheRole
    cache: str | None = None
    key: bytes | None = None
    key_prefix: bytes | None = None

    def __post_init__(self) -> None:
        if self.key is not None and self.key_prefix is not None:
            raise ValueError("a cache grant names a key or a prefix, not both")

    def allows(self, op: CacheOp, cache: str, key: bytes) -> bool:
        if op not in _CACHE_ROLE_ALLOWS[self.role]:
            return False
        if self.cache is not None and self.cache != cache:
            return False
        if self.key is not None:
            return self.key == key
        if self.key_prefix is not None:
            return key.startswith(self.key_prefix)
        return True


@dataclass(frozen=True)
class Scope:
    """What a credential may do. The root key is `super_user`: everything, including vending and control calls."""

    super_user: bool = False
    topics: tuple[TopicGrant, ...] = field(default_factory=tuple)
    caches: tuple[CacheGrant, ...] = field(default_factory=tuple)

    def allows_topic(self, op: TopicOp, cache: str, topic: str) -> bool:
        return self.super_user or any(g.allows(op, cache, topic) for g in self.topics)

    def allows_cache(self, op: CacheOp, cache: str, key: bytes) -> bool:
        return self.super_user or any(g.allows(op, cache, key) for g in self.caches)

    def is_empty(self) -> bool:
        return not self.super_user and not self.topics and not self.caches

    def to_json(self) -> dict[str, Any]:
        """A compact JSON form, stored inside the emulator's signed tokens."""
        return {
            "su": self.super_user,
            "t": [[g.role.value, g.cache, g.topic, g.topic_prefix] for g in self.topics],
            "c": [[g.role.value, g.cache, _b64(g.key), _b64(g.key_prefix)] for g in self.caches],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scope:
        return cls(
            super_user=bool(data["su"]),
            topics=tuple(TopicGrant(TopicRole(r), c, t, p) for r, c, t, p in data["t"]),
            caches=tuple(CacheGrant(CacheRole(r), c, _unb64(k), _unb64(p)) for r, c, k, p in data["c"]),
        )


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)
