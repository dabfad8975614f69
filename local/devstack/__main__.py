"""`python -m devstack` (what `make dev` runs): the whole application offline until Ctrl-C or SIGTERM.

Exit status: 0 after Ctrl-C / SIGTERM, 1 when a part failed to start (or supervision could not go on), 2 for a
setting to fix (a taken port, an auth method not available locally, a bad policy or users file, TOKEN_TTL_SECONDS or
ALLOWED_ORIGINS), said in one line. Once ready, a part that exits is restarted on its ports (supervisor.py), so a
crash does not end the command, and edits of local/demo_users.json or the policy are applied while it runs. The
ready report goes to stdout (`--ready-json`: one JSON line); logs to stderr.

`python -m devstack token USER` (AmazonCognito mode, while `make dev AUTH=AmazonCognito` runs): signs USER in to the
local pool in moto (MOTO_PORT, default 5000) with USER_PASSWORD_AUTH and prints the ID token, for
`curl -H "Authorization: Bearer $TOKEN"`. A demo user's password comes from local/demo_users.json; anyone else's
from a prompt, or stdin with --password-stdin (never argv). Local only: moto's tokens prove nothing elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from .config import AUTH_METHODS, PORT_VARIABLES, config_from_env
from .errors import DevstackError
from .modes import DEFAULT_AUTH
from .ready import ready_block, ready_json
from .signals import run_until_stopped
from .stack import Stack

log = logging.getLogger("devstack")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ports = ", ".join(f"{variable} ({default})" for variable, (default, _) in PORT_VARIABLES.items())
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description="Run the whole token vending machine offline: Momento emulator, moto, the local HTTP API "
        "served from template.yaml, and the static site. Ctrl-C stops everything.",
        epilog=f"Ports come from environment variables: {ports}; 0 picks a free port. Everything binds 127.0.0.1. "
        "TOKEN_TTL_SECONDS=60: the site asks for tokens of that lifetime (10 to the tiers' maximum). "
        "ALLOWED_ORIGINS=http://localhost:5173[,...]: more CORS origins for the local API.",
    )
    parser.add_argument(
        "--auth",
        choices=AUTH_METHODS,
        default=DEFAULT_AUTH,
        help=f"the template's AuthenticationMethod (default: {DEFAULT_AUTH})",
    )
    parser.add_argument(
        "--ready-json", action="store_true", help="when ready, print one JSON line on stdout instead of the block"
    )
    return parser.parse_args(argv)


async def run(stack: Stack, *, as_json: bool) -> int:
    try:
        return await run_until_stopped("devstack", stack, ready_json if as_json else ready_block)
    finally:
        if stack.started_anything:
            log.info("devstack: stopped")


def token_main(argv: list[str]) -> int:
    """`python -m devstack token USER`: an ID token from the running stack's local Cognito pool, on stdout."""
    import getpass

    from .cognito import local_client_id, sign_in
    from .config import HOST, StackConfig

    parser = argparse.ArgumentParser(
        prog="python -m devstack token",
        description="Sign a user in to the local Cognito pool (make dev AUTH=AmazonCognito) and print the ID token.",
    )
    parser.add_argument("username")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    args = parser.parse_args(argv)
    from tvm_users.demo import load_demo_users
    from tvm_users.store import UsersStoreError

    try:
        demo = load_demo_users(StackConfig().demo_users_file)
    except (OSError, UsersStoreError) as error:
        print(f"devstack token: {error}", file=sys.stderr)
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif args.username in demo:
        password = demo[args.username][0]
    else:
        password = getpass.getpass(f"password for {args.username}: ")
    port = os.environ.get("MOTO_PORT", "").strip() or "5000"
    endpoint = f"http://{HOST}:{port}"
    try:
        result = sign_in(endpoint, local_client_id(endpoint), args.username, password)
    except DevstackError as error:
        print(f"devstack token: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # botocore: a wrong password, an unknown user, moto not running
        print(f"devstack token: {_sign_in_failure(error, args.username, endpoint, port)}", file=sys.stderr)
        return 1
    print(result["IdToken"])
    return 0


def _sign_in_failure(error: Exception, username: str, endpoint: str, port: str) -> str:
    """One line naming the URL tried: with MOTO_PORT unset it is 5000, which need not be where make dev's moto is."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
    if code in ("NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"):
        return f"sign-in of {username} at {endpoint} failed ({code}): check the username and the password"
    where = f"MOTO_PORT={port}" if os.environ.get("MOTO_PORT", "").strip() else f"MOTO_PORT is unset: port {port}"
    return (
        f"sign-in at {endpoint} failed ({code}): is make dev AUTH=AmazonCognito running, with its moto there? "
        f"({where}; make dev's ready block shows moto's URL)"
    )


def main(argv: list[str] | None = None) -> None:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["token"]:
        sys.exit(token_main(given[1:]))
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
