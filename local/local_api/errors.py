"""What can go wrong before a request is served: a template we cannot serve, a port, a function that will not start.

Errors while serving are not exceptions to the caller: the gateway answers them with API Gateway's own responses.
"""

from __future__ import annotations

__all__ = ["LocalApiError", "PortInUseError", "TemplateError", "WorkerStartError"]


class LocalApiError(Exception):
    """Base class: every error the local API raises on purpose."""


class TemplateError(LocalApiError):
    """The template, the parameters or the resources map cannot describe a servable API (the message says why)."""


class PortInUseError(LocalApiError):
    """The port is taken by another process; `port` names it so the caller can say which one to change."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        super().__init__(f"{host}:{port} is already in use")
        self.port = port
        self.host = host


class WorkerStartError(LocalApiError):
    """A function's worker process exited or failed to import its handler while starting."""
