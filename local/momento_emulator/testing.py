"""Run the emulator in a background thread, for tests and benchmarks that drive it with blocking clients.

with EmulatorThread(EmulatorConfig(caches=("test-cache",))) as emulator:
    emulator.grpc_port, emulator.web_port
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

from .core import EmulatorConfig, EmulatorCore
from .server import EmulatorServer, ServerOptions

__all__ = ["EmulatorThread"]

T = TypeVar("T")


class EmulatorThread:
    def __init__(self, config: EmulatorConfig, options: ServerOptions | None = None) -> None:
        self.server = EmulatorServer(config, options or ServerOptions(grpc_port=0, web_port=0))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="momento-emulator", daemon=True)

    @property
    def grpc_port(self) -> int:
        return self.server.grpc_port

    @property
    def web_port(self) -> int:
        return self.server.web_port

    @property
    def host(self) -> str:
        return self.server.options.host

    @property
    def config(self) -> EmulatorConfig:
        return self.server.config

    def start(self) -> EmulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=30)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()

    def call(self, fn: Callable[[EmulatorCore], T]) -> T:
        """Run `fn(core)` on the emulator's loop (the core is not thread-safe) and return its result."""

        async def run() -> T:
            assert self.server.core is not None
            return fn(self.server.core)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=30)

    def reset(self) -> None:
        self.call(lambda core: core.reset())

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
