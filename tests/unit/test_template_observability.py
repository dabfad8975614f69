"""The template's alarms, log groups, access log, metric filters and dashboard, as each mode deploys them, and what
docs/deploy.md says of them. (That every alarm and widget watches a published metric is
tests/integration/test_alarm_metrics.py's: it needs the handler run.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.unit.test_template import DEPLOY_DOC, MODES, STACK_NAME, _doc_section, _source, deploy

TOPIC_ARN = "arn:aws:sns:us-west-2:123456789012:ops-alarms"
FUNCTIONS = {
    "TokenVendingFunction": "VendingLogGroup",
    "CredentialsAuthorizerFunction": "AuthorizerLogGroup",
    "DeployCheckFunction": "DeployCheckLogGroup",
    "CanaryFunction": "CanaryLogGroup",
}
# As deployed: AWS::LanguageExtensions substitutes the stack's name.
LOG_GROUP_NAMES = {
    "VendingLogGroup": f"/tvm/{STACK_NAME}/vending",
    "AuthorizerLogGroup": f"/tvm/{STACK_NAME}/authorizer",
    "CanaryLogGroup": f"/tvm/{STACK_NAME}/canary",
    "DeployCheckLogGroup": f"/tvm/{STACK_NAME}/deploy-check",
    "ApiAccessLogGroup": f"/tvm/{STACK_NAME}/api-access",
}


def _sub(value: Any) -> str:
    """The text of a Fn::Sub (or a plain string)."""
    if isinstance(value, dict):
        text = value["Fn::Sub"]
        return text if isinstance(text, str) else text[0]
    assert isinstance(value, str), value
    return value


def _access_log_format(mode: str = "LambdaAuthorizer") -> dict[str, str]:
    [stage] = deploy(mode).of_type("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    # Numbers are written bare: quote them to read the line as a template of variables.
    quoted = re.sub(r":(\$context\.\w+)", r':"\1"', settings["Format"])
    fields: dict[str, str] = json.loads(quoted)
    return fields


# ------------------------------------------------------------------------------------------------------ log groups
@pytest.mark.parametrize("mode", MODES)
def test_every_function_logs_to_a_log_group_the_stack_owns(mode: str) -> None:
    deployed = deploy(mode)
    functions = deployed.of_type("AWS::Lambda::Function")
    assert set(functions) == {name for name in FUNCTIONS if name in deployed.resources}
    for name, function in functions.items():
        assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": FUNCTIONS[name]}}, name


@pytest.mark.parametrize("mode", MODES)
def test_the_log_groups_keep_the_retention_and_go_with_the_stack(mode: str) -> None:
    deployed = deploy(mode, LogRetentionInDays="90")
    groups = deployed.of_type("AWS::Logs::LogGroup")
    expected = {name for name in LOG_GROUP_NAMES if name != "AuthorizerLogGroup" or mode == "LambdaAuthorizer"}
    assert set(groups) == expected
    for name, group in groups.items():
        assert _sub(group["Properties"]["LogGroupName"]) == LOG_GROUP_NAMES[name]
        assert group["Properties"]["RetentionInDays"] == "90"
        assert group["DeletionPolicy"] == "Delete"
        assert group["UpdateReplacePolicy"] == "Delete"


def test_no_log_group_takes_a_name_lambda_may_already_have_made() -> None:
    """An upgraded stack's functions already have /aws/lambda/<name> groups: declaring one fails the update."""
    for mode in MODES:
        for group in deploy(mode).of_type("AWS::Logs::LogGroup").values():
            assert not _sub(group["Properties"]["LogGroupName"]).startswith("/aws/"), group


def test_the_retention_default_is_30_days() -> None:
    assert _source()["Parameters"]["LogRetentionInDays"]["Default"] == 30


# ------------------------------------------------------------------------------------------ access log and filters
def test_the_access_log_is_json_without_path_query_or_caller_details() -> None:
    fields = _access_log_format()
    variables = set(fields.values())
    forbidden = {
        "$context.path",
        "$context.identity.sourceIp",
        "$context.identity.userAgent",
        "$context.requestOverride",
    }
    assert not variables & forbidden
    assert not [v for v in variables if "querystring" in v.lower() or "header" in v.lower()]
    assert all(value.startswith("$context.") for value in variables)


def test_the_deploy_page_lists_the_access_log_fields() -> None:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- access-log:") :].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|")[:2] for line in table.splitlines() if line.startswith("| `")]
    documented = {field.strip().strip("`"): variable.strip().strip("`") for field, variable in rows}
    assert documented == _access_log_format()


def test_the_metric_filters_read_fields_the_access_log_writes() -> None:
    fields = _access_log_format()
    filters = deploy().of_type("AWS::Logs::MetricFilter")
    assert {
        f["Properties"]["MetricTransformations"][0]["MetricName"]: f["Properties"]["LogGroupName"]
        for f in filters.values()
    } == {"GatewayThrottles": {"Ref": "ApiAccessLogGroup"}, "GatewayErrors": {"Ref": "ApiAccessLogGroup"}}
    for metric_filter in filters.values():
        used = set(re.findall(r"\$\.(\w+)", metric_filter["Properties"]["FilterPattern"]))
        assert used <= set(fields), used - set(fields)
        assert "integrationStatus" in used or "integrationError" in used  # the gateway's own answers only


# ------------------------------------------------------------------------------------------------------- alarms
def _actions(deployed: Any) -> dict[str, tuple[Any, Any]]:
    return {
        name: (alarm["Properties"].get("AlarmActions"), alarm["Properties"].get("OKActions"))
        for name, alarm in deployed.of_type("AWS::CloudWatch::Alarm").items()
    }


def test_without_a_destination_the_alarms_notify_nobody_and_no_topic_is_made() -> None:
    deployed = deploy()
    assert not deployed.of_type("AWS::SNS::Topic")
    assert set(_actions(deployed).values()) == {(None, None)}


def test_an_email_makes_a_topic_that_every_alarm_notifies() -> None:
    deployed = deploy(AlarmEmail="ops@example.com")
    [(name, topic)] = deployed.of_type("AWS::SNS::Topic").items()
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": "ops@example.com"}]
    for actions in _actions(deployed).values():
        assert actions == ([{"Ref": name}], [{"Ref": name}])
    [policy] = deployed.of_type("AWS::SNS::TopicPolicy").values()
    allow = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allow] == [{"Service": "cloudwatch.amazonaws.com"}]
    assert [s["Action"] for s in allow] == ["sns:Publish"]


def test_an_existing_topic_is_notified_and_none_is_made() -> None:
    deployed = deploy(AlarmTopicArn=TOPIC_ARN)
    assert not deployed.of_type("AWS::SNS::Topic")
    for actions in _actions(deployed).values():
        assert actions == ([TOPIC_ARN], [TOPIC_ARN])


def test_an_email_and_a_topic_together_are_refused() -> None:
    rule = _source()["Rules"]["AtMostOneAlarmDestination"]
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Or": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}, {"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }


@pytest.mark.parametrize("mode", MODES)
def test_the_authorizer_errors_alarm_exists_only_in_lambda_authorizer_mode(mode: str) -> None:
    alarms = deploy(mode).of_type("AWS::CloudWatch::Alarm")
    assert ("AuthorizerErrorsAlarm" in alarms) == (mode == "LambdaAuthorizer")


def test_each_alarm_treats_missing_data_deliberately() -> None:
    alarms = deploy().of_type("AWS::CloudWatch::Alarm")
    treatment = {name: alarm["Properties"]["TreatMissingData"] for name, alarm in alarms.items()}
    assert treatment.pop("CanaryAlarm") == "breaching"
    assert set(treatment.values()) == {"notBreaching"}


def test_every_threshold_but_the_canarys_is_a_parameter() -> None:
    for name, alarm in deploy().of_type("AWS::CloudWatch::Alarm").items():
        source = _source()["Resources"][name]["Properties"]["Threshold"]
        if name == "CanaryAlarm":
            assert source == 1  # a run is 1 or 0: any failed run in the period
        else:
            assert set(source) == {"Ref"} and source["Ref"] in _source()["Parameters"], name
        assert alarm["Properties"]["Period"] in (300, 900)


def _documented_alarms() -> dict[str, list[str]]:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- alarms:") :].split("\n\n", 1)[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table.splitlines()]
    return {row[0].strip("`"): row for row in rows if row[0].startswith("`")}


def test_the_deploy_page_has_a_row_and_a_section_for_each_alarm() -> None:
    """The table's name, namespace, metric and statistic are the template's; each alarm's description ends with a link
    to its own section, which exists."""
    documented = _documented_alarms()
    section = _doc_section(9)
    alarms = deploy().of_type("AWS::CloudWatch::Alarm")
    assert len(documented) == len(alarms)
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        short = _sub(properties["AlarmName"]).removeprefix(f"{STACK_NAME}-")
        row = documented[short]
        assert row[1] == f"`{properties['Namespace']}`" and row[2] == f"`{properties['MetricName']}`", name
        assert row[4] == properties.get("Statistic", properties.get("ExtendedStatistic")), name
        missing = {"notBreaching": "not breaching", "breaching": "breaching"}[properties["TreatMissingData"]]
        assert row[6] == missing, name
        description = _sub(properties["AlarmDescription"])
        assert description.endswith(f"Runbook: docs/deploy.md#{name.lower()}"), name
        assert f"\n#### {name}\n" in section, name
        assert len(description) <= 1024  # CloudWatch's limit


def test_the_dashboard_exists_only_when_asked_for() -> None:
    assert not deploy().of_type("AWS::CloudWatch::Dashboard")
    [dashboard] = deploy(CreateDashboard="Yes").of_type("AWS::CloudWatch::Dashboard").values()
    body = re.sub(r"\$\{[\w:]+\}", "x", _sub(dashboard["Properties"]["DashboardBody"]))
    titles = [widget["properties"]["title"] for widget in json.loads(body)["widgets"]]
    assert len(titles) == 6


# ---------------------------------------------------------------------------------------------------------- costs
def test_the_cost_sections_alarm_counts_and_worked_total_hold() -> None:
    """Section 12: the alarms it prices are the template's (per mode), and the worked example's rows add up to its
    total and its price per million tokens."""
    section = " ".join(_doc_section(12).split())
    counts = {mode: len(deploy(mode).of_type("AWS::CloudWatch::Alarm")) for mode in MODES}
    structure = f"the stack's alarms ([section 9](#alarms)): {counts['Open']}, and {counts['LambdaAuthorizer']} in"
    assert structure in section
    assert counts["AmazonCognito"] == counts["Open"]
    assert f"| CloudWatch alarms | {counts['LambdaAuthorizer']} alarms \N{MULTIPLICATION SIGN} 0.10" in section
    example = _doc_section(12).split("**A worked example.**", 1)[1].split("\n\n")[1]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in example.splitlines()[2:]]
    *parts, total = rows
    added = sum(float(row[2]) for row in parts)
    stated = float(re.search(r"about ([\d.]+)", total[2]).group(1))  # type: ignore[union-attr]
    assert round(added, 2) == stated
    per_million = float(re.search(r"\(([\d.]+) per million tokens\)", total[2]).group(1))  # type: ignore[union-attr]
    assert round(stated / 2.592, 2) == per_million


def test_the_canary_alarm_exists_only_while_the_canary_runs() -> None:
    """A disabled canary reports nothing: its alarm (missing data breaching) would fire for ever."""
    assert "CanaryAlarm" in deploy().resources
    assert "CanaryAlarm" not in deploy(CanarySchedule="Disabled").resources
    assert "CanaryFunction" in deploy(CanarySchedule="Disabled").resources  # still there for make canary STACK=...
