"""The HTTP side: an aiohttp app doing what API Gateway's HTTP API does in front of the functions.

In order, per request: a CORS preflight is answered from the template (no authorizer, no function); the route is
matched (404 `{"message":"Not Found"}`); the route's authorizer decides (401 when an identity source is missing,
403 `{"message":"Forbidden"}` on a deny, cached per identity for its TTL, 500 if it fails; a JWT authorizer answers
401 for any token it refuses, see jwt_authorizer.py); the function gets the payload-2.0 event with the authorizer's
context at `requestContext.authorizer.lambda` (a JWT's claims at `.jwt`), and its result becomes the
response (500 `{"message":"Internal Server Error"}` if it raises, crashes, times out or returns nonsense). CORS
headers are then set for an allowed origin, on the gateway's own answers too, and a function's are ignored.

An authorizer that raises, crashes, times out or answers something unreadable is a 500 and is never cached: only a
readable response (an allow, or a real `isAuthorized: false`) is. A request aiohttp cannot parse (a NUL or a bare CR
in a header, a header line without a colon, one over 8190 bytes) gets `400 {"message":"Bad Request"}` and a closed
connection, and neither the answer nor the log quotes what was sent: aiohttp's own answer repeats the offending line,
`Authorization` included.

The access log holds one line per request with nothing the caller chose: the method (or OTHER), the route's declared
path (not the request's, whose path parameters are the caller's), the status, the time taken, the request id and
how many query parameters there were (never their names or values: a URL may carry a secret).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from multidict import CIMultiDict

from .authorizers import DecisionCache, InvalidAuthorizerResponseError, decide, identity_values
from .cors import Cors
from .events import HttpRequest, InvalidProxyResultError, RequestEvents, from_aiohttp, parse_proxy_result
from .jwt_authorizer import JwksUnavailableError, JwtAuthorizers, UnauthorizedError
from .routing import Router
from .template import ApiSpec, JwtAuthorizerSpec, RouteSpec
from .workers import InvocationError

__all__ = ["Gateway", "Invoke"]

log = logging.getLogger("local_api.gateway")
access_log = logging.getLogger("local_api.access")

# (function logical id, event, request id) -> the function's result; raises InvocationError.
Invoke = Callable[[str, Mapping[str, Any], str], Awaitable[Any]]

MAX_BODY_BYTES: Final = 10 * 1024 * 1024  # the HTTP API payload limit
# Methods logged by name; anything else a caller invents is logged as OTHER.
_LOGGED_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


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
    def __init__(self, spec: ApiSpec, invoke: Invoke, jwks_urls: Mapping[str, str] | None = None) -> None:
        """`jwks_urls`: issuer -> local JWKS URL, for the JWT authorizers (see jwt_authorizer.py)."""
        self.spec = spec
        self._invoke = invoke
        self._router = Router(spec.routes, spec.stage)
        self._cors = Cors(spec.cors) if spec.cors is not None else None
        self._decisions = DecisionCache()
        self._jwt = JwtAuthorizers(jwks_urls or {})

    def forget_authorizer_results(self) -> None:
        """Drop every cached authorizer result, so the next request of each caller runs the authorizer again."""
        self._decisions.clear()

    async def close(self) -> None:
        """Release what the gateway holds besides the server (the JWKS client)."""
        await self._jwt.close()

    def server(self) -> web.Server:
        """What LocalApi serves: `handle` for every request, and the gateway's own 400 for unparsable ones."""
        return _GatewayServer(self.handle, access_log=None)

    def app(self) -> web.Application:
        """`handle` as an aiohttp Application (for aiohttp's TestServer); unparsable requests get aiohttp's 400."""
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{path:.*}", self.handle)
        return app

    async def handle(self, request: web.BaseRequest) -> web.Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        origin = request.headers.get("Origin")
        route = "(preflight)"
        if self._cors is not None and Cors.is_preflight(request.method, request.headers):
            status, headers, body = 204, self._cors.preflight_headers(origin), b""
        else:
            route = "(unknown)"
            try:
                route, (status, headers, body) = await self._serve(request, request_id)
            except web.HTTPRequestEntityTooLarge:
                status, headers, body = TOO_LARGE
            except Exception:  # a bug of the local API itself: answer as the gateway would, and say where
                log.exception("%s %s %s: the local API failed", _method(request.method), route, request_id)
                status, headers, body = INTERNAL_ERROR
            if self._cors is not None:
                headers = Cors.without_cors(headers) + self._cors.response_headers(origin)
        query = request.raw_path.partition("?")[2]
        access_log.info(
            "%s %s %d %.1f ms %s query_parameters=%d",
            _method(request.method),
            route,
            status,
            (time.perf_counter() - started) * 1000,
            request_id,
            len(parse_qsl(query, keep_blank_values=True)),
        )
        return _response(status, [*headers, ("apigw-requestid", request_id)], body)

    async def _serve(self, request: web.BaseRequest, request_id: str) -> tuple[str, Answer]:
        """(the matched route's declared path, for the log; the answer)."""
        facts = await from_aiohttp(request)
        match = self._router.match(facts.method, facts.raw_path)
        if match is None:
            return "(no route)", NOT_FOUND
        return match.route.path, await self._route(match.route, match.path_parameters, facts, request_id)

    async def _route(
        self, route: RouteSpec, path_parameters: Mapping[str, str], facts: HttpRequest, request_id: str
    ) -> Answer:
        events = RequestEvents(
            facts,
            route_key=route.route_key,
            path_parameters=dict(path_parameters),
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
        if isinstance(spec, JwtAuthorizerSpec):
            return await self._authorize_jwt(spec, events)
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

    async def _authorize_jwt(
        self, spec: JwtAuthorizerSpec, events: RequestEvents
    ) -> tuple[Answer | None, dict[str, Any] | None]:
        """A JWT authorizer invokes nothing: the token is checked here (401 when refused), the claims passed on."""
        if spec.identity_sources:
            identity = identity_values(spec, events.request)
            value = identity[0] if identity else None
        else:
            value = events.request.header("Authorization")  # the gateway's default identity source for a JWT
        if not value:
            return UNAUTHORIZED, None
        try:
            context = await self._jwt.authorize(spec, value)
        except UnauthorizedError as refused:
            log.info("authorizer %s %s: 401 (%s)", spec.name, events.request_id, refused.reason)
            return UNAUTHORIZED, None
        except JwksUnavailableError as error:
            log.error("authorizer %s %s: %s", spec.name, events.request_id, error)
            return INTERNAL_ERROR, None
        return None, context


def _method(method: str) -> str:
    """The method for a log line: a standard one by name, anything else a caller made up as OTHER."""
    return method if method in _LOGGED_METHODS else "OTHER"


class _GatewayProtocol(web.RequestHandler):
    """aiohttp's per-connection handler, answering what it cannot parse as the gateway does.

    aiohttp's own answer is a text/plain 400 that quotes the offending request line or header line (an Authorization
    value included), and its log line carries the same text in a traceback. Here: a JSON answer in the gateway's
    shape with the status's phrase only, and a log line with the parser's error class only. The connection is closed
    (its bytes can no longer be trusted); the server goes on serving others.
    """

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp: a response was partly sent, so the connection is broken
            raise ConnectionError("a response was already partly sent")
        kind = type(exc).__name__ if exc is not None else "unknown"
        if status >= 500:
            log.error("the local API failed while serving a request (%s)", kind)
        else:
            log.warning("%d for a request that could not be parsed (%s); the connection is closed", status, kind)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Bad Request" if status < 500 else "Internal Server Error"
        code, headers, body = _message(status, phrase)
        response = _response(code, headers, body)
        response.force_close()
        access_log.info("- (unparsed) %d - - query_parameters=0", status)
        return response


class _GatewayServer(web.Server):
    """aiohttp's low-level server with `_GatewayProtocol` for each connection and the gateway's body limit.

    (aiohttp 3.14 has no hook for parse errors: this subclass is where its connection handler is chosen.)
    """

    def __call__(self) -> web.RequestHandler:
        return _GatewayProtocol(self, loop=self._loop, **self._kwargs)

    def _make_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: web.RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return web.BaseRequest(message, payload, protocol, writer, task, self._loop, client_max_size=MAX_BODY_BYTES)


def _response(status: int, headers: Iterable[tuple[str, str]], body: bytes) -> web.Response:
    multi: CIMultiDict[str] = CIMultiDict()
    for name, value in headers:
        multi.add(name, value)
    return web.Response(status=status, headers=multi, body=body or None)
