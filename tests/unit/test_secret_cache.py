"""momento_tvm.secret_cache.SecretCache: the vending Lambda's key cache (fetch, max age, retry-after, clock), with a
fetch and a clock of the test's own: no AWS here (tests/integration/test_vending_function.py runs it against moto)."""

from __future__ import annotations

import pytest

from momento_tvm.secret_cache import CachedSecret, SecretCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Store:
    """A secret store the test controls: its values, whether it is down, and every read."""

    def __init__(self) -> None:
        self.values = {"key": "k1"}
        self.down = False
        self.reads: list[str] = []

    def fetch(self, name: str) -> str:
        self.reads.append(name)
        if self.down:
            raise TimeoutError("the store did not answer")
        return self.values[name]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def cache(store: Store, clock: Clock) -> SecretCache:
    return SecretCache(store.fetch, max_age=300, retry_after=5, clock=clock)


def test_a_value_is_read_once_per_max_age(cache: SecretCache, store: Store, clock: Clock) -> None:
    assert cache.get("key") == "k1"
    store.values["key"] = "k2"  # rotated
    clock.now += 299.9
    assert cache.get("key") == "k1"
    assert store.reads == ["key"]
    clock.now += 0.1
    assert cache.get("key") == "k2"
    assert store.reads == ["key", "key"]


def test_names_are_cached_apart(cache: SecretCache, store: Store) -> None:
    store.values["other"] = "o1"
    assert (cache.get("key"), cache.get("other"), cache.get("key")) == ("k1", "o1", "k1")
    assert store.reads == ["key", "other"]


def test_a_failed_refresh_serves_the_last_value_and_waits_retry_after(
    cache: SecretCache, store: Store, clock: Clock
) -> None:
    cache.get("key")
    store.down = True
    clock.now += 300
    assert cache.get("key") == "k1"  # the refresh failed: the last value serves
    assert cache.get("key") == "k1"
    clock.now += 4.9
    assert cache.get("key") == "k1"
    assert len(store.reads) == 2  # no read while the retry waits
    clock.now += 0.1
    assert cache.get("key") == "k1"
    assert len(store.reads) == 3  # tried again, failed again
    store.down = False
    store.values["key"] = "k2"
    clock.now += 5
    assert cache.get("key") == "k2"  # back: the new value at once, kept max_age again
    clock.now += 299
    assert cache.get("key") == "k2"
    assert len(store.reads) == 4


def test_with_no_value_yet_every_failure_is_raised_and_retried(cache: SecretCache, store: Store) -> None:
    store.down = True
    for _ in range(3):
        with pytest.raises(TimeoutError):
            cache.get("key")
    assert store.reads == ["key"] * 3  # nothing cached, not even the failure
    store.down = False
    assert cache.get("key") == "k1"


def test_clear_cache_forgets_every_value(cache: SecretCache, store: Store) -> None:
    cache.get("key")
    cache.clear_cache()
    assert cache.store == {}
    store.down = True
    with pytest.raises(TimeoutError):
        cache.get("key")  # no last value to fall back on


def test_no_repr_shows_a_value(cache: SecretCache, store: Store) -> None:
    store.values["key"] = "s3cr3t-api-key"
    cache.get("key")
    assert "s3cr3t" not in repr(cache)
    assert "s3cr3t" not in repr(cache.store)
    assert "s3cr3t" not in repr(CachedSecret("s3cr3t", 1.0))
