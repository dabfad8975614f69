"""Minting: the one seam between the decision and Momento.

`Minter` is a one-method protocol. `MomentoMinter` mints with the real `momento` SDK (imported lazily: it costs
about 140 ms of cold start, and `GET /token/explain` never needs it). Tests use it against the local emulator.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import UpstreamUnavailableError
from .grant import Grant

__all__ = ["MintedToken", "Minter", "MomentoMinter", "is_local_endpoint"]


@dataclass(frozen=True)
class MintedToken:
    auth_token: str
    expires_at: int
    endpoint: str


class Minter(Protocol):
    def mint(self, grant: Grant) -> MintedToken: ...


def is_local_endpoint(endpoint: str) -> bool:
    """An endpoint with an explicit port other than 443 is a local emulator, reached in plaintext."""
    host, _, port = endpoint.rpartition(":")
    return bool(host) and port.isdigit() and int(port) != 443


class MomentoMinter:
    """Mints disposable tokens with `AuthClient` (built once, on first use, and kept for the container's life)."""

    def __init__(self, api_key: str, endpoint: str) -> None:
        self._api_key = api_key
        self._endpoint = endpoint
        self._client: Any = None
        self._lock = threading.Lock()

    def uses(self, api_key: str) -> bool:
        """Whether this minter was built for `api_key` (constant time: it is a secret)."""
        return hmac.compare_digest(self._api_key.encode(), api_key.encode())

    def _auth_client(self) -> Any:
        with self._lock:
            if self._client is None:
                from momento import AuthClient, CredentialProvider
                from momento.config.auth_configurations import AuthConfigurations

                if is_local_endpoint(self._endpoint):
                    host, _, port = self._endpoint.rpartition(":")
                    provider = CredentialProvider(self._api_key, host, host, host, int(port))
                else:
                    provider = CredentialProvider.from_api_key_v2(self._api_key, self._endpoint)
                self._client = AuthClient(AuthConfigurations.Lambda.latest(), provider)
            return self._client

    def mint(self, grant: Grant) -> MintedToken:
        from momento.auth.access_control.disposable_token_scope import DisposableTokenProps
        from momento.responses import GenerateDisposableToken
        from momento.utilities import ExpiresIn

        try:
            client = self._auth_client()
        except Exception as error:  # a malformed key or endpoint: our configuration, not the caller's fault
            raise UpstreamUnavailableError(f"cannot create the Momento client ({type(error).__name__})") from None
        response = client.generate_disposable_token(
            to_sdk_scope(grant), ExpiresIn.seconds(grant.ttl_seconds), DisposableTokenProps(token_id=grant.token_id)
        )
        if isinstance(response, GenerateDisposableToken.Success):
            return MintedToken(response.auth_token, int(response.expires_at.epoch()), self._endpoint)
        code = getattr(getattr(response, "error_code", None), "name", "UNKNOWN")
        raise UpstreamUnavailableError(f"Momento refused to mint a token ({code})")


def to_sdk_scope(grant: Grant) -> Any:
    """The grant as the SDK's scope objects: one permission per topic name, key or key prefix.

    The SDK has two scope shapes and cannot mix them: `Permissions` (topics, whole caches) and
    `DisposableTokenCachePermissions` (key-scoped cache items). The policy loader refuses tiers that would need both.
    """
    from momento.auth.access_control.disposable_token_scope import (
        AllCacheItems,
        CacheItemKey,
        CacheItemKeyPrefix,
        CacheItemSelector,
        DisposableTokenCachePermission,
        DisposableTokenCachePermissions,
        DisposableTokenScope,
    )
    from momento.auth.access_control.permission_scope import (
        AllTopics,
        CachePermission,
        CacheRole,
        CacheSelector,
        Permissions,
        TopicName,
        TopicPermission,
        TopicRole,
        TopicSelector,
    )

    permissions: list[Any] = []
    if grant.topics is not None:
        role = TopicRole(grant.topics.role)
        cache = CacheSelector(grant.topics.cache)
        topics: list[Any] = [AllTopics()] if grant.topics.all_topics else [TopicName(n) for n in grant.topics.names]
        permissions += [TopicPermission(role, cache, TopicSelector(t)) for t in topics]
    items = grant.cache
    if items is not None:
        cache = CacheSelector(items.cache)
    if items is not None and not items.all_items:
        if permissions:
            raise ValueError("topics and key-scoped cache items cannot be minted in one token")
        selectors: list[Any] = [CacheItemKey(k) for k in items.keys]
        selectors += [CacheItemKeyPrefix(p) for p in items.key_prefixes]
        cache_role = CacheRole(items.role)
        return DisposableTokenScope(
            DisposableTokenCachePermissions(
                [DisposableTokenCachePermission(cache, cache_role, CacheItemSelector(s)) for s in selectors]
            )
        )
    if items is not None:
        if not permissions:
            return DisposableTokenScope(
                DisposableTokenCachePermissions(
                    [DisposableTokenCachePermission(cache, CacheRole(items.role), CacheItemSelector(AllCacheItems()))]
                )
            )
        permissions.append(CachePermission(cache, CacheRole(items.role)))
    return DisposableTokenScope(Permissions(permissions))
