"""Ports: every fixed port is checked before anything starts, so a taken port fails fast and by name."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Collection, Iterable

from .config import HOST, PORT_VARIABLES, PortSetting
from .errors import ConfigError, PortInUseError

__all__ = ["check_ports", "free_port", "port_is_free", "port_taken", "suggest_port"]

# How far above a taken port a suggestion is looked for (then: 0, a free port).
_SUGGESTION_SPAN = 100


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when a server could listen on host:port now (with SO_REUSEADDR, as the servers themselves bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            sock.listen(1)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def free_port(host: str = HOST) -> int:
    """A port nothing listens on now, for a child that cannot report the port it picked itself (moto).

    Chosen below the kernel's ephemeral range, where a `bind(0)` never lands: with a port from that range, a server of
    ours started on port 0 a moment later (the site, the local API) could be given the same port before the child
    binds it, and answer in its place (seen once in CI: moto's seeding got the site server's 405).
    """
    low = _ephemeral_low()
    candidates = list(range(max(1024, low - 12000), low))
    random.shuffle(candidates)
    for port in candidates[:64]:
        if port_is_free(port, host):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no free port below the range: any free one
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


def _ephemeral_low(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> int:
    """The lowest port the kernel hands out for `bind(0)` (Linux; 32768, its default, elsewhere)."""
    try:
        with open(path, encoding="ascii") as ranges:
            return int(ranges.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def suggest_port(port: int, avoid: Collection[int], host: str = HOST) -> int:
    """A port to offer in place of the taken `port`: the first above it that is free now and none of `avoid` (the
    stack's other configured ports, which may not be bound yet), else 0 (a free port chosen at start)."""
    for candidate in range(port + 1, min(port + _SUGGESTION_SPAN, 65535) + 1):
        if candidate in avoid:
            continue
        try:
            if port_is_free(candidate, host):
                return candidate
        except OSError:  # e.g. a privileged port: not one to offer
            continue
    return 0


def port_taken(port: int, variable: str, configured: Iterable[PortSetting], host: str = HOST) -> PortInUseError:
    """The error for `variable`'s taken `port`, offering a port that is free and that no other variable names."""
    avoid = {setting.port for setting in configured if setting.port}
    what = PORT_VARIABLES[variable][1] if variable in PORT_VARIABLES else ""
    return PortInUseError(port, variable, what, suggestion=suggest_port(port, avoid, host))


def check_ports(settings: Iterable[PortSetting], host: str = HOST) -> None:
    """Raise for the first fixed port that is taken, or named by two variables. Port 0 is always fine."""
    settings = tuple(settings)
    seen: dict[int, str] = {}
    for setting in settings:
        if setting.port == 0:
            continue
        if setting.port in seen:
            raise ConfigError(
                f"{seen[setting.port]} and {setting.variable} are both {setting.port}: give each its own port "
                "(0 picks a free port)"
            )
        seen[setting.port] = setting.variable
        try:
            free = port_is_free(setting.port, host)
        except OSError as error:
            raise ConfigError(
                f"cannot listen on port {setting.port} ({setting.variable}): {error.strerror}; choose another, "
                f"e.g. `{setting.variable}=0 make dev` for a free port"
            ) from None
        if not free:
            raise port_taken(setting.port, setting.variable, settings, host)
