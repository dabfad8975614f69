"""`python -m tvm_users cognito ...` without a server: usage, the region, and failures before or instead of an AWS
call. Passwords against a pool in moto, and an unreachable endpoint, are tests/functional/test_cognito_users.py
(which shares this module's helpers); tests/integration/test_cognito_users.py runs the commands against moto with the
template's pool."""

from __future__ import annotations

import io
import os
import sys
from typing import Any

import botocore.exceptions
import pytest

from tvm_users.__main__ import main
from tvm_users.cli import CliError, is_local_endpoint
from tvm_users.cognito import _one_line_errors, resolve_region

STRONG = "Corr3ct-Horse-Battery"
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers, so any AWS call fails at once


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


def run(monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        status = main(["cognito", *argv])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


# --- the region ---------------------------------------------------------------------------------------------------


def test_the_region_comes_from_the_flag_then_the_pool_id_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_region("eu-west-1", None) == "eu-west-1"
    assert resolve_region("eu-west-1", "eu-west-1_AbC123") == "eu-west-1"
    assert resolve_region(None, "ap-southeast-2_AbC123") == "ap-southeast-2"
    with pytest.raises(CliError, match="no AWS region: set --region or AWS_REGION"):
        resolve_region(None, None)
    with pytest.raises(CliError, match="no AWS region"):
        resolve_region(None, "local_AbC123")  # not a region: the id says nothing
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # what botocore reads
    assert resolve_region(None, None) == "us-west-2"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # what Lambda and the AWS CLI v2 set: read first
    assert resolve_region(None, None) == "eu-central-1"
    assert resolve_region(None, "us-east-1_AbC123") == "us-east-1"  # the pool's own region wins over the default
    with pytest.raises(CliError, match="user pool us-east-1_AbC123 is in us-east-1, not in --region eu-west-1"):
        resolve_region("eu-west-1", "us-east-1_AbC123")


def test_a_stack_without_a_region_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    status, out, err = run(monkeypatch, capsys, "list-users", "--stack", "tvm", "--endpoint-url", UNREACHABLE)
    assert (status, out, err) == (2, "", "error: no AWS region: set --region or AWS_REGION\n")


# --- usage --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["add-user", "alice"],  # no pool
        ["list-users", "--user-pool-id", "us-east-1_x", "--stack", "tvm"],
        ["add-user", "alice", "--user-pool-id", "us-east-1_x", "--password", STRONG],  # never a password in argv
        ["set-groups", "alice", "--user-pool-id", "us-east-1_x"],  # a move names its groups, or --no-groups
        ["set-groups", "alice", "--user-pool-id", "us-east-1_x", "--group", "readonly", "--no-groups"],
        ["add-to-group", "alice", "--user-pool-id", "us-east-1_x"],
        ["remove-from-group", "alice", "--user-pool-id", "us-east-1_x"],
        ["remove-user", "--user-pool-id", "us-east-1_x"],
        ["list-users", "--user-pool", "us-east-1_x"],  # no abbreviations
    ],
)
def test_usage_errors_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: Any, argv: list[str]) -> None:
    status, _, err = run(monkeypatch, capsys, *argv)
    assert status == 2 and "usage:" in err


def test_an_unusable_username_is_refused_before_any_aws_call(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    """The TVM mints the username into every token and refuses others (identity.py): so does the CLI."""
    where = ("--user-pool-id", "us-east-1_x", "--endpoint-url", UNREACHABLE, "--password-stdin")
    for name in ("guest:x", "a" * 65, "ann lee"):
        status, _, err = run(monkeypatch, capsys, "add-user", name, *where, stdin=STRONG)
        assert (status, err) == (2, f"error: invalid username {name!r}: use 1-64 characters of A-Z a-z 0-9 _ . @ + -\n")


# --- the environment ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message", "status"),
    [
        (
            botocore.exceptions.NoCredentialsError(),
            "no AWS credentials: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID",
            1,
        ),
        (botocore.exceptions.NoRegionError(), "no AWS region: set --region or AWS_REGION", 2),
        (
            botocore.exceptions.ProfileNotFound(profile="nope"),
            "AWS call failed: The config profile (nope) could not be found",
            1,
        ),
    ],
)
def test_botocore_failures_become_one_line_errors(error: Exception, message: str, status: int) -> None:
    with pytest.raises(CliError) as info, _one_line_errors("user pool us-east-1_x"):
        raise error
    assert (str(info.value), info.value.status) == (message, status)


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:5000", True),
        ("http://127.0.0.2:5000/", True),
        ("http://localhost:5000", True),
        ("http://[::1]:5000", True),
        ("https://cognito-idp.us-east-1.amazonaws.com", False),
        ("http://192.0.2.1:5000", False),
        ("http://localhost.example.com:5000", False),
        ("http://[::1", False),
        ("", False),
    ],
)
def test_only_an_endpoint_on_this_machine_may_get_dummy_credentials(url: str, local: bool) -> None:
    assert is_local_endpoint(url) is local


def test_the_reserved_username_guest_is_refused_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    where = ("--user-pool-id", "us-east-1_x", "--endpoint-url", UNREACHABLE, "--password-stdin")
    for name in ("guest", "GuEsT"):
        status, _, err = run(monkeypatch, capsys, "add-user", name, *where, stdin=STRONG)
        assert (status, err) == (
            2,
            f"error: the username {name!r} is reserved (Open-mode guests are 'guest:<name>'): choose another\n",
        )
