"""`python -m tvm_users cognito ...` against a moto server holding a user pool made like the template's.

The pool, its groups and its app client come from template.yaml's own resources (strong password policy included),
so a password the deployed pool would refuse is refused here too. Sign-ins go through Cognito's InitiateAuth with
the real boto3, and the groups are read from the ID token moto signs, as the site and the TVM would receive them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.aws_moto import Moto
from tvm_users.__main__ import main

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
STRONG = "Corr3ct-Horse-Battery"  # meets the template's policy: 12+ characters, lower, upper and a digit
OTHER_STRONG = "An0ther-Good-Passphrase"
_TEMPLATE: dict[str, Any] = yaml_parse((ROOT / "template.yaml").read_text())
_RESOURCES: dict[str, Any] = _TEMPLATE["Resources"]


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # no region from the machine's AWS configuration


@dataclass
class Pool:
    endpoint: str
    pool_id: str
    client_id: str
    client: Any

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        return dict(
            self.client.initiate_auth(
                ClientId=self.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        )

    def id_claims(self, username: str, password: str) -> dict[str, Any]:
        """The ID token's claims (moto signs it with its public test key: read here, never trusted)."""
        token = self.sign_in(username, password)["AuthenticationResult"]["IdToken"]
        payload = token.split(".")[1]
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return claims


def _properties(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = _RESOURCES[logical_id]["Properties"]
    return properties


@pytest.fixture
def pool(moto: Moto) -> Pool:
    """A fresh pool per test (in the suite's moto server, emptied), with the template's settings, groups and app
    client."""
    endpoint = moto.url
    client = boto3.client("cognito-idp", region_name=REGION, endpoint_url=endpoint)
    spec = _properties("UserPool")
    pool_id = client.create_user_pool(
        PoolName="tvm-test-users",
        Policies=spec["Policies"],
        UsernameConfiguration=spec["UsernameConfiguration"],
        AdminCreateUserConfig=spec["AdminCreateUserConfig"],
        AccountRecoverySetting=spec["AccountRecoverySetting"],
    )["UserPool"]["Id"]
    for resource in _RESOURCES.values():
        if resource["Type"] == "AWS::Cognito::UserPoolGroup":
            group = resource["Properties"]
            client.create_group(
                UserPoolId=pool_id,
                GroupName=group["GroupName"],
                Description=group["Description"],
                Precedence=group["Precedence"],
            )
    app = _properties("UserPoolClient")
    client_id = client.create_user_pool_client(
        UserPoolId=pool_id, ClientName="tvm-test-site", GenerateSecret=False, ExplicitAuthFlows=app["ExplicitAuthFlows"]
    )["UserPoolClient"]["ClientId"]
    return Pool(endpoint, pool_id, client_id, client)


def run(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool, *argv: str, stdin: str = "", where: bool = True
) -> tuple[int, str, str]:
    """`python -m tvm_users cognito ARGV --user-pool-id ... --endpoint-url ...` in-process; (status, out, err)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    extra = ["--user-pool-id", pool.pool_id, "--endpoint-url", pool.endpoint] if where else []
    try:
        status = main(["cognito", *argv, *extra])
    except SystemExit as exc:
        status = int(exc.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_create_a_user_who_signs_in_with_their_groups(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    status, out, err = run(
        monkeypatch, capsys, pool, "add-user", "alice", "--group", "readwrite", "--password-stdin", stdin=STRONG + "\n"
    )
    assert status == 0, err
    assert out == f"added user alice (groups: readwrite) to user pool {pool.pool_id}\n"
    assert STRONG not in out + err
    claims = pool.id_claims("alice", STRONG)
    assert (claims["cognito:username"], claims["cognito:groups"]) == ("alice", ["readwrite"])
    assert pool.client.admin_get_user(UserPoolId=pool.pool_id, Username="alice")["UserStatus"] == "CONFIRMED"


def test_a_user_moves_tier_with_one_command_and_the_next_token_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool
) -> None:
    add = ("add-user", "bob", "--group", "readwrite", "--password-stdin")
    assert run(monkeypatch, capsys, pool, *add, stdin=STRONG)[0] == 0
    refresh = pool.sign_in("bob", STRONG)["AuthenticationResult"]["RefreshToken"]

    status, out, err = run(monkeypatch, capsys, pool, "set-groups", "bob", "--group", "readonly")
    assert (status, out) == (0, "bob: groups readwrite -> readonly\n"), err
    assert "next Cognito ID token" in err
    renewed = pool.client.initiate_auth(
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": refresh}
    )["AuthenticationResult"]["IdToken"]
    payload = renewed.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["cognito:groups"] == ["readonly"]

    # setting the same groups again changes nothing and says so
    status, out, err = run(monkeypatch, capsys, pool, "set-groups", "bob", "--group", "readonly")
    assert (status, out, err) == (0, "bob: groups readonly -> readonly\n", "")
    # both groups, then none: the user is in no group (the policy's default_tier, or nothing)
    assert run(monkeypatch, capsys, pool, "set-groups", "bob", "--group", "readonly", "--group", "readwrite")[:2] == (
        0,
        "bob: groups readonly -> readonly, readwrite\n",
    )
    assert run(monkeypatch, capsys, pool, "set-groups", "bob", "--no-groups")[:2] == (
        0,
        "bob: groups readonly, readwrite -> none\n",
    )
    assert "cognito:groups" not in pool.id_claims("bob", STRONG)


def test_add_to_and_remove_from_groups(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    assert run(monkeypatch, capsys, pool, "add-user", "carol", "--password-stdin", stdin=STRONG)[0] == 0
    assert run(monkeypatch, capsys, pool, "add-to-group", "carol", "--group", "readonly")[:2] == (
        0,
        "carol: groups none -> readonly\n",
    )
    assert run(monkeypatch, capsys, pool, "add-to-group", "carol", "--group", "readonly", "--group", "readwrite")[
        :2
    ] == (0, "carol: groups readonly -> readonly, readwrite\n")
    assert run(monkeypatch, capsys, pool, "remove-from-group", "carol", "--group", "readwrite")[:2] == (
        0,
        "carol: groups readonly, readwrite -> readonly\n",
    )
    # leaving a group the user is not in is not an error (the wanted state holds)
    assert run(monkeypatch, capsys, pool, "remove-from-group", "carol", "--group", "readwrite")[:2] == (
        0,
        "carol: groups readonly -> readonly\n",
    )


def test_list_users_with_groups_and_status(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    assert run(monkeypatch, capsys, pool, "list-users") == (0, "", "")
    for argv in (
        ("add-user", "alice", "--group", "readwrite", "--password-stdin"),
        ("add-user", "viewer", "--group", "readonly", "--password-stdin"),
        ("add-user", "newcomer", "--password-stdin", "--temporary"),
    ):
        assert run(monkeypatch, capsys, pool, *argv, stdin=STRONG)[0] == 0
    pool.client.admin_disable_user(UserPoolId=pool.pool_id, Username="viewer")
    status, out, err = run(monkeypatch, capsys, pool, "list-users")
    assert status == 0, err
    assert out.splitlines() == [
        "alice     readwrite  CONFIRMED",
        "newcomer  -          FORCE_CHANGE_PASSWORD",
        "viewer    readonly   CONFIRMED (disabled)",
    ]


def test_list_users_reads_every_page(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    """Cognito pages list_users and list_users_in_group at 60: a bigger pool must still be listed whole."""
    names = [f"user{index:03d}" for index in range(130)]
    for name in names:
        pool.client.admin_create_user(UserPoolId=pool.pool_id, Username=name, MessageAction="SUPPRESS")
        pool.client.admin_add_user_to_group(UserPoolId=pool.pool_id, Username=name, GroupName="readonly")
    status, out, err = run(monkeypatch, capsys, pool, "list-users")
    assert status == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert [row[0] for row in rows] == names
    assert {row[1] for row in rows} == {"readonly"}


def test_a_temporary_password_must_be_changed_at_first_sign_in(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool
) -> None:
    status, out, _ = run(
        monkeypatch,
        capsys,
        pool,
        "add-user",
        "dave",
        "--group",
        "readonly",
        "--password-stdin",
        "--temporary",
        stdin=STRONG,
    )
    assert status == 0 and out.endswith("they must choose a new password at their first sign-in\n")
    assert pool.sign_in("dave", STRONG)["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    # an administrator resets it to a permanent one
    status, out, _ = run(monkeypatch, capsys, pool, "set-password", "dave", "--password-stdin", stdin=OTHER_STRONG)
    assert (status, out) == (0, f"set the password of dave in user pool {pool.pool_id}\n")
    assert "AuthenticationResult" in pool.sign_in("dave", OTHER_STRONG)


def test_a_password_the_pool_refuses_says_so_and_leaves_no_user(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool
) -> None:
    status, out, err = run(
        monkeypatch,
        capsys,
        pool,
        "add-user",
        "alice",
        "--group",
        "readwrite",
        "--password-stdin",
        stdin="alice-password",
    )
    assert status == 2 and out == ""
    [line] = err.splitlines()
    assert line.startswith(f"error: user pool {pool.pool_id} refused the password: ")
    assert "password policy" in line and line.endswith("user 'alice' was not created")
    assert "alice-password" not in err and "Traceback" not in err
    assert pool.client.list_users(UserPoolId=pool.pool_id)["Users"] == []

    assert run(monkeypatch, capsys, pool, "add-user", "alice", "--password-stdin", stdin=STRONG)[0] == 0
    status, _, err = run(monkeypatch, capsys, pool, "set-password", "alice", "--password-stdin", stdin="short-one")
    assert status == 2 and "refused the password" in err and "short-one" not in err
    assert "AuthenticationResult" in pool.sign_in("alice", STRONG)  # the old password still works


@pytest.mark.parametrize(
    "argv",
    [
        ("set-groups", "nobody", "--group", "readonly"),
        ("add-to-group", "nobody", "--group", "readonly"),
        ("remove-from-group", "nobody", "--group", "readonly"),
        ("set-password", "nobody", "--password-stdin"),
        ("remove-user", "nobody"),
    ],
)
def test_an_unknown_user_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool, argv: tuple[str, ...]
) -> None:
    status, out, err = run(monkeypatch, capsys, pool, *argv, stdin=STRONG)
    assert (status, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("error: ") and "'nobody'" in line and "Traceback" not in err
    assert line == f"error: no user 'nobody' in user pool {pool.pool_id}"


def test_unknown_groups_and_existing_users_are_refused_before_any_change(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool
) -> None:
    status, _, err = run(
        monkeypatch, capsys, pool, "add-user", "erin", "--group", "admins", "--password-stdin", stdin=STRONG
    )
    assert status == 2
    assert err == f"error: user pool {pool.pool_id} has no group(s) 'admins'; its groups: readonly, readwrite\n"
    assert pool.client.list_users(UserPoolId=pool.pool_id)["Users"] == []

    assert (
        run(monkeypatch, capsys, pool, "add-user", "erin", "--group", "readonly", "--password-stdin", stdin=STRONG)[0]
        == 0
    )
    status, _, err = run(monkeypatch, capsys, pool, "set-groups", "erin", "--group", "readwrite", "--group", "admins")
    assert status == 2 and "no group(s) 'admins'" in err
    assert run(monkeypatch, capsys, pool, "list-users")[1] == "erin  readonly  CONFIRMED\n"

    status, _, err = run(monkeypatch, capsys, pool, "add-user", "erin", "--password-stdin", stdin=STRONG)
    assert (status, err) == (2, f"error: user 'erin' already exists in user pool {pool.pool_id}\n")


def test_remove_user(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    assert run(monkeypatch, capsys, pool, "add-user", "frank", "--password-stdin", stdin=STRONG)[0] == 0
    assert run(monkeypatch, capsys, pool, "remove-user", "frank")[:2] == (
        0,
        f"removed user frank from user pool {pool.pool_id}\n",
    )
    assert pool.client.list_users(UserPoolId=pool.pool_id)["Users"] == []


def test_an_unknown_pool_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    status = main(["cognito", "list-users", "--user-pool-id", "us-east-1_nope", "--endpoint-url", pool.endpoint])
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert (
        err == "error: user pool us-east-1_nope: User pool us-east-1_nope does not exist. (ResourceNotFoundException)\n"
    )


# moto's CloudFormation cannot create a user pool, so the pool is made first and its id reaches the stack's UserPoolId
# output through a parameter (the real template outputs !Ref of its own pool).
STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"PoolId": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"UserPoolId": {"Value": {"Ref": "PoolId"}}, "Region": {"Value": {"Ref": "AWS::Region"}}},
}


def test_the_pool_of_a_stack(monkeypatch: pytest.MonkeyPatch, capsys: Any, pool: Pool) -> None:
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=pool.endpoint)
    parameters = [{"ParameterKey": "PoolId", "ParameterValue": pool.pool_id}]
    stack = f"tvm-cognito-{pool.pool_id.partition('_')[2][:8].lower()}"
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(STACK_TEMPLATE), Parameters=parameters)
    where = ("--stack", stack, "--region", REGION, "--endpoint-url", pool.endpoint)
    status, out, err = run(
        monkeypatch,
        capsys,
        pool,
        "add-user",
        "gina",
        "--group",
        "readonly",
        *where,
        "--password-stdin",
        stdin=STRONG,
        where=False,
    )
    assert status == 0, err
    assert out == f"added user gina (groups: readonly) to stack {stack} ({pool.pool_id})\n"
    assert run(monkeypatch, capsys, pool, "list-users", *where, where=False)[1] == "gina  readonly  CONFIRMED\n"

    # the region can come from AWS_REGION (botocore itself only reads AWS_DEFAULT_REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    assert run(monkeypatch, capsys, pool, "list-users", *where[:2], *where[4:], where=False)[0] == 0
    monkeypatch.delenv("AWS_REGION")
    status, _, err = run(monkeypatch, capsys, pool, "list-users", *where[:2], *where[4:], where=False)
    assert (status, err) == (2, "error: no AWS region: set --region or AWS_REGION\n")

    other = f"{stack}-open"
    cloudformation.create_stack(StackName=other, TemplateBody=json.dumps({"Resources": STACK_TEMPLATE["Resources"]}))
    status, _, err = run(monkeypatch, capsys, pool, "list-users", "--stack", other, *where[2:], where=False)
    assert status == 2 and "has no UserPoolId output" in err and "AuthenticationMethod=AmazonCognito" in err
    status, _, err = run(monkeypatch, capsys, pool, "list-users", "--stack", "no-such-stack", *where[2:], where=False)
    assert status == 1 and err.startswith("error: stack no-such-stack: ") and len(err.splitlines()) == 1


def test_python_dash_m_with_aws_endpoint_url(pool: Pool) -> None:
    """The real entry point, with the endpoint from AWS_ENDPOINT_URL (as `make dev` exports it) and the region from
    the pool id; the password from stdin never appears in the output."""
    env = {**os.environ, "AWS_ENDPOINT_URL": pool.endpoint}

    def cli(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tvm_users", "cognito", *argv, "--user-pool-id", pool.pool_id]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False
        )

    done = cli("add-user", "hana", "--group", "readwrite", "--password-stdin", stdin=STRONG + "\n")
    assert done.returncode == 0, done.stderr
    assert STRONG not in done.stdout + done.stderr
    listing = cli("list-users")
    assert (listing.returncode, listing.stdout) == (0, "hana  readwrite  CONFIRMED\n")
    refused = cli("set-password", "hana", "--password-stdin", stdin="weak\n")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_a_local_endpoint_needs_no_aws_credentials(pool: Pool, tmp_path: Path) -> None:
    """The README's `--user-pool-id <id> --endpoint-url <moto URL>` against `make dev AUTH=AmazonCognito`'s pool, on a
    machine with no AWS configuration at all (no AWS_* variables, an empty HOME): it used to stop at "no AWS
    credentials". Dummy credentials are used for a local endpoint only; any other still needs real ones."""
    home = tmp_path / "home"
    home.mkdir()
    bare = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")} | {"HOME": str(home)}

    def cli(*argv: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "tvm_users", "cognito", *argv, "--user-pool-id", pool.pool_id]
        return subprocess.run(
            command, input=stdin, capture_output=True, text=True, cwd=ROOT, env=bare | env, timeout=60, check=False
        )

    done = cli(
        "add-user", "iris", "--group", "readonly", "--password-stdin", "--endpoint-url", pool.endpoint, stdin=STRONG
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert pool.id_claims("iris", STRONG)["cognito:groups"] == ["readonly"]
    listing = cli("list-users", "--endpoint-url", pool.endpoint.replace("127.0.0.1", "localhost"))
    assert (listing.returncode, listing.stdout, listing.stderr) == (0, "iris  readonly  CONFIRMED\n", "")
    from_env = cli("list-users", AWS_ENDPOINT_URL=pool.endpoint)  # the README's "(or AWS_ENDPOINT_URL)"
    assert (from_env.returncode, from_env.stdout) == (0, "iris  readonly  CONFIRMED\n"), from_env.stderr

    remote = cli("list-users", "--endpoint-url", "http://192.0.2.1:9")  # TEST-NET: not this machine
    assert remote.returncode == 1
    assert remote.stderr.splitlines() == [
        "error: no AWS credentials: configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID"
    ]
    shown = subprocess.run(
        [sys.executable, "-m", "tvm_users", "cognito", "list-users", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=bare,
        timeout=60,
        check=True,
    ).stdout
    assert "dummy credentials" in " ".join(shown.split())
