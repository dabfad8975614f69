"""The canary's block of template.yaml (issue 26), as deployed (language extensions resolved, SAM's transform run):
its function in every mode, least privilege, its schedule (default, changed, Disabled), its output."""

from __future__ import annotations

import json
import re

import pytest

from tests.unit.test_template import (
    BASIC_EXECUTION,
    CANARY_FUNCTION,
    DEPLOY_CHECK,
    ISSUANCE_TABLE,
    MODES,
    _actions,
    _policy_resource,
    _role_of,
    _source,
    _statements,
    deploy,
)

SCHEDULE = f"{CANARY_FUNCTION}Schedule"


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_deploys_the_canary_with_the_vending_functions_key_endpoint_cache_and_table(mode: str) -> None:
    deployed = deploy(mode)
    environment = deployed.properties(CANARY_FUNCTION)["Environment"]["Variables"]
    vending = deployed.properties("TokenVendingFunction")["Environment"]["Variables"]
    for name in ("MOMENTO_API_KEY_SECRET", "MOMENTO_ENDPOINT", "MOMENTO_EMULATOR_ENDPOINT", "CACHE_NAME"):
        assert environment[name] == vending[name], name
    for name in ("LIMITS_TABLE", "DYNAMODB_ENDPOINT", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_SERVICE_NAME"):
        assert environment[name] == vending[name], name
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "MomentoTokenVending"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "token-vending"
    assert deployed.properties(CANARY_FUNCTION)["Handler"] == "app.handler"
    assert deployed.properties(DEPLOY_CHECK)["Functions"][CANARY_FUNCTION] == {"Ref": CANARY_FUNCTION}


def test_the_canary_may_only_read_the_key_and_update_the_issuance_table() -> None:
    deployed = deploy()
    role = _role_of(deployed, CANARY_FUNCTION)
    assert role["ManagedPolicyArns"] == [BASIC_EXECUTION]  # its logs (and so its EMF metrics): no PutMetricData
    statements = _statements(role)
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in statements)
    grants = sorted((_actions(s), json.dumps(_policy_resource(s))) for s in statements)
    assert grants == sorted(
        [
            (("secretsmanager:GetSecretValue",), json.dumps({"Ref": "MomentoApiKeySecret"})),
            (("dynamodb:UpdateItem",), json.dumps({"Fn::GetAtt": [ISSUANCE_TABLE, "Arn"]})),
        ]
    )


@pytest.mark.parametrize(
    ("given", "expression", "state"),
    [
        ({}, "rate(5 minutes)", "ENABLED"),
        ({"CanarySchedule": "rate(1 hour)"}, "rate(1 hour)", "ENABLED"),
        ({"CanarySchedule": "Disabled"}, "rate(5 minutes)", "DISABLED"),
    ],
    ids=["default", "hourly", "disabled"],
)
def test_the_schedule_follows_canary_schedule(given: dict[str, str], expression: str, state: str) -> None:
    deployed = deploy(**given)
    schedule = deployed.properties(SCHEDULE)
    assert (schedule["ScheduleExpression"], schedule["State"]) == (expression, state)
    assert "Name" not in schedule  # CloudFormation names it: two stacks in one account never collide
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": [CANARY_FUNCTION, "Arn"]}
    assert schedule["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}  # a retry would be another mint


@pytest.mark.parametrize("value", ["rate(5 minutes)", "rate(1 minute)", "rate(2 hours)", "cron(0/10 * * * ? *)"])
def test_canary_schedule_accepts_scheduler_expressions(value: str) -> None:
    assert re.fullmatch(_source()["Parameters"]["CanarySchedule"]["AllowedPattern"], value)


@pytest.mark.parametrize("value", ["", "disabled", "every 5 minutes", "rate(0 minutes)", "rate(5 minutes) x"])
def test_canary_schedule_refuses_anything_else(value: str) -> None:
    assert not re.fullmatch(_source()["Parameters"]["CanarySchedule"]["AllowedPattern"], value)


def test_the_stack_names_its_canary_for_make_canary() -> None:
    output = _source()["Outputs"]["CanaryFunctionName"]
    assert output["Value"] == {"Ref": CANARY_FUNCTION}
