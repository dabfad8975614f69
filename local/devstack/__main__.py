"""`python -m devstack` (what `make dev` runs): the whole application offline until Ctrl-C or SIGTERM.

Exit status: 0 after Ctrl-C / SIGTERM, 1 when a part failed to start (or supervision could not go on), 2 for a
setting to fix (a taken port, an auth method not available locally). Once ready, a part that exits is restarted on
its ports (supervisor.py), so a crash does not end the command. The ready report goes to stdout (`--ready-json`: one
JSON line); logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from .config import AUTH_METHODS, PORT_VARIABLES, config_from_env
from .errors import DevstackError
from .ready import ready_block, ready_json
from .stack import Stack

log = logging.getLogger("devstack")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ports = ", ".join(f"{variable} ({default})" for variable, (default, _) in PORT_VARIABLES.items())
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run the whole token vending machine offline: Momento emulator, moto, the local HTTP API "
        "served from template.yaml, and the static site. Ctrl-C stops everything.",
        epilog=f"Ports come from environment variables: {ports}; 0 picks a free port. Everything binds 127.0.0.1.",
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        default="LambdaAuthorizer",
        help="the template's AuthenticationMethod (default: LambdaAuthorizer; AmazonCognito is a later issue)",
    )
    parser.add_argument(
        "--ready-json", action="store_true", help="when ready, print one JSON line on stdout instead of the block"
    )
    return parser.parse_args(argv)


async def run(stack: Stack, *, as_json: bool) -> int:
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info("devstack: %s received, stopping everything (again to kill at once)", sig.name)
            stop_requested.set()
        else:
            log.warning("devstack: killing the children now")
            stack.kill()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal was closed
        loop.add_signal_handler(sig, on_signal, sig)

    stopper: asyncio.Future[Any] = asyncio.ensure_future(stop_requested.wait())
    try:
        return await _run_until_stopped(stack, stopper, as_json=as_json)
    finally:
        stopper.cancel()
        await stack.stop()  # idempotent: whatever happened above, nothing is left running
        if stack.started_anything:
            log.info("devstack: stopped")


async def _run_until_stopped(stack: Stack, stopper: asyncio.Future[Any], *, as_json: bool) -> int:
    starting: asyncio.Future[Any] = asyncio.ensure_future(stack.start())
    await asyncio.wait((starting, stopper), return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():  # stopped while starting: start() stops what it started when cancelled
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, DevstackError):
            await starting
        return 0
    try:
        info = starting.result()
    except DevstackError as error:
        print(f"devstack: {error}", file=sys.stderr, flush=True)
        return error.exit_code

    with contextlib.suppress(BrokenPipeError):  # stdout closed by the reader: keep running all the same
        print(ready_json(info) if as_json else ready_block(info), flush=True)

    watching: asyncio.Future[Any] = asyncio.ensure_future(stack.wait())
    await asyncio.wait((watching, stopper), return_when=asyncio.FIRST_COMPLETED)
    if watching.done():
        print(f"devstack: {watching.exception()}; stopping the rest", file=sys.stderr, flush=True)
        return 1
    watching.cancel()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    try:
        config = config_from_env(args.auth)
        stack = Stack(config)
        status = asyncio.run(run(stack, as_json=args.ready_json))
    except DevstackError as error:
        print(f"devstack: {error}", file=sys.stderr, flush=True)
        status = error.exit_code
    sys.exit(status)


if __name__ == "__main__":
    main()
