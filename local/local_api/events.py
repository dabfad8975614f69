"""Payload-2.0 events from an HTTP request, and HTTP responses from what a function returns, as API Gateway does.

Why by hand: SAM CLI's local events keep header names in their original case while the real gateway lowercases them
(aws-sam-cli #2726, #3208), and code that passes locally must pass in AWS. What the real gateway does, and so what
this module does: header names lowercased, repeated headers joined with commas, the `cookie` header moved to
`cookies`, repeated query parameters joined with commas, text bodies passed as text and anything else base64, and
keys with nothing to say (`cookies`, `queryStringParameters`, `pathParameters`, `body`) left out.

The request is captured once as a plain `HttpRequest` (see `from_aiohttp`), so events can be built and tested without
a server.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote

from aiohttp import web

__all__ = [
    "HttpRequest",
    "InvalidProxyResultError",
    "ProxyResponse",
    "RequestEvents",
    "from_aiohttp",
    "parse_proxy_result",
]

_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXT_TYPES: Final = frozenset({"application/json", "application/xml", "application/javascript"})
_HOP_BY_HOP: Final = frozenset({"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade"})


@dataclass(frozen=True)
class HttpRequest:
    """One request as it arrived: raw path and query, headers in order with their original case, the body bytes."""

    method: str
    raw_path: str
    raw_query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"
    port: int = 80

    @property
    def path(self) -> str:
        return unquote(self.raw_path)

    def header(self, name: str) -> str | None:
        """All values of a header (any case), comma-joined as the gateway does; None when absent."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return ",".join(values) if values else None


async def from_aiohttp(request: web.BaseRequest) -> HttpRequest:
    """Capture an aiohttp request (reads the body)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    raw_path, _, raw_query = request.raw_path.partition("?")
    return HttpRequest(
        method=request.method,
        raw_path=raw_path,
        raw_query=raw_query,
        headers=tuple(request.headers.items()),
        body=await request.read(),
        source_ip=str(peer[0]) if peer else "127.0.0.1",
        protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        port=int(sockname[1]) if sockname else 80,
    )


# ---------------------------------------------------------------------------------------------------- requests
@dataclass
class RequestEvents:
    """The events one request produces. Built once per request: the authorizer's event and the integration's share
    the request id, the time and the trace header, as they do in AWS."""

    request: HttpRequest
    route_key: str
    path_parameters: Mapping[str, str]
    api_id: str
    stage: str
    region: str
    account_id: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    now: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self._headers = _event_headers(self.request, self.now)
        self._cookies = _cookies(self.request)
        self._query = _query_parameters(self.request.raw_query)

    @property
    def route_arn(self) -> str:
        """The `routeArn` an authorizer sees: the API, the stage, the method and the path requested."""
        return (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}"
            f"/{self.stage}/{self.request.method}{self.request.path}"
        )

    def authorizer_event(self, identity_source: list[str]) -> dict[str, Any]:
        """The payload-2.0 REQUEST authorizer event."""
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": self.route_arn,
            "identitySource": identity_source,
            **self._common(authorizer=None),
        }

    def proxy_event(self, authorizer: Mapping[str, Any] | None) -> dict[str, Any]:
        """The payload-2.0 proxy event; `authorizer` becomes `requestContext.authorizer` (absent on open routes)."""
        event = {"version": "2.0", **self._common(authorizer)}
        body, encoded = _body(self.request)
        if body is not None:
            event["body"] = body
        event["isBase64Encoded"] = encoded
        return event

    def _common(self, authorizer: Mapping[str, Any] | None) -> dict[str, Any]:
        event: dict[str, Any] = {
            "routeKey": self.route_key,
            "rawPath": self.request.raw_path,
            "rawQueryString": self.request.raw_query,
        }
        if self._cookies:
            event["cookies"] = list(self._cookies)
        event["headers"] = dict(self._headers)
        if self._query:
            event["queryStringParameters"] = dict(self._query)
        context = self._request_context()
        if authorizer is not None:
            context["authorizer"] = dict(authorizer)
        event["requestContext"] = context
        if self.path_parameters:
            event["pathParameters"] = dict(self.path_parameters)
        return event

    def _request_context(self) -> dict[str, Any]:
        host = _domain(self.request.header("host"))
        return {
            "accountId": self.account_id,
            "apiId": self.api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": self.request.method,
                "path": self.request.path,
                "protocol": self.request.protocol,
                "sourceIp": self.request.source_ip,
                "userAgent": self.request.header("user-agent") or "",
            },
            "requestId": self.request_id,
            "routeKey": self.route_key,
            "stage": self.stage,
            "time": _clf_time(self.now),
            "timeEpoch": int(self.now * 1000),
        }


def _event_headers(request: HttpRequest, now: float) -> dict[str, str]:
    """Lowercased names, repeats comma-joined, no `cookie`, plus the forwarding headers the gateway adds."""
    headers: dict[str, str] = {}
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{secrets.token_hex(12)}")
    return headers


def _domain(host_header: str | None) -> str:
    """The host part of a Host header (the gateway's `domainName`), without the port."""
    host = (host_header or "").strip()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0] or "localhost"


def _cookies(request: HttpRequest) -> list[str]:
    values = [value for name, value in request.headers if name.lower() == "cookie"]
    return [cookie.strip() for value in values for cookie in value.split(";") if cookie.strip()]


def _query_parameters(raw_query: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for name, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[name] = f"{parameters[name]},{value}" if name in parameters else value
    return parameters


def _is_text(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))


def _body(request: HttpRequest) -> tuple[str | None, bool]:
    """(body, isBase64Encoded): text media types as text, anything else (or no content type) base64."""
    if not request.body:
        return None, False
    if _is_text(request.header("content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def _clf_time(now: float) -> str:
    """`26/Nov/2025:15:00:00 +0000`, whatever the locale."""
    t = time.gmtime(now)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


# --------------------------------------------------------------------------------------------------- responses
class InvalidProxyResultError(ValueError):
    """The function returned something API Gateway cannot turn into a response (the gateway answers 500)."""


@dataclass(frozen=True)
class ProxyResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def parse_proxy_result(result: Any) -> ProxyResponse:
    """A payload-2.0 function result as an HTTP response.

    With a `statusCode` it is a structured response (headers, multiValueHeaders, cookies, body, isBase64Encoded);
    anything else is the body itself: 200, `application/json`, a string as is and any other value as JSON.
    """
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return ProxyResponse(200, (("content-type", "application/json"),), body.encode("utf-8"))
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidProxyResultError(f"statusCode {status!r} is not an HTTP status")
    headers: list[tuple[str, str]] = []
    for name, value in _mapping(result.get("headers"), "headers").items():
        if value is not None:
            headers.append((str(name), _header_value(value)))
    for name, values in _mapping(result.get("multiValueHeaders"), "multiValueHeaders").items():
        if not isinstance(values, list):
            raise InvalidProxyResultError("multiValueHeaders values must be lists")
        headers.extend((str(name), _header_value(value)) for value in values if value is not None)
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
        raise InvalidProxyResultError("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)
    headers = [(name, value) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    return ProxyResponse(status, tuple(headers), _response_body(result))


def _mapping(value: Any, name: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidProxyResultError(f"{name} must be an object")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidProxyResultError(f"header value {value!r} is not a string")


def _response_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise InvalidProxyResultError("body must be a string")
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise InvalidProxyResultError("isBase64Encoded but the body is not base64") from None
    return body.encode("utf-8")
