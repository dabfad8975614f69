"""Every alarm and every dashboard widget watches a metric that is really published.

An alarm on a metric nobody publishes never fires: it sits in INSUFFICIENT_DATA (or, treating missing data as not
breaching, OK) forever, and the outage it was for goes unseen. So each alarm of the template, as deployed in each
`AuthenticationMethod` (the extensions and SAM's transform applied: tests/unit/test_template.py's `deploy`), is tied
to one of:
- a record the vending handler really writes, run in-process through every kind of answer
  (tests/integration/test_metric_contract.py's `every_answer`): the same namespace, metric name and exactly the
  same dimension set, with the same values (CloudWatch keeps one series per set and never adds them up);
- a metric filter of the template (its namespace and name, no dimensions: the filters give none);
- a service metric, by a name in the service's documented list below, with the dimensions the service publishes it
  by, whose values name this stack's function or API;
- a record the canary's handler (functions/canary/app.py) really writes, run in-process once against the emulator
  (tests/integration/test_canary.py's fixture), with the same namespace, name and dimension set;
The negative cases show the check fails for a misspelled name, another dimension set or another namespace.
"""

from __future__ import annotations

import copy
import io
import json
import re
from types import ModuleType
from typing import Any

import pytest

from tests.integration.test_canary import canary_emulator, canary_function, emf_records  # noqa: F401 (fixtures)
from tests.integration.test_metric_contract import NAMESPACE, every_answer
from tests.integration.vending import Clock
from tests.unit.test_template import MODES, Deployed, deploy

# A series: (namespace, metric name, its dimensions as sorted (name, value) pairs).
Series = tuple[str, str, tuple[tuple[str, str], ...]]

# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html (as read in 2026): the function metrics
# Lambda publishes, by FunctionName (and Resource, ExecutedVersion for versions and aliases).
LAMBDA_METRICS = frozenset(
    {
        "Invocations",
        "Errors",
        "DeadLetterErrors",
        "DestinationDeliveryFailures",
        "Throttles",
        "OversizedRecordCount",
        "ProvisionedConcurrencySpilloverInvocations",
        "RecursiveInvocationsDropped",
        "Duration",
        "PostRuntimeExtensionsDuration",
        "IteratorAge",
        "ConcurrentExecutions",
        "UnreservedConcurrentExecutions",
        "ProvisionedConcurrentExecutions",
        "ProvisionedConcurrencyUtilization",
    }
)
LAMBDA_DIMENSIONS = frozenset({("FunctionName",), ("FunctionName", "Resource"), ("ExecutedVersion", "FunctionName")})
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html: an HTTP API's metrics, by ApiId
# and Stage (and Route, with detailed metrics, which the template does not turn on).
HTTP_API_METRICS = frozenset({"4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"})
HTTP_API_DIMENSIONS = frozenset({("ApiId",), ("ApiId", "Stage")})
# SAM's HttpApi without StageName deploys its one stage as $default (the transformed template's Stage says so: see
# test_the_api_stage_is_the_default_stage).
STAGE = "$default"

# The one kind of dashboard expression the template uses: every series of exactly {namespace,dimensions} by name.
SEARCH = re.compile(r"SEARCH\('\{([^}]+)\} MetricName=\"(\w+)\"', '\w+', \d+\)")


def emitted(raw: list[dict[str, Any]]) -> set[Series]:
    """Each series the records publish: one per dimension set of each record, with the record's values."""
    found: set[Series] = set()
    for record in raw:
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                for names in directive["Dimensions"]:
                    pairs = tuple(sorted((name, str(record[name])) for name in names))
                    found.add((directive["Namespace"], metric["Name"], pairs))
    return found


def filtered(deployed: Deployed) -> set[Series]:
    """The series the template's metric filters publish (no dimensions)."""
    found: set[Series] = set()
    for metric_filter in deployed.of_type("AWS::Logs::MetricFilter").values():
        for transformation in metric_filter["Properties"]["MetricTransformations"]:
            assert "Dimensions" not in transformation, "a filter with dimensions: publish and alarm on each set"
            found.add((transformation["MetricNamespace"], transformation["MetricName"], ()))
    return found


def _value(value: Any) -> str:
    """A dimension value: a literal, or `<Logical>` for a Ref to a resource."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return f"<{value['Ref']}>"
    assert isinstance(value, str), value
    return value


def problem(series: Series, deployed: Deployed, published: set[Series]) -> str | None:
    """Why `series` is not a metric anyone publishes for this deployment, or None when it is."""
    namespace, name, pairs = series
    dimensions = dict(pairs)
    names = tuple(sorted(dimensions))
    if namespace == "AWS/Lambda":
        if name not in LAMBDA_METRICS:
            return f"AWS/Lambda publishes no {name}"
        if names not in LAMBDA_DIMENSIONS:
            return f"AWS/Lambda publishes no {name} by {names}"
        function = dimensions["FunctionName"].strip("<>")
        if deployed.resources.get(function, {}).get("Type") != "AWS::Lambda::Function":
            return f"FunctionName {dimensions['FunctionName']} is not a function of this deployment"
        return None
    if namespace == "AWS/ApiGateway":
        if name not in HTTP_API_METRICS:
            return f"an HTTP API publishes no {name}"
        if names not in HTTP_API_DIMENSIONS:
            return f"an HTTP API publishes no {name} by {names}"
        if dimensions["ApiId"] != "<TokenApi>" or dimensions.get("Stage", STAGE) != STAGE:
            return f"not this stack's API and stage: {dimensions}"
        return None
    if series in published or series in filtered(deployed):
        return None
    near = sorted(str(other) for other in published | filtered(deployed) if other[:2] == series[:2])
    return f"nobody publishes {series}" + (f" (published with other dimensions: {near})" if near else "")


def alarm_series(alarm: dict[str, Any]) -> Series:
    properties = alarm["Properties"]
    pairs = tuple(sorted((d["Name"], _value(d["Value"])) for d in properties.get("Dimensions", [])))
    return properties["Namespace"], properties["MetricName"], pairs


def widget_series(dashboard: dict[str, Any]) -> list[Series]:
    """Each metric a widget names: a metrics row [namespace, name, dim, value, ..., {options}?], or a SEARCH
    expression's {namespace,dimension names} MetricName="name" (one series per value of those exact dimensions; the
    first value of each is taken from what is published, so only the set and the name are checked)."""
    body = dashboard["Properties"]["DashboardBody"]
    text = body["Fn::Sub"] if isinstance(body, dict) else body
    text = re.sub(r"\$\{(\w+)\}", r"<\1>", text)  # the Refs CloudFormation substitutes
    series: list[Series] = []
    for widget in json.loads(text)["widgets"]:
        for row in widget["properties"]["metrics"]:
            parts = [part for part in row if not isinstance(part, dict)]
            options = [part for part in row if isinstance(part, dict)]
            if parts:
                namespace, name, *flat = parts
                series.append((namespace, name, tuple(sorted(zip(flat[::2], flat[1::2], strict=True)))))
            for option in options:
                if "expression" not in option:
                    continue
                search = SEARCH.fullmatch(option["expression"])
                assert search, f"an expression this test cannot read: {option['expression']}"
                namespace, *names = search.group(1).split(",")
                series.append((namespace, search.group(2), tuple((n, "*") for n in sorted(names))))
    return series


def matches(series: Series, deployed: Deployed, published: set[Series]) -> str | None:
    """`problem`, with a SEARCH's `*` values matching any published value."""
    namespace, name, pairs = series
    if any(value == "*" for _, value in pairs):
        names = tuple(n for n, _ in pairs)
        if any(p[:2] == (namespace, name) and tuple(n for n, _ in p[2]) == names for p in published):
            return None
        return f"nobody publishes {name} by exactly {names}"
    return problem(series, deployed, published)


@pytest.fixture(scope="module")
def published_box() -> dict[str, set[Series]]:
    return {}


@pytest.fixture
def published(
    published_box: dict[str, set[Series]],
    function: ModuleType,
    fresh: Any,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
    request: pytest.FixtureRequest,
) -> set[Series]:
    """Every series the in-process handlers publish (run once per module): the vending function's through every kind
    of answer, and the canary's through a passing run (its two metrics; a failing run writes the first alone)."""
    if "series" not in published_box:
        _, raw = every_answer(function, fresh, clock, capsys, monkeypatch)
        canary, *_ = request.getfixturevalue("canary_function")
        capsys.readouterr()
        assert canary.handler({"source": "aws.scheduler"}, None)["ok"] is True
        published_box["series"] = emitted(raw) | emitted(emf_records(capsys.readouterr().out))
    return published_box["series"]


@pytest.mark.parametrize("mode", MODES)
def test_every_alarm_watches_a_published_metric(mode: str, published: set[Series]) -> None:
    deployed = deploy(mode)
    alarms = deployed.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 10
    problems = {name: problem(alarm_series(alarm), deployed, published) for name, alarm in alarms.items()}
    assert {name: said for name, said in problems.items() if said} == {}


@pytest.mark.parametrize("mode", MODES)
def test_every_dashboard_widget_names_a_published_metric(mode: str, published: set[Series]) -> None:
    deployed = deploy(mode, CreateDashboard="Yes")
    [dashboard] = deployed.of_type("AWS::CloudWatch::Dashboard").values()
    series = widget_series(dashboard)
    assert len(series) >= 15
    problems = {str(one): matches(one, deployed, published) for one in series}
    assert {one: said for one, said in problems.items() if said} == {}


def test_the_api_stage_is_the_default_stage() -> None:
    """The alarms' and widgets' Stage dimension is the one stage SAM deploys."""
    [stage] = deploy().of_type("AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["StageName"] == STAGE


MUTATIONS = {
    "misspelled custom metric": lambda p: p.update(MetricName="UpstreamError"),
    "custom metric by another dimension set": lambda p: p["Dimensions"].append({"Name": "tier", "Value": "readwrite"}),
    "custom metric without its service dimension": lambda p: p.update(Dimensions=[]),
    "custom metric in another namespace": lambda p: p.update(Namespace="MomentoTvm"),
    "custom metric with another service value": lambda p: p.update(
        Dimensions=[{"Name": "service", "Value": "token_vending"}]
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_the_check_refuses_a_custom_metric_nobody_publishes(mutation: str, published: set[Series]) -> None:
    deployed = deploy()
    alarm = copy.deepcopy(deployed.resources["UpstreamErrorsAlarm"])
    assert problem(alarm_series(alarm), deployed, published) is None
    MUTATIONS[mutation](alarm["Properties"])
    assert problem(alarm_series(alarm), deployed, published) is not None


SERVICE_MUTATIONS = {
    "misspelled Lambda metric": ("VendingErrorsAlarm", lambda p: p.update(MetricName="Error")),
    "Lambda metric by a dimension it lacks": (
        "VendingErrorsAlarm",
        lambda p: p["Dimensions"].append({"Name": "ApiId", "Value": {"Ref": "TokenApi"}}),
    ),
    "a function that is not deployed": (
        "VendingErrorsAlarm",
        lambda p: p.update(Dimensions=[{"Name": "FunctionName", "Value": {"Ref": "NoSuchFunction"}}]),
    ),
    "a REST API's metric name": ("Api5xxAlarm", lambda p: p.update(MetricName="5XXError")),
    "another stage": ("Api5xxAlarm", lambda p: p["Dimensions"][1].update(Value="prod")),
}


@pytest.mark.parametrize("mutation", SERVICE_MUTATIONS)
def test_the_check_refuses_a_service_metric_that_does_not_exist(mutation: str, published: set[Series]) -> None:
    deployed = deploy()
    name, change = SERVICE_MUTATIONS[mutation]
    alarm = copy.deepcopy(deployed.resources[name])
    assert problem(alarm_series(alarm), deployed, published) is None
    change(alarm["Properties"])
    assert problem(alarm_series(alarm), deployed, published) is not None


def test_a_search_for_a_dimension_set_nobody_publishes_is_refused(published: set[Series]) -> None:
    deployed = deploy()
    assert matches((NAMESPACE, "TokensVended", (("service", "*"), ("tier", "*"))), deployed, published) is None
    assert matches((NAMESPACE, "TokensVended", (("tier", "*"),)), deployed, published) is not None
    assert matches((NAMESPACE, "Denials", (("service", "*"), ("tier", "*"))), deployed, published) is not None
