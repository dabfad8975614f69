"""The users CLI (`python -m tvm_users`) against AWS (moto's Secrets Manager and CloudFormation, with the real
boto3) and as a command in its own process. Its in-process tests, and the helpers shared here, are
tests/unit/test_users_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws_moto import Moto
from tests.unit.test_users_cli import PASSWORD, ROOT, run
from tests.unit.test_users_cli import env as env
from tests.unit.test_users_cli import no_aws_config as no_aws_config
from tvm_users.__main__ import CliError, users_secret_arn_from_stack
from tvm_users.store import UsersStore, authenticate, loads_store


@pytest.fixture
def aws(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto (the suite's server, emptied) as every boto3 client's endpoint: this module's and the CLI's."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.url)


def current_value(client: Any, arn: str) -> str:
    """The secret's AWSCURRENT value, asked for by name: moto 5.2.5 answers a GetSecretValue without VersionStage
    with the version its PutSecretValue made current last, not the one UpdateSecretVersionStage moved AWSCURRENT to
    (AWS answers AWSCURRENT), and the CLI writes by moving AWSCURRENT."""
    return str(client.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def test_python_dash_m_runs_from_the_repo_root(tmp_path: Path) -> None:
    target = tmp_path / "users.json"
    env = {**os.environ, "TVM_SCRYPT_N": "16"}
    command = [
        sys.executable,
        "-m",
        "tvm_users",
        "add-user",
        "carol",
        "--group",
        "readonly",
        "--file",
        str(target),
        "--password-stdin",
    ]
    done = subprocess.run(
        command, input=PASSWORD + "\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "tvm_users", "list-users", "--file", str(target)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert (listing.returncode, listing.stdout) == (0, "carol  readonly\n")
    # --file mode never imports boto3 (it is slow, and absent from a plain Python install)
    script = (
        "import sys, tvm_users.__main__ as m; m.main(['list-users', '--file', sys.argv[1]]); print(sorted(sys.modules))"
    )
    modules = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
    ).stdout
    assert "carol" in modules and "'boto3'" not in modules and "'botocore'" not in modules


def test_add_list_remove_in_a_secret(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="tvm-users", SecretString='{"users": {}}')["ARN"]
    status, out, err = run(
        monkeypatch,
        capsys,
        "add-user",
        "alice",
        "--group",
        "readwrite",
        "--secret-arn",
        arn,
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert status == 0, err
    assert out.startswith("added user alice") and arn in out
    value = current_value(client, arn)
    assert PASSWORD not in value
    assert authenticate(loads_store(value), "alice", PASSWORD) == ("alice", ("readwrite",))

    assert run(monkeypatch, capsys, "list-users", "--secret-arn", arn, "--region", "us-east-1")[:2] == (
        0,
        "alice  readwrite\n",
    )
    assert run(monkeypatch, capsys, "remove-user", "alice", "--secret-arn", arn)[0] == 0
    assert loads_store(current_value(client, arn)) == UsersStore()
    status, _, err = run(monkeypatch, capsys, "remove-user", "alice", "--secret-arn", arn)
    assert status == 2 and "no user 'alice'" in err


def test_a_secret_with_no_value_yet_starts_empty(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="tvm-users")["ARN"]
    status, _, err = run(monkeypatch, capsys, "list-users", "--secret-arn", arn)
    assert status == 2 and "no users store yet" in err
    assert run(monkeypatch, capsys, "add-user", "bob", "--secret-arn", arn, "--password-stdin", stdin=PASSWORD)[0] == 0
    assert list(loads_store(current_value(client, arn)).users) == ["bob"]


def test_a_missing_secret_is_an_aws_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf"
    status, _, err = run(
        monkeypatch, capsys, "add-user", "bob", "--secret-arn", arn, "--password-stdin", stdin=PASSWORD
    )
    assert status == 1 and "ResourceNotFoundException" in err
    assert PASSWORD not in err


# moto's CloudFormation cannot create an AWS::SecretsManager::Secret, so the secret is made first and its ARN reaches
# the stack's UsersSecretArn output through a parameter (the real template outputs !Ref of its own secret).
STACK_TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"SecretArn": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {"ApiUrl": {"Value": "https://example.invalid/"}, "UsersSecretArn": {"Value": {"Ref": "SecretArn"}}},
}


def test_add_user_to_a_stacks_users_secret(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    secretsmanager = boto3.client("secretsmanager", region_name="us-east-1")
    secret_arn = secretsmanager.create_secret(Name="tvm-dev-users", SecretString='{"users": {}}')["ARN"]
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    parameters = [{"ParameterKey": "SecretArn", "ParameterValue": secret_arn}]
    cloudformation.create_stack(StackName="tvm-dev", TemplateBody=json.dumps(STACK_TEMPLATE), Parameters=parameters)
    arn = users_secret_arn_from_stack(cloudformation, "tvm-dev")
    assert arn == secret_arn

    status, out, err = run(
        monkeypatch,
        capsys,
        "add-user",
        "alice",
        "--group",
        "readwrite",
        "--stack",
        "tvm-dev",
        "--password-stdin",
        stdin=PASSWORD,
    )
    assert status == 0, err
    assert "stack tvm-dev" in out
    secret = current_value(secretsmanager, arn)
    assert authenticate(loads_store(secret), "alice", PASSWORD) == ("alice", ("readwrite",))
    assert run(monkeypatch, capsys, "list-users", "--stack", "tvm-dev")[:2] == (0, "alice  readwrite\n")


def test_a_stack_without_the_output_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cloudformation.create_stack(StackName="tvm-open", TemplateBody=json.dumps(template))
    with pytest.raises(CliError, match="has no UsersSecretArn output"):
        users_secret_arn_from_stack(cloudformation, "tvm-open")
    status, _, err = run(monkeypatch, capsys, "list-users", "--stack", "tvm-open")
    assert status == 2 and "AuthenticationMethod=LambdaAuthorizer" in err


def test_a_missing_stack_is_an_aws_error(monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None) -> None:
    status, _, err = run(monkeypatch, capsys, "list-users", "--stack", "no-such-stack")
    assert status == 1 and "error: AWS call failed" in err


def test_aws_region_alone_is_enough_and_an_arn_names_its_region(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, aws: None
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")  # what Lambda and many shells set; boto3 reads only the other
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
    secretsmanager = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = secretsmanager.create_secret(Name="tvm-users", SecretString='{"users": {}}')["ARN"]
    parameters = [{"ParameterKey": "SecretArn", "ParameterValue": arn}]
    cloudformation.create_stack(StackName="tvm-eu", TemplateBody=json.dumps(STACK_TEMPLATE), Parameters=parameters)
    assert run(monkeypatch, capsys, "list-users", "--stack", "tvm-eu")[:2] == (0, "")
    monkeypatch.delenv("AWS_REGION")
    assert run(monkeypatch, capsys, "list-users", "--secret-arn", arn)[:2] == (0, "")  # eu-west-1, from the ARN


def test_no_credentials_or_no_endpoint_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, no_aws_config: None
) -> None:
    status, _, err = run(monkeypatch, capsys, "list-users", "--stack", "tvm", "--region", "eu-west-1")
    assert (status, err.count("\n")) == (1, 1)
    assert err.startswith("error: no AWS credentials: configure a profile"), err
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    status, _, err = run(monkeypatch, capsys, "list-users", "--stack", "tvm", "--region", "eu-west-1")
    unreachable = "cannot reach AWS at http://127.0.0.1:9/: check the network and the region (or AWS_ENDPOINT_URL)"
    assert (status, err) == (1, f"error: {unreachable}\n")
    monkeypatch.setenv("AWS_PROFILE", "nope")
    status, _, err = run(monkeypatch, capsys, "list-users", "--stack", "tvm")
    assert status == 2 and err.startswith("error: The config profile (nope) could not be found: check AWS_PROFILE")


def test_python_dash_m_without_a_region_prints_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run(
        [sys.executable, "-m", "tvm_users", "add-user", "carol", "--stack", "tvm", "--password-stdin"],
        input=PASSWORD,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: no AWS region: pass --region REGION, or set AWS_REGION (or a region in your AWS profile)"
    ]
