"""Why a local stack could not start or stopped on its own. Each message says what to do about it.

DevstackError
 +-- ConfigError          a setting that cannot be used (port variable, auth method)
 +-- UnsupportedAuthError the auth method exists in the template but cannot run locally
 +-- PortInUseError       a port is taken; names the variable and how to choose another
 +-- ChildExitedError     the emulator or moto exited on its own while starting (after ready: restarted)
 +-- StartTimeoutError    a part did not answer in time
"""

from __future__ import annotations

__all__ = [
    "ChildExitedError",
    "ConfigError",
    "DevstackError",
    "PortInUseError",
    "StartTimeoutError",
    "UnsupportedAuthError",
]


class DevstackError(Exception):
    """Base class: `str(error)` is a complete sentence for the terminal."""

    exit_code = 1


class ConfigError(DevstackError, ValueError):
    exit_code = 2


class UnsupportedAuthError(DevstackError):
    exit_code = 2


class PortInUseError(DevstackError):
    exit_code = 2

    def __init__(self, port: int, variable: str | None, what: str = "", *, suggestion: int = 0) -> None:
        """`suggestion`: a port to offer instead, free when checked and none of the stack's other configured ports
        (ports.port_taken finds one); 0 offers `VARIABLE=0` (a free port), never a guess that may be taken."""
        self.port = port
        self.variable = variable
        self.suggestion = suggestion
        where = f" ({variable}, {what})" if variable and what else f" ({variable})" if variable else ""
        if variable and suggestion:
            example = f"{variable}={suggestion} make dev"
            hint = f"Stop what is using it, or choose another port, e.g. `{example}` (0 picks a free port)."
        elif variable:
            hint = f"Stop what is using it, or choose another port, e.g. `{variable}=0 make dev` (a free port)."
        else:
            hint = "Stop what is using it and try again."
        super().__init__(f"port {port}{where} is already in use on 127.0.0.1. {hint}")


class ChildExitedError(DevstackError):
    def __init__(self, name: str, returncode: int | None, detail: str = "") -> None:
        self.name = name
        self.returncode = returncode
        if returncode is None:
            how = "no exit status"
        elif returncode < 0:
            how = f"killed by signal {-returncode}"
        else:
            how = f"exit code {returncode}"
        message = f"{name} exited unexpectedly ({how})"
        super().__init__(f"{message}: {detail}" if detail else message)


class StartTimeoutError(DevstackError):
    pass
