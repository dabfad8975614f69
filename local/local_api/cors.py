"""CORS as an HTTP API does it: from the template's CorsConfiguration, in front of every route and authorizer.

With CORS configured, API Gateway answers preflights itself (the authorizer never sees them), adds the CORS headers
to every response for an allowed origin (its own 401/403/404 too), and ignores CORS headers a function sets: so
functions must not be the place CORS is configured, and locally they cannot be either. Header sets are computed once,
as starlette's CORSMiddleware does; per request it is a lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .template import CorsSpec

__all__ = ["Cors"]

Headers = list[tuple[str, str]]


class Cors:
    def __init__(self, spec: CorsSpec) -> None:
        origins = [origin.lower().rstrip("/") for origin in spec.allow_origins]
        self._any_origin = "*" in origins
        self._exact = frozenset(origin for origin in origins if "*" not in origin)
        self._wildcards = tuple(
            re.compile(".*".join(re.escape(part) for part in origin.split("*")))
            for origin in origins
            if "*" in origin and origin != "*"
        )
        shared: Headers = [("access-control-allow-credentials", "true")] if spec.allow_credentials else []
        self._preflight: Headers = [*shared]
        if spec.allow_methods:
            self._preflight.append(("access-control-allow-methods", ",".join(spec.allow_methods)))
        if spec.allow_headers:
            self._preflight.append(("access-control-allow-headers", ",".join(spec.allow_headers)))
        if spec.max_age is not None:
            self._preflight.append(("access-control-max-age", str(spec.max_age)))
        self._actual: Headers = [*shared]
        if spec.expose_headers:
            self._actual.append(("access-control-expose-headers", ",".join(spec.expose_headers)))

    @staticmethod
    def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
        """An OPTIONS request with Origin and Access-Control-Request-Method (`headers` looked up case-insensitively)."""
        return (
            method == "OPTIONS" and bool(headers.get("origin")) and bool(headers.get("access-control-request-method"))
        )

    def allow_origin(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for `origin`, or None when it is not allowed (or absent)."""
        if not origin:
            return None
        if self._any_origin:
            return "*"
        normalised = origin.lower()
        if normalised in self._exact or any(pattern.fullmatch(normalised) for pattern in self._wildcards):
            return origin
        return None

    def preflight_headers(self, origin: str | None) -> Headers:
        """The preflight answer's headers: none at all for an origin that is not allowed."""
        allowed = self.allow_origin(origin)
        if allowed is None:
            return []
        return [("access-control-allow-origin", allowed), *self._vary(allowed), *self._preflight]

    def response_headers(self, origin: str | None) -> Headers:
        allowed = self.allow_origin(origin)
        if allowed is None:
            return []
        return [("access-control-allow-origin", allowed), *self._vary(allowed), *self._actual]

    @staticmethod
    def without_cors(headers: Iterable[tuple[str, str]]) -> Headers:
        """A function's headers minus any Access-Control-* (the gateway ignores them)."""
        return [(name, value) for name, value in headers if not name.lower().startswith("access-control-")]

    @staticmethod
    def _vary(allowed: str) -> Headers:
        return [] if allowed == "*" else [("vary", "Origin")]
