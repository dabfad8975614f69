"""The Momento token vending core: policy, identity, decision and minting, with no AWS SDK and no web framework in it.

The package both Lambda functions import (from the layer SAM builds of src/) and the library apps embed
(`pip install momento-tvm[fastapi]`, see the README's "Embed it in your app"):

    machine = VendingMachine("policy.yaml", MomentoSettings.from_env(), cache_name="chat")
    token = machine.vend(verified_identity("alice", ["readwrite"]), TokenRequest(topics=("room-1",)))

Integrations: `momento_tvm.fastapi.token_router`, `momento_tvm.flask.token_blueprint`. AWS access, for what needs it:
`momento_tvm.aws_json` (the interface, and a standard-library client), `momento_tvm.aws_boto3` (a boto3 one).

Nothing is imported until it is asked for (PEP 562 `__getattr__`): `import momento_tvm.aws_json` in the authorizer
loads the standard library only, not PyYAML, the policy validator or gRPC, which the vending core needs and the
authorizer's cold start must not pay for. `from momento_tvm import VendingMachine` works as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and editors see; at run time, __getattr__ below loads each on first use
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

# Each public name -> the module that defines it.
_MODULES: dict[str, str] = {
    **dict.fromkeys(
        (
            "InvalidIdentityError",
            "InvalidRequestError",
            "PolicyError",
            "ScopeDeniedError",
            "TvmError",
            "UnauthenticatedError",
            "UpstreamUnavailableError",
        ),
        "errors",
    ),
    **dict.fromkeys(("CacheGrant", "Grant", "TokenRequest", "TopicGrant", "decide"), "grant"),
    **dict.fromkeys(("Identity", "guest_identity", "identity_from_event", "verified_identity"), "identity"),
    **dict.fromkeys(("MintedToken", "Minter", "MomentoMinter"), "minting"),
    **dict.fromkeys(("ParsedRequest", "parse_body", "parse_event_body", "parse_query"), "parsing"),
    **dict.fromkeys(("Policy", "Tier", "load_policy", "parse_policy"), "policy"),
    **dict.fromkeys(("EMULATOR_API_KEY", "MomentoSettings"), "settings"),
    **dict.fromkeys(("Explanation", "VendedToken", "VendingMachine"), "vending"),
}


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use and keep the name here, so the next lookup is a plain attribute."""
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


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
