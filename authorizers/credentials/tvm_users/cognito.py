"""``python -m tvm_users cognito ...``: the users of an AmazonCognito deployment's user pool, and their groups (tiers).

The pool is named by ``--user-pool-id`` or by a deployed stack (``--stack``, its ``UserPoolId`` output). Everything
goes through Cognito's admin API with boto3, so it works the same against AWS and against moto (``--endpoint-url``
or ``AWS_ENDPOINT_URL``, as `make dev` runs it; an endpoint on this machine needs no AWS credentials:
`cli.aws_client`). Users are created without an invitation message (``MessageAction=SUPPRESS``): the administrator
sets the password, permanent unless ``--temporary``. Passwords come from a prompt or stdin, never argv. Every AWS
failure becomes a one-line error.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from tvm_users.cli import CliError, aws_client, error_code, import_boto3, read_password
from tvm_users.store import is_valid_username, reserved_username_problem

__all__ = ["STACK_OUTPUT", "CognitoUser", "UserPool", "add_commands", "resolve_region", "user_pool_id_from_stack"]

STACK_OUTPUT: Final = "UserPoolId"
# Cognito's own bounds: the API takes at most 256 characters, and no pool policy allows fewer than 6.
MIN_PASSWORD_CHARS: Final = 6
MAX_PASSWORD_CHARS: Final = 256
_REGION: Final = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")

# Cognito error codes that mean "your input", answered with status 2; anything else is the environment's (1).
_INPUT_ERRORS: Final = frozenset(
    {"InvalidParameterException", "InvalidPasswordException", "ResourceNotFoundException", "UserNotFoundException"}
)


@dataclass(frozen=True)
class CognitoUser:
    """One user as `list-users` shows them."""

    username: str
    status: str
    enabled: bool
    groups: tuple[str, ...]


def _pool_region(pool_id: str | None) -> str | None:
    """The region a pool id names (``us-east-1_AbC123`` is in us-east-1), or None if it does not look like one."""
    prefix = (pool_id or "").partition("_")[0]
    return prefix if _REGION.fullmatch(prefix) else None


def resolve_region(explicit: str | None, pool_id: str | None) -> str:
    """--region, else the pool id's own region, else AWS_REGION or the AWS configuration's; a clear error if none."""
    pool_region = _pool_region(pool_id)
    if explicit:
        if pool_region is not None and pool_region != explicit:
            raise CliError(f"user pool {pool_id} is in {pool_region}, not in --region {explicit}")
        return explicit
    if pool_region is not None:
        return pool_region
    configured = os.environ.get("AWS_REGION") or import_boto3().session.Session().region_name
    if not configured:
        raise CliError("no AWS region: set --region or AWS_REGION")
    return str(configured)


def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    """A boto3 client; without --endpoint-url boto3 itself honours AWS_ENDPOINT_URL (and the per-service form). A
    local endpoint (a moto on 127.0.0.1) needs no AWS credentials: dummy ones are used if none are configured."""
    return aws_client(service, region, endpoint_url)


@contextlib.contextmanager
def _one_line_errors(what: str, unknown_user: str | None = None) -> Iterator[None]:
    """botocore's errors as CliError one-liners (no traceback); `what` says which pool or stack was asked."""
    exceptions = importlib.import_module("botocore.exceptions")
    try:
        yield
    except exceptions.ClientError as exc:
        code = error_code(exc)
        if code == "UserNotFoundException" and unknown_user is not None:
            raise CliError(unknown_user) from None
        message = str(exc.response.get("Error", {}).get("Message") or code)
        status = 2 if code in _INPUT_ERRORS else 1
        raise CliError(f"{what}: {message} ({code})", status=status) from None
    except exceptions.NoRegionError:
        raise CliError("no AWS region: set --region or AWS_REGION") from None
    except exceptions.NoCredentialsError:
        raise CliError("no AWS credentials: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID", 1) from None
    except exceptions.EndpointConnectionError as exc:
        raise CliError(f"cannot reach AWS at {exc.kwargs.get('endpoint_url', '?')}", status=1) from None
    except exceptions.BotoCoreError as exc:
        raise CliError(f"AWS call failed: {exc}", status=1) from None


def user_pool_id_from_stack(cloudformation: Any, stack_name: str) -> str:
    """The ``UserPoolId`` output of a deployed stack (a stack without it is not an AmazonCognito deployment)."""
    with _one_line_errors(f"stack {stack_name}"):
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    for output in stacks[0].get("Outputs", []) if stacks else []:
        if output.get("OutputKey") == STACK_OUTPUT:
            return str(output["OutputValue"])
    raise CliError(
        f"stack {stack_name!r} has no {STACK_OUTPUT} output "
        "(only stacks deployed with AuthenticationMethod=AmazonCognito have a user pool)"
    )


class UserPool:
    """One Cognito user pool through the admin API. Every method raises CliError, never a botocore error."""

    def __init__(self, client: Any, pool_id: str, description: str | None = None) -> None:
        self.client = client
        self.pool_id = pool_id
        self.description = description or f"user pool {pool_id}"

    def _errors(self, username: str | None = None) -> contextlib.AbstractContextManager[None]:
        if username is None:
            return _one_line_errors(self.description)
        return _one_line_errors(f"{self.description}, user {username!r}", f"no user {username!r} in {self.description}")

    def _pages(self, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator(operation).paginate(UserPoolId=self.pool_id, **kwargs):
            yield from page.get(key, [])

    def group_names(self) -> list[str]:
        """The pool's groups (the tiers the policy can give), sorted."""
        with self._errors():
            return sorted(group["GroupName"] for group in self._pages("list_groups", "Groups"))

    def check_groups(self, groups: list[str]) -> None:
        """Refuse group names the pool does not have, naming the ones it does (before anything changes)."""
        known = self.group_names()
        unknown = [group for group in groups if group not in known]
        if unknown:
            raise CliError(
                f"{self.description} has no group(s) {', '.join(map(repr, unknown))}; "
                f"its groups: {', '.join(known) or 'none'}"
            )

    def exists(self, username: str) -> bool:
        with self._errors(username):
            try:
                self.client.admin_get_user(UserPoolId=self.pool_id, Username=username)
            except self.client.exceptions.UserNotFoundException:
                return False
        return True

    def groups_of(self, username: str) -> list[str]:
        """The user's groups, sorted; an unknown user is an error."""
        with self._errors(username):
            return sorted(
                group["GroupName"] for group in self._pages("admin_list_groups_for_user", "Groups", Username=username)
            )

    def create_user(self, username: str, password: str, groups: list[str], *, temporary: bool) -> None:
        """Create, set the password, join the groups; if a later step fails, the user is deleted again."""
        with self._errors(username):
            self.client.admin_create_user(UserPoolId=self.pool_id, Username=username, MessageAction="SUPPRESS")
        try:
            self.set_password(username, password, temporary=temporary)
            self.add_to_groups(username, groups)
        except CliError as exc:
            try:
                self.delete_user(username)
            except CliError:
                raise CliError(f"{exc}; user {username!r} was created but could not be removed again", 1) from None
            raise CliError(f"{exc}; user {username!r} was not created", exc.status) from None

    def set_password(self, username: str, password: str, *, temporary: bool) -> None:
        """A permanent password (the user signs in with it), or a temporary one they must change at first sign-in."""
        with self._errors(username):
            try:
                self.client.admin_set_user_password(
                    UserPoolId=self.pool_id, Username=username, Password=password, Permanent=not temporary
                )
            except self.client.exceptions.InvalidPasswordException as exc:
                message = exc.response.get("Error", {}).get("Message") or "it does not meet the password policy"
                raise CliError(f"{self.description} refused the password: {message}") from None

    def add_to_groups(self, username: str, groups: list[str]) -> None:
        with self._errors(username):
            for group in groups:
                self.client.admin_add_user_to_group(UserPoolId=self.pool_id, Username=username, GroupName=group)

    def remove_from_groups(self, username: str, groups: list[str]) -> None:
        with self._errors(username):
            for group in groups:
                self.client.admin_remove_user_from_group(UserPoolId=self.pool_id, Username=username, GroupName=group)

    def set_groups(self, username: str, groups: list[str]) -> list[str]:
        """Make the user's groups exactly `groups`; returns the groups they had.

        New groups are joined before old ones are left, so at no moment is the user in no group (which would give
        them the policy's default tier, or nothing): mid-move they hold the old tier or the new one.
        """
        before = self.groups_of(username)
        self.add_to_groups(username, [group for group in groups if group not in before])
        self.remove_from_groups(username, [group for group in before if group not in groups])
        return before

    def users(self) -> list[CognitoUser]:
        """Every user with their groups, by username: one call per group, not one per user."""
        with self._errors():
            members: dict[str, list[str]] = {}
            for group in self.group_names():
                for user in self._pages("list_users_in_group", "Users", GroupName=group):
                    members.setdefault(user["Username"], []).append(group)
            return sorted(
                (
                    CognitoUser(
                        user["Username"],
                        str(user.get("UserStatus", "?")),
                        bool(user.get("Enabled", True)),
                        tuple(members.get(user["Username"], [])),
                    )
                    for user in self._pages("list_users", "Users")
                ),
                key=lambda user: user.username,
            )

    def delete_user(self, username: str) -> None:
        with self._errors(username):
            self.client.admin_delete_user(UserPoolId=self.pool_id, Username=username)

    def find(self, username: str) -> tuple[str, bool] | None:
        """(the user's name as the pool holds it, whether the pool has them enabled); None for no such user.

        The template's pool compares usernames without case (as the vending function counts them), so `Alice` is
        `alice`: asked as given, then case-folded (moto, and a case-sensitive pool, find only the exact spelling)."""
        for candidate in dict.fromkeys((username, username.casefold())):
            with self._errors(candidate):
                try:
                    user = self.client.admin_get_user(UserPoolId=self.pool_id, Username=candidate)
                except self.client.exceptions.UserNotFoundException:
                    continue
            return str(user["Username"]), bool(user.get("Enabled", True))
        return None

    def sign_out_everywhere(self, username: str) -> None:
        """Revoke the user's refresh and access tokens on every device (AdminUserGlobalSignOut). An ID token already
        issued stays valid until it expires: API Gateway's JWT authorizer checks only its signature and time."""
        with self._errors(username):
            self.client.admin_user_global_sign_out(UserPoolId=self.pool_id, Username=username)

    def set_enabled(self, username: str, enabled: bool) -> None:
        """AdminEnableUser or AdminDisableUser: a disabled user cannot sign in."""
        with self._errors(username):
            if enabled:
                self.client.admin_enable_user(UserPoolId=self.pool_id, Username=username)
            else:
                self.client.admin_disable_user(UserPoolId=self.pool_id, Username=username)


def _pool(args: argparse.Namespace) -> UserPool:
    region = resolve_region(args.region, args.user_pool_id)
    if args.user_pool_id is not None:
        return UserPool(_client("cognito-idp", region, args.endpoint_url), args.user_pool_id)
    pool_id = user_pool_id_from_stack(_client("cloudformation", region, args.endpoint_url), args.stack)
    region = resolve_region(args.region or region, pool_id)
    return UserPool(_client("cognito-idp", region, args.endpoint_url), pool_id, f"stack {args.stack} ({pool_id})")


def _groups(args: argparse.Namespace) -> list[str]:
    return list(dict.fromkeys(args.group or []))


def _read_password(username: str, args: argparse.Namespace) -> str:
    kind = "Temporary password" if args.temporary else "Password"
    return read_password(
        f"{kind} for {username}", args.password_stdin, min_chars=MIN_PASSWORD_CHARS, max_chars=MAX_PASSWORD_CHARS
    )


def _shown(groups: list[str] | tuple[str, ...]) -> str:
    return ", ".join(groups) or "none"


def _first_sign_in(args: argparse.Namespace) -> str:
    return "; they must choose a new password at their first sign-in" if args.temporary else ""


def _add_user(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    if not is_valid_username(args.username):
        # The TVM mints the username into every token: refuse what it would refuse (identity.py's USERNAME).
        raise CliError(f"invalid username {args.username!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + -")
    reserved = reserved_username_problem(args.username)
    if reserved:
        raise CliError(reserved)
    groups = _groups(args)
    pool = _pool(args)
    pool.check_groups(groups)
    if pool.exists(args.username):
        raise CliError(f"user {args.username!r} already exists in {pool.description}")
    password = _read_password(args.username, args)
    pool.create_user(args.username, password, groups, temporary=args.temporary)
    print(
        f"added user {args.username} (groups: {_shown(groups)}) to {pool.description}{_first_sign_in(args)}",
        file=stdout,
    )


def _set_password(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    pool = _pool(args)
    if not pool.exists(args.username):
        raise CliError(f"no user {args.username!r} in {pool.description}")
    pool.set_password(args.username, _read_password(args.username, args), temporary=args.temporary)
    kind = "a temporary" if args.temporary else "the"
    print(f"set {kind} password of {args.username} in {pool.description}{_first_sign_in(args)}", file=stdout)


def _report_groups(args: argparse.Namespace, before: list[str], after: list[str], stdout: Any, stderr: Any) -> None:
    print(f"{args.username}: groups {_shown(before)} -> {_shown(after)}", file=stdout)
    if before != after:
        print(
            "note: the TVM sees the change in the user's next Cognito ID token (a refresh or a new sign-in); "
            "Momento tokens already issued keep their scope until they expire",
            file=stderr,
        )


def _change_groups(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    """add-to-group, remove-from-group and set-groups: check the names, change, and show before -> after."""
    pool = _pool(args)
    groups = _groups(args)
    pool.check_groups(groups)
    before = pool.groups_of(args.username)  # also: an unknown user is an error before anything changes
    if args.command_name == "add-to-group":
        pool.add_to_groups(args.username, [group for group in groups if group not in before])
    elif args.command_name == "remove-from-group":
        pool.remove_from_groups(args.username, [group for group in groups if group in before])
    else:
        pool.set_groups(args.username, groups)
    _report_groups(args, before, pool.groups_of(args.username), stdout, stderr)


def _list_users(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    users = _pool(args).users()
    rows = [
        (user.username, ",".join(user.groups) or "-", user.status + ("" if user.enabled else " (disabled)"))
        for user in users
    ]
    name_width = max((len(row[0]) for row in rows), default=0)
    group_width = max((len(row[1]) for row in rows), default=0)
    for name, groups, status in rows:
        print(f"{name:<{name_width}}  {groups:<{group_width}}  {status}", file=stdout)


def _remove_user(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    pool = _pool(args)
    if not pool.exists(args.username):
        raise CliError(f"no user {args.username!r} in {pool.description}")
    pool.delete_user(args.username)
    print(f"removed user {args.username} from {pool.description}", file=stdout)


def add_commands(commands: Any) -> None:
    """Register ``cognito COMMAND`` on the top-level parser's subcommands (`commands`: argparse's private type)."""
    cognito = commands.add_parser(
        "cognito",
        allow_abbrev=False,
        help="manage the users and groups (tiers) of an AmazonCognito deployment's user pool",
        description="Manage the users of a Cognito user pool and their groups, which the policy maps to tiers.",
    )
    sub = cognito.add_subparsers(dest="cognito_command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, run: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name, allow_abbrev=False, help=help_text, description=help_text
        )
        parser.set_defaults(run=run, command_name=name)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--user-pool-id", metavar="ID", help="the user pool, e.g. us-east-1_AbC123")
        where.add_argument("--stack", metavar="STACK_NAME", help=f"a deployed stack (reads its {STACK_OUTPUT} output)")
        parser.add_argument("--region", help="AWS region (default: the pool id's, else AWS_REGION or the AWS config)")
        parser.add_argument(
            "--endpoint-url",
            metavar="URL",
            help="another endpoint for every AWS call, e.g. the local moto of make dev AUTH=AmazonCognito "
            "(http://127.0.0.1:5000; default: AWS_ENDPOINT_URL). With no AWS credentials configured, a local one "
            "(localhost, 127.x, ::1) is called with dummy credentials (moto accepts any); any other needs real ones",
        )
        return parser

    def with_user(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument("username")
        return parser

    def with_password(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin's first line")
        parser.add_argument(
            "--temporary", action="store_true", help="a temporary password, to be changed at the first sign-in"
        )

    def with_groups(parser: argparse.ArgumentParser, *, required: bool, help_text: str) -> None:
        parser.add_argument("--group", action="append", metavar="GROUP", required=required, help=help_text)

    add = with_user(command("add-user", "create a user, set their password and put them in groups", _add_user))
    with_groups(add, required=False, help_text="a group (repeatable); the policy maps groups to tiers")
    with_password(add)

    password = with_user(command("set-password", "set (reset) a user's password", _set_password))
    with_password(password)

    joined = with_user(command("add-to-group", "add a user to groups", _change_groups))
    with_groups(joined, required=True, help_text="a group to join (repeatable)")

    left = with_user(command("remove-from-group", "remove a user from groups", _change_groups))
    with_groups(left, required=True, help_text="a group to leave (repeatable)")

    moved = with_user(
        command("set-groups", "make a user's groups exactly these: moves them to another tier", _change_groups)
    )
    choice = moved.add_mutually_exclusive_group(required=True)
    choice.add_argument("--group", action="append", metavar="GROUP", help="a group to be in (repeatable)")
    choice.add_argument(
        "--no-groups", action="store_true", help="leave every group (the policy's default_tier applies, or nothing)"
    )

    command("list-users", "list users with their groups and status", _list_users)

    with_user(command("remove-user", "delete a user from the pool", _remove_user))
