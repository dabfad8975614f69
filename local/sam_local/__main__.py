"""`python -m sam_local setup` (make install-sam) and `python -m sam_local api` (make sam-api).

setup: docker.io installed, the Lambda Python 3.13 x86_64 image built if missing (root only); a dockerd it had to
    start for that is stopped again. Idempotent: a second run checks and returns in about a second.
build: `sam build` for x86_64 (pyenv's Python 3.13) into .aws-sam/sam-local/build, never .aws-sam/build (which
    `sam deploy` would upload); `api --no-build` serves it as it is.
api:   the same as setup, then `sam build` and `sam local start-api` with the emulator and moto, until Ctrl-C or
    SIGTERM; then everything it started is stopped (its own containers only: those on this run's Docker network),
    dockerd too if it was not running before. If Docker goes away meanwhile, it says so in one line and stops.
DOCKER_HOST (unix:///path) picks the engine, as for the docker CLI and SAM CLI; none is started in its place.

Exit status: 0 after Ctrl-C / SIGTERM (or a finished setup), 1 when something failed (Docker gone, too), 2 for a
setting to fix (AUTH=AmazonCognito, a taken port). The ready report goes to stdout (`--ready-json`: one JSON line);
logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shlex
import sys

from devstack.errors import DevstackError
from devstack.modes import DEFAULT_AUTH, MODES
from devstack.seed import ISSUANCE_TABLE_NAME
from devstack.signals import run_until_stopped

from .engine import DockerDaemon, ensure_docker_installed
from .errors import SamLocalError
from .image import IMAGE, ensure_image
from .stack import SAM_AUTH_METHODS, SamApi, SamApiConfig, SamApiInfo, repo_root, sam_build

log = logging.getLogger("sam_local")
_RULE = "-" * 78


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sam_local", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="install docker.io and build the Lambda runtime image if missing (root)")
    commands.add_parser("build", help="sam build for x86_64 into .aws-sam/sam-local/build (what `api` serves)")
    api = commands.add_parser(
        "api",
        help="sam local start-api with the emulator and moto, until Ctrl-C",
        epilog="Ports: API_PORT (3000), MOMENTO_GRPC_PORT (8080), MOMENTO_WEB_PORT (8081), MOTO_PORT (5000); "
        "0 picks a free port.",
    )
    api.add_argument("--auth", default=DEFAULT_AUTH, help=f"{' or '.join(SAM_AUTH_METHODS)} (default: {DEFAULT_AUTH})")
    api.add_argument("--ready-json", action="store_true", help="when ready, print one JSON line instead of the block")
    api.add_argument("--no-build", action="store_true", help="reuse the last `sam build` (.aws-sam/sam-local/)")
    return parser.parse_args(argv)


def setup() -> float | None:
    """What `make install-sam` runs: the seconds the image build took, None when it was there already."""
    ensure_docker_installed()
    with DockerDaemon():
        return ensure_image(IMAGE)


def ready_block(info: SamApiInfo, image_seconds: float | None) -> str:
    lines = [
        _RULE,
        f" Momento token vending machine under SAM CLI's `sam local start-api` (ready in {info.startup_seconds:.1f} s)",
        "",
        f"   API    {info.api_url}   (SAM CLI's gateway; each function runs in a Docker container)",
    ]
    lines += [f"          {mount}" for mount in info.mounts]
    mode = MODES[info.auth_method]
    lines += mode.sam_ready_lines(info.api_url, info.users, info.guest_tier)
    invoke = info.invoke_command("TokenVendingFunction", mode.invoke_event)
    lines += [
        "          " + " ".join(shlex.quote(part) for part in invoke),
        "",
        f"   Momento emulator   gRPC {info.momento_endpoint}   grpc-web {info.momento_web_url}   "
        f"(functions: {info.function_momento_endpoint})",
        f"   moto (AWS)         {info.moto_url}   Secrets Manager, DynamoDB (issuance table {ISSUANCE_TABLE_NAME})   "
        f"(functions: {info.function_secrets_endpoint})",
        f"   Lambda image       {IMAGE}"
        + (f" (built here in {image_seconds:.0f} s)" if image_seconds is not None else " (built here before)"),
        f"   Docker             {info.docker_host}   network {info.docker_network} (this run's containers)",
        "",
        "   Ports (environment variables; 0 picks a free port):",
    ]
    for variable, port in info.ports.items():
        origin = (
            f"a free port ({variable}=0)"
            if port["requested"] == 0
            else f"set by {variable}"
            if port["source"] == "environment"
            else "default"
        )
        lines.append(f"     {variable:<20}{port['port']:<7}{port['what']:<34}{origin}")
    lines += ["   To change one: e.g. `API_PORT=3001 make sam-api`.", "", " Press Ctrl-C to stop.", _RULE]
    return "\n".join(lines)


async def run_api(api: SamApi, *, as_json: bool, image_seconds: float | None) -> int:
    def ready(info: SamApiInfo) -> str:
        if as_json:
            return json.dumps(
                {"event": "ready", "image_build_seconds": image_seconds, **info.to_json()}, separators=(",", ":")
            )
        return ready_block(info, image_seconds)

    try:
        # SamLocalError while starting propagates: main() says it in one line with its own status.
        return await run_until_stopped("sam_local", api, ready, start_errors=())
    finally:
        log.info("sam_local: stopped")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    os.chdir(repo_root())  # sam build keeps its dependency cache in ./.aws-sam
    daemon = DockerDaemon()
    try:
        if args.command == "build":
            print(f"sam_local: built in {asyncio.run(sam_build(SamApiConfig())):.1f} s")
            status = 0
        elif args.command == "setup":
            seconds = setup()
            print(f"sam_local: ready: {IMAGE} " + (f"built in {seconds:.0f} s" if seconds else "present"))
            status = 0
        else:
            config = SamApiConfig.from_env(args.auth, build=not args.no_build)
            daemon.ensure_running()
            image_seconds = ensure_image(IMAGE)
            status = asyncio.run(run_api(SamApi(config), as_json=args.ready_json, image_seconds=image_seconds))
    except (SamLocalError, DevstackError) as error:
        print(f"sam_local: {str(error).replace('make dev', 'make sam-api')}", file=sys.stderr, flush=True)
        status = error.exit_code
    finally:
        daemon.stop()
    sys.exit(status)


if __name__ == "__main__":
    main()
