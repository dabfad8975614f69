"""`python -m momento_emulator`: run the emulator until SIGINT or SIGTERM.

The first line on stdout is one JSON object describing the running emulator (ports, endpoint), so scripts and tests
can start it on port 0 and read where it went. Logs go to stderr and never contain keys or tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys

from .core import DEFAULT_MAX_MESSAGE_BYTES, EmulatorConfig
from .grpc_transport import PortInUseError
from .server import EmulatorServer, ServerOptions
from .tokens import DEFAULT_API_KEY, DEFAULT_MAX_TOKEN_TTL_SECONDS

API_KEY_ENV = "MOMENTO_EMULATOR_API_KEY"
# The caches to create when no --cache is given: comma-separated. The name the example apps read their cache from,
# so one setting serves both; `make emulator` sets it (default "chat", the cache the docs' snippets use).
CACHES_ENV = "CACHE_NAME"


def caches_from_env(value: str | None) -> list[str]:
    """The names in CACHE_NAME ("chat" or "chat,orders"), blanks dropped."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="momento_emulator",
        description="A local Momento (token service, Topics, cache) for the real SDKs, without TLS.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--grpc-port", type=int, default=8080, help="native gRPC port, 0 = free (default: 8080)")
    parser.add_argument("--web-port", type=int, default=8081, help="grpc-web port, 0 = free (default: 8081)")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(API_KEY_ENV) or DEFAULT_API_KEY,
        help=f"the root API key (default: ${API_KEY_ENV}, else the documented development key)",
    )
    parser.add_argument("--endpoint", default="", help="endpoint returned with vended tokens (default: HOST:GRPC_PORT)")
    parser.add_argument(
        "--max-token-ttl",
        type=int,
        default=DEFAULT_MAX_TOKEN_TTL_SECONDS,
        help=f"longest disposable token, seconds (default: {DEFAULT_MAX_TOKEN_TTL_SECONDS}, the 25 hours Momento's "
        "token vending machine example states)",
    )
    parser.add_argument(
        "--cache",
        action="append",
        default=[],
        metavar="NAME",
        help=f"a cache that exists at start (repeatable; default: the comma-separated names in ${CACHES_ENV}, "
        "else none). Tokens may name any cache, as Momento's may; a call on one that does not exist is NOT_FOUND",
    )
    parser.add_argument(
        "--auth-quota",
        type=float,
        default=None,
        metavar="N",
        help="play Momento's auth quota: N token-service calls per second for the account (a number, e.g. 5, "
        "Momento's default; 0.2 = one every 5 s); over it, GenerateDisposableToken is RESOURCE_EXHAUSTED as "
        "Momento answers (the SDKs' LIMIT_EXCEEDED_ERROR). Default: off",
    )
    parser.add_argument("--heartbeat-interval", type=float, default=5.0, help="seconds between heartbeats (5)")
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"largest topic value or cache item (default: {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        help="an origin allowed on the grpc-web port (repeatable; default: any origin is echoed)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    if not args.cache:
        args.cache = caches_from_env(os.environ.get(CACHES_ENV))
    bad = [name for name in args.cache if not (0 < len(name) <= 255 and name.isprintable())]
    if bad:
        parser.error(f"cache names are 1 to 255 printable characters (--cache or ${CACHES_ENV}): {bad!r}")
    if args.max_token_ttl <= 0 or args.heartbeat_interval <= 0 or args.max_message_bytes <= 0:
        parser.error("--max-token-ttl, --heartbeat-interval and --max-message-bytes must be positive")
    if args.auth_quota is not None and not (0 < args.auth_quota < float("inf")):
        parser.error("--auth-quota must be a positive number of calls per second")
    return args


async def run(args: argparse.Namespace) -> int:
    config = EmulatorConfig(
        api_key=args.api_key,
        endpoint=args.endpoint,
        max_token_ttl_seconds=args.max_token_ttl,
        caches=tuple(dict.fromkeys(args.cache)),
        heartbeat_interval_seconds=args.heartbeat_interval,
        max_message_bytes=args.max_message_bytes,
        auth_quota=args.auth_quota,
    )
    options = ServerOptions(args.host, args.grpc_port, args.web_port, frozenset(args.cors_origin))
    server = EmulatorServer(config, options)
    try:
        await server.start()
    except PortInUseError as error:
        print(f"momento_emulator: {error}", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ready = {
        "grpc_port": server.grpc_port,
        "web_port": server.web_port,
        "host": args.host,
        "endpoint": server.config.endpoint,
        "web_url": f"http://{args.host}:{server.web_port}",
        "caches": list(config.caches),
        "auth_quota": config.auth_quota,
    }
    print(json.dumps(ready), flush=True)
    await stop.wait()
    await server.stop()
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
