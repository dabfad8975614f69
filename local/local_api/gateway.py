"""The HTTP side: an aiohttp app doing what API Gateway's HTTP API does in front of the functions.

In order, per request: a CORS preflight is answered from the template (no authorizer, no function); the route is
matched (404 `{"message":"Not Found"}`); the route's authorizer decides (401 when an identity source is missing,
403 `{"message":"Forbidden"}` on a deny, cached per identity for its TTL, 500 if it fails); the function gets the
payload-2.0 event with the authorizer's context at `requestContext.authorizer.lambda`, and its result becomes the
response (500 `{"message":"Internal Server Error"}` if it raises, crashes, times out or returns nonsense). CORS
headers are then set for an allowed origin, on the gateway's own answers too, and a function's are ignored.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from aiohttp import web
from multidict import CIMultiDict

from .authorizers import DecisionCache, InvalidAuthorizerResponseError, decide, identity_values
from .cors import Cors
from .events import InvalidProxyResultError, RequestEvents, from_aiohttp, parse_proxy_result
from .routing import Router
from .template import ApiSpec, LambdaAuthorizerSpec
from .workers import InvocationError

__all__ = ["Gateway", "Invoke"]

log = logging.getLogger("local_api.gateway")
access_log = logging.getLogger("local_api.access")

# (function logical id, event, request id) -> the function's result; raises InvocationError.
Invoke = Callable[[str, Mapping[str, Any], str], Awaitable[Any]]

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # the HTTP API payload limit


def _message(status: int, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """One of the gateway's own answers; their bodies are fixed in AWS, and so here."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return status, [("content-type", "application/json")], body


NOT_FOUND: Final = _message(404, "Not Found")
UNAUTHORIZED: Final = _message(401, "Unauthorized")
FORBIDDEN: Final = _message(403, "Forbidden")
INTERNAL_ERROR: Final = _message(500, "Internal Server Error")
TOO_LARGE: Final = _message(413, "Request Entity Too Large")

Answer = tuple[int, list[tuple[str, str]], bytes]


class Gateway:
    def __init__(self, spec: ApiSpec, invoke: Invoke) -> None:
        self.spec = spec
        self._invoke = invoke
        self._router = Router(spec.routes, spec.stage)
        self._cors = Cors(spec.cors) if spec.cors is not None else None
        self._decisions = DecisionCache()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        origin = request.headers.get("Origin")
        if self._cors is not None and Cors.is_preflight(request.method, request.headers):
            status, headers, body = 204, self._cors.preflight_headers(origin), b""
        else:
            try:
                status, headers, body = await self._serve(request, request_id)
            except web.HTTPRequestEntityTooLarge:
                status, headers, body = TOO_LARGE
            except Exception:  # a bug of the local API itself: answer as the gateway would, and say where
                log.exception("%s %s %s: the local API failed", request.method, request.raw_path, request_id)
                status, headers, body = INTERNAL_ERROR
            if self._cors is not None:
                headers = Cors.without_cors(headers) + self._cors.response_headers(origin)
        access_log.info(
            "%s %s %d %.1f ms", request.method, request.raw_path, status, (time.perf_counter() - started) * 1000
        )
        return _response(status, [*headers, ("apigw-requestid", request_id)], body)

    async def _serve(self, request: web.Request, request_id: str) -> Answer:
        facts = await from_aiohttp(request)
        match = self._router.match(facts.method, facts.raw_path)
        if match is None:
            return NOT_FOUND
        route = match.route
        events = RequestEvents(
            facts,
            route_key=route.route_key,
            path_parameters=match.path_parameters,
            api_id=self.spec.api_id,
            stage=self.spec.stage,
            region=self.spec.region,
            account_id=self.spec.account_id,
            request_id=request_id,
        )
        authorizer: dict[str, Any] | None = None
        if route.authorizer_name is not None:
            refused, authorizer = await self._authorize(route.authorizer_name, events)
            if refused is not None:
                return refused
        try:
            result = await self._invoke(route.function_id, events.proxy_event(authorizer), request_id)
            response = parse_proxy_result(result)
        except InvocationError as error:
            log.error("%s %s: %s", route.route_key, request_id, error)
            return INTERNAL_ERROR
        except InvalidProxyResultError as error:
            log.error(
                "%s %s: %s returned an invalid response: %s", route.route_key, request_id, route.function_id, error
            )
            return INTERNAL_ERROR
        return response.status, list(response.headers), response.body

    async def _authorize(self, name: str, events: RequestEvents) -> tuple[Answer | None, dict[str, Any] | None]:
        """(a refusal, None) or (None, the `requestContext.authorizer` value for the integration)."""
        spec = self.spec.authorizers[name]
        if not isinstance(spec, LambdaAuthorizerSpec):
            log.error("authorizer %s: JWT authorizers are not served locally", name)
            return INTERNAL_ERROR, None
        identity = identity_values(spec, events.request)
        if identity is None and spec.identity_sources:
            return UNAUTHORIZED, None
        identity = identity or []
        try:
            response = self._decisions.get(name, identity)
            if response is None:
                response = await self._invoke(spec.function_id, events.authorizer_event(identity), events.request_id)
                decide(spec, response, events.route_arn)  # only a readable response is cached
                self._decisions.put(name, identity, response, spec.ttl_seconds)
            decision = decide(spec, response, events.route_arn)
        except (InvocationError, InvalidAuthorizerResponseError) as error:
            log.error("authorizer %s %s: %s", name, events.request_id, error)
            return INTERNAL_ERROR, None
        if not decision.authorized:
            return FORBIDDEN, None
        return None, {"lambda": dict(decision.context)}


def _response(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> web.Response:
    multi: CIMultiDict[str] = CIMultiDict()
    for name, value in headers:
        multi.add(name, value)
    return web.Response(status=status, headers=multi, body=body or None)
