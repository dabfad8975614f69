"""The whole application offline in one process tree: `make dev`, and the integration tests' local stack.

async with Stack(StackConfig(auth="LambdaAuthorizer", api_port=0, site_port=0, momento_grpc_port=0,
                             momento_web_port=0, moto_port=0)) as stack:
    stack.api_url, stack.site_url, stack.emulator_grpc_port, stack.api.invocations("CredentialsAuthorizerFunction")
"""

from .config import AUTH_METHODS, PORT_VARIABLES, PortSetting, StackConfig, config_from_env
from .errors import (
    ChildExitedError,
    ConfigError,
    DevstackError,
    PortInUseError,
    StartTimeoutError,
    UnsupportedAuthError,
)
from .ready import ready_block, ready_json
from .stack import DemoUser, ResolvedPort, Stack, StackInfo

__all__ = [
    "AUTH_METHODS",
    "PORT_VARIABLES",
    "ChildExitedError",
    "ConfigError",
    "DemoUser",
    "DevstackError",
    "PortInUseError",
    "PortSetting",
    "ResolvedPort",
    "Stack",
    "StackConfig",
    "StackInfo",
    "StartTimeoutError",
    "UnsupportedAuthError",
    "config_from_env",
    "ready_block",
    "ready_json",
]
