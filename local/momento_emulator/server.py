"""One process, one event loop, two ports: native gRPC and grpc-web, both over the same core."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from dataclasses import dataclass

from aiohttp import web
from grpc import aio

from .core import EmulatorConfig, EmulatorCore
from .errors import UnavailableError
from .grpc_transport import PortInUseError, add_methods, create_grpc_server
from .service import MomentoService
from .web_transport import create_web_app

__all__ = ["EmulatorServer", "ServerOptions"]

log = logging.getLogger("momento_emulator")


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    grpc_port: int = 8080
    web_port: int = 8081
    cors_origins: frozenset[str] = frozenset()  # empty: echo any origin


class EmulatorServer:
    """Start with `await start()`, read `grpc_port` / `web_port`, end with `await stop()`."""

    def __init__(self, config: EmulatorConfig, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self.config = config
        self.core: EmulatorCore | None = None
        self.grpc_port = 0
        self.web_port = 0
        self._grpc: aio.Server | None = None
        self._web: web.AppRunner | None = None

    async def start(self) -> None:
        opts = self.options
        web_socket = _bind_tcp(opts.host, opts.web_port, "grpc-web")
        try:
            self._grpc, self.grpc_port = create_grpc_server(opts.host, opts.grpc_port, self.config.max_message_bytes)
        except PortInUseError:
            web_socket.close()
            raise
        # The endpoint returned with vended tokens defaults to this process's own gRPC address.
        config = self.config
        if not config.endpoint:
            config = dataclasses.replace(config, endpoint=f"{opts.host}:{self.grpc_port}")
        self.config = config
        self.core = EmulatorCore(config)
        methods = MomentoService(self.core).methods()
        add_methods(self._grpc, methods)
        await self._grpc.start()
        self._web = web.AppRunner(
            create_web_app(methods, config.max_message_bytes, opts.cors_origins),
            handler_cancellation=True,  # a browser that goes away ends its subscription at once
            access_log=None,
            shutdown_timeout=1.0,  # stop() must not wait for long-lived streams
        )
        await self._web.setup()
        site = web.SockSite(self._web, web_socket)
        await site.start()
        self.web_port = web_socket.getsockname()[1]
        log.info("listening: gRPC %s:%d, grpc-web %s:%d", opts.host, self.grpc_port, opts.host, self.web_port)

    async def stop(self, grace: float = 0.5) -> None:
        """End open subscriptions with UNAVAILABLE (clients reconnect), then close both ports within `grace`."""
        if self.core is not None:
            self.core.broker.fail_all(UnavailableError("the Momento emulator is shutting down"))
            await asyncio.sleep(0)  # let the streams write their final status
        if self._web is not None:
            await self._web.cleanup()
            self._web = None
        if self._grpc is not None:
            await self._grpc.stop(grace)
            self._grpc = None


def _bind_tcp(host: str, port: int, what: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise PortInUseError(what, host, port) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock
