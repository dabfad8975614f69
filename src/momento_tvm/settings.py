"""Where tokens are minted: a Momento API key and endpoint, checked when the settings are made.

An embedding app builds these once at start-up (`MomentoSettings.from_env()` in production,
`MomentoSettings.emulator()` against the offline emulator); a bad key or endpoint is a `ValueError` then, naming
neither the key nor a token, rather than a 503 on every request.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .minting import channel_target

__all__ = ["EMULATOR_API_KEY", "MomentoSettings"]

# The offline emulator's public development key (docs/emulator.md; the emulator's own DEFAULT_API_KEY, which
# tests/unit/test_library_api.py keeps equal to this). It unlocks nothing but an emulator.
EMULATOR_API_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0IjoiZyIsImlkIjoibW9tZW50by1lbXVsYXRvci1kZXYifQ"
    ".9HLX0W-vHh06-_T6o1VUZUkkdxG1IG4jASNw82-mq1U"
)


@dataclass(frozen=True)
class MomentoSettings:
    """A Momento v2 API key (never shown in `repr`) and its endpoint (`cell-us-east-1-1.prod.a.momentohq.com`, always
    reached over TLS), or a local emulator's `host:port`, reached in plaintext: on a loopback address, or named again
    as `emulator_endpoint` (MOMENTO_EMULATOR_ENDPOINT), the explicit choice for an emulator elsewhere (a Docker
    bridge). The rule is `minting.channel_target`'s, which the vending Lambda uses too."""

    api_key: str = field(repr=False)
    endpoint: str
    emulator_endpoint: str = ""

    def __post_init__(self) -> None:
        # ValueError now, not on the first mint
        channel_target(self.api_key, self.endpoint, emulator_endpoint=self.emulator_endpoint)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MomentoSettings:
        """`MOMENTO_API_KEY` and `MOMENTO_ENDPOINT` (the names Momento's own examples use), and the optional
        `MOMENTO_EMULATOR_ENDPOINT` (local development only; when set it must equal `MOMENTO_ENDPOINT`)."""
        env = os.environ if environ is None else environ
        missing = [name for name in ("MOMENTO_API_KEY", "MOMENTO_ENDPOINT") if not env.get(name, "").strip()]
        if missing:
            raise ValueError(f"set {' and '.join(missing)} (a Momento v2 API key and its endpoint)")
        return cls(
            env["MOMENTO_API_KEY"].strip(),
            env["MOMENTO_ENDPOINT"].strip(),
            env.get("MOMENTO_EMULATOR_ENDPOINT", "").strip(),
        )

    @classmethod
    def emulator(cls, port: int = 8080, host: str = "127.0.0.1", api_key: str = EMULATOR_API_KEY) -> MomentoSettings:
        """The project's offline emulator (`make emulator`) on its gRPC port, with its development key: plaintext, on
        any host (this names it as an emulator)."""
        if not 0 < port < 65536 or port == 443:
            raise ValueError("the emulator's gRPC port must be 1-65535 and not 443")
        endpoint = f"{host}:{port}"
        return cls(api_key, endpoint, emulator_endpoint=endpoint)
