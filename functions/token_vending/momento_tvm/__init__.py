"""The Momento token vending core: policy, identity, decision and minting, with no AWS and no web framework in it.

The package the vending Lambda imports (`functions/token_vending/app.py`) and the library apps embed
(`pip install momento-tvm[fastapi]`, see the README's "Embed it in your app"):

    machine = VendingMachine("policy.yaml", MomentoSettings.from_env(), cache_name="chat")
    token = machine.vend(verified_identity("alice", ["readwrite"]), TokenRequest(topics=("room-1",)))

Integrations: `momento_tvm.fastapi.token_router`, `momento_tvm.flask.token_blueprint`.
"""

from .errors import (
    InvalidIdentityError,
    InvalidRequestError,
    PolicyError,
    ScopeDeniedError,
    TvmError,
    UnauthenticatedError,
    UpstreamUnavailableError,
)
from .grant import CacheGrant, Grant, TokenRequest, TopicGrant, decide
from .identity import Identity, guest_identity, identity_from_event, verified_identity
from .minting import MintedToken, Minter, MomentoMinter
from .parsing import ParsedRequest, parse_body, parse_event_body, parse_query
from .policy import Policy, Tier, load_policy, parse_policy
from .settings import EMULATOR_API_KEY, MomentoSettings
from .vending import Explanation, VendedToken, VendingMachine

__version__ = "0.1.0"

__all__ = [
    "EMULATOR_API_KEY",
    "CacheGrant",
    "Explanation",
    "Grant",
    "Identity",
    "InvalidIdentityError",
    "InvalidRequestError",
    "MintedToken",
    "Minter",
    "MomentoMinter",
    "MomentoSettings",
    "ParsedRequest",
    "Policy",
    "PolicyError",
    "ScopeDeniedError",
    "Tier",
    "TokenRequest",
    "TopicGrant",
    "TvmError",
    "UnauthenticatedError",
    "UpstreamUnavailableError",
    "VendedToken",
    "VendingMachine",
    "decide",
    "guest_identity",
    "identity_from_event",
    "load_policy",
    "parse_body",
    "parse_event_body",
    "parse_policy",
    "parse_query",
    "verified_identity",
]
