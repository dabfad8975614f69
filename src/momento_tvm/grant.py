"""The decision: identity + request + policy -> the exact scope and TTL to mint, or a typed refusal.

Pure: no I/O, no clock, no AWS, no Momento. `GET /token/explain` and `GET /token` both call `decide`, so what explain
says is what would be minted. Granted = allowed by the caller's tier ∩ requested by the caller.

A tier's trailing-`*` topic pattern (`room-*`) is minted as one `topic_name_prefix` permission, which Momento's wire
protocol and service honour though no SDK can request it (minting.py speaks the wire itself): a request naming no
topics gets the tier's patterns, so one token covers every room. A request naming exact topics (or a narrower
prefix, `room-a*`) still narrows to them. The policy's `topic_patterns: exact` mints exact names only, the subset
every SDK can express.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequestError, ScopeDeniedError
from .identity import Identity
from .identity import log_name as _log_name
from .policy import MIN_TTL_SECONDS, CacheRule, Policy, Tier, TopicRule

__all__ = ["CacheGrant", "Grant", "TokenRequest", "TopicGrant", "decide"]

MAX_REQUESTED_NAMES = 50


@dataclass(frozen=True)
class TokenRequest:
    """What the caller asks for. Naming topics or cache items asks for those only; naming neither asks for
    everything the tier allows that can be minted."""

    topics: tuple[str, ...] | None = None
    cache_items: tuple[str, ...] | None = None
    ttl_seconds: int | None = None


@dataclass(frozen=True)
class TopicGrant:
    role: str
    cache: str
    all_topics: bool = False
    names: tuple[str, ...] = ()
    # Topic-name prefixes, minted as `topic_name_prefix` (wire.py): `room-` covers every topic starting with it.
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheGrant:
    role: str
    cache: str
    all_items: bool = False
    keys: tuple[str, ...] = ()
    key_prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grant:
    token_id: str
    tier: str
    rule: str
    cache_name: str
    ttl_seconds: int
    topics: TopicGrant | None
    cache: CacheGrant | None
    # The control channel's subjects this token may subscribe to (momento_tvm.control: `user#alice`, `tier#...`,
    # `all`), each minted as a subscribe-only topic in `cache_name` whose opaque name the minter derives from its key.
    # Empty: none (the machine's control_topics off, or a token of key-scoped cache items, which cannot hold topics).
    control: tuple[str, ...] = ()

    def scope_json(self) -> dict[str, Any]:
        """The documented `scope` object of the API's responses (docs/api.md)."""
        topics = None
        if self.topics is not None:
            topics = {
                "role": self.topics.role,
                "cache": self.topics.cache,
                "all": self.topics.all_topics,
                "names": list(self.topics.names),
                "prefixes": list(self.topics.prefixes),
            }
        cache = None
        if self.cache is not None:
            cache = {
                "role": self.cache.role,
                "cache": self.cache.cache,
                "all": self.cache.all_items,
                "keys": list(self.cache.keys),
                "keyPrefixes": list(self.cache.key_prefixes),
            }
        return {"tier": self.tier, "cache": self.cache_name, "topics": topics, "cacheItems": cache}

    @property
    def log_name(self) -> str:
        """The holder as log lines name it: a verified username as it is, a guest as `guest#<hash>` (identity.py)."""
        return _log_name(self.token_id)

    def digest(self) -> str:
        """A short fingerprint of the scope for the issuance log (the scope can be long; the token is never logged)."""
        canonical = json.dumps([self.token_id, self.scope_json(), self.ttl_seconds], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def decide(
    policy: Policy, identity: Identity, request: TokenRequest, *, cache_name: str, max_ttl_seconds: int
) -> Grant:
    """The grant, for `identity` as given: `VendingMachine` checks the identity first (`checked_identity`). Whatever
    the username holds, it only ever fills `{username}` in patterns already read as exact or prefix (`_Patterns`)."""
    tier, rule = _tier_for(policy, identity)
    ttl = _ttl(tier, request.ttl_seconds, max_ttl_seconds)
    # A request that names topics or cache items asks for those only; a request naming neither asks for everything.
    narrowed = request.topics is not None or request.cache_items is not None
    topics = cache = None
    if tier.topics is not None and (not narrowed or request.topics is not None):
        topics = _topics(
            tier.topics, identity, request.topics, tier.topics.cache_name or cache_name, policy.mints_topic_prefixes
        )
    if tier.cache is not None and (not narrowed or request.cache_items is not None):
        cache = _cache(tier.cache, identity, request.cache_items, tier.cache.cache_name or cache_name)
    if topics is None and cache is None:
        raise ScopeDeniedError(_nothing_granted(tier, request, policy.mints_topic_prefixes))
    if topics is not None and cache is not None and not cache.all_items:
        raise InvalidRequestError(
            "Momento cannot mint topics and key-scoped cache items in one token: request them in separate tokens"
        )
    return Grant(identity.username, tier.name, rule, cache_name, ttl, topics, cache)


def _tier_for(policy: Policy, identity: Identity) -> tuple[Tier, str]:
    if not identity.verified:
        if policy.anonymous_tier is None:
            raise ScopeDeniedError("anonymous callers get no tier in this deployment's policy")
        return policy.tiers[policy.anonymous_tier], f"anonymous_tier -> tier '{policy.anonymous_tier}'"
    for rule in policy.groups:
        if rule.group in identity.groups:
            return policy.tiers[rule.tier], rule.describe()
    if policy.default_tier is None:
        raise ScopeDeniedError("none of the caller's groups has a tier in this deployment's policy")
    return policy.tiers[policy.default_tier], f"default_tier -> tier '{policy.default_tier}'"


def _ttl(tier: Tier, requested: int | None, deployment_max: int) -> int:
    ceiling = min(tier.max_ttl_seconds, deployment_max)
    if requested is None:
        return min(tier.ttl_seconds, ceiling)
    if not MIN_TTL_SECONDS <= requested <= ceiling:
        raise InvalidRequestError(f"ttlSeconds must be between {MIN_TTL_SECONDS} and {ceiling} for this caller")
    return requested


@dataclass(frozen=True)
class _Patterns:
    """Expanded patterns: everything, exact names, and prefixes."""

    everything: bool
    exact: tuple[str, ...]
    prefixes: tuple[str, ...]

    @classmethod
    def expand(cls, patterns: tuple[str, ...], identity: Identity) -> _Patterns:
        """Each pattern is read as written (`*`, a trailing-`*` prefix, or exact) before `{username}` is filled in,
        so the username is only ever literal text: `*` or `al*` as a username make neither everything nor a prefix."""
        everything = False
        exact: list[str] = []
        prefixes: list[str] = []
        for pattern in patterns:
            if pattern == "*":
                everything = True
            elif pattern.endswith("*"):
                prefixes.append(_filled(pattern[:-1], identity))
            else:
                exact.append(_filled(pattern, identity))
        return cls(everything, tuple(exact), tuple(prefixes))

    def allows_name(self, name: str) -> bool:
        return self.everything or name in self.exact or any(name.startswith(p) for p in self.prefixes)

    def allows_prefix(self, prefix: str) -> bool:
        return self.everything or any(prefix.startswith(p) for p in self.prefixes)


def _filled(pattern: str, identity: Identity) -> str:
    """`{username}` replaced by the identity's token id, in one pass (a username holding `{username}` stays as is)."""
    return pattern.replace("{username}", identity.username)


def _checked_names(names: tuple[str, ...], what: str) -> tuple[str, ...]:
    if len(names) > MAX_REQUESTED_NAMES:
        raise InvalidRequestError(f"at most {MAX_REQUESTED_NAMES} {what} may be requested")
    for name in names:
        if not name or len(name) > 256 or not name.isprintable():
            raise InvalidRequestError(f"{what} must be 1 to 256 printable characters")
    return tuple(dict.fromkeys(names))


def _topics(
    rule: TopicRule, identity: Identity, requested: tuple[str, ...] | None, cache: str, mint_prefixes: bool
) -> TopicGrant | None:
    allowed = _Patterns.expand(rule.names, identity)
    if requested is None:
        if allowed.everything:
            return TopicGrant(rule.role, cache, all_topics=True)
        prefixes = allowed.prefixes if mint_prefixes else ()
        return (
            TopicGrant(rule.role, cache, names=allowed.exact, prefixes=prefixes) if allowed.exact or prefixes else None
        )
    wanted = _checked_names(requested, "topics")
    patterns = [n for n in wanted if "*" in n]
    if patterns and not mint_prefixes:
        raise InvalidRequestError("topics are exact names; patterns such as 'room-*' cannot be requested")
    if any(p == "*" or "*" in p[:-1] for p in patterns):
        raise InvalidRequestError("a topic pattern is a prefix with one trailing '*', such as 'room-*'")
    names = tuple(n for n in wanted if "*" not in n and allowed.allows_name(n))
    prefixes = tuple(p[:-1] for p in patterns if allowed.allows_prefix(p[:-1]))
    return TopicGrant(rule.role, cache, names=names, prefixes=prefixes) if names or prefixes else None


def _cache(rule: CacheRule, identity: Identity, requested: tuple[str, ...] | None, cache: str) -> CacheGrant | None:
    allowed = _Patterns.expand(rule.items, identity)
    if requested is None:
        if allowed.everything:
            return CacheGrant(rule.role, cache, all_items=True)
        return CacheGrant(rule.role, cache, keys=allowed.exact, key_prefixes=allowed.prefixes)
    wanted = _checked_names(requested, "cache items")
    keys = tuple(k for k in wanted if not k.endswith("*") and allowed.allows_name(k))
    prefixes = tuple(p[:-1] for p in wanted if p.endswith("*") and p != "*" and allowed.allows_prefix(p[:-1]))
    if "*" in wanted and allowed.everything:
        return CacheGrant(rule.role, cache, all_items=True)
    return CacheGrant(rule.role, cache, keys=keys, key_prefixes=prefixes) if keys or prefixes else None


def _nothing_granted(tier: Tier, request: TokenRequest, mint_prefixes: bool) -> str:
    if (
        not mint_prefixes
        and tier.topics is not None
        and request.topics is None
        and all(n.endswith("*") for n in tier.topics.names)
    ):
        return (
            f"tier '{tier.name}' allows topics by pattern ({', '.join(tier.topics.names)}) and this deployment mints "
            "exact names only (topic_patterns: exact): name the topics you want (?topics=a,b)"
        )
    return f"tier '{tier.name}' allows none of the requested topics or cache items"
