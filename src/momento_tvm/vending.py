"""The vending machine: decide with the policy, mint with Momento, answer with typed results.

One class serves the Lambda handler (which passes a minter built from its Secrets Manager key), embedded apps (which
pass `MomentoSettings`) and tests. No AWS and no web framework here; parsing is in parsing.py, the HTTP contract in
http.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .control import all_subject, tier_subject, user_subject
from .errors import (
    LimiterUnavailableError,
    PolicyError,
    RateLimitedError,
    RevokedError,
    TierPausedError,
    TvmError,
    VendingPausedError,
)
from .grant import Grant, TokenRequest, decide
from .identity import Identity, checked_identity
from .limits import Allowance, InMemoryLimiter, Limiter, LimiterError, RateLimit, limit_key
from .minting import DEFAULT_DEADLINE_SECONDS, Minter, MomentoMinter
from .policy import MIN_TTL_SECONDS, Policy, load_policy, parse_policy
from .revocations import Block, Revocations, StoreError
from .settings import MomentoSettings

__all__ = ["Explanation", "VendedToken", "VendingMachine"]

DEFAULT_MAX_TTL_SECONDS = 3600


@dataclass(frozen=True)
class VendedToken:
    """A minted token and the grant it carries. `auth_token` is a credential: it is left out of `repr`, so logging
    this object never leaks it; `to_json()` is the API's documented answer (docs/api.md)."""

    auth_token: str = field(repr=False)
    expires_at: int
    endpoint: str
    grant: Grant
    # This server's clock when the token was minted (epoch seconds): the client's clock may be off, so it schedules
    # renewal from `expires_at - now`, not from its own clock.
    now: int
    # The issuance limit's answer for this mint (None: the tier has no limit), and the shared store's error code when
    # it could not be read (limits or revocations) and the machine let the request through (on_store_error="allow"):
    # for the log line.
    allowance: Allowance | None = None
    limiter_error: str | None = None
    # The token's control topics (momento_tvm.control), in `grant.cache_name`: the client listens there for an
    # operator's cut-off, obeying only messages with an empty publisher id.
    control_topics: tuple[str, ...] = ()

    @property
    def token_id(self) -> str:
        return self.grant.token_id

    @property
    def tier(self) -> str:
        return self.grant.tier

    def to_json(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "authToken": self.auth_token,
            "expiresAt": self.expires_at,
            "now": self.now,
            "tokenId": self.grant.token_id,
            "endpoint": self.endpoint,
            "scope": self.grant.scope_json(),
        }
        if self.control_topics:
            answer["control"] = {"cache": self.grant.cache_name, "topics": list(self.control_topics)}
        return answer


@dataclass(frozen=True)
class Explanation:
    """What `vend` would mint for the same caller and request, the policy rule that decided it, and the caller's
    issuance limit with what is left of it now (`allowance` None: the limiter could not tell)."""

    grant: Grant
    limit: RateLimit | None = None
    allowance: Allowance | None = None

    def to_json(self) -> dict[str, Any]:
        limits = None
        if self.limit is not None:
            left = self.allowance.to_json() if self.allowance else {"remaining": None, "retryAfterSeconds": None}
            limits = {**self.limit.to_json(), **left}
        return {
            "tokenId": self.grant.token_id,
            "rule": self.grant.rule,
            "ttlSeconds": self.grant.ttl_seconds,
            "scope": self.grant.scope_json(),
            "limits": limits,
        }


PolicySource = Policy | str | os.PathLike[str] | Mapping[str, Any]


class VendingMachine:
    """Mints Momento disposable tokens scoped by a tier policy. One per process; thread-safe.

    - `policy`: a `Policy`, a policy file's path, or the same document as a mapping (validated the same way).
    - `momento`: `MomentoSettings`, or a callable returning the `Minter` to use for each mint (the Lambda's, which
      follows a rotating key).
    - `cache_name`: the cache tokens are scoped to, unless a tier names its own.
    - `max_ttl_seconds`: the deployment's cap on every tier's lifetimes.
    - `limiter`: where the tiers' issuance limits are counted (momento_tvm.limits): a `DynamoDbLimiter` shared by
      every process, or by default an `InMemoryLimiter` of this machine's own (right for one process only).
    - `on_store_error`: when the limiter cannot decide, "allow" (the request goes through, and the token says so
      in `limiter_error`) or "refuse" (503 upstream_unavailable).
    - `case_insensitive_usernames`: count `Alice` and `alice` as one caller, as an identity provider that compares
      names without case does (a Cognito user pool).
    - `revocations`: where revoked users and paused tiers are kept (momento_tvm.revocations), checked on every vend
      and explain (`RevokedError`, `TierPausedError`, `VendingPausedError`: 403); None: nobody is ever blocked.
      Its store failing is handled as `on_store_error` says.
    - `control_topics`: every token (with topics, or a whole cache) may also subscribe to its holder's control
      topics (momento_tvm.control), where an operator's cut-off reaches the clients holding tokens; False: none.

    `vend`/`explain` raise the typed errors of `momento_tvm.errors` (`status` and `code` say what to answer);
    `avend`/`aexplain` are the same for asyncio code: the mint runs in a worker thread, never on the event loop.
    Every identity is checked first, whoever made it: one that cannot be a token id (`Identity("*")`, `guest`, a guest
    id `guest_identity` did not make) is `InvalidIdentityError` (401 `unauthenticated`), and nothing is minted.
    """

    def __init__(
        self,
        policy: PolicySource,
        momento: MomentoSettings | Callable[[], Minter],
        *,
        cache_name: str,
        max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
        mint_deadline_seconds: float = DEFAULT_DEADLINE_SECONDS,
        limiter: Limiter | None = None,
        on_store_error: str = "allow",
        case_insensitive_usernames: bool = False,
        revocations: Revocations | None = None,
        control_topics: bool = True,
    ) -> None:
        if not isinstance(cache_name, str) or not cache_name.strip():
            raise ValueError("cache_name must name a Momento cache")
        if type(max_ttl_seconds) is not int or max_ttl_seconds < MIN_TTL_SECONDS:
            raise ValueError(f"max_ttl_seconds must be an integer of at least {MIN_TTL_SECONDS}")
        if on_store_error not in ("allow", "refuse"):
            raise ValueError('on_store_error must be "allow" or "refuse"')
        self.policy = _policy(policy)
        self.cache_name = cache_name
        self.max_ttl_seconds = max_ttl_seconds
        self.limiter: Limiter = InMemoryLimiter() if limiter is None else limiter
        self.on_store_error = on_store_error
        self.case_insensitive_usernames = case_insensitive_usernames
        self.revocations = revocations
        self.control_topics = control_topics
        self._own_minter: MomentoMinter | None = None
        self._lock = threading.Lock()
        if isinstance(momento, MomentoSettings):
            settings = momento
            self._minter: Callable[[], Minter] = lambda: self._settings_minter(settings, mint_deadline_seconds)
        elif callable(momento):
            self._minter = momento
        else:
            raise TypeError("momento must be MomentoSettings or a callable returning a Minter")

    def decide(self, identity: Identity, request: TokenRequest | None = None) -> Grant:
        """The grant for this caller and request (pure: mints nothing). `InvalidIdentityError` for an identity that
        cannot be a token id (identity.checked_identity): the host's bug, refused before the policy is read."""
        checked = checked_identity(identity)
        grant = decide(
            self.policy,
            checked,
            request or TokenRequest(),
            cache_name=self.cache_name,
            max_ttl_seconds=self.max_ttl_seconds,
        )
        if not self.control_topics or (grant.topics is None and (grant.cache is None or not grant.cache.all_items)):
            return grant  # key-scoped cache items cannot sit beside topics in one token: no control channel
        subjects = [tier_subject(grant.tier), all_subject()]
        if checked.verified:
            subjects.insert(0, user_subject(self.limit_key(checked)))
        return dataclasses.replace(grant, control=tuple(subjects))

    def explain(
        self, identity: Identity, request: TokenRequest | None = None, *, source_ip: str | None = None
    ) -> Explanation:
        """The grant `vend` would mint, and the caller's limit with what is left of it (nothing is counted); the same
        refusal `vend` would give a revoked user or a paused tier."""
        grant = self.decide(identity, request)
        self._check_blocks(identity, grant, source_ip)
        limit = self.policy.tiers[grant.tier].limit
        if limit is None:
            return Explanation(grant)
        try:
            allowance: Allowance | None = self.limiter.peek(self.limit_key(identity, source_ip), limit)
        except LimiterError:
            allowance = None
        return Explanation(grant, limit, allowance)

    def vend(
        self, identity: Identity, request: TokenRequest | None = None, *, source_ip: str | None = None
    ) -> VendedToken:
        """Decide, count the mint against the caller's limit (`RateLimitedError`, a 429, over it), then mint within
        the minter's deadline (`UpstreamUnavailableError` past it; `QuotaExceededError`, a 429, when Momento refuses
        for the account's quota). `source_ip` is the caller's address: an anonymous caller is counted by it. A
        refused or failed mint is not given back: a caller retrying a failing mint is still a caller retrying."""
        grant = self.decide(identity, request)
        store_error = self._check_blocks(identity, grant, source_ip)
        limit = self.policy.tiers[grant.tier].limit
        allowance, limiter_error = None, store_error
        if limit is not None:
            try:
                allowance = self.limiter.take(self.limit_key(identity, source_ip), limit)
            except LimiterError as error:
                if self.on_store_error == "refuse":
                    raise LimiterUnavailableError(error.code) from None
                limiter_error = error.code
            if allowance is not None and not allowance.allowed:
                raise RateLimitedError(allowance.retry_after, grant.tier)
        minted = self._minter().mint(grant)
        return VendedToken(
            minted.auth_token,
            minted.expires_at,
            minted.endpoint,
            grant,
            int(time.time()),
            allowance,
            limiter_error,
            minted.control_topics,
        )

    def _check_blocks(self, identity: Identity, grant: Grant, source_ip: str | None) -> str | None:
        """Refuse a revoked user or a paused tier (a read of the revocations' store). Returns the store's error code
        when it could not be read and the machine lets the request through (on_store_error="allow")."""
        if self.revocations is None:
            return None
        user_key = self.limit_key(identity, source_ip) if identity.verified else None
        try:
            block = self.revocations.check(user_key, grant.tier)
        except StoreError as error:
            if self.on_store_error == "refuse":
                raise LimiterUnavailableError(error.code, "revocations") from None
            return error.code
        if block is not None:
            raise _refusal(block, grant.tier)
        return None

    def limit_key(self, identity: Identity, source_ip: str | None = None) -> str:
        """The bucket a caller is counted in: its verified username, or an anonymous caller's address."""
        return limit_key(
            identity.username,
            anonymous=not identity.verified,
            source_ip=source_ip,
            case_insensitive=self.case_insensitive_usernames,
        )

    async def avend(
        self, identity: Identity, request: TokenRequest | None = None, *, source_ip: str | None = None
    ) -> VendedToken:
        """`vend` for asyncio: the gRPC call blocks a worker thread (asyncio's default executor), not the loop."""
        return await asyncio.to_thread(lambda: self.vend(identity, request, source_ip=source_ip))

    async def aexplain(
        self, identity: Identity, request: TokenRequest | None = None, *, source_ip: str | None = None
    ) -> Explanation:
        """`explain` off the loop: the limiter may read its store."""
        return await asyncio.to_thread(lambda: self.explain(identity, request, source_ip=source_ip))

    def close(self) -> None:
        """Close the gRPC channel this machine opened (none when the caller passed its own minter)."""
        with self._lock:
            minter, self._own_minter = self._own_minter, None
        if minter is not None:
            minter.close()

    def __enter__(self) -> VendingMachine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _settings_minter(self, settings: MomentoSettings, deadline: float) -> Minter:
        with self._lock:
            if self._own_minter is None:
                self._own_minter = MomentoMinter(
                    settings.api_key,
                    settings.endpoint,
                    emulator_endpoint=settings.emulator_endpoint,
                    deadline_seconds=deadline,
                )
            return self._own_minter


def _refusal(block: Block, tier: str) -> TvmError:
    if block.kind == "vending_paused":
        return VendingPausedError(tier)
    if block.kind == "tier_paused":
        return TierPausedError(tier)
    return RevokedError(tier)


def _policy(source: PolicySource) -> Policy:
    if isinstance(source, Policy):
        return source
    if isinstance(source, str | os.PathLike):
        return load_policy(Path(source))
    if isinstance(source, Mapping):
        # JSON is YAML: the mapping goes through the file's own parser and schema, so both are checked alike.
        try:
            text = json.dumps(source)
        except (TypeError, ValueError) as error:
            raise PolicyError(f"<policy mapping>: not a policy document ({error})") from None
        return parse_policy(text, source="<policy mapping>")
    raise TypeError("policy must be a Policy, a policy file's path, or a mapping")
