"""A local Momento: token service, Topics and cache on Momento's wire protocol, for the real SDKs, offline."""

from .core import EmulatorConfig, EmulatorCore
from .errors import EmulatorError, Status
from .permissions import CacheGrant, CacheRole, Scope, TopicGrant, TopicRole
from .server import EmulatorServer, ServerOptions
from .tokens import DEFAULT_API_KEY, DEFAULT_MAX_TOKEN_TTL_SECONDS, Principal, TokenAuthority, v1_api_key

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MAX_TOKEN_TTL_SECONDS",
    "CacheGrant",
    "CacheRole",
    "EmulatorConfig",
    "EmulatorCore",
    "EmulatorError",
    "EmulatorServer",
    "Principal",
    "Scope",
    "ServerOptions",
    "Status",
    "TokenAuthority",
    "TopicGrant",
    "TopicRole",
    "v1_api_key",
]
