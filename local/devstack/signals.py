"""Ctrl-C, SIGTERM and SIGHUP for the local runners (`make dev`, `make embedded`, `make sam-api`): the first asks for
a clean stop, a second one kills at once; and the runners' one life cycle (start, ready text, watch, stop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .errors import DevstackError

__all__ = ["Runner", "run_until_stopped", "stop_on_signals"]

Info = TypeVar("Info")
Info_co = TypeVar("Info_co", covariant=True)

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


class Runner(Protocol[Info_co]):
    """What a local runner is: started (its info when ready), watched, stopped (idempotent), killed."""

    async def start(self) -> Info_co: ...

    async def wait(self) -> Any: ...

    async def stop(self) -> None: ...

    def kill(self) -> None: ...


async def run_until_stopped(
    who: str,
    runner: Runner[Info],
    ready_text: Callable[[Info], str],
    start_errors: tuple[type[Exception], ...] = (DevstackError,),
) -> int:
    """Start `runner`, print its ready text, run until a signal (0) or until it fails (1), then stop it whatever
    happened. A `start_errors` error while starting is one line on stderr and its `exit_code`; a signal while
    starting stops what was started. `runner.wait()` ends only when a part failed: by raising, or with the reason."""
    stop_requested = stop_on_signals(who, runner.kill)
    stopper = asyncio.ensure_future(stop_requested.wait())
    try:
        starting = asyncio.ensure_future(runner.start())
        await asyncio.wait((starting, stopper), return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # stopped while starting: start() stops what it started when cancelled
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, DevstackError, *start_errors):
                await starting
            return 0
        try:
            info = starting.result()
        except start_errors as error:
            print(f"{who}: {error}", file=sys.stderr, flush=True)
            return int(getattr(error, "exit_code", 1))
        with contextlib.suppress(BrokenPipeError):  # stdout closed by the reader: keep running all the same
            print(ready_text(info), flush=True)
        watching = asyncio.ensure_future(runner.wait())
        await asyncio.wait((watching, stopper), return_when=asyncio.FIRST_COMPLETED)
        if watching.done():
            reason = watching.exception() or watching.result()
            print(f"{who}: {reason}; stopping the rest", file=sys.stderr, flush=True)
            return 1
        watching.cancel()
        return 0
    finally:
        stopper.cancel()
        await runner.stop()
