"""grpc-web transport (HTTP/1.1, for `@gomomento/sdk-web` in browsers), on aiohttp.

Browsers will not speak plaintext HTTP/2, so this is a second port beside native gRPC. Every call is preflighted:
preflights get 204 with the echoed origin and an explicit header list (a `*` does not cover `authorization`).
Answers are HTTP 200 with the status in a trailer frame, as grpc-web clients expect; a request that is not grpc-web
at all gets 415 with `grpc-status` in the headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator

from aiohttp import web

from . import grpcweb
from .errors import EmulatorError, InternalError, ResourceExhaustedError, Status, UnimplementedError
from .service import Method

__all__ = ["ALLOWED_HEADERS", "create_web_app"]

log = logging.getLogger("momento_emulator.web")

# Request headers the Momento web SDK sends (seen from Chromium), plus grpc-web's standard ones.
ALLOWED_HEADERS = (
    "accept, agent, authorization, cache, content-type, grpc-timeout, read-concern, runtime-version, "
    "x-grpc-web, x-user-agent"
)
EXPOSED_HEADERS = "grpc-status, grpc-message"
_METHODS = web.AppKey("methods", dict)
_ORIGINS = web.AppKey("origins", frozenset)


class _RedactBadRequests(logging.Filter):
    """aiohttp logs a malformed request with the offending bytes, which may hold a header such as `authorization`:
    keep the fact, drop the bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info or record.args:
            record.msg, record.args, record.exc_info, record.exc_text = "malformed HTTP request refused", (), None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("aiohttp.server").addFilter(_RedactBadRequests())


def create_web_app(methods: dict[str, Method], max_message_bytes: int, cors_origins: frozenset[str]) -> web.Application:
    """The grpc-web app. `cors_origins` empty = echo any origin (Momento serves every site)."""
    # base64 grows 4/3; leave room for frame headers and several padded units.
    app = web.Application(client_max_size=(max_message_bytes + 64 * 1024) * 4 // 3 + 1024)
    app[_METHODS] = methods
    app[_ORIGINS] = cors_origins
    app.router.add_route("OPTIONS", "/{path:.*}", _preflight)
    app.router.add_route("POST", "/{path:.*}", _call)
    return app


def _cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    allowed: frozenset[str] = request.app[_ORIGINS]
    if origin is None or (allowed and origin not in allowed):
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


async def _preflight(request: web.Request) -> web.Response:
    headers = _cors_headers(request)
    if "Access-Control-Allow-Origin" in headers:
        headers |= {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
    return web.Response(status=204, headers=headers)


async def _call(request: web.Request) -> web.StreamResponse:
    cors = _cors_headers(request) | {"Access-Control-Expose-Headers": EXPOSED_HEADERS}
    encoding = grpcweb.encoding_of(request.headers.get("Content-Type", ""))
    if encoding is None:
        return web.Response(
            status=415,
            text="this port speaks grpc-web (application/grpc-web-text)\n",
            headers=cors | {"grpc-status": str(int(Status.INVALID_ARGUMENT)), "grpc-message": "not a grpc-web request"},
        )
    headers = cors | {"Content-Type": request.headers["Content-Type"].split(";")[0]}
    path = request.path
    method: Method | None = request.app[_METHODS].get(path)
    try:
        if method is None:
            raise UnimplementedError(f"unknown method {path}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ResourceExhaustedError("request is over the emulator's message size limit") from None
        parsed = method.parse(grpcweb.parse_request_frames(grpcweb.decode_body(body, encoding)))
        metadata = {k.lower(): v for k, v in request.headers.items()}
        if method.unary is not None:
            response = await method.unary(parsed, metadata)
            data = grpcweb.encode_data(response.SerializeToString(), encoding)
            trailer = grpcweb.encode_trailer(Status.OK, "", encoding)
            return web.Response(body=data + trailer, headers=headers)
        assert method.stream is not None
        stream = method.stream(parsed, metadata)
        # Pull the first message before sending headers, so an immediate refusal is a plain error answer.
        first = await anext(stream)
    except EmulatorError as error:
        return _error_response(path, error, headers, encoding)
    except Exception:
        log.exception("%s failed", path)
        return _error_response(path, InternalError("internal emulator error"), headers, encoding)
    return await _stream_response(request, path, headers, encoding, first, stream)


async def _stream_response(
    request: web.Request,
    path: str,
    headers: dict[str, str],
    encoding: str,
    first: bytes,
    stream: AsyncGenerator[bytes, None],
) -> web.StreamResponse:
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    status, message = Status.OK, ""
    trailers: dict[str, str] = {}
    try:
        await response.write(grpcweb.encode_data(first, encoding))
        async for item in stream:
            await response.write(grpcweb.encode_data(item, encoding))
    except EmulatorError as error:
        status, message, trailers = error.status, error.message, error.trailers
    except (ConnectionResetError, ConnectionError):
        return response  # the browser went away; the subscription closes with the generator
    except Exception:
        log.exception("%s failed", path)
        status, message = Status.INTERNAL, "internal emulator error"
    finally:
        await stream.aclose()
    log.info("%s stream ended -> %s", path, status.name)
    try:
        await response.write(grpcweb.encode_trailer(status, message, encoding, trailers))
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass
    return response


def _error_response(path: str, error: EmulatorError, headers: dict[str, str], encoding: str) -> web.Response:
    log.info("%s -> %s", path, error.status.name)
    trailer = grpcweb.encode_trailer(error.status, error.message, encoding, error.trailers)
    return web.Response(body=trailer, headers=headers)
