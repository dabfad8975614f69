"""The SnapStart parameter: off by default (no version, no alias), on it snapshots published versions of the
vending function and the routes call the "live" alias; the authorizer is never snapshotted."""

from __future__ import annotations

import pytest

from tests.unit.test_template import AUTHORIZER_FUNCTION, MODES, VENDING, _routes, deploy

ALIAS = f"{VENDING}Aliaslive"


def _route_targets(mode: str, **overrides: str) -> set[str]:
    routes = _routes(deploy(mode, **overrides), "TokenApi")
    return {
        operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"].split("/functions/")[1]
        for operation in routes.values()
    }


@pytest.mark.parametrize("mode", MODES)
def test_snapstart_is_off_by_default_with_no_version_or_alias(mode: str) -> None:
    deployed = deploy(mode)
    assert deployed.properties(VENDING)["SnapStart"] == {"ApplyOn": "None"}
    assert not deployed.of_type("AWS::Lambda::Version")
    assert not deployed.of_type("AWS::Lambda::Alias")
    assert _route_targets(mode) == {"${TokenVendingFunction.Arn}/invocations"}


@pytest.mark.parametrize("mode", MODES)
def test_snapstart_on_snapshots_published_versions_and_the_routes_call_the_alias(mode: str) -> None:
    deployed = deploy(mode, SnapStart="PublishedVersions")
    assert deployed.properties(VENDING)["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    [alias] = deployed.of_type("AWS::Lambda::Alias").values()
    assert alias["Properties"]["Name"] == "live"
    [version] = deployed.of_type("AWS::Lambda::Version").values()
    assert version["Properties"]["FunctionName"] == {"Ref": VENDING}
    assert _route_targets(mode, SnapStart="PublishedVersions") == {"${" + ALIAS + "}/invocations"}
    permissions = deployed.of_type("AWS::Lambda::Permission").values()
    assert {p["Properties"]["FunctionName"]["Ref"] for p in permissions if "Vending" in str(p)} == {ALIAS}
    if mode == "LambdaAuthorizer":
        assert "SnapStart" not in deployed.properties(AUTHORIZER_FUNCTION)


def test_snapstart_takes_only_the_two_values_lambda_knows() -> None:
    from tests.unit.test_template import _source

    spec = _source()["Parameters"]["SnapStart"]
    assert spec["Default"] == "None"
    assert spec["AllowedValues"] == ["None", "PublishedVersions"]
    assert "GB" in spec["Description"]  # its cost is stated where it is chosen
