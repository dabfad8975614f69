"""Native gRPC (HTTP/2) transport, for the Python and Node SDKs: grpcio aio with one generic handler.

Requests arrive as raw bytes (no deserializer) so a malformed message becomes INVALID_ARGUMENT from the service
instead of grpcio's generic INTERNAL; an unknown method gets grpcio's own UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from .errors import EmulatorError, InternalError
from .service import Method

__all__ = ["PortInUseError", "add_methods", "create_grpc_server"]

log = logging.getLogger("momento_emulator.grpc")

_CODES = {code.value[0]: code for code in grpc.StatusCode}


class PortInUseError(OSError):
    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(f"{what} port {port} on {host} is already in use (choose another, or 0 for a free one)")
        self.port = port


def _metadata(context: aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


async def _abort(context: aio.ServicerContext[Any, Any], path: str, error: EmulatorError) -> None:
    log.info("%s -> %s", path, error.status.name)
    await context.abort(_CODES[int(error.status)], error.message, tuple(error.trailers.items()))


def _unary(method: Method) -> Callable[[bytes, aio.ServicerContext[Any, Any]], Awaitable[bytes]]:
    assert method.unary is not None
    handler = method.unary

    async def call(request: bytes, context: aio.ServicerContext[Any, Any]) -> bytes:
        try:
            response = await handler(method.parse(request), _metadata(context))
        except EmulatorError as error:
            await _abort(context, method.path, error)
            raise AssertionError("unreachable: abort raises") from None
        except Exception:
            log.exception("%s failed", method.path)
            await _abort(context, method.path, InternalError("internal emulator error"))
            raise AssertionError("unreachable: abort raises") from None
        return response.SerializeToString()

    return call


def _stream(method: Method) -> Callable[[bytes, aio.ServicerContext[Any, Any]], AsyncIterator[bytes]]:
    assert method.stream is not None
    handler = method.stream

    async def call(request: bytes, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
        try:
            async for message in handler(method.parse(request), _metadata(context)):
                yield message
        except EmulatorError as error:
            await _abort(context, method.path, error)
        except Exception:
            log.exception("%s failed", method.path)
            await _abort(context, method.path, InternalError("internal emulator error"))

    return call


class _Handler(grpc.GenericRpcHandler):  # type: ignore[type-arg]  # generic only in the stubs
    def __init__(self, methods: dict[str, Method]) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for path, method in methods.items():
            if method.unary is not None:
                self._handlers[path] = grpc.unary_unary_rpc_method_handler(_unary(method))
            else:
                self._handlers[path] = grpc.unary_stream_rpc_method_handler(_stream(method))

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        return self._handlers.get(handler_call_details.method)


def add_methods(server: aio.Server, methods: dict[str, Method]) -> None:
    server.add_generic_rpc_handlers((_Handler(methods),))


def create_grpc_server(host: str, port: int, max_message_bytes: int) -> tuple[aio.Server, int]:
    """An aio server bound to (host, port), not yet started, and its bound port (port 0 = a free port)."""
    limit = max_message_bytes + 64 * 1024  # room for the envelope around the largest value
    server = aio.server(
        options=[
            ("grpc.so_reuseport", 0),  # otherwise a second process silently shares the port
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            # The SDKs ping every 5 s, even when idle; grpcio's defaults would answer GOAWAY "too_many_pings".
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 4000),
            ("grpc.http2.min_ping_interval_without_data_ms", 4000),
            ("grpc.http2.max_ping_strikes", 0),
        ]
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        raise PortInUseError("gRPC", host, port) from None
    if bound == 0:
        raise PortInUseError("gRPC", host, port)
    return server, bound
