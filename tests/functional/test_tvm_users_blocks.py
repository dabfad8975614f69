"""`python -m tvm_users revoke|restore|pause|resume|blocks` against moto (DynamoDB, CloudFormation, Cognito, STS),
with the real boto3, through every target it takes (--table, --stack, --local); and what a caller then gets from a
`VendingMachine` reading the same table the way the vending function does (the standard-library client, the
emulator minting what is allowed). The whole stack under make dev is tests/integration/test_revocation_local.py.

moto's CloudFormation cannot deploy the SAM template, so a stack here is a plain template whose outputs name what
the real one creates (IssuanceTableName, AuthenticationMethod, UserPoolId), as tests/functional/test_users_cli.py
does for the users secret: `--stack` reads them with a real DescribeStacks.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.testing import EmulatorThread
from momento_tvm import Identity, MomentoSettings, VendingMachine, guest_identity, verified_identity
from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient
from momento_tvm.http import TokenRoutes
from momento_tvm.revocations import Block, DynamoDbRevocations
from tests.aws_moto import Moto, create_issuance_table
from tests.conftest import RunningEmulator
from tests.functional.test_dynamodb_limiter import create_table, environ
from tests.unit.test_users_cli import ROOT, run
from tests.unit.test_users_cli import env as env
from tvm_users.blocks import DEFAULT_CACHE, parse_until
from tvm_users.cli import CliError
from tvm_users.cognito import UserPool

TABLE = "tvm-issuance"
POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"
MOTO_ARN = "arn:aws:sts::123456789012:user/moto"  # who moto's STS says the caller is
PASSWORD = "alice-Passw0rd"
ALICE, BOB, VIEWER = (
    verified_identity("alice", ["readwrite"]),
    verified_identity("bob", ["readwrite"]),
    verified_identity("viewer", ["readonly"]),
)
GUEST = guest_identity("Ann")


@pytest.fixture(scope="module")
def make_dev_emulator() -> Iterator[EmulatorThread]:
    """An emulator holding make dev's cache, where `--local` tells the clients (MOMENTO_GRPC_PORT)."""
    with EmulatorThread(EmulatorConfig(caches=(DEFAULT_CACHE,), heartbeat_interval_seconds=1.0)) as thread:
        yield thread


@pytest.fixture
def local(aws: Moto, make_dev_emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """make dev as `--local` finds it: its moto at MOTO_PORT (no AWS_ENDPOINT_URL), its emulator at
    MOMENTO_GRPC_PORT."""
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("MOTO_PORT", str(aws.port))
    monkeypatch.setenv("MOMENTO_GRPC_PORT", str(make_dev_emulator.grpc_port))
    return aws


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Moto:
    """moto (emptied) as every boto3 client's endpoint, the CLI's too, holding the stack's table."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)
    create_table(moto, TABLE)
    return moto


def machine(moto: Moto, emulator: RunningEmulator, *, cognito: bool = False) -> VendingMachine:
    """What the vending function runs: the deployed policy, the table read with the standard-library client."""
    revocations = DynamoDbRevocations(StdlibAwsClient(DYNAMODB, timeout=5, environ=environ(moto.url)), TABLE)
    return VendingMachine(
        POLICY,
        MomentoSettings.emulator(port=emulator.grpc_port),
        cache_name=emulator.cache_name,
        revocations=revocations,
        case_insensitive_usernames=cognito,
    )


def answer(vendor: VendingMachine, who: Identity) -> tuple[int, str | None]:
    """What the caller sees from GET /token: the status, and the error code (None for a token)."""
    response = TokenRoutes(vendor).get(who, {}, source_ip="203.0.113.7")
    error = response.body.get("error") if isinstance(response.body, dict) else None
    if response.status == 200:
        assert response.body["authToken"]
    return response.status, error["code"] if error else None


def held(moto: Moto) -> list[Block]:
    return DynamoDbRevocations(StdlibAwsClient(DYNAMODB, timeout=5, environ=environ(moto.url)), TABLE).list()


def cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str) -> tuple[int, str, str]:
    status, out, err = run(monkeypatch, capsys, *argv)
    assert "Traceback" not in err
    if status != 0:
        assert err.count("\n") == 1 and err.startswith("error: "), err  # errors are one line
    return status, out, err


OK = (200, None)


# ---------------------------------------------------------------------- a user, with the credentials authorizer
def test_revoke_refuses_the_next_vend_and_restore_lifts_it(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, emulator: RunningEmulator
) -> None:
    vendor = machine(aws, emulator)
    assert answer(vendor, ALICE) == OK
    status, out, err = cli(monkeypatch, capsys, "revoke", "alice", "--table", TABLE, "--reason", "compromised laptop")
    assert (status, out, err) == (0, "revoked alice (until lifted): compromised laptop\n", "")
    assert answer(vendor, ALICE) == (403, "revoked")
    assert TokenRoutes(vendor).explain(ALICE, {}).status == 403  # explain too
    assert answer(vendor, BOB) == OK
    # The credentials authorizer compares names exactly: `Alice` is another user.
    assert answer(vendor, verified_identity("Alice", ["readwrite"])) == OK

    status, out, _ = cli(monkeypatch, capsys, "blocks", "--table", TABLE)
    assert status == 0
    since = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.fullmatch(rf"revoked: alice \(until lifted; since {since} by {MOTO_ARN}: compromised laptop\)\n", out), (
        out
    )

    assert cli(monkeypatch, capsys, "restore", "alice", "--table", TABLE)[:2] == (0, "restored alice\n")
    assert answer(vendor, ALICE) == OK
    status, _, err = cli(monkeypatch, capsys, "restore", "alice", "--table", TABLE)
    assert (status, err) == (2, f"error: alice is not revoked in table {TABLE}\n")
    status, out, err = cli(monkeypatch, capsys, "blocks", "--table", TABLE)
    assert (status, out, err) == (0, "", f"no revocations or pauses in table {TABLE}\n")


def test_revoke_until_a_time_lapses_by_itself(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, emulator: RunningEmulator
) -> None:
    before = int(time.time())
    status, out, _ = cli(monkeypatch, capsys, "revoke", "bob", "--table", TABLE, "--until", "30m")
    assert status == 0
    [block] = held(aws)
    assert block.until is not None and before + 1800 <= block.until <= int(time.time()) + 1800
    shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(block.until))
    assert out == f"revoked bob (until {shown}): revoked by an operator\n"
    assert (block.kind, block.subject, block.by, block.prior_enabled) == ("revoked", "user#bob", MOTO_ARN, None)
    assert answer(machine(aws, emulator), BOB) == (403, "revoked")

    # A block whose time has passed no longer applies, and `blocks` says so until it is lifted.
    past = Block("revoked", "user#bob", "r", "ops", before - 120, before - 60)
    DynamoDbRevocations(StdlibAwsClient(DYNAMODB, timeout=5, environ=environ(aws.url)), TABLE).put(past)
    assert answer(machine(aws, emulator), BOB) == OK
    status, out, _ = cli(monkeypatch, capsys, "blocks", "--table", TABLE)
    assert status == 0 and out.endswith(" [lapsed: no longer applies]\n") and out.count("\n") == 1


def test_until_takes_a_duration_or_a_utc_time() -> None:
    now = 1_700_000_000.5
    assert [parse_until(text, now) for text in ("90s", "30m", "2h", "1d", None)] == [
        1_700_000_090,
        1_700_001_800,
        1_700_007_200,
        1_700_086_400,
        None,
    ]
    # 2027-01-15T08:00:00Z is 1,800,000,000 seconds after the epoch
    for text in ("2027-01-15T08:00:00Z", "2027-01-15T08:00Z", "2027-01-15T09:00+01:00"):
        assert parse_until(text, now) == 1_800_000_000, text


@pytest.mark.parametrize(
    ("until", "message"),
    [
        ("2027-01-15T08:00", "--until '2027-01-15T08:00': say which time zone (a Z for UTC: 2027-01-15T08:00Z)"),
        ("2020-01-01T00:00Z", "--until '2020-01-01T00:00Z' is in the past"),
        ("0m", "--until '0m': give a duration (30m, 2h, 1d) or an ISO-8601 UTC time (2026-08-12T18:00Z)"),
        ("soon", "--until 'soon': give a duration (30m, 2h, 1d) or an ISO-8601 UTC time (2026-08-12T18:00Z)"),
    ],
)
def test_a_bad_until_is_one_line_and_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, until: str, message: str
) -> None:
    for argv in (("revoke", "alice"), ("pause", "readonly")):
        status, out, err = cli(monkeypatch, capsys, *argv, "--table", TABLE, "--until", until)
        assert (status, out, err) == (2, "", f"error: {message}\n")
    assert held(aws) == []


def test_bad_inputs_are_one_line_and_write_nothing(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto) -> None:
    table = ("--table", TABLE)
    cases = {
        (
            "revoke",
            "al:ice",
            *table,
        ): "invalid username 'al:ice': usernames are 1-64 characters of A-Z a-z 0-9 _ . @ + -",
        ("restore", "a" * 65, *table): f"invalid username '{'a' * 65}': usernames are 1-64 characters of "
        "A-Z a-z 0-9 _ . @ + -",
        ("revoke", "alice", "--reason", "two\nlines", *table): "--reason: 1 to 500 characters on one line",
        ("revoke", "alice", "--reason", " ", *table): "--reason: 1 to 500 characters on one line",
        ("pause", *table): "give a TIER or --all (one of them)",
        ("pause", "readonly", "--all", *table): "give a TIER or --all (one of them)",
        ("resume", *table): "give a TIER or --all (one of them)",
        ("pause", "read only", *table): "invalid tier 'read only': tiers are 1-64 characters of A-Z a-z 0-9 _ . @ + -",
        ("blocks", "--stack", "tvm", "--user-pool", "us-east-1_x"): "--user-pool goes with --table (a stack names "
        "its own pool; make dev's is found in its moto)",
        ("blocks", "--local", "--region", "eu-west-1"): "--region is not for --local: make dev's moto is in us-east-1",
        ("resume", "readonly", *table): f"tier readonly is not paused in table {TABLE}",
        ("resume", "--all", *table): f"all vending is not paused in table {TABLE}",
        ("blocks", "--table", "nope"): "table nope: no such table (ResourceNotFoundException): check the name and "
        "--region",
    }
    for argv, message in cases.items():
        status, out, err = cli(monkeypatch, capsys, *argv)
        assert (status, out, err) == (2, "", f"error: {message}\n"), argv
    assert held(aws) == []


def test_a_target_is_required(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    status, _, err = run(monkeypatch, capsys, "revoke", "alice")
    assert status == 2 and "one of the arguments --stack --table --local is required" in err


# ---------------------------------------------------------------------- tiers and everything
def test_pause_a_tier_then_everything_and_resume(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, emulator: RunningEmulator
) -> None:
    vendor = machine(aws, emulator)
    status, out, err = cli(monkeypatch, capsys, "pause", "readonly", "--table", TABLE, "--reason", "abuse")
    assert (status, out, err) == (0, "paused tier readonly (until lifted): abuse\n", "")
    assert answer(vendor, VIEWER) == (403, "tier_paused")
    assert answer(vendor, ALICE) == OK
    status, out, _ = cli(monkeypatch, capsys, "pause", "--all", "--table", TABLE, "--until", "1h")
    assert status == 0 and re.fullmatch(r"paused all vending \(until \S+Z\): paused by an operator\n", out), out
    assert [answer(vendor, who) for who in (ALICE, VIEWER, GUEST)] == [(403, "vending_paused")] * 3
    status, out, _ = cli(monkeypatch, capsys, "blocks", "--table", TABLE)
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("all vending paused: all (until ") and lines[0].endswith(": paused by an operator)")
    assert lines[1].startswith("tier paused: readonly (until lifted; since ") and lines[1].endswith(": abuse)")

    assert cli(monkeypatch, capsys, "resume", "--all", "--table", TABLE)[:2] == (0, "resumed all vending\n")
    assert answer(vendor, ALICE) == OK
    assert answer(vendor, VIEWER) == (403, "tier_paused")
    assert cli(monkeypatch, capsys, "resume", "readonly", "--table", TABLE)[:2] == (0, "resumed tier readonly\n")
    assert answer(vendor, VIEWER) == OK
    assert held(aws) == []


def test_a_tier_the_policy_does_not_name_is_paused_with_a_note(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto
) -> None:
    status, out, err = cli(monkeypatch, capsys, "pause", "readonyl", "--table", TABLE)
    assert (status, out) == (0, "paused tier readonyl (until lifted): paused by an operator\n")
    assert err == (
        "note: functions/token_vending/policy.yaml has no tier 'readonyl' (guest, readonly, readwrite); "
        "paused anyway, for a deployed policy that has it\n"
    )


# ---------------------------------------------------------------------- --stack
def make_stack(
    moto: Moto,
    name: str,
    mode: str,
    *,
    pool_id: str = "",
    table: str = TABLE,
    region: str = "us-east-1",
    momento: EmulatorThread | None = None,
) -> None:
    """A stack whose outputs are the real template's for `mode` (its table, mode and, for Cognito, pool; with
    `momento`, its key's secret and its endpoint: that emulator, holding the stack's CacheName)."""
    outputs: dict[str, Any] = {"AuthenticationMethod": {"Value": mode}}
    parameters = [{"ParameterKey": "Table", "ParameterValue": table}]
    if momento is not None:
        secret = moto.client("secretsmanager", region).create_secret(Name=f"{name}-key", SecretString=DEFAULT_API_KEY)
        outputs["MomentoApiKeySecretArn"] = {"Value": secret["ARN"]}
        outputs["MomentoEndpoint"] = {"Value": f"127.0.0.1:{momento.grpc_port}"}
        parameters.append({"ParameterKey": "CacheName", "ParameterValue": DEFAULT_CACHE})
    if table:
        outputs["IssuanceTableName"] = {"Value": {"Ref": "Table"}}
    if pool_id:
        outputs["UserPoolId"] = {"Value": {"Ref": "Pool"}}
        parameters.append({"ParameterKey": "Pool", "ParameterValue": pool_id})
    template = {
        "Parameters": {
            "Table": {"Type": "String"},
            **({"Pool": {"Type": "String"}} if pool_id else {}),
            **({"CacheName": {"Type": "String"}} if momento is not None else {}),
        },
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": outputs,
    }
    moto.client("cloudformation", region).create_stack(
        StackName=name, TemplateBody=json.dumps(template), Parameters=parameters
    )


def test_a_stack_names_its_table_and_its_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, emulator: RunningEmulator
) -> None:
    make_stack(aws, "tvm-dev", "LambdaAuthorizer")
    vendor = machine(aws, emulator)
    assert cli(monkeypatch, capsys, "revoke", "alice", "--stack", "tvm-dev")[:2] == (
        0,
        "revoked alice (until lifted): revoked by an operator\n",
    )
    assert answer(vendor, ALICE) == (403, "revoked")
    assert cli(monkeypatch, capsys, "restore", "alice", "--stack", "tvm-dev")[:2] == (0, "restored alice\n")
    assert answer(vendor, ALICE) == OK

    # Open: guests choose their names, so a revocation means nothing; the guest tier's pause is what works.
    make_stack(aws, "tvm-open", "Open")
    status, _, err = cli(monkeypatch, capsys, "revoke", "Ann", "--stack", "tvm-open")
    assert (status, err) == (
        2,
        f"error: stack tvm-open (table {TABLE}) runs AuthenticationMethod=Open: guests choose their own names, so "
        "revoking one means nothing; pause their tier instead: python -m tvm_users pause guest --stack tvm-open\n",
    )
    assert held(aws) == []
    assert cli(monkeypatch, capsys, "pause", "guest", "--stack", "tvm-open")[0] == 0
    assert answer(vendor, GUEST) == (403, "tier_paused")
    assert answer(vendor, ALICE) == OK
    assert cli(monkeypatch, capsys, "resume", "guest", "--stack", "tvm-open")[:2] == (0, "resumed tier guest\n")
    assert answer(vendor, GUEST) == OK


def test_a_stack_without_the_table_or_missing_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto
) -> None:
    make_stack(aws, "tvm-old", "LambdaAuthorizer", table="")
    status, _, err = cli(monkeypatch, capsys, "blocks", "--stack", "tvm-old")
    assert (status, err) == (
        2,
        "error: stack 'tvm-old' has no IssuanceTableName output: deploy this version of the template first "
        "(its issuance table keeps the revocations and pauses)\n",
    )
    status, _, err = cli(monkeypatch, capsys, "blocks", "--stack", "no-such-stack")
    assert status == 1 and err.startswith("error: AWS call failed: DescribeStacks: "), err


# ---------------------------------------------------------------------- AmazonCognito
@pytest.fixture
def pool(aws: Moto) -> tuple[str, str]:
    """(pool id, app client id): the template's pool settings that matter here (names without case, password
    sign-in), alice enabled, carol already disabled."""
    cognito = aws.client("cognito-idp")
    pool_id = cognito.create_user_pool(PoolName="tvm", UsernameConfiguration={"CaseSensitive": False})["UserPool"]["Id"]
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="site", ExplicitAuthFlows=flows)[
        "UserPoolClient"
    ]["ClientId"]
    for name in ("alice", "carol"):
        cognito.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
    cognito.admin_disable_user(UserPoolId=pool_id, Username="carol")
    return pool_id, client_id


def sign_in(moto: Moto, client_id: str, username: str) -> dict[str, Any]:
    result: dict[str, Any] = moto.client("cognito-idp").initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    return result


def cognito_error(call: Any) -> str:
    try:
        call()
    except Exception as error:
        return str(getattr(error, "response", {}).get("Error", {}).get("Message"))
    return "no error"


def enabled(moto: Moto, pool_id: str, username: str) -> bool:
    return bool(moto.client("cognito-idp").admin_get_user(UserPoolId=pool_id, Username=username)["Enabled"])


@pytest.mark.parametrize("target", ["table", "stack"])
def test_cognito_revoke_signs_out_and_disables_and_restore_undoes_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    aws: Moto,
    emulator: RunningEmulator,
    pool: tuple[str, str],
    target: str,
) -> None:
    pool_id, client_id = pool
    where = ("--table", TABLE, "--user-pool", pool_id) if target == "table" else ("--stack", "tvm-cognito")
    if target == "stack":
        make_stack(aws, "tvm-cognito", "AmazonCognito", pool_id=pool_id)
    vendor = machine(aws, emulator, cognito=True)
    session = sign_in(aws, client_id, "alice")
    assert answer(vendor, ALICE) == OK

    status, out, err = cli(monkeypatch, capsys, "revoke", "Alice", *where, "--reason", "phished")
    assert (status, err) == (0, "")
    assert out == f"revoked alice (until lifted): phished; signed out everywhere and disabled in user pool {pool_id}\n"
    # Every spelling is the one user the pool and the function know.
    assert answer(vendor, ALICE) == answer(vendor, verified_identity("ALICE", ["readwrite"])) == (403, "revoked")
    assert answer(vendor, BOB) == OK
    cognito = aws.client("cognito-idp")
    refresh = {"REFRESH_TOKEN": session["RefreshToken"]}
    assert cognito_error(
        lambda: cognito.initiate_auth(ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters=refresh)
    ) == ("Refresh Token has been revoked")
    assert cognito_error(lambda: sign_in(aws, client_id, "alice")) == "User is disabled."
    assert [(b.subject, b.prior_enabled) for b in held(aws)] == [("user#alice", True)]

    # Revoked again (a new reason): the pool's state before the FIRST revoke is kept, so restore still enables.
    assert cli(monkeypatch, capsys, "revoke", "alice", *where, "--reason", "still phished")[0] == 0
    assert [(b.reason, b.prior_enabled) for b in held(aws)] == [("still phished", True)]

    status, out, _ = cli(monkeypatch, capsys, "restore", "ALICE", *where)
    assert (status, out) == (0, f"restored alice; enabled again in user pool {pool_id}\n")
    assert enabled(aws, pool_id, "alice")
    assert sign_in(aws, client_id, "alice")["IdToken"]
    assert answer(vendor, ALICE) == OK


def test_cognito_restore_leaves_disabled_a_user_revoke_did_not_disable(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, pool: tuple[str, str]
) -> None:
    pool_id, _ = pool
    where = ("--table", TABLE, "--user-pool", pool_id)
    status, out, _ = cli(monkeypatch, capsys, "revoke", "carol", *where)
    assert status == 0
    assert out.endswith(f"; signed out everywhere and already disabled in user pool {pool_id}\n")
    assert [(b.subject, b.prior_enabled) for b in held(aws)] == [("user#carol", False)]
    status, out, _ = cli(monkeypatch, capsys, "restore", "carol", *where)
    assert (status, out) == (0, f"restored carol; left disabled in user pool {pool_id}, as before the revoke\n")
    assert not enabled(aws, pool_id, "carol")
    assert held(aws) == []


def test_cognito_revoke_of_a_user_the_pool_lacks_writes_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, pool: tuple[str, str]
) -> None:
    pool_id, _ = pool
    status, _, err = cli(monkeypatch, capsys, "revoke", "mallory", "--table", TABLE, "--user-pool", pool_id)
    assert (status, err) == (2, f"error: no user 'mallory' in user pool {pool_id}; nothing was written\n")
    assert held(aws) == []


def test_cognito_revoke_until_notes_the_pool_keeps_them_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, pool: tuple[str, str]
) -> None:
    pool_id, _ = pool
    status, _, err = cli(
        monkeypatch, capsys, "revoke", "alice", "--until", "2h", "--table", TABLE, "--user-pool", pool_id
    )
    assert status == 0
    assert err == "note: the pool keeps alice disabled after the block lapses: restore alice to let them sign in\n"


# ---------------------------------------------------------------------- --local: make dev's moto
@pytest.mark.parametrize("mode", ["LambdaAuthorizer", "AmazonCognito", "Open"])
def test_local_finds_make_devs_table_and_mode_in_its_moto(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, local: Moto, mode: str
) -> None:
    """What make dev's moto holds tells the mode: its user pool, its users secret (tvm/users), or neither."""
    aws = local
    where = f"make dev's moto at {aws.url} (table {TABLE})"
    if mode == "LambdaAuthorizer":
        aws.client("secretsmanager").create_secret(Name="tvm/users", SecretString='{"users": {}}')
    elif mode == "AmazonCognito":
        pool_id = aws.client("cognito-idp").create_user_pool(PoolName="tvm")["UserPool"]["Id"]
        aws.client("cognito-idp").admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    status, out, err = cli(monkeypatch, capsys, "revoke", "Alice", "--local")
    if mode == "Open":
        assert (status, err) == (
            2,
            f"error: {where} runs AuthenticationMethod=Open: guests choose their own names, so revoking one means "
            "nothing; pause their tier instead: python -m tvm_users pause guest --local\n",
        )
        assert cli(monkeypatch, capsys, "pause", "guest", "--local")[:2] == (
            0,
            "paused tier guest (until lifted): paused by an operator; open clients told\n",
        )
        assert [(b.kind, b.subject, b.by) for b in held(aws)] == [("tier_paused", "guest", "local")]
        return
    assert status == 0, err
    if mode == "AmazonCognito":  # case-folded, and the local pool's user disabled
        assert out == (
            "revoked alice (until lifted): revoked by an operator; "
            f"signed out everywhere and disabled in the local user pool {pool_id}; open clients told\n"
        )
        assert not enabled(aws, pool_id, "alice")
        assert [(b.subject, b.by, b.prior_enabled) for b in held(aws)] == [("user#alice", "local", True)]
    else:  # exact
        assert out == "revoked Alice (until lifted): revoked by an operator; open clients told\n"
        assert [(b.subject, b.by, b.prior_enabled) for b in held(aws)] == [("user#Alice", "local", None)]
    status, out, _ = cli(monkeypatch, capsys, "blocks", "--local")
    assert status == 0 and out.startswith("revoked: ") and " by local: revoked by an operator)" in out


def test_a_control_message_that_cannot_be_sent_is_one_line_and_the_block_holds(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, local: Moto
) -> None:
    """The block is what refuses the next token: it is written first, and a Momento that cannot be reached only
    means the clients holding tokens keep them until they expire, which the one line says (exit status 1)."""
    aws = local
    aws.client("secretsmanager").create_secret(Name="tvm/users", SecretString='{"users": {}}')
    monkeypatch.setenv("MOMENTO_GRPC_PORT", "9")  # the discard port: nothing listens
    status, out, err = cli(monkeypatch, capsys, "revoke", "alice", "--local")
    assert (status, out) == (1, "")
    assert err == (
        "error: revoked alice (until lifted): revoked by an operator, but make dev's emulator at 127.0.0.1:9 did not "
        "take the control message (SERVER_UNAVAILABLE): open clients keep their tokens until they expire\n"
    )
    assert [(b.kind, b.subject) for b in held(aws)] == [("revoked", "user#alice")]


def test_local_with_no_make_dev_running_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setenv("MOTO_PORT", "9")  # the discard port: nothing listens
    status, out, err = cli(monkeypatch, capsys, "blocks", "--local")
    assert (status, out, err) == (
        1,
        "",
        "error: nothing answers at http://127.0.0.1:9: is make dev running with its moto there? (MOTO_PORT=9)\n",
    )


# ---------------------------------------------------------------------- as a command
def test_python_dash_m_revoke_as_an_operator_runs_it(aws: Moto, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ENDPOINT_URL": aws.url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
    }

    def command(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tvm_users", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
            check=False,
        )

    done = command("revoke", "alice", "--table", TABLE, "--reason", "compromised laptop")
    assert (done.returncode, done.stdout, done.stderr) == (0, "revoked alice (until lifted): compromised laptop\n", "")
    done = command("revoke", "alice", "--table", TABLE, "--until", "tomorrow")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "error: --until 'tomorrow': give a duration (30m, 2h, 1d) or an ISO-8601 UTC time (2026-08-12T18:00Z)"
    ]


# ---------------------------------------------------------------------- what happens when the pool fails midway
def test_a_pool_failure_after_the_block_leaves_the_user_revoked(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, pool: tuple[str, str]
) -> None:
    """The block is written before the pool is touched. moto's Cognito cannot be made to refuse a sign-out, so here
    (only) the pool's call is replaced by one that fails as a refused call does (a CliError of status 1)."""
    pool_id, _ = pool

    def refused(self: UserPool, username: str) -> None:
        raise CliError(f"{self.description}, user {username!r}: Rate exceeded (TooManyRequestsException)", 1)

    monkeypatch.setattr(UserPool, "sign_out_everywhere", refused)
    status, out, err = cli(monkeypatch, capsys, "revoke", "alice", "--table", TABLE, "--user-pool", pool_id)
    assert (status, out) == (1, "")
    assert err == (
        "error: revoked alice (until lifted): revoked by an operator, but user pool "
        f"{pool_id}, user 'alice': Rate exceeded (TooManyRequestsException): the user may still sign in; run the "
        "revoke again\n"
    )
    assert [(b.subject, b.prior_enabled) for b in held(aws)] == [("user#alice", True)]
    monkeypatch.undo()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.url)
    assert cli(monkeypatch, capsys, "revoke", "alice", "--table", TABLE, "--user-pool", pool_id)[0] == 0
    assert not enabled(aws, pool_id, "alice")
    assert [(b.subject, b.prior_enabled) for b in held(aws)] == [("user#alice", True)]


def test_the_global_pause_answers_first_then_the_tiers_then_the_users(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, emulator: RunningEmulator
) -> None:
    vendor = machine(aws, emulator)
    assert cli(monkeypatch, capsys, "revoke", "alice", "--table", TABLE)[0] == 0
    assert answer(vendor, ALICE) == (403, "revoked")
    assert cli(monkeypatch, capsys, "pause", "readwrite", "--table", TABLE)[0] == 0
    assert answer(vendor, ALICE) == (403, "tier_paused")
    assert cli(monkeypatch, capsys, "pause", "--all", "--table", TABLE)[0] == 0
    assert answer(vendor, ALICE) == (403, "vending_paused")


# ---------------------------------------------------------------------- docs/revocation.md, checked
DOC = ROOT / "docs" / "revocation.md"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
POOL_ID = re.compile(r"\b[a-z]{2}-[a-z]+-\d_[0-9A-Za-z]+\b")
BY_ARN = re.compile(r"by arn:aws:\S+?: ")


def transcript(name: str) -> list[tuple[list[str], list[str]]]:
    """The `console` block under `<!-- revocation-transcript: NAME`: each command's argv and its lines."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- revocation-transcript: {name}\b[^\n]*-->\n```console\n(.*?)\n```", text, re.DOTALL)
    assert block is not None, name
    steps: list[tuple[list[str], list[str]]] = []
    for line in block[1].splitlines():
        if line.startswith("$ "):
            steps.append((shlex.split(line[2:]), []))
        else:
            steps[-1][1].append(line)
    return steps


def normalised(lines: list[str], *, moto_url: str = "") -> list[str]:
    out = []
    for line in lines:
        if moto_url:
            line = line.replace(moto_url, "http://127.0.0.1:5000")
        out.append(BY_ARN.sub("by <arn>: ", POOL_ID.sub("<pool>", TIME.sub("<time>", line))))
    return out


def table_in(moto: Moto, name: str, region: str) -> None:
    create_issuance_table(moto.client("dynamodb", region), name)


@pytest.mark.parametrize("name", ["local", "cognito-stack", "open-stack"])
def test_the_documented_transcripts_are_what_the_commands_print(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: Moto, make_dev_emulator: EmulatorThread, name: str
) -> None:
    moto_url = ""
    if name == "local":  # make dev's moto: its table (the fixture's) and its users secret; and its emulator
        monkeypatch.delenv("AWS_ENDPOINT_URL")
        monkeypatch.setenv("MOTO_PORT", str(aws.port))
        monkeypatch.setenv("MOMENTO_GRPC_PORT", str(make_dev_emulator.grpc_port))
        aws.client("secretsmanager").create_secret(Name="tvm/users", SecretString='{"users": {}}')
        moto_url = aws.url
    elif name == "cognito-stack":
        region = "us-west-2"
        table_in(aws, "my-tvm-IssuanceTable-0A1B2C3D4E5F", region)
        cognito = aws.client("cognito-idp", region)
        pool_id = cognito.create_user_pool(PoolName="my-tvm")["UserPool"]["Id"]
        cognito.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
        table = "my-tvm-IssuanceTable-0A1B2C3D4E5F"
        make_stack(
            aws, "my-tvm", "AmazonCognito", pool_id=pool_id, table=table, region=region, momento=make_dev_emulator
        )
    else:
        table = "my-open-tvm-IssuanceTable-1B2C3D4E5F6G"
        table_in(aws, table, "us-west-2")
        make_stack(aws, "my-open-tvm", "Open", table=table, region="us-west-2", momento=make_dev_emulator)
    steps = transcript(name)
    assert len(steps) >= 2
    for argv, expected in steps:
        assert argv[:3] == ["python", "-m", "tvm_users"], argv
        status, out, err = cli(monkeypatch, capsys, *argv[3:])
        assert normalised((out + err).splitlines(), moto_url=moto_url) == normalised(expected), argv
        assert status == (0 if out else 1 if expected[0].startswith("error: AWS") else 2), argv


def test_the_documented_exposure_window_is_the_policys() -> None:
    from momento_tvm.policy import load_policy
    from tests.unit.test_template import _source

    cap = int(_source()["Parameters"]["MaxTokenTtlSeconds"]["Default"])

    def shown(seconds: int) -> str:
        return (
            f"{seconds // 3600} h"
            if seconds % 3600 == 0
            else f"{seconds // 60} min"
            if seconds % 60 == 0
            else f"{seconds} s"
        )

    rows = [
        f"| `{tier.name}` | {shown(min(tier.ttl_seconds, cap))} | {shown(min(tier.max_ttl_seconds, cap))} | "
        f"{shown(min(tier.max_ttl_seconds, cap))} |"
        for tier in load_policy(POLICY).tiers.values()
    ]
    text = DOC.read_text(encoding="utf-8")
    table = re.search(r"<!-- revocation: exposure\b[^\n]*-->\n((?:\|[^\n]*\n)+)", text)
    assert table is not None
    assert table[1].splitlines()[2:] == rows
    assert f"never more than the stack's `MaxTokenTtlSeconds` ({cap} unless you deploy it otherwise)" in " ".join(
        text.split()
    )


def test_the_documented_mint_rates_add_up() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    found = re.search(
        r"([\d,]+) clients on (\d+)-minute tokens take about (\d+(?:\.\d+)?) a second, "
        r"on (\d+)-minute tokens about (\d+(?:\.\d+)?)",
        text,
    )
    assert found is not None
    clients = int(found[1].replace(",", ""))
    assert round(clients / (int(found[2]) * 60), 1) == float(found[3])
    assert round(clients / (int(found[4]) * 60), 1) == float(found[5])


def test_every_documented_tvm_users_command_parses() -> None:
    """Every `python -m tvm_users ...` the page shows, inline or in a transcript, is one the CLI takes."""
    from tvm_users.__main__ import _parser

    text = DOC.read_text(encoding="utf-8")
    commands = re.findall(r"`python -m tvm_users ([^`]+)`", text) + re.findall(
        r"^\$ python -m tvm_users (.+)$", text, re.M
    )
    assert len(commands) >= 15
    for command in commands:
        try:
            _parser().parse_args(shlex.split(command))
        except SystemExit:
            pytest.fail(f"docs/revocation.md: python -m tvm_users {command} does not parse")
