"""A whole local stack (`make dev`'s Stack) on free ports, on its own event loop in a background thread, for tests
that talk to it with plain blocking clients (http.client, the synchronous SDK) or send its children signals."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from devstack.config import StackConfig
from devstack.stack import Stack
from tests.stack_settings import unlimited_policy

__all__ = ["StackThread"]


class StackThread:
    """A Stack on its own event loop in a background thread."""

    def __init__(self, auth: str) -> None:
        ports = {"api_port": 0, "site_port": 0, "momento_grpc_port": 0, "momento_web_port": 0, "moto_port": 0}
        # Explicit settings: no issuance limit (these tests send many requests as one user) and no Momento quota.
        self.stack = Stack(StackConfig(auth=auth, policy=unlimited_policy(), momento_auth_quota=None, **ports))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="stack", daemon=True)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def __enter__(self) -> Stack:
        self.thread.start()
        self.run(self.stack.start())
        return self.stack

    def __exit__(self, *_: object) -> None:
        try:
            self.run(self.stack.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
