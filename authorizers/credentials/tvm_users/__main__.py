"""Manage the TVM's users: ``python -m tvm_users add-user|remove-user|list-users`` and ``... cognito COMMAND``; cut
callers off: ``revoke|restore|pause|resume|blocks`` (`tvm_users.blocks`).

``add-user``, ``remove-user`` and ``list-users`` manage the credentials authorizer's users store (LambdaAuthorizer
mode); ``cognito`` manages the users and groups of an AmazonCognito deployment's user pool (see `tvm_users.cognito`).
The store is a local JSON file (``--file``), a Secrets Manager secret (``--secret-arn``), or the users secret of a
deployed stack (``--stack``, via its ``UsersSecretArn`` output). A local file in the demo format (`tvm_users.demo`:
``local/demo_users.json``, what `make dev` reads, plain-text passwords on purpose) is edited in that format; any
other file is a hashed users store. Passwords are read from stdin or prompted for, never taken as arguments (they
would land in shell history and in ``ps``). Exit status: 0 done, 2 a usage or input error (unknown user, bad name,
missing option, no AWS region, a store too large for a secret), 1 an AWS or file failure. AWS failures are one line,
never a traceback.

A secret is written compactly (`store.secret_string`), refused before Secrets Manager's 65,536-byte limit, and only
if nobody changed it since it was read: Secrets Manager has no compare-and-swap on a value, so the new value is put
as a version staged AWSPENDING, and AWSCURRENT is moved to it with ``RemoveFromVersionId`` = the version read, which
fails if AWSCURRENT has moved meanwhile. Then the edit (add this user, remove that one) is applied again to the new
value, up to EDIT_ATTEMPTS times, so two administrators at once both keep their change.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from tvm_users import blocks, cognito
from tvm_users.cli import (
    CliError,
    aws_client,
    aws_error_message,
    aws_errors,
    aws_errors_if_loaded,
    error_code,
    read_password,
    resolve_region,
)
from tvm_users.demo import DemoUsers, dump_demo_users, is_demo_document, parse_demo_users
from tvm_users.passwords import DEFAULT_N, MAX_PASSWORD_CHARS, PasswordHashError, ScryptParams, hash_password
from tvm_users.store import (
    UsersStore,
    UsersStoreError,
    UsersStoreTooLarge,
    dump_store,
    is_valid_group,
    is_valid_username,
    loads_store,
    parse_store,
    reserved_username_problem,
    secret_string,
)

__all__ = ["CliError", "main", "users_secret_arn_from_stack"]

STACK_OUTPUT: Final = "UsersSecretArn"
MIN_PASSWORD_CHARS: Final = 8
# Tests only: a cheaper scrypt n for hashes this CLI writes. Below the production cost it warns on every use.
SCRYPT_N_ENV: Final = "TVM_SCRYPT_N"
# How many times an edit is applied to a secret that keeps changing under it before the CLI gives up.
EDIT_ATTEMPTS: Final = 5
CONFLICT: Final = "the users secret changed while you edited it"
CURRENT: Final = "AWSCURRENT"
PENDING: Final = "AWSPENDING"


def _aws_client(service: str, region: str) -> Any:
    """A boto3 client, imported on first use: `--file` mode never pays for boto3."""
    return aws_client(service, region)


def _arn_region(arn: str | None) -> str | None:
    """The region an ARN names (arn:aws:secretsmanager:REGION:...), if it names one."""
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None


def users_secret_arn_from_stack(cloudformation: Any, stack_name: str) -> str:
    """The ``UsersSecretArn`` output of a deployed stack (a stack without it does not use the Lambda authorizer)."""
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == STACK_OUTPUT:
            return str(output["OutputValue"])
    raise CliError(
        f"stack {stack_name!r} has no {STACK_OUTPUT} output "
        "(only stacks deployed with AuthenticationMethod=LambdaAuthorizer have a users secret)"
    )


Users = UsersStore | DemoUsers


class VersionConflict(Exception):
    """Someone else's change reached the users secret between this command's read and its write."""


class Target(Protocol):
    """Where the users live: a hashed users store, or (`plain_text`) the local demo file."""

    description: str
    plain_text: bool

    def read(self, *, missing_ok: bool) -> Users: ...

    def write(self, store: Users) -> None:
        """Replace what `read` returned last; VersionConflict if it changed since (then read and edit again)."""
        ...


class FileTarget:
    """A local file: a hashed users store (created on the first add-user, mode 0600), or the demo file.

    A file in the demo format (`tvm_users.demo`, what `make dev` reads) stays in it: plain-text passwords, its
    comments and order kept; `plain_text` is known once `read` has looked.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = str(path)
        self.plain_text = False

    def read(self, *, missing_ok: bool) -> Users:
        if not self.path.exists():
            if missing_ok:
                return UsersStore()
            raise CliError(f"{self.path}: no such users file")
        try:
            data = json.loads(self.path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CliError(f"{self.path}: not valid JSON (line {getattr(exc, 'lineno', '?')})", status=1) from None
        try:
            if is_demo_document(data):
                self.plain_text = True
                self.description = f"{self.path} (the plain-text demo file)"
                return parse_demo_users(data, str(self.path))
            return parse_store(data)
        except UsersStoreError as exc:
            message = str(exc).removeprefix(f"{self.path}: ")
            raise CliError(f"{self.path}: {message}", status=1) from None

    def write(self, store: Users) -> None:
        if isinstance(store, DemoUsers):
            dump_demo_users(store, self.path)
        else:
            dump_store(store, self.path)


class SecretTarget:
    """A Secrets Manager secret holding the users-store JSON (compact), written only over the version it read."""

    plain_text = False

    def __init__(self, arn: str, client: Any, description: str | None = None) -> None:
        self.arn = arn
        self.client = client
        self.description = description or arn
        self.version: str | None = None  # the AWSCURRENT version `read` saw (None: the secret had no value)

    def read(self, *, missing_ok: bool) -> UsersStore:
        errors = aws_errors()
        try:
            # AWSCURRENT by name, though it is the default: moto (5.2.5) answers a read without it with the version
            # its own PutSecretValue made current last, even after UpdateSecretVersionStage moved AWSCURRENT on.
            response = self.client.get_secret_value(SecretId=self.arn, VersionStage=CURRENT)
        except errors as exc:
            if error_code(exc) != "ResourceNotFoundException" or not self._exists():
                raise
            response = {}  # the secret exists but has no value yet
        self.version = response.get("VersionId")
        text = response.get("SecretString")
        if text is None:
            if missing_ok:
                return UsersStore()
            raise CliError(f"{self.description}: the secret has no users store yet")
        try:
            return loads_store(text)
        except UsersStoreError as exc:
            raise CliError(f"{self.description}: {exc}", status=1) from None

    def _exists(self) -> bool:
        try:
            self.client.describe_secret(SecretId=self.arn)
        except aws_errors():
            return False
        return True

    def _moved_on(self) -> bool:
        """True if AWSCURRENT is no longer on the version read (False also when that cannot be told)."""
        try:
            stages = self.client.describe_secret(SecretId=self.arn).get("VersionIdsToStages", {})
        except aws_errors():
            return False
        return CURRENT not in stages.get(self.version, [])

    def write(self, store: Users) -> None:
        """Put the store as a new AWSPENDING version, then move AWSCURRENT to it from the version read: the move
        fails if AWSCURRENT is no longer there (someone else's write came first), which is a VersionConflict."""
        assert isinstance(store, UsersStore)  # a secret never holds plain-text passwords
        try:
            text = secret_string(store)
        except UsersStoreTooLarge as exc:
            raise CliError(f"{self.description}: {exc}; nothing was written") from None
        version = str(uuid.uuid4())
        put = self.client.put_secret_value(
            SecretId=self.arn, SecretString=text, ClientRequestToken=version, VersionStages=[PENDING]
        )
        try:
            if self.version is None:
                # The secret had no value: the first version is made AWSCURRENT by Secrets Manager itself, unless
                # another one came first.
                if CURRENT not in put.get("VersionStages", []):
                    raise VersionConflict
            else:
                try:
                    self.client.update_secret_version_stage(
                        SecretId=self.arn,
                        VersionStage=CURRENT,
                        MoveToVersionId=version,
                        RemoveFromVersionId=self.version,
                    )
                except aws_errors():
                    if self._moved_on():
                        raise VersionConflict from None
                    raise  # anything else (no UpdateSecretVersionStage permission, ...): AWS's own error
        finally:
            self._unstage_pending(version)
        self.version = version

    def _unstage_pending(self, version: str) -> None:
        """Take AWSPENDING ("a rotation is under way") off our version, current now or left unlabelled (AWS deletes
        such versions in time). If another writer's version holds it by now, that one is theirs: nothing to do."""
        try:
            self.client.update_secret_version_stage(
                SecretId=self.arn, VersionStage=PENDING, RemoveFromVersionId=version
            )
        except aws_errors():
            pass


def _target(args: argparse.Namespace) -> Target:
    if args.file is not None:
        return FileTarget(Path(args.file))
    # The region before any client: boto3 would only say "You must specify a region", from deep in a traceback.
    region = resolve_region(args.region or _arn_region(args.secret_arn))
    if args.secret_arn is not None:
        return SecretTarget(args.secret_arn, _aws_client("secretsmanager", region))
    arn = users_secret_arn_from_stack(_aws_client("cloudformation", region), args.stack)
    return SecretTarget(arn, _aws_client("secretsmanager", region), f"stack {args.stack} ({arn})")


def _scrypt_params(stderr: Any) -> ScryptParams:
    raw = os.environ.get(SCRYPT_N_ENV)
    if not raw:
        return ScryptParams()
    try:
        params = ScryptParams(n=int(raw))
    except (ValueError, PasswordHashError):
        raise CliError(f"{SCRYPT_N_ENV} must be a power of two (production: {DEFAULT_N})") from None
    if params.n < DEFAULT_N:
        print(f"warning: {SCRYPT_N_ENV}={params.n} is weaker than production (n={DEFAULT_N}); tests only", file=stderr)
    return params


def _read_password(username: str, from_stdin: bool) -> str:
    return read_password(
        f"Password for {username}", from_stdin, min_chars=MIN_PASSWORD_CHARS, max_chars=MAX_PASSWORD_CHARS
    )


def _check_username(username: str) -> None:
    if not is_valid_username(username):
        raise CliError(f"invalid username {username!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + - (never ':')")


def _edit(target: Target, store: Users, edit: Callable[[Users], Users], *, missing_ok: bool, stderr: Any) -> Users:
    """Write `edit(store)`; if the target changed since `store` was read, read it again and apply `edit` to that.

    `edit` raises CliError when the fresh value makes the change impossible (the user exists now, or is gone).
    """
    for attempt in range(1, EDIT_ATTEMPTS + 1):
        edited = edit(store)
        try:
            target.write(edited)
        except VersionConflict:
            if attempt == EDIT_ATTEMPTS:
                break
            print(f"note: {CONFLICT} (another change came first); applying yours to the new value", file=stderr)
            store = target.read(missing_ok=missing_ok)
            continue
        return edited
    raise CliError(f"{CONFLICT}, {EDIT_ATTEMPTS} times in a row; your change was not made: run the command again", 1)


def _add_user(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    _check_username(args.username)
    reserved = reserved_username_problem(args.username)  # new users only: an existing one can still be removed
    if reserved:
        raise CliError(reserved)
    groups: list[str] = list(dict.fromkeys(args.group or []))
    bad = [group for group in groups if not is_valid_group(group)]
    if bad:
        raise CliError(f"invalid group name(s) {bad}: use 1-64 characters of A-Z a-z 0-9 _ . -")
    target = _target(args)
    store = target.read(missing_ok=True)
    params = None if target.plain_text else _scrypt_params(stderr)

    def exists_error() -> CliError:
        return CliError(f"user {args.username!r} already exists in {target.description}: pass --replace to reset them")

    if args.username in store.users and not args.replace:
        raise exists_error()
    if target.plain_text:
        print(
            f"note: {target.path if isinstance(target, FileTarget) else target.description} is the plain-text demo "
            "file make dev reads (local development only): the password is stored as typed; use a throwaway one",
            file=stderr,
        )
    password = _read_password(args.username, args.password_stdin)
    secret = password if params is None else hash_password(password, params=params)
    replaced = False

    def add(current: Users) -> Users:
        nonlocal replaced
        replaced = args.username in current.users
        if replaced and not args.replace:
            raise exists_error()  # added by someone else meanwhile
        return current.with_user(args.username, secret, groups)

    _edit(target, store, add, missing_ok=True, stderr=stderr)
    verb = "replaced" if replaced else "added"
    print(f"{verb} user {args.username} (groups: {', '.join(groups) or 'none'}) in {target.description}", file=stdout)
    _demo_hint(target, stderr)


def _demo_hint(target: Target, stderr: Any) -> None:
    if target.plain_text:
        print("a running make dev applies the change within about a second (it watches the file)", file=stderr)


def _remove_user(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    _check_username(args.username)
    target = _target(args)
    store = target.read(missing_ok=False)

    def remove(current: Users) -> Users:
        if args.username not in current.users:
            raise CliError(f"no user {args.username!r} in {target.description}")
        return current.without_user(args.username)

    _edit(target, store, remove, missing_ok=False, stderr=stderr)
    print(f"removed user {args.username} from {target.description}", file=stdout)
    _demo_hint(target, stderr)


def _list_users(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    store = _target(args).read(missing_ok=False)
    width = max((len(name) for name in store.users), default=0)
    for name, record in store.users.items():
        print(f"{name:<{width}}  {','.join(record.groups) or '-'}", file=stdout)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tvm_users",
        allow_abbrev=False,
        description=(
            "Manage the TVM's users: the credentials authorizer's users store (add-user, remove-user, list-users; "
            "Basic auth, scrypt-hashed passwords) or a Cognito user pool (cognito COMMAND); cut a user, a tier or "
            "everyone off (revoke, restore, pause, resume, blocks; docs/revocation.md)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_target(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        where = sub.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--file",
            metavar="PATH",
            help="a local users-store file (local/demo_users.json, what make dev reads, stays plain-text demo data)",
        )
        where.add_argument("--secret-arn", metavar="ARN", help="the Secrets Manager secret holding the users store")
        where.add_argument("--stack", metavar="STACK_NAME", help=f"a deployed stack (reads its {STACK_OUTPUT} output)")
        sub.add_argument("--region", help="AWS region (default: the ARN's, else AWS_REGION or your AWS profile's)")
        return sub

    add = with_target(
        commands.add_parser("add-user", allow_abbrev=False, help="add a user (or reset one with --replace)")
    )
    add.add_argument("username")
    add.add_argument("--group", action="append", metavar="GROUP", help="a group (repeatable); groups pick the tier")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
    add.add_argument("--replace", action="store_true", help="overwrite an existing user's password and groups")
    add.set_defaults(run=_add_user)

    remove = with_target(commands.add_parser("remove-user", allow_abbrev=False, help="remove a user"))
    remove.add_argument("username")
    remove.set_defaults(run=_remove_user)

    listing = with_target(
        commands.add_parser("list-users", allow_abbrev=False, help="list users and their groups (never hashes)")
    )
    listing.set_defaults(run=_list_users)

    cognito.add_commands(commands)
    blocks.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(argv)  # exits with status 2 on a usage error
    try:
        args.run(args, sys.stdout, sys.stderr)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except OSError as exc:
        print(f"error: {exc.strerror or exc.__class__.__name__}: {exc.filename or ''}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not isinstance(exc, aws_errors_if_loaded()):
            raise
        message, status = aws_error_message(exc)
        print(f"error: {message}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
