"""The emulator's state and rules in one place, with no I/O: tokens, topics, caches and the permission check.

Both transports (native gRPC and grpc-web) authenticate the caller here and then call the method named after the
RPC (`Publish` -> `publish`), so one permission check serves every port. Order of checks, as Momento answers:
authentication (UNAUTHENTICATED), then, on the token service, the account's auth quota when one is set
(RESOURCE_EXHAUSTED), then argument shape (INVALID_ARGUMENT), then scope (PERMISSION_DENIED), then existence
(NOT_FOUND): a caller learns nothing about caches outside its scope.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .broker import Subscription, TopicBroker, TopicMessage
from .cache import CacheStore
from .errors import AuthQuotaExceededError, InvalidArgumentError, NotFoundError, PermissionDeniedError
from .permissions import CacheOp, Scope, TopicOp
from .quota import RateQuota
from .tokens import DEFAULT_API_KEY, DEFAULT_MAX_TOKEN_TTL_SECONDS, Principal, TokenAuthority

__all__ = ["DEFAULT_MAX_MESSAGE_BYTES", "EmulatorConfig", "EmulatorCore"]

DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class EmulatorConfig:
    """Behaviour settings (ports and hosts belong to the server, not here)."""

    api_key: str = DEFAULT_API_KEY
    endpoint: str = ""  # empty: the server fills in its own gRPC address
    max_token_ttl_seconds: int = DEFAULT_MAX_TOKEN_TTL_SECONDS  # 25 h, as Momento's TVM example states
    caches: tuple[str, ...] = ()
    heartbeat_interval_seconds: float = 5.0
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    topic_history_size: int = 1024
    subscriber_queue_size: int = 8192
    # Momento's auth quota for the account: token-service calls per second (quota.py); None: no quota (the default).
    auth_quota: float | None = None


class EmulatorCore:
    def __init__(
        self,
        config: EmulatorConfig,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if config.auth_quota is not None and not config.auth_quota > 0:
            raise ValueError("auth_quota must be a positive number of calls per second, or None")
        self.config = config
        self._clock = clock
        self._monotonic = monotonic
        self.tokens = TokenAuthority(config.api_key, config.max_token_ttl_seconds, clock)
        self.reset()

    def reset(self) -> None:
        """Back to the start state: the configured caches, empty; a new topic sequence page; a full auth quota."""
        self.broker = TopicBroker(self.config.topic_history_size, self.config.subscriber_queue_size)
        self.caches = CacheStore()
        for name in self.config.caches:
            self.caches.create_cache(name)
        quota = self.config.auth_quota
        self.auth_quota = None if quota is None else RateQuota(quota, self._monotonic)

    def now(self) -> float:
        return self._clock()

    # --- token service ---------------------------------------------------------------------------------------
    def authenticate(self, key: str) -> Principal:
        return self.tokens.authenticate(key)

    def spend_auth_operation(self) -> None:
        """One authenticated call to the token service, counted against the account's auth quota (when set), whatever
        its outcome after this: RESOURCE_EXHAUSTED over it, as Momento answers."""
        if self.auth_quota is not None and not self.auth_quota.take():
            raise AuthQuotaExceededError(self.auth_quota.per_second)

    def generate_disposable_token(
        self, caller: Principal, scope: Scope, valid_for_seconds: int, token_id: str
    ) -> tuple[str, str, int]:
        """(api_key, endpoint, valid_until)."""
        api_key, valid_until = self.tokens.mint(caller, scope, valid_for_seconds, token_id)
        return api_key, self.config.endpoint, valid_until

    # --- topics ----------------------------------------------------------------------------------------------
    def publish(
        self, caller: Principal, cache: str, topic: str, *, text: str | None = None, binary: bytes | None = None
    ) -> TopicMessage:
        _require_names(cache, topic)
        if text is None and binary is None:
            raise InvalidArgumentError("a topic value must be text or binary")
        size = len(text.encode("utf-8")) if text is not None else len(binary or b"")
        self._check_size(size)
        if not caller.scope.allows_topic(TopicOp.PUBLISH, cache, topic):
            raise PermissionDeniedError(f"the token may not publish to topic '{topic}' in cache '{cache}'")
        self.caches.require(cache)
        return self.broker.publish(cache, topic, caller.token_id, text=text, binary=binary)

    def subscribe(self, caller: Principal, cache: str, topic: str, resume_at: int = 0, page: int = 0) -> Subscription:
        _require_names(cache, topic)
        if not caller.scope.allows_topic(TopicOp.SUBSCRIBE, cache, topic):
            raise PermissionDeniedError(f"the token may not subscribe to topic '{topic}' in cache '{cache}'")
        self.caches.require(cache)
        return self.broker.subscribe(cache, topic, resume_at, page)

    # --- cache data plane ------------------------------------------------------------------------------------
    def get(self, caller: Principal, cache: str, key: bytes) -> bytes | None:
        self._check_item(caller, CacheOp.READ, cache, key)
        return self.caches.get(cache, key)

    def set(self, caller: Principal, cache: str, key: bytes, value: bytes, ttl_milliseconds: int) -> None:
        self._check_size(len(key) + len(value))
        self._check_item(caller, CacheOp.WRITE, cache, key)
        self.caches.set(cache, key, value, ttl_milliseconds)

    def delete(self, caller: Principal, cache: str, key: bytes) -> None:
        self._check_item(caller, CacheOp.WRITE, cache, key)
        self.caches.delete(cache, key)

    def _check_item(self, caller: Principal, op: CacheOp, cache: str, key: bytes) -> None:
        if not cache:
            raise InvalidArgumentError("missing cache name (the 'cache' metadata header)")
        if not key:
            raise InvalidArgumentError("the cache key must not be empty")
        if not caller.scope.allows_cache(op, cache, key):
            raise PermissionDeniedError(f"the token may not {op.value} this item in cache '{cache}'")
        self.caches.require(cache)

    # --- control plane (API keys only) -----------------------------------------------------------------------
    def create_cache(self, caller: Principal, name: str) -> None:
        _require_root(caller)
        self.caches.create_cache(name)

    def delete_cache(self, caller: Principal, name: str) -> None:
        _require_root(caller)
        self.caches.delete_cache(name)
        self.broker.drop_cache(name, NotFoundError(f"cache not found: {name}"))

    def list_caches(self, caller: Principal) -> list[str]:
        _require_root(caller)
        return self.caches.list_caches()

    def _check_size(self, size: int) -> None:
        if size > self.config.max_message_bytes:
            raise InvalidArgumentError(f"value of {size} bytes is over the limit of {self.config.max_message_bytes}")


def _require_names(cache: str, topic: str) -> None:
    if not cache:
        raise InvalidArgumentError("cache name must not be empty")
    if not topic:
        raise InvalidArgumentError("topic name must not be empty")


def _require_root(caller: Principal) -> None:
    if not caller.is_root:
        raise PermissionDeniedError("control-plane calls need an API key; disposable tokens are data-plane only")
