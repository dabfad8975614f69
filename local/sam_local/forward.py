"""A TCP forwarder: the emulator's and moto's ports, also on the Docker bridge address, for the containers.

Under `make dev` everything binds 127.0.0.1. The Lambda containers cannot reach the host's loopback; they reach the
host at the bridge gateway (172.17.0.1). Rather than teach the emulator and moto to listen twice (moto's server
takes one host), the orchestrator listens on BRIDGE:PORT and relays each connection, byte for byte, to
127.0.0.1:PORT: gRPC (HTTP/2) and HTTP pass through unchanged, the servers stay exactly as `make dev` runs them, and
the relay lives and dies with the process that started the containers. The bridge address is only on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

__all__ = ["TcpForwarder"]

log = logging.getLogger("sam_local")
_CHUNK = 1 << 16


class TcpForwarder:
    """Listen on `listen_host:port`, relay every connection to `target_host:target_port`."""

    def __init__(self, name: str, listen_host: str, port: int, target_host: str, target_port: int) -> None:
        self.name = name
        self.listen_host = listen_host
        self.port = port
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            except OSError as error:
                log.warning("sam_local: %s relay: %s:%d refused (%s)", self.name, *self.target, error.strerror)
                return
            try:
                await asyncio.gather(_pump(reader, upstream_writer), _pump(upstream_reader, writer))
            finally:
                await _close(upstream_writer)
        finally:
            await _close(writer)
            self._tasks.discard(task)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close the other side (gRPC and HTTP keep working)."""
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
