"""The vending core the Lambda handler, embedded apps and tests share: decide, mint, answer (parsing: parsing.py).

No AWS here: the handler passes in the event's identity parts and a `Minter`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .grant import Grant, TokenRequest, decide
from .identity import Identity
from .minting import Minter
from .policy import Policy

__all__ = ["TokenVendor"]


class TokenVendor:
    """Decides with the policy and mints with the minter. One per process; thread-safe."""

    def __init__(self, policy: Policy, minter: Callable[[], Minter], *, cache_name: str, max_ttl_seconds: int) -> None:
        self.policy = policy
        self._minter = minter
        self.cache_name = cache_name
        self.max_ttl_seconds = max_ttl_seconds

    def decide(self, identity: Identity, request: TokenRequest) -> Grant:
        return decide(self.policy, identity, request, cache_name=self.cache_name, max_ttl_seconds=self.max_ttl_seconds)

    def explain(self, identity: Identity, request: TokenRequest) -> dict[str, Any]:
        """What `vend` would mint for the same caller and request, and the rule that decided it. Mints nothing."""
        grant = self.decide(identity, request)
        return {
            "tokenId": grant.token_id,
            "rule": grant.rule,
            "ttlSeconds": grant.ttl_seconds,
            "scope": grant.scope_json(),
        }

    def vend(self, identity: Identity, request: TokenRequest) -> tuple[dict[str, Any], Grant]:
        grant = self.decide(identity, request)
        minted = self._minter().mint(grant)
        body = {
            "authToken": minted.auth_token,
            "expiresAt": minted.expires_at,
            "tokenId": grant.token_id,
            "endpoint": minted.endpoint,
            "scope": grant.scope_json(),
        }
        return body, grant
