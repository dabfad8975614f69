"""python -m local_api: serve template.yaml's HTTP API for one AuthenticationMethod until SIGINT/SIGTERM.

Prints one JSON line on stdout when ready, `{"port": N, "url": "http://127.0.0.1:N", "routes": [...]}`, for a
supervisor to read; everything else (function logs, one access line per request) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import signal
import sys
from pathlib import Path

from .errors import LocalApiError, PortInUseError
from .server import LocalApi

__all__ = ["main"]


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise SystemExit(f"local_api: {flag} expects NAME=VALUE, got {item!r}")
        pairs[name] = value
    return pairs


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_api", description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=Path("template.yaml"), help="default: template.yaml")
    parser.add_argument(
        "--auth-method", default=None, help="the AuthenticationMethod to serve (default: the template's)"
    )
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a template parameter")
    parser.add_argument(
        "--resource", action="append", default=[], metavar="ID=VALUE", help="a physical id: LogicalId or Id.Attribute"
    )
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="added to every function")
    parser.add_argument(
        "--jwks",
        action="append",
        default=[],
        metavar="ISSUER=URL",
        help="where a JWT authorizer's issuer's key set is served (local use only; moto's key is public)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="default: 3000; 0 picks a free port")
    parser.add_argument("--root", type=Path, default=None, help="where a relative --template is (default: cwd)")
    parser.add_argument("--quiet", action="store_true", help="no access log lines")
    return parser.parse_args(argv)


async def _serve(api: LocalApi) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stopping.set)
    try:
        await api.start()
    except PortInUseError as error:
        print(f"local_api: {error}: choose another port with --port (0 picks a free one)", file=sys.stderr)
        return 2
    except LocalApiError as error:
        print(f"local_api: {error}", file=sys.stderr)
        return 1
    try:
        routes = [dataclasses.asdict(route) for route in api.routes]
        print(json.dumps({"port": api.port, "url": api.url, "routes": routes}), flush=True)
        await stopping.wait()
    finally:
        await api.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    if args.quiet:
        logging.getLogger("local_api.access").setLevel(logging.WARNING)
    try:
        api = LocalApi(
            template=args.template,
            auth_method=args.auth_method,
            parameters=_pairs(args.param, "--param"),
            resources=_pairs(args.resource, "--resource"),
            env=_pairs(args.env, "--env"),
            jwks_urls=_pairs(args.jwks, "--jwks"),
            host=args.host,
            port=args.port,
            root=args.root,
        )
    except (LocalApiError, ValueError) as error:
        print(f"local_api: {error}", file=sys.stderr)
        return 2
    return asyncio.run(_serve(api))


if __name__ == "__main__":
    sys.exit(main())
