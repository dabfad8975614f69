"""Which route serves a request, by API Gateway's priorities: an exact path first, then path variables (fewest
first), then a greedy `{proxy+}`, then `$default`; for the same path a named method before ANY."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from .template import RouteSpec

__all__ = ["RouteMatch", "Router"]


@dataclass(frozen=True)
class _Segment:
    literal: str
    variable: str | None = None
    greedy: bool = False


@dataclass(frozen=True)
class RouteMatch:
    route: RouteSpec
    path_parameters: dict[str, str]


class Router:
    """Routes compiled once; `match` is a lookup per request."""

    def __init__(self, routes: Iterable[RouteSpec], stage: str = "$default") -> None:
        self._prefix = "" if stage == "$default" else f"/{stage}"
        compiled = [(route, _compile(route.path)) for route in routes]
        compiled.sort(key=lambda item: _priority(item[0], item[1]))
        self._routes = compiled

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        if self._prefix:
            if raw_path != self._prefix and not raw_path.startswith(self._prefix + "/"):
                return None
            raw_path = raw_path[len(self._prefix) :] or "/"
        segments = raw_path[1:].split("/")
        for route, pattern in self._routes:
            if route.method not in (method, "ANY"):
                continue
            if route.path == "$default":
                return RouteMatch(route, {})
            parameters = _match(pattern, segments)
            if parameters is not None:
                return RouteMatch(route, parameters)
        return None


def _compile(path: str) -> tuple[_Segment, ...]:
    if path == "$default":
        return ()
    segments = []
    for part in path[1:].split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            greedy = name.endswith("+")
            segments.append(_Segment(part, name.rstrip("+"), greedy))
        else:
            segments.append(_Segment(part))
    return tuple(segments)


def _priority(route: RouteSpec, pattern: tuple[_Segment, ...]) -> tuple[bool, bool, int, bool]:
    variables = sum(1 for segment in pattern if segment.variable)
    greedy = any(segment.greedy for segment in pattern)
    return (route.path == "$default", greedy, variables, route.method == "ANY")


def _match(pattern: tuple[_Segment, ...], segments: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        if segment.greedy:
            rest = "/".join(segments[index:])
            if not rest or segment.variable is None:
                return None
            parameters[segment.variable] = unquote(rest)
            return parameters
        if index >= len(segments):
            return None
        value = unquote(segments[index])
        if segment.variable is not None:
            if not value:
                return None
            parameters[segment.variable] = value
        elif value != segment.literal:
            return None
    return parameters if len(segments) == len(pattern) else None
