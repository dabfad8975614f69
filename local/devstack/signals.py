"""Ctrl-C, SIGTERM and SIGHUP for the local runners (`make dev`, `make sam-api`): the first asks for a clean stop,
a second one kills at once."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

__all__ = ["stop_on_signals"]

log = logging.getLogger("devstack")


def stop_on_signals(who: str, kill: Callable[[], None]) -> asyncio.Event:
    """An event set by the first SIGINT/SIGTERM/SIGHUP (SIGHUP: the terminal was closed); the next calls `kill`."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    received = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal received
        received += 1
        if received == 1:
            log.info("%s: %s received, stopping everything (again to kill at once)", who, sig.name)
            stop_requested.set()
        else:
            log.warning("%s: killing the children now", who)
            kill()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    return stop_requested
