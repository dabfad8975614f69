"""`python -m tvm_users cognito ...` against a pool in moto (passwords: prompted, refused, only the first line of
stdin) and against an endpoint where nothing listens. The rest, with no server, and the helpers shared here are
tests/unit/test_cognito_users.py."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.aws_moto import Moto
from tests.unit.test_cognito_users import STRONG, UNREACHABLE, run
from tests.unit.test_cognito_users import env as env


@pytest.fixture
def pool_id(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> str:
    """A pool with the two tier groups in moto (the suite's server, emptied, the endpoint of every boto3 client here
    and the CLI's), and the template's password policy."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    client = boto3.client("cognito-idp", region_name="us-east-1")
    policy = {"MinimumLength": 12, "RequireLowercase": True, "RequireUppercase": True, "RequireNumbers": True}
    created = client.create_user_pool(PoolName="p", Policies={"PasswordPolicy": {**policy, "RequireSymbols": False}})
    identifier = str(created["UserPool"]["Id"])
    for group in ("readwrite", "readonly"):
        client.create_group(UserPoolId=identifier, GroupName=group)
    return identifier


def users(pool_id: str) -> list[str]:
    client = boto3.client("cognito-idp", region_name="us-east-1")
    return [user["Username"] for user in client.list_users(UserPoolId=pool_id)["Users"]]


# --- passwords ----------------------------------------------------------------------------------------------------


def test_a_password_is_prompted_for_twice(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool_id: str) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return STRONG

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run(monkeypatch, capsys, "add-user", "alice", "--user-pool-id", pool_id)[0] == 0
    assert run(monkeypatch, capsys, "set-password", "alice", "--temporary", "--user-pool-id", pool_id)[0] == 0
    assert prompts == [
        "Password for alice: ",
        "Repeat the password: ",
        "Temporary password for alice: ",
        "Repeat the password: ",
    ]


def test_mismatched_prompts_create_nobody(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool_id: str) -> None:
    answers = iter([STRONG, STRONG + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    status, _, err = run(monkeypatch, capsys, "add-user", "alice", "--user-pool-id", pool_id)
    assert (status, err) == (2, "error: the passwords do not match\n")
    assert users(pool_id) == []


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        (STRONG[:6] + "\0" + STRONG[6:] + "\n", "a password cannot contain a NUL character"),
        ("\n", "a password must be 6 to 256 characters"),
        ("A1" + "x" * 255, "a password must be 6 to 256 characters"),
    ],
)
def test_a_bad_password_is_refused_and_creates_nobody(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool_id: str, stdin: str, message: str
) -> None:
    status, out, err = run(
        monkeypatch, capsys, "add-user", "alice", "--user-pool-id", pool_id, "--password-stdin", stdin=stdin
    )
    assert (status, out, err) == (2, "", f"error: {message}\n")
    assert users(pool_id) == []


def test_only_the_first_line_of_stdin_is_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool_id: str
) -> None:
    argv = ("add-user", "alice", "--user-pool-id", pool_id, "--password-stdin")
    assert run(monkeypatch, capsys, *argv, stdin=STRONG + "\r\nsomething else\n")[0] == 0
    client = boto3.client("cognito-idp", region_name="us-east-1")
    app = client.create_user_pool_client(UserPoolId=pool_id, ClientName="c", ExplicitAuthFlows=["USER_PASSWORD_AUTH"])
    result = client.initiate_auth(
        ClientId=app["UserPoolClient"]["ClientId"],
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": STRONG},
    )
    assert "AuthenticationResult" in result


# --- the environment ----------------------------------------------------------------------------------------------


def test_an_unreachable_endpoint_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    status, out, err = run(
        monkeypatch, capsys, "list-users", "--user-pool-id", "us-east-1_x", "--endpoint-url", UNREACHABLE
    )
    assert (status, out) == (1, "")
    assert err == f"error: cannot reach AWS at {UNREACHABLE}/\n"
