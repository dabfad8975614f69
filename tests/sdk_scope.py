"""The project's grant as the momento SDK's scope objects (the SDK-based minter's old code).

The vending path no longer imports the SDK: tests/functional/test_mint_request_bytes.py mints the same grant with the
SDK and with our minter and compares the request bytes, and bench/bench.py's warm row times the raw SDK mint.
"""

from __future__ import annotations

from typing import Any

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

from momento_tvm import Grant


def to_sdk_scope(grant: Grant) -> DisposableTokenScope:
    """The grant as the SDK's scope objects, as the SDK-based minter built them (moved here from minting.py)."""
    permissions: list[Any] = []
    if grant.topics is not None:
        assert not grant.topics.prefixes, "the SDK cannot express topic-name prefixes"
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
