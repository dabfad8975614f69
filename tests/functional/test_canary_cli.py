"""`make canary STACK=...` (tools/canary.py) against moto's CloudFormation and Lambda: what an operator sees when the
stack cannot be asked, has no canary yet, or its canary cannot be invoked. One line each, exit status non-zero, no
traceback. (A deployed canary's own answer is the deploy test's: moto runs no function without Docker.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.aws_moto import Moto

ROOT = Path(__file__).resolve().parents[2]


def make_canary(moto: Moto, stack: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    env.update(
        AWS_ENDPOINT_URL=moto.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return subprocess.run(
        ["make", "--no-print-directory", "canary", f"STACK={stack}", "REGION=us-east-1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def one_line(ran: subprocess.CompletedProcess[str]) -> str:
    assert ran.returncode != 0
    assert "Traceback" not in ran.stdout + ran.stderr
    lines = ran.stdout.strip().splitlines()
    assert len(lines) == 1, ran.stdout
    return lines[0]


def test_a_missing_stack_is_one_line(moto: Moto) -> None:
    line = one_line(make_canary(moto, "no-such-stack"))
    assert line == "canary FAILED (invoke_failed): cannot invoke the canary of stack no-such-stack (ValidationError)"


def test_a_stack_deployed_before_the_canary_is_one_line(moto: Moto) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    moto.client("cloudformation").create_stack(StackName="tvm-old", TemplateBody=json.dumps(template))
    line = one_line(make_canary(moto, "tvm-old"))
    assert line == (
        "canary FAILED (no_canary): the stack tvm-old has no CanaryFunctionName output (deployed before it?)"
    )


def test_a_canary_that_cannot_be_invoked_is_one_line(moto: Moto) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"CanaryFunctionName": {"Value": "tvm-gone-CanaryFunction-AbC"}},  # no such function
    }
    moto.client("cloudformation").create_stack(StackName="tvm-gone", TemplateBody=json.dumps(template))
    line = one_line(make_canary(moto, "tvm-gone"))
    assert line == (
        "canary FAILED (invoke_failed): cannot invoke the canary of stack tvm-gone (ResourceNotFoundException)"
    )
