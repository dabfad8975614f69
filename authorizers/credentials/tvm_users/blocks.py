"""``python -m tvm_users revoke|restore|pause|resume|blocks``: cut a user, a tier or all vending off, and lift it.

Momento's tokens cannot be revoked, so the vending function refuses the next one instead: on every vend it reads the
stack's issuance table (momento_tvm.revocations: items under the partition `control`), whatever the gateway's
authorizer cache or a still-valid Cognito ID token says. These commands write those items, through the library's own
`DynamoDbRevocations` over boto3 (`Boto3JsonClient`), so the CLI and the function agree on every key.

The table is named by a deployed stack (``--stack``: its ``IssuanceTableName`` output, and its ``AuthenticationMethod``
and ``UserPoolId``), by name (``--table``, with ``--user-pool`` for a Cognito deployment), or is make dev's
(``--local``: the table ``tvm-issuance`` in the moto at 127.0.0.1:MOTO_PORT, its mode read from what that moto holds).

- A user is keyed as the function counts them (`momento_tvm.limits.limit_key`): case-folded in AmazonCognito mode,
  whose pool compares names without case; exact with the credentials authorizer.
- In AmazonCognito mode ``revoke`` also signs the user out everywhere and disables them in the pool, keeping in the
  block whether they were enabled before; ``restore`` enables again only a user the revoke disabled. The block is
  written first (the next vend is refused whatever happens next), and a user the pool does not have is refused with
  nothing written.
- In Open mode callers are guests who choose their own names: revoking one means nothing, so ``revoke`` refuses and
  points at ``pause guest``.
- ``by`` is who ran the command: the caller's ARN from STS GetCallerIdentity (no permission needed), or ``local``.

Each command prints one line of what it did; errors are one line. Exit status: 0 done, 2 your input (an unknown
user, nothing to restore or resume, a bad --until), 1 AWS or the network.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from tvm_users.cli import (
    LOCAL_CREDENTIALS,
    NO_CREDENTIALS,
    NO_REGION,
    CliError,
    aws_client,
    aws_error_message,
    aws_errors,
    resolve_region,
)
from tvm_users.cognito import UserPool
from tvm_users.cognito import resolve_region as pool_region
from tvm_users.store import is_valid_username
from tvm_users.tell import Momento, tell

if TYPE_CHECKING:
    from momento_tvm.control import ControlEvent
    from momento_tvm.revocations import Block, BlockKind, DynamoDbRevocations

__all__ = [
    "LOCAL_BY",
    "TABLE_OUTPUT",
    "Target",
    "add_commands",
    "local_target",
    "parse_until",
    "stack_target",
    "table_target",
]

TABLE_OUTPUT: Final = "IssuanceTableName"
KEY_SECRET_OUTPUT: Final = "MomentoApiKeySecretArn"  # noqa: S105 - an output's name, not a secret
ENDPOINT_OUTPUT: Final = "MomentoEndpoint"
CACHE_PARAMETER: Final = "CacheName"
DEFAULT_CACHE: Final = "default-cache"  # the template's CacheName default, and make dev's cache
TOLD: Final = "; open clients told"
MODE_OUTPUT: Final = "AuthenticationMethod"
POOL_OUTPUT: Final = "UserPoolId"
LOCAL_BY: Final = "local"
OPEN, CREDENTIALS, COGNITO = "Open", "LambdaAuthorizer", "AmazonCognito"
DEFAULT_REVOKE_REASON: Final = "revoked by an operator"
DEFAULT_PAUSE_REASON: Final = "paused by an operator"
MAX_REASON_CHARS: Final = 500
_DURATION: Final = re.compile(r"([1-9][0-9]{0,6})([smhd])")
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIER: Final = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")  # the policy's tier names (momento_tvm.policy's _NAME)
# The policy the checkout deploys: a paused tier it does not name is noted (a typo would pause nobody).
CHECKOUT_POLICY: Final = Path(__file__).resolve().parents[3] / "functions" / "token_vending" / "policy.yaml"
POLICY_SHOWN: Final = "functions/token_vending/policy.yaml"


@dataclass
class Target:
    """Where the blocks are kept, and what the deployment is: its mode and, in AmazonCognito mode, its pool."""

    description: str  # "stack tvm-dev (table ...)", "table ...", "make dev's moto at http://127.0.0.1:5000 (...)"
    store: DynamoDbRevocations
    mode: str  # Open | LambdaAuthorizer | AmazonCognito
    operator: Callable[[], str]  # who is running this, for the block's `by` (asked only when a block is written)
    pool: UserPool | None = None
    again: str = ""  # the target's options, to show in a suggested command ("--stack tvm-dev")
    missing_table_status: int = 2  # a table that does not exist: your input (2), or make dev not running (1)
    momento: Momento | None = None  # where to tell the clients holding tokens (None: they are not told)

    @property
    def case_insensitive(self) -> bool:
        return self.mode == COGNITO


def _revocations(dynamodb: Any, table: str) -> DynamoDbRevocations:
    from momento_tvm.aws_boto3 import Boto3JsonClient
    from momento_tvm.revocations import DynamoDbRevocations

    return DynamoDbRevocations(Boto3JsonClient(dynamodb), table)


def _caller_arn(region: str) -> Callable[[], str]:
    def ask() -> str:
        return str(aws_client("sts", region).get_caller_identity()["Arn"])

    return ask


def stack_target(cloudformation: Any, stack_name: str, region: str) -> Target:
    """A deployed stack's table, mode and pool, from its outputs."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o.get("OutputKey"): str(o.get("OutputValue")) for o in (stacks[0].get("Outputs", []) if stacks else [])}
    parameters = {
        p.get("ParameterKey"): str(p.get("ParameterValue")) for p in (stacks[0].get("Parameters", []) if stacks else [])
    }
    table = outputs.get(TABLE_OUTPUT)
    if not table:
        raise CliError(
            f"stack {stack_name!r} has no {TABLE_OUTPUT} output: deploy this version of the template first "
            "(its issuance table keeps the revocations and pauses)"
        )
    mode = outputs.get(MODE_OUTPUT) or (
        COGNITO if POOL_OUTPUT in outputs else CREDENTIALS if "UsersSecretArn" in outputs else OPEN
    )
    pool = None
    if mode == COGNITO:
        pool_id = outputs.get(POOL_OUTPUT)
        if not pool_id:
            raise CliError(f"stack {stack_name!r} runs AmazonCognito but has no {POOL_OUTPUT} output")
        pool = UserPool(aws_client("cognito-idp", region), pool_id, f"user pool {pool_id}")
    momento = None
    if outputs.get(KEY_SECRET_OUTPUT) and outputs.get(ENDPOINT_OUTPUT):
        endpoint = outputs[ENDPOINT_OUTPUT]
        momento = Momento(
            _secret_reader(region, outputs[KEY_SECRET_OUTPUT]),
            endpoint,
            parameters.get(CACHE_PARAMETER) or DEFAULT_CACHE,
            f"the stack's Momento ({endpoint})",
        )
    return Target(
        f"stack {stack_name} (table {table})",
        _revocations(aws_client("dynamodb", region), table),
        mode,
        _caller_arn(region),
        pool,
        f"--stack {stack_name}",
        momento=momento,
    )


def _secret_reader(region: str, secret_id: str) -> Callable[[], str]:
    """The Momento key from the stack's secret (its raw SecretString), read only when a message is published."""

    def read() -> str:
        try:
            value = aws_client("secretsmanager", region).get_secret_value(SecretId=secret_id).get("SecretString")
        except aws_errors() as error:
            raise CliError(f"cannot read the Momento key from {secret_id}: {aws_error_message(error)[0]}", 1) from None
        if not isinstance(value, str) or not value.strip():
            raise CliError(f"{secret_id} holds no Momento key (an empty or binary secret)", 1)
        return value.strip()

    return read


def table_target(
    table: str,
    region: str,
    user_pool_id: str | None,
    momento_secret: str | None = None,
    momento_endpoint: str | None = None,
    cache_name: str | None = None,
) -> Target:
    """A table by name: a Cognito deployment's when a pool is given, else the credentials authorizer's; its clients
    are told only when the deployment's Momento key (its secret) and endpoint are given too."""
    pool = None
    if user_pool_id is not None:
        pool = UserPool(aws_client("cognito-idp", region), user_pool_id, f"user pool {user_pool_id}")
    momento = None
    if momento_secret is not None and momento_endpoint is not None:
        momento = Momento(
            _secret_reader(region, momento_secret),
            momento_endpoint,
            cache_name or DEFAULT_CACHE,
            f"Momento at {momento_endpoint}",
        )
    return Target(
        f"table {table}",
        _revocations(aws_client("dynamodb", region), table),
        COGNITO if pool is not None else CREDENTIALS,
        _caller_arn(region),
        pool,
        f"--table {table}",
        momento=momento,
    )


def _local_client(service: str, endpoint: str, region: str) -> Any:
    """A boto3 client of make dev's moto: dummy credentials (moto accepts any), short timeouts, few retries, so a
    make dev that is not running is said at once rather than after boto3's backoff."""
    boto3 = importlib.import_module("boto3")
    config = importlib.import_module("botocore.config").Config(
        connect_timeout=2, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"}
    )
    session = boto3.session.Session(region_name=region, **LOCAL_CREDENTIALS)
    return session.client(service, endpoint_url=endpoint, config=config)


def local_target() -> Target:
    """make dev's table in its moto (MOTO_PORT, default 5000), and its mode, read from what that moto holds: a user
    pool (AmazonCognito), the users secret (LambdaAuthorizer), or neither (Open)."""
    from devstack.seed import ISSUANCE_TABLE_NAME, REGION, USERS_SECRET_NAME  # the names make dev gives them

    port = os.environ.get("MOTO_PORT", "").strip() or "5000"
    endpoint = f"http://127.0.0.1:{port}"
    where = f"make dev's moto at {endpoint}"
    setting = f"MOTO_PORT={port}" if os.environ.get("MOTO_PORT", "").strip() else "MOTO_PORT unset: 5000"
    hint = f"is make dev running with its moto there? ({setting})"
    cognito = _local_client("cognito-idp", endpoint, REGION)
    try:
        pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
        if pools:
            mode = COGNITO
        else:
            secrets = _local_client("secretsmanager", endpoint, REGION)
            try:
                secrets.describe_secret(SecretId=USERS_SECRET_NAME)
                mode = CREDENTIALS
            except secrets.exceptions.ResourceNotFoundException:
                mode = OPEN
    except aws_errors() as error:
        if type(error).__name__ in ("EndpointConnectionError", "ConnectTimeoutError"):
            raise CliError(f"nothing answers at {endpoint}: {hint}", 1) from None
        raise CliError(f"{where}: {aws_error_message(error)[0]}; {hint}", 1) from None
    pool = None
    if mode == COGNITO:
        if len(pools) != 1:
            raise CliError(f"{where} holds {len(pools)} user pools, not make dev's one: {hint}")
        pool_id = str(pools[0]["Id"])
        pool = UserPool(cognito, pool_id, f"the local user pool {pool_id}")
    return Target(
        f"{where} (table {ISSUANCE_TABLE_NAME})",
        _revocations(_local_client("dynamodb", endpoint, REGION), ISSUANCE_TABLE_NAME),
        mode,
        lambda: LOCAL_BY,
        pool,
        "--local",
        missing_table_status=1,
        momento=local_momento(),
    )


def local_momento() -> Momento:
    """make dev's emulator (MOMENTO_GRPC_PORT, default 8080), its development key and its cache."""
    from momento_emulator import DEFAULT_API_KEY

    port = os.environ.get("MOMENTO_GRPC_PORT", "").strip() or "8080"
    key = os.environ.get("MOMENTO_EMULATOR_API_KEY", "").strip() or DEFAULT_API_KEY
    endpoint = f"127.0.0.1:{port}"
    return Momento(lambda: key, endpoint, DEFAULT_CACHE, f"make dev's emulator at {endpoint}")


def _target(args: argparse.Namespace) -> Target:
    if args.user_pool is not None and args.table is None:
        raise CliError("--user-pool goes with --table (a stack names its own pool; make dev's is found in its moto)")
    if args.local:
        if args.region is not None:
            raise CliError("--region is not for --local: make dev's moto is in us-east-1")
        return local_target()
    if (args.momento_secret is None) != (args.momento_endpoint is None) or (
        args.cache_name is not None and args.momento_secret is None
    ):
        raise CliError("--momento-secret and --momento-endpoint go together (and --cache-name with them)")
    if args.momento_secret is not None and args.table is None:
        raise CliError("--momento-secret goes with --table (a stack names its own; make dev's is its emulator)")
    if args.table is not None:
        target = table_target(
            args.table,
            pool_region(args.region, args.user_pool),
            args.user_pool,
            args.momento_secret,
            args.momento_endpoint,
            args.cache_name,
        )
    else:
        region = resolve_region(args.region)
        target = stack_target(aws_client("cloudformation", region), args.stack, region)
    if args.region is not None:
        target.again += f" --region {args.region}"
    return target


@contextlib.contextmanager
def _store_errors(target: Target) -> Iterator[None]:
    """The table's failures (momento_tvm.revocations.StoreError: a code, never AWS's message) as one line."""
    from momento_tvm.revocations import StoreError

    try:
        yield
    except StoreError as error:
        code = error.code
        if code == "ResourceNotFoundException":
            fix = "is make dev running there?" if target.missing_table_status == 1 else "check the name and --region"
            status = target.missing_table_status
            raise CliError(f"{target.description}: no such table ({code}): {fix}", status) from None
        if code == "NoCredentials":
            raise CliError(NO_CREDENTIALS, 1) from None
        if code == "NoRegion":
            raise CliError(NO_REGION) from None
        if code in ("ConnectionError", "Timeout"):
            raise CliError(f"{target.description}: cannot reach DynamoDB ({code})", 1) from None
        raise CliError(f"{target.description}: DynamoDB refused ({code})", 1) from None


def parse_until(text: str | None, now: float) -> int | None:
    """--until as epoch seconds: a duration from now (30m, 2h, 1d, 90s) or an ISO-8601 time with its zone
    (2026-08-12T18:00Z, or an offset); None: until lifted."""
    if text is None:
        return None
    given = text.strip()
    duration = _DURATION.fullmatch(given)
    if duration is not None:
        return int(now) + int(duration[1]) * _UNIT_SECONDS[duration[2]]
    try:
        when = datetime.datetime.fromisoformat(given)
    except ValueError:
        raise CliError(
            f"--until {text!r}: give a duration (30m, 2h, 1d) or an ISO-8601 UTC time (2026-08-12T18:00Z)"
        ) from None
    if when.tzinfo is None:
        raise CliError(f"--until {text!r}: say which time zone (a Z for UTC: {given}Z)")
    epoch = int(when.timestamp())
    if epoch <= now:
        raise CliError(f"--until {text!r} is in the past")
    return epoch


def _reason(text: str | None, default: str) -> str:
    reason = default if text is None else text.strip()
    if not reason or len(reason) > MAX_REASON_CHARS or any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise CliError(f"--reason: 1 to {MAX_REASON_CHARS} characters on one line")
    return reason


def _until_shown(until: int | None) -> str:
    if until is None:
        return "until lifted"
    return "until " + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))


def _check_username(username: str) -> None:
    if not is_valid_username(username):
        raise CliError(f"invalid username {username!r}: usernames are 1-64 characters of A-Z a-z 0-9 _ . @ + -")


def _user_key(username: str, target: Target) -> str:
    """The key the vending function counts and checks this user by (`user#alice`)."""
    from momento_tvm.limits import limit_key

    return limit_key(username, anonymous=False, case_insensitive=target.case_insensitive)


def _held(target: Target, kind: BlockKind, subject: str) -> Block | None:
    """The block of this kind and subject the table holds now (lapsed or not)."""
    from momento_tvm.revocations import block_key

    with _store_errors(target):
        return next((b for b in target.store.list() if block_key(b.kind, b.subject) == block_key(kind, subject)), None)


def _told(target: Target, subject: str, event: ControlEvent, done: str) -> str:
    """Publish the event on the subject's control topic when the target has a Momento: `done` with what that did,
    or a one-line error saying the block holds but the clients holding tokens were not told."""
    if target.momento is None:
        return done
    try:
        tell(target.momento, subject, event)
    except CliError as error:
        raise CliError(f"{done}, but {error}: open clients keep their tokens until they expire", error.status) from None
    return done + TOLD


def _revoke(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    from momento_tvm.revocations import Block

    _check_username(args.username)
    now = time.time()
    until = parse_until(args.until, now)
    reason = _reason(args.reason, DEFAULT_REVOKE_REASON)
    target = _target(args)
    if target.mode == OPEN:
        raise CliError(
            f"{target.description} runs AuthenticationMethod=Open: guests choose their own names, so revoking one "
            f"means nothing; pause their tier instead: python -m tvm_users pause guest {target.again}"
        )
    key = _user_key(args.username, target)
    name = key.removeprefix("user#")
    pool_name, enabled, prior = None, None, None
    if target.pool is not None:
        found = target.pool.find(args.username)
        if found is None:
            raise CliError(f"no user {args.username!r} in {target.pool.description}; nothing was written")
        pool_name, enabled = found
        held = _held(target, "revoked", key)
        # Revoked again (a new reason, or after a failed sign-out): what the pool held before the FIRST revoke.
        prior = held.prior_enabled if held is not None and held.prior_enabled is not None else enabled
    block = Block("revoked", key, reason, target.operator(), int(now), until, prior)
    with _store_errors(target):
        target.store.put(block)
    done = f"revoked {name} ({_until_shown(until)}): {reason}"
    if target.pool is not None and pool_name is not None:
        try:
            target.pool.sign_out_everywhere(pool_name)
            if enabled:
                target.pool.set_enabled(pool_name, False)
        except CliError as error:
            raise CliError(
                f"{done}, but {error}: the user may still sign in; run the revoke again", error.status
            ) from None
        state = "disabled" if enabled else "already disabled"
        done += f"; signed out everywhere and {state} in {target.pool.description}"
        if until is not None:
            print(
                f"note: the pool keeps {name} disabled after the block lapses: restore {name} to let them sign in",
                file=stderr,
            )
    print(_told(target, key, "revoked", done), file=stdout)


def _restore(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    _check_username(args.username)
    target = _target(args)
    key = _user_key(args.username, target)
    name = key.removeprefix("user#")
    held = _held(target, "revoked", key)
    if held is None:
        raise CliError(f"{name} is not revoked in {target.description}")
    done = f"restored {name}"
    if target.pool is not None:
        found = target.pool.find(args.username)
        if found is None:
            done += f" (no longer in {target.pool.description})"
        elif held.prior_enabled:
            target.pool.set_enabled(found[0], True)  # before the block goes: a failure leaves them revoked
            done += f"; enabled again in {target.pool.description}"
        elif held.prior_enabled is False:
            done += f"; left disabled in {target.pool.description}, as before the revoke"
    with _store_errors(target):
        target.store.remove("revoked", key)
    print(_told(target, key, "restored", done), file=stdout)


def _subject(args: argparse.Namespace) -> tuple[BlockKind, str, str]:
    """(kind, subject, words) of `pause`/`resume`: TIER or --all, exactly one."""
    if (args.tier is None) == (not args.all):
        raise CliError("give a TIER or --all (one of them)")
    if args.all:
        return "vending_paused", "all", "all vending"
    if not _TIER.fullmatch(args.tier):
        raise CliError(f"invalid tier {args.tier!r}: tiers are 1-64 characters of A-Z a-z 0-9 _ . @ + -")
    return "tier_paused", args.tier, f"tier {args.tier}"


def _control_subject(kind: BlockKind, subject: str) -> str:
    """The control channel's subject of a pause (momento_tvm.control): the tier's, or everyone's."""
    from momento_tvm.control import all_subject, tier_subject

    return all_subject() if kind == "vending_paused" else tier_subject(subject)


def _checkout_tiers() -> list[str] | None:
    """The tiers of the policy this checkout deploys (None when it cannot be read)."""
    try:
        from momento_tvm.policy import load_policy

        return sorted(load_policy(CHECKOUT_POLICY).tiers)
    except Exception:  # a missing or broken policy file: then nothing to compare with
        return None


def _pause(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    from momento_tvm.revocations import Block

    kind, subject, words = _subject(args)
    now = time.time()
    until = parse_until(args.until, now)
    reason = _reason(args.reason, DEFAULT_PAUSE_REASON)
    target = _target(args)
    tiers = _checkout_tiers() if kind == "tier_paused" else None
    if tiers is not None and subject not in tiers:
        print(
            f"note: {POLICY_SHOWN} has no tier {subject!r} ({', '.join(tiers)}); "
            "paused anyway, for a deployed policy that has it",
            file=stderr,
        )
    with _store_errors(target):
        target.store.put(Block(kind, subject, reason, target.operator(), int(now), until))
    done = f"paused {words} ({_until_shown(until)}): {reason}"
    print(_told(target, _control_subject(kind, subject), "paused", done), file=stdout)


def _resume(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    kind, subject, words = _subject(args)
    target = _target(args)
    with _store_errors(target):
        lifted = target.store.remove(kind, subject)
    if lifted is None:
        raise CliError(f"{words} is not paused in {target.description}")
    print(_told(target, _control_subject(kind, subject), "resumed", f"resumed {words}"), file=stdout)


def describe(block: Block, now: float) -> str:
    """One line of `blocks`: the block, and whether it has lapsed (its time passed; lift it to remove it)."""
    lapsed = "" if block.applies(now) else " [lapsed: no longer applies]"
    return block.describe() + lapsed


def _blocks(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    target = _target(args)
    with _store_errors(target):
        blocks = target.store.list()
    now = time.time()
    for block in blocks:
        print(describe(block, now), file=stdout)
    if not blocks:
        print(f"no revocations or pauses in {target.description}", file=stderr)


def add_commands(commands: Any) -> None:
    """Register revoke, restore, pause, resume and blocks on the top-level parser's subcommands."""

    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(
            name, allow_abbrev=False, help=help_text, description=help_text
        )
        parser.set_defaults(run=run)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--stack", metavar="STACK_NAME", help=f"a deployed stack (its {TABLE_OUTPUT}, {MODE_OUTPUT}, {POOL_OUTPUT})"
        )
        where.add_argument("--table", metavar="NAME", help="the issuance table by name")
        where.add_argument(
            "--local", action="store_true", help="make dev's table, in its moto at 127.0.0.1:MOTO_PORT (default 5000)"
        )
        parser.add_argument("--region", help="AWS region (default: AWS_REGION or your AWS profile's)")
        parser.add_argument(
            "--user-pool", metavar="ID", help="with --table: the Cognito user pool of an AmazonCognito deployment"
        )
        parser.add_argument(
            "--momento-secret",
            metavar="ARN",
            help="with --table: the secret holding the deployment's Momento API key (to tell clients holding tokens)",
        )
        parser.add_argument("--momento-endpoint", metavar="HOST", help="with --momento-secret: the Momento endpoint")
        parser.add_argument(
            "--cache-name",
            metavar="NAME",
            help=f"with --momento-secret: the deployment's cache (default {DEFAULT_CACHE})",
        )
        return parser

    def timed(parser: argparse.ArgumentParser, default_reason: str) -> None:
        parser.add_argument("--reason", metavar="TEXT", help=f'why, kept with the block (default: "{default_reason}")')
        parser.add_argument(
            "--until", metavar="WHEN", help="lapse by itself then: 30m, 2h, 1d, or 2026-08-12T18:00Z (default: never)"
        )

    revoke = command(
        "revoke",
        "refuse every token to a user from now on (Cognito: also sign them out everywhere and disable them)",
        _revoke,
    )
    revoke.add_argument("username")
    timed(revoke, DEFAULT_REVOKE_REASON)

    restore = command(
        "restore", "lift a user's revocation (Cognito: enable them again if revoke disabled them)", _restore
    )
    restore.add_argument("username")

    pause = command("pause", "refuse every token to a tier, or to everyone (--all)", _pause)
    pause.add_argument("tier", nargs="?", metavar="TIER")
    pause.add_argument("--all", action="store_true", help="pause all vending")
    timed(pause, DEFAULT_PAUSE_REASON)

    resume = command("resume", "lift a tier's pause, or the global one (--all)", _resume)
    resume.add_argument("tier", nargs="?", metavar="TIER")
    resume.add_argument("--all", action="store_true", help="lift the global pause")

    command("blocks", "list the revocations and pauses, one line each", _blocks)
