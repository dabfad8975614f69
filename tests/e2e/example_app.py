"""The example app (examples/fastapi_chat) serving the built chat site in Session mode, under uvicorn on a free port
of 127.0.0.1 (its own thread and event loop), for the browser tests that need Session mode."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from examples.fastapi_chat.app import create_app
from momento_emulator.testing import EmulatorThread
from momento_tvm import MomentoSettings
from tests.conftest import CACHE

__all__ = ["SITE", "serve_example_app"]

SITE = Path(__file__).resolve().parents[2] / "static_site" / "dist"


@contextlib.contextmanager
def serve_example_app(emulator_thread: EmulatorThread, token_ttl_seconds: int) -> Iterator[str]:
    """Yields the app's base URL; stops the server on exit."""
    assert (SITE / "index.html").is_file(), "build the site first: make install-site"
    app = create_app(
        MomentoSettings.emulator(emulator_thread.grpc_port),
        cache_name=CACHE,
        site_dir=SITE,
        momento_web_url=f"http://127.0.0.1:{emulator_thread.web_port}",
        token_ttl_seconds=token_ttl_seconds,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="example-app", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the example app did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
