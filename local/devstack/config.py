"""What a local stack is asked to run: the auth mode, the ports (and where each came from), the repository paths,
and `make dev`'s other settings (TOKEN_TTL_SECONDS, ALLOWED_ORIGINS), each checked with a message saying what to do."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from .errors import ConfigError
from .modes import DEFAULT_AUTH, MODES, AuthMode

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_CACHE",
    "HOST",
    "MIN_TOKEN_TTL_SECONDS",
    "PORT_VARIABLES",
    "PortSetting",
    "RestartPolicy",
    "StackConfig",
    "config_from_env",
    "parse_allowed_origins",
    "parse_token_ttl",
]

AUTH_METHODS: Final = tuple(MODES)  # the modes' names (modes.py), in the order they are offered
HOST: Final = "127.0.0.1"
DEFAULT_CACHE: Final = "default-cache"
# make dev plays Momento's auth quota as Momento has it by default: 5 mints per second for the account.
MOMENTO_AUTH_QUOTA: Final = 5.0

# Environment variable -> (default port, what listens there). The order is the order of the ready block.
PORT_VARIABLES: Final[Mapping[str, tuple[int, str]]] = {
    "SITE_PORT": (8000, "the static site"),
    "API_PORT": (3000, "the local HTTP API"),
    "MOMENTO_GRPC_PORT": (8080, "the Momento emulator (gRPC)"),
    "MOMENTO_WEB_PORT": (8081, "the Momento emulator (grpc-web)"),
    "MOTO_PORT": (5000, "moto (AWS)"),
}

PortSource = Literal["default", "environment", "argument"]

# The shortest lifetime the vending function grants (momento_tvm.policy.MIN_TTL_SECONDS) and the site asks for.
MIN_TOKEN_TTL_SECONDS: Final = 10
# An origin as the template's AllowedOrigins parameter accepts one (its AllowedPattern): scheme://host[:port].
_ORIGIN: Final = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", re.ASCII)
_ORIGINS_EXAMPLE: Final = "e.g. ALLOWED_ORIGINS=http://localhost:5173 make dev"


def parse_token_ttl(raw: str, variable: str = "TOKEN_TTL_SECONDS") -> int | None:
    """TOKEN_TTL_SECONDS: empty for each tier's own lifetime, else a whole number of seconds, at least 10.

    Its upper bound is the policy's (the tiers the local users get): checked once the policy is read (local_files).
    """
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ConfigError(f"{variable}={raw!r} is not a whole number of seconds: e.g. `{variable}=60 make dev`")
    seconds = int(raw)
    if seconds < MIN_TOKEN_TTL_SECONDS:
        raise ConfigError(
            f"{variable}={raw} is too short: tokens live at least {MIN_TOKEN_TTL_SECONDS} s, "
            f"e.g. `{variable}=60 make dev`"
        )
    return seconds


def parse_allowed_origins(raw: str, variable: str = "ALLOWED_ORIGINS") -> tuple[str, ...]:
    """ALLOWED_ORIGINS: comma-separated http(s)://host[:port] origins (spaces around commas and one trailing slash
    tolerated), added to the local API's CORS origins. Anything else (a path, a wildcard, another scheme) is refused."""
    origins: list[str] = []
    for item in raw.split(","):
        text = item.strip()
        if not text:
            continue
        origin = text[:-1] if text.endswith("/") else text
        match = _ORIGIN.fullmatch(origin)
        port = match.group(1) if match else None
        if match is None or (port is not None and not 1 <= int(port[1:]) <= 65535):
            raise ConfigError(
                f"{variable}: {text!r} is not an origin: give http(s)://host[:port] with no path or wildcard, "
                f"comma-separated ({_ORIGINS_EXAMPLE})"
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


@dataclass(frozen=True)
class PortSetting:
    """One port as asked for: `port` 0 means a free port chosen at start."""

    variable: str
    port: int
    source: PortSource = "argument"

    @property
    def what(self) -> str:
        return PORT_VARIABLES[self.variable][1]


def _repo_root() -> Path:
    """The checkout this package lives in (local/devstack/ -> the repository root)."""
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RestartPolicy:
    """When to start a child again. The defaults are `make dev`'s; tests shorten or lengthen them."""

    first_delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0
    # A child up this long is healthy again: its next crash waits `first_delay_seconds` again.
    stable_seconds: float = 30.0
    # One attempt: from spawning the child to `become_ready` done.
    start_timeout_seconds: float = 30.0

    def next_delay(self, delay: float) -> float:
        return min(max(delay * 2, self.first_delay_seconds), self.max_delay_seconds)


@dataclass(frozen=True)
class StackConfig:
    """Everything `Stack` needs. Ports default to the `make dev` defaults; tests pass 0 for free ports."""

    auth: str = DEFAULT_AUTH  # a name in modes.MODES; `mode` is its entry
    api_port: int = 3000
    site_port: int = 8000
    momento_grpc_port: int = 8080
    momento_web_port: int = 8081
    moto_port: int = 5000
    root: Path = field(default_factory=_repo_root)
    cache_name: str = DEFAULT_CACHE
    # The emulator's root key; None: $MOMENTO_EMULATOR_API_KEY, else the emulator's public development key.
    api_key: str | None = None
    # Which ports came from the environment (for the ready block); filled by config_from_env.
    port_sources: Mapping[str, PortSource] = field(default_factory=dict)
    # Seconds a child gets to exit after SIGTERM before it is killed.
    stop_grace_seconds: float = 5.0
    # Seconds each part may take to come up before start() gives up.
    start_timeout_seconds: float = 60.0
    # When the emulator or moto is started again after it exited (see supervisor.py).
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    # The token lifetime the site's config.js asks for (TOKEN_TTL_SECONDS); None: each tier's own.
    token_ttl_seconds: int | None = None
    # Extra CORS origins for the local API (ALLOWED_ORIGINS), besides the site's own two.
    allowed_origins: tuple[str, ...] = ()
    # Watch local/demo_users.json and the policy once ready, and apply changes without a restart (make dev: on).
    watch_files: bool = False
    # How often the watched files are looked at (their size, mtime and inode; then their content).
    watch_interval_seconds: float = 0.5
    # The tier policy the functions load (its tiers' issuance limits too); None: the deployed one,
    # functions/token_vending/policy.yaml. Tests pass their own, with the limits they exercise.
    policy: Path | None = None
    # Momento's auth quota, played by the emulator (`--auth-quota`, mints per second for the account): make dev
    # plays Momento's 5; None leaves it off (tests that are not about it).
    momento_auth_quota: float | None = None

    def __post_init__(self) -> None:
        if self.auth not in AUTH_METHODS:
            raise ConfigError(f"unknown authentication method {self.auth!r}: choose one of {', '.join(AUTH_METHODS)}")
        for setting in self.ports():
            if not 0 <= setting.port <= 65535:
                raise ConfigError(f"{setting.variable}={setting.port} is not a port number (0 to 65535)")
        if self.token_ttl_seconds is not None:
            parse_token_ttl(str(self.token_ttl_seconds), "token_ttl_seconds")
        if parse_allowed_origins(",".join(self.allowed_origins), "allowed_origins") != tuple(self.allowed_origins):
            raise ConfigError(f"allowed_origins must be distinct http(s)://host[:port] origins: {self.allowed_origins}")

    def ports(self) -> tuple[PortSetting, ...]:
        values = {
            "SITE_PORT": self.site_port,
            "API_PORT": self.api_port,
            "MOMENTO_GRPC_PORT": self.momento_grpc_port,
            "MOMENTO_WEB_PORT": self.momento_web_port,
            "MOTO_PORT": self.moto_port,
        }
        return tuple(
            PortSetting(variable, values[variable], self.port_sources.get(variable, "argument"))
            for variable in PORT_VARIABLES
        )

    @property
    def mode(self) -> AuthMode:
        """What the auth mode needs and does offline (modes.py)."""
        return MODES[self.auth]

    @property
    def template(self) -> Path:
        return self.root / "template.yaml"

    @property
    def demo_users_file(self) -> Path:
        return self.root / "local" / "demo_users.json"

    @property
    def policy_file(self) -> Path:
        return self.policy if self.policy is not None else self.root / "functions" / "token_vending" / "policy.yaml"

    def resolved_api_key(self) -> str:
        if self.api_key:
            return self.api_key
        from momento_emulator import DEFAULT_API_KEY

        return os.environ.get("MOMENTO_EMULATOR_API_KEY") or DEFAULT_API_KEY


def config_from_env(auth: str, environ: Mapping[str, str] | None = None) -> StackConfig:
    """The `make dev` configuration: each port from its environment variable, else its default; TOKEN_TTL_SECONDS,
    ALLOWED_ORIGINS; and the users file and policy watched (changes applied without a restart)."""
    environ = os.environ if environ is None else environ
    ports: dict[str, int] = {}
    sources: dict[str, PortSource] = {}
    for variable, (default, _) in PORT_VARIABLES.items():
        raw = environ.get(variable, "").strip()
        if not raw:
            ports[variable], sources[variable] = default, "default"
            continue
        try:
            port = int(raw, 10)
        except ValueError:
            raise ConfigError(f"{variable}={raw!r} is not a port number (0 to 65535; 0 picks a free port)") from None
        if not 0 <= port <= 65535:
            raise ConfigError(f"{variable}={raw} is not a port number (0 to 65535; 0 picks a free port)")
        ports[variable], sources[variable] = port, "environment"
    return StackConfig(
        auth=auth,
        site_port=ports["SITE_PORT"],
        api_port=ports["API_PORT"],
        momento_grpc_port=ports["MOMENTO_GRPC_PORT"],
        momento_web_port=ports["MOMENTO_WEB_PORT"],
        moto_port=ports["MOTO_PORT"],
        port_sources=sources,
        token_ttl_seconds=parse_token_ttl(environ.get("TOKEN_TTL_SECONDS", "")),
        allowed_origins=parse_allowed_origins(environ.get("ALLOWED_ORIGINS", "")),
        watch_files=True,
        momento_auth_quota=MOMENTO_AUTH_QUOTA,
    )
