"""The Momento token vending core: policy, identity, decision and minting, with no AWS in it.

Used by the Lambda handler (`functions/token_vending/app.py`), by apps that embed token vending, and by tests.
"""

from .errors import (
    InvalidRequestError,
    PolicyError,
    ScopeDeniedError,
    TvmError,
    UnauthenticatedError,
    UpstreamUnavailableError,
)
from .grant import CacheGrant, Grant, TokenRequest, TopicGrant, decide
from .identity import Identity, guest_identity, identity_from_event
from .minting import MintedToken, Minter, MomentoMinter
from .parsing import ParsedRequest, parse_body, parse_event_body, parse_query
from .policy import Policy, Tier, load_policy, parse_policy
from .vending import TokenVendor

__all__ = [
    "CacheGrant",
    "Grant",
    "Identity",
    "InvalidRequestError",
    "MintedToken",
    "Minter",
    "MomentoMinter",
    "ParsedRequest",
    "Policy",
    "PolicyError",
    "ScopeDeniedError",
    "Tier",
    "TokenRequest",
    "TokenVendor",
    "TopicGrant",
    "TvmError",
    "UnauthenticatedError",
    "UpstreamUnavailableError",
    "decide",
    "guest_identity",
    "identity_from_event",
    "load_policy",
    "parse_body",
    "parse_event_body",
    "parse_policy",
    "parse_query",
]
