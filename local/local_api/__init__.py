"""The HTTP API that template.yaml declares, served locally with the real handlers: no Docker, no SAM CLI.

    from local_api import LocalApi
    api = LocalApi(template=Path("template.yaml"), auth_method="LambdaAuthorizer", parameters={...})
    await api.start(); ...; await api.stop()

or `python -m local_api --template template.yaml --auth-method Open --param K=V ...` (see `__main__`).

The exports are imported lazily: every worker process runs `python -m local_api.worker`, which imports this package
first, and must not pay for aiohttp, SAM's translator and boto3 (about 0.8 s) before the function's own cold start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import LocalApiError, PortInUseError, TemplateError, WorkerStartError

if TYPE_CHECKING:
    from .server import LocalApi
    from .template import ApiSpec, FunctionSpec, RouteSpec, load_api

__all__ = [
    "ApiSpec",
    "FunctionSpec",
    "LocalApi",
    "LocalApiError",
    "PortInUseError",
    "RouteSpec",
    "TemplateError",
    "WorkerStartError",
    "load_api",
]

_LAZY = {
    "LocalApi": ".server",
    "ApiSpec": ".template",
    "FunctionSpec": ".template",
    "RouteSpec": ".template",
    "load_api": ".template",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
