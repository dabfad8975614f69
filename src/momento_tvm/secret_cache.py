"""A secret cache shaped like Powertools' `SecretsProvider` (`get(name)`, a `max_age`, a `store`, `clear_cache()`),
with no boto3 and no AWS in it: the caller passes the `fetch`.

What it adds for a function on the request path: when a refresh fails, the last value read keeps serving and `fetch`
is not tried again for `retry_after` seconds, so an outage of the secret store does not add a timed-out read to every
request; with no value yet, the fetch's error is raised (every request then tries again). The `clock` is monotonic
(an expiry must not jump with the wall clock), and tests pass their own. Values never appear in a `repr`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CachedSecret", "SecretCache"]


class CachedSecret:
    """A value as read, when it goes stale, and (after a failed refresh) when the next fetch may be tried."""

    __slots__ = ("expires_at", "retry_at", "value")

    def __init__(self, value: str, expires_at: float, retry_at: float = 0.0) -> None:
        self.value = value
        self.expires_at = expires_at
        self.retry_at = retry_at

    def __repr__(self) -> str:
        return f"CachedSecret(value=<hidden>, expires_at={self.expires_at}, retry_at={self.retry_at})"


class SecretCache:
    """Secrets by name, each fetched at most once per `max_age` seconds while the fetch succeeds.

    Thread-safe enough for its use: two threads that miss at once both fetch, and the later value is kept.
    """

    def __init__(
        self,
        fetch: Callable[[str], str],
        *,
        max_age: float = 300.0,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.max_age = max_age
        self.retry_after = retry_after
        self.clock = clock
        self.store: dict[str, CachedSecret] = {}

    def get(self, name: str) -> str:
        """The value of `name`: the cached one while fresh (or while a failed refresh waits `retry_after`), else a
        fetch. A failed fetch serves the last value if there is one, and raises the fetch's error if not."""
        now = self.clock()
        cached = self.store.get(name)
        if cached is not None and (now < cached.expires_at or now < cached.retry_at):
            return cached.value
        try:
            value = self.fetch(name)
        except Exception:
            if cached is None:
                raise
            cached.retry_at = now + self.retry_after
            return cached.value
        self.store[name] = CachedSecret(value, now + self.max_age)
        return value

    def clear_cache(self) -> None:
        """Forget every value (a restored SnapStart snapshot; a test's fresh container)."""
        self.store.clear()

    def __repr__(self) -> str:
        return f"SecretCache(names={sorted(self.store)}, max_age={self.max_age}, retry_after={self.retry_after})"
