"""A small in-memory cache service: named caches of bytes -> bytes with per-item TTL.

Only what the emulator's clients use: create, list and delete caches; get, set and delete items. Expired items are
dropped when read, and swept when a cache grows past `max_items` (oldest expiry first), so memory stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .errors import AlreadyExistsError, InvalidArgumentError, NotFoundError

__all__ = ["CacheStore"]


@dataclass
class _Cache:
    items: dict[bytes, tuple[bytes, float]] = field(default_factory=dict)


class CacheStore:
    def __init__(self, max_items_per_cache: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._caches: dict[str, _Cache] = {}
        self._max_items = max_items_per_cache
        self._clock = clock

    def create_cache(self, name: str) -> None:
        _check_cache_name(name)
        if name in self._caches:
            raise AlreadyExistsError(f"cache already exists: {name}")
        self._caches[name] = _Cache()

    def delete_cache(self, name: str) -> None:
        if self._caches.pop(name, None) is None:
            raise NotFoundError(f"cache not found: {name}")

    def list_caches(self) -> list[str]:
        return sorted(self._caches)

    def exists(self, name: str) -> bool:
        return name in self._caches

    def require(self, name: str) -> None:
        if name not in self._caches:
            raise NotFoundError(f"cache not found: {name}")

    def get(self, name: str, key: bytes) -> bytes | None:
        cache = self._get_cache(name)
        entry = cache.items.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires <= self._clock():
            del cache.items[key]
            return None
        return value

    def set(self, name: str, key: bytes, value: bytes, ttl_milliseconds: int) -> None:
        if ttl_milliseconds <= 0:
            raise InvalidArgumentError("ttl_milliseconds must be greater than zero")
        cache = self._get_cache(name)
        if key not in cache.items and len(cache.items) >= self._max_items:
            self._evict(cache)
        cache.items[key] = (value, self._clock() + ttl_milliseconds / 1000)

    def delete(self, name: str, key: bytes) -> None:
        self._get_cache(name).items.pop(key, None)

    def _get_cache(self, name: str) -> _Cache:
        cache = self._caches.get(name)
        if cache is None:
            raise NotFoundError(f"cache not found: {name}")
        return cache

    def _evict(self, cache: _Cache) -> None:
        now = self._clock()
        for key in [k for k, (_, exp) in cache.items.items() if exp <= now]:
            del cache.items[key]
        if len(cache.items) >= self._max_items:
            soonest = min(cache.items, key=lambda k: cache.items[k][1])
            del cache.items[soonest]


def _check_cache_name(name: str) -> None:
    if not name or len(name) > 255 or not name.isprintable():
        raise InvalidArgumentError("cache name must be 1 to 255 printable characters")
