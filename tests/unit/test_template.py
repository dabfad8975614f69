"""template.yaml as CloudFormation really deploys it, per AuthenticationMethod: what cfn-lint cannot see.

Each test takes the template through CloudFormation's two transforms, in the template's order: first
AWS::LanguageExtensions, resolved with the project's own code (`local_api.intrinsics.resolve_language_extensions`,
which `make dev` uses too; it chooses the HttpApi's Auth with Fn::If), then SAM's (aws-sam-translator, the code
CloudFormation's `AWS::Serverless` transform runs). It then keeps only the resources and outputs whose `Condition`
holds for the parameter values, resolving what is left of `Fn::If`, `AWS::NoValue` and parameter `Ref`s the way
CloudFormation would. SAM leaves conditions to CloudFormation, so without this step the other modes' resources
(the authorizer function, the Cognito pool) would appear in every transform.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import intrinsics_multi_constructor

from local_api.intrinsics import parameter_values, resolve_language_extensions, typed_parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"

MODES = ("Open", "LambdaAuthorizer", "AmazonCognito")
# One API and one vending function serve every mode (the Auth is chosen inside the API).
API = "TokenApi"
VENDING = "TokenVendingFunction"
AUTHORIZER_FUNCTION = "CredentialsAuthorizerFunction"
# The stack's deploy check (architecture trap, issue 20): a custom resource and its inline function, in every mode.
DEPLOY_CHECK = "DeployCheck"
DEPLOY_CHECK_FUNCTION = "DeployCheckFunction"
CANARY_FUNCTION = "CanaryFunction"
# What each mode creates besides the API, the vending function and the site; each of these keeps its Condition.
MODE_RESOURCES = {
    "Open": {},
    "LambdaAuthorizer": {"CredentialsAuthorizerFunction": "IsLambdaAuthorizer", "UsersSecret": "IsLambdaAuthorizer"},
    "AmazonCognito": {
        "UserPool": "IsCognito",
        "UserPoolClient": "IsCognito",
        "ReadWriteGroup": "IsCognito",
        "ReadOnlyGroup": "IsCognito",
    },
}
ROUTES = {"GET /token", "POST /token", "GET /token/explain"}
CODE_URI = {
    "vending": "functions/token_vending/",
    "authorizer": "authorizers/credentials/",
    "canary": "functions/canary/",
}

# What a deployment must always pass (no defaults in the template).
REQUIRED = {"MomentoEndpoint": "cell-4-us-west-2-1.prod.a.momentohq.com", "MomentoApiKey": "test-key"}
EXISTING_SECRET_ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:momento/api-key-AbCdEf"
CLOUDFRONT_ORIGIN = "https://${SiteDistribution.DomainName}"
CODE_BUCKET = "sam-artifacts"
REGION = "us-west-2"
ACCOUNT_ID = "123456789012"
STACK_NAME = "momento-tvm"
# What CloudFormation knows when it runs the transforms; AWS::LanguageExtensions substitutes them.
PSEUDO_VALUES = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/guid",
    "AWS::NotificationARNs": [],
}
DISTRIBUTION_ARN = f"arn:aws:cloudfront::{ACCOUNT_ID}:distribution/${{SiteDistribution}}"
LOCAL_MOTO = "http://172.17.0.1:5000"

BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
XRAY_WRITE = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"
VENDING_ENVIRONMENT = {
    "AUTH_MODE",
    "MOMENTO_API_KEY_SECRET",
    "MOMENTO_ENDPOINT",
    "MOMENTO_EMULATOR_ENDPOINT",
    "CACHE_NAME",
    "MAX_TOKEN_TTL_SECONDS",
    "POLICY_FILE",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_TRACE_DISABLED",
    "SECRETS_MANAGER_ENDPOINT",
    "LIMITS_TABLE",
    "STORE_FAILURE_MODE",
    "DYNAMODB_ENDPOINT",
}
# The issuance store (issue 22): one DynamoDB table in every mode, the vending function's only DynamoDB access.
ISSUANCE_TABLE = "IssuanceTable"
PSEUDO_PARAMETERS = {
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
}


# ---------------------------------------------------------------------------------------------------------- loading
class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short tags (`!Ref`, `!Sub`, ...), as `samtranslator.yaml_helper.yaml_parse`.

    yaml_parse registers the tags on `yaml.SafeLoader` itself, which would make every later `yaml.safe_load` in the
    test session accept `!Ref` silently (the policy loader's own tests, for one). A subclass keeps it local.
    """


_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


@functools.cache
def _source_text() -> str:
    return TEMPLATE.read_text(encoding="utf-8")


@functools.cache
def _parsed_source() -> str:
    """The template parsed once (pure-Python YAML: about 0.1 s a parse, and many tests read it), as canonical JSON."""
    return json.dumps(yaml.load(_source_text(), Loader=_CfnLoader))  # noqa: S506 - a SafeLoader subclass


def _source() -> dict[str, Any]:
    """A fresh copy of the parsed template: tests may change what they are given."""
    result: dict[str, Any] = json.loads(_parsed_source())
    return result


class _StubManagedPolicyLoader:
    """SAM asks for the account's managed policy ARNs only when `Policies` names one; answer offline."""

    def load(self) -> dict[str, str]:
        names = ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSSecretsManagerReadWrite")
        return {name: f"arn:aws:iam::aws:policy/{name}" for name in names}


def _package(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does to local code: each CodeUri and ContentUri becomes an S3 URI (the key keeps the folder
    name)."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "InlineCode" not in resource["Properties"]:
            resource["Properties"]["CodeUri"] = f"s3://{CODE_BUCKET}/{resource['Properties']['CodeUri']}"
        if resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://{CODE_BUCKET}/{resource['Properties']['ContentUri']}"
    return template


def _parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """Given values over template defaults, as strings (CloudFormation compares parameters as strings)."""
    values = {name: str(spec["Default"]) for name, spec in template["Parameters"].items() if "Default" in spec}
    values.update(given)
    values.update({"AWS::Region": REGION, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"})
    return values


def _extended(given: Mapping[str, str]) -> dict[str, Any]:
    """The template as AWS::LanguageExtensions hands it to SAM's transform for these parameters."""
    source = _source()
    specs = source["Parameters"]
    typed = {**typed_parameters(specs, parameter_values(specs, dict(given))), **PSEUDO_VALUES}
    return resolve_language_extensions(source, typed)


def _sam(template: dict[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    with mock.patch.dict("os.environ", {"AWS_DEFAULT_REGION": REGION}):
        return transform(_package(template), dict(given), _StubManagedPolicyLoader())


@functools.cache
def _transformed(given: frozenset[tuple[str, str]]) -> dict[str, Any]:
    return _sam(_extended(dict(given)), dict(given))


# ----------------------------------------------------------------------------------------------- conditions, If, Ref
def _scalar(expression: Any, parameters: Mapping[str, str]) -> str:
    if isinstance(expression, dict) and set(expression) == {"Ref"}:
        return parameters[expression["Ref"]]
    if isinstance(expression, str | int | float | bool):
        return str(expression).lower() if isinstance(expression, bool) else str(expression)
    raise ValueError(f"unsupported value in a condition: {expression!r}")


def evaluate(expression: Any, parameters: Mapping[str, str], conditions: Mapping[str, Any]) -> bool:
    """A condition (or a Rules assertion) evaluated against parameter values, as CloudFormation does."""
    if isinstance(expression, dict) and len(expression) == 1:
        ((function, arguments),) = expression.items()
        if function == "Fn::Equals":
            left, right = arguments
            return _scalar(left, parameters) == _scalar(right, parameters)
        if function == "Fn::Not":
            return not evaluate(arguments[0], parameters, conditions)
        if function == "Fn::And":
            return all(evaluate(argument, parameters, conditions) for argument in arguments)
        if function == "Fn::Or":
            return any(evaluate(argument, parameters, conditions) for argument in arguments)
        if function == "Condition":
            return evaluate(conditions[arguments], parameters, conditions)
    raise ValueError(f"unsupported condition: {expression!r}")


_NO_VALUE = object()


def _resolve(node: Any, parameters: Mapping[str, str], holds: Mapping[str, bool]) -> Any:
    """Fn::If chosen, AWS::NoValue dropped, parameter Refs replaced by their (string) values; the rest kept."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, if_true, if_false = node["Fn::If"]
            return _resolve(if_true if holds[condition] else if_false, parameters, holds)
        if set(node) == {"Ref"}:
            name = node["Ref"]
            if name == "AWS::NoValue":
                return _NO_VALUE
            if name in parameters and name not in PSEUDO_PARAMETERS:
                return parameters[name]
            return node
        resolved = {key: _resolve(value, parameters, holds) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not _NO_VALUE}
    if isinstance(node, list):
        items = [_resolve(item, parameters, holds) for item in node]
        return [item for item in items if item is not _NO_VALUE]
    return node


@dataclass(frozen=True)
class Deployed:
    """The resources and outputs one deployment really creates, with Fn::If and parameter Refs resolved."""

    parameters: dict[str, str]
    resources: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    raw: dict[str, Any]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}

    def properties(self, name: str) -> dict[str, Any]:
        return self.resources[name]["Properties"]


@functools.cache
def _deploy(given: frozenset[tuple[str, str]]) -> Deployed:
    raw = _transformed(given)
    parameters = _parameter_values(raw, dict(given))
    conditions = raw.get("Conditions", {})
    holds = {name: evaluate(expression, parameters, conditions) for name, expression in conditions.items()}

    def kept(section: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {
            name: _resolve(body, parameters, holds)
            for name, body in section.items()
            if "Condition" not in body or holds[body["Condition"]]
        }

    return Deployed(parameters, kept(raw["Resources"]), kept(raw.get("Outputs", {})), raw)


def deploy(mode: str = "LambdaAuthorizer", **overrides: str) -> Deployed:
    given = {**REQUIRED, "AuthenticationMethod": mode, **overrides}
    return _deploy(frozenset(given.items()))


# ------------------------------------------------------------------------------------------------- reading helpers
def _references(node: Any) -> Iterator[str]:
    """Every logical id or parameter that a Ref, GetAtt or Sub in `node` names."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            yield node["Ref"]
            return
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            yield target[0] if isinstance(target, list) else target.split(".", 1)[0]
            return
        if set(node) == {"Fn::Sub"}:
            text, variables = (node["Fn::Sub"], {}) if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"]
            for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                if name not in variables:
                    yield name if name.startswith("AWS::") else name.split(".", 1)[0]
            yield from _references(variables)
            return
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for item in node:
            yield from _references(item)


def _routes(deployed: Deployed, api: str) -> dict[str, dict[str, Any]]:
    """Route key -> OpenAPI operation, from the API's Body and from any separate AWS::ApiGatewayV2::Route."""
    routes: dict[str, dict[str, Any]] = {}
    body = deployed.properties(api).get("Body", {})
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            routes[f"{method.upper()} {path}"] = operation
    for route in deployed.of_type("AWS::ApiGatewayV2::Route").values():
        if route["Properties"]["ApiId"] == {"Ref": api}:
            routes[route["Properties"]["RouteKey"]] = route["Properties"]
    return routes


def _integrated_function(operation: Mapping[str, Any]) -> str:
    uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    # the function's ARN, or (AutoPublishAlias) its "live" alias, whose Ref is the alias ARN
    match = re.search(r"functions/\$\{(\w+?)(?:\.Arn|Aliaslive)\}/invocations", uri)
    assert match, uri
    return match.group(1)


def _security_schemes(deployed: Deployed, api: str) -> dict[str, Any]:
    return deployed.properties(api).get("Body", {}).get("components", {}).get("securitySchemes", {})


def _stage(deployed: Deployed, api: str) -> dict[str, Any]:
    (stage,) = (
        s["Properties"]
        for s in deployed.of_type("AWS::ApiGatewayV2::Stage").values()
        if s["Properties"]["ApiId"] == {"Ref": api}
    )
    return stage


def _role_of(deployed: Deployed, function: str) -> dict[str, Any]:
    role = deployed.properties(function)["Role"]
    assert set(role) == {"Fn::GetAtt"}, role
    return deployed.properties(role["Fn::GetAtt"][0])


def _statements(role: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [statement for policy in role.get("Policies", []) for statement in policy["PolicyDocument"]["Statement"]]


def _policy_resource(statement: Mapping[str, Any]) -> Any:
    """SAM's policy templates wrap the ARN as Fn::Sub ["${secretArn}", {secretArn: X}]: unwrap to X."""
    resource = statement["Resource"]
    if isinstance(resource, dict) and set(resource) == {"Fn::Sub"} and isinstance(resource["Fn::Sub"], list):
        text, variables = resource["Fn::Sub"]
        if re.fullmatch(r"\$\{(\w+)\}", text):
            return variables[text[2:-1]]
    return resource


def _origins(cors: Mapping[str, Any]) -> list[str]:
    """allowOrigins as strings; Fn::Split over one Fn::Sub is split here, ${...} references kept as text."""
    origins = cors["allowOrigins"]
    if isinstance(origins, dict) and set(origins) == {"Fn::Split"}:
        separator, source = origins["Fn::Split"]
        assert set(source) == {"Fn::Sub"} and isinstance(source["Fn::Sub"], str), source
        return source["Fn::Sub"].split(separator)
    texts = []
    for origin in origins:
        texts.append(origin["Fn::Sub"] if isinstance(origin, dict) else origin)
    return texts


def _overrides(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(text))


def _allowed(spec: Mapping[str, Any], value: str) -> bool:
    """CloudFormation's parameter constraints (AllowedValues, AllowedPattern, lengths, bounds)."""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if not spec.get("MinLength", 0) <= len(value) <= spec.get("MaxLength", len(value)):
        return False
    if spec["Type"] == "Number":
        number = float(value)
        return spec.get("MinValue", number) <= number <= spec.get("MaxValue", number)
    return True


# --------------------------------------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("mode", MODES)
def test_each_mode_deploys_exactly_one_api_and_one_vending_function(mode: str) -> None:
    deployed = deploy(mode)
    assert set(deployed.of_type("AWS::ApiGatewayV2::Api")) == {API}
    assert set(deployed.of_type("AWS::ApiGatewayV2::Stage")) == {f"{API}ApiGatewayDefaultStage"}
    functions = set(deployed.of_type("AWS::Lambda::Function"))
    expected = {VENDING, AUTHORIZER_FUNCTION} if mode == "LambdaAuthorizer" else {VENDING}
    assert functions == expected | {
        DEPLOY_CHECK_FUNCTION,
        CANARY_FUNCTION,
    }  # the canary: tests/unit/test_template_canary.py
    assert set(deployed.of_type("Custom::DeployCheck")) == {DEPLOY_CHECK}
    assert deployed.properties(VENDING)["Environment"]["Variables"]["AUTH_MODE"] == mode
    for other, resources in MODE_RESOURCES.items():
        assert (set(resources) <= set(deployed.resources)) == (other == mode or not resources), other
        if other != mode:
            assert not set(resources) & set(deployed.resources), f"{mode} deploys {other}'s resources"


def test_the_shared_resources_are_unconditional_and_the_mode_resources_keep_their_conditions() -> None:
    resources = _source()["Resources"]
    for shared in (API, VENDING, DEPLOY_CHECK, DEPLOY_CHECK_FUNCTION, "MomentoTvmLayer", ISSUANCE_TABLE):
        assert "Condition" not in resources[shared], shared
    for mode, own in MODE_RESOURCES.items():
        for name, condition in own.items():
            assert resources[name].get("Condition") == condition, (mode, name)
    serverless = {n for n, r in resources.items() if r["Type"].startswith("AWS::Serverless::")}
    assert serverless == {API, VENDING, AUTHORIZER_FUNCTION, DEPLOY_CHECK_FUNCTION, CANARY_FUNCTION, "MomentoTvmLayer"}


def test_sam_alone_rejects_the_template_so_these_tests_resolve_the_language_extensions_first() -> None:
    """A plain SAM transform is not what CloudFormation runs: the Auth's Fn::If reaches SAM unresolved and fails."""
    source = _source()
    assert source["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert set(source["Resources"][API]["Properties"]["Auth"]) == {"Fn::If"}
    given = {**REQUIRED, "AuthenticationMethod": "LambdaAuthorizer"}
    with pytest.raises(InvalidDocumentException) as raised:
        _sam(source, given)
    messages = [str(cause.message) for cause in raised.value.causes]
    assert any("Invalid value for 'Auth' property" in message for message in messages), messages
    extended = _extended(given)
    assert extended["Transform"] == "AWS::Serverless-2016-10-31"
    assert extended["Resources"][API]["Properties"]["Auth"]["DefaultAuthorizer"] == "CredentialsAuthorizer"
    assert "Auth" not in _extended({**given, "AuthenticationMethod": "Open"})["Resources"][API].get("Properties", {})


@pytest.mark.parametrize("mode", ["Open", "AmazonCognito"])
def test_the_authorizer_survives_the_extensions_rewrite_where_it_is_not_created(mode: str) -> None:
    """In the other modes AWS::LanguageExtensions turns every plain Ref of the (not created) authorizer function
    into AWS::NoValue; SAM still translates it, and a SAM policy template missing its SecretArn would fail the whole
    deployment. The template's plain statement keeps it translatable (this would fail with the policy template)."""
    given = {**REQUIRED, "AuthenticationMethod": mode}
    authorizer = _extended(given)["Resources"][AUTHORIZER_FUNCTION]
    assert authorizer["Condition"] == "IsLambdaAuthorizer"
    assert "USERS_SECRET_ARN" not in authorizer["Properties"].get("Environment", {}).get("Variables", {})
    assert AUTHORIZER_FUNCTION in _transformed(frozenset(given.items()))["Resources"]

    with_template = _source()
    with_template["Resources"][AUTHORIZER_FUNCTION]["Properties"]["Policies"] = [
        {"AWSSecretsManagerGetSecretValuePolicy": {"SecretArn": {"Ref": "UsersSecret"}}}
    ]
    specs = with_template["Parameters"]
    typed = {**typed_parameters(specs, parameter_values(specs, given)), **PSEUDO_VALUES}
    with pytest.raises(InvalidDocumentException) as raised:
        _sam(resolve_language_extensions(with_template, typed), given)
    assert "don't have values: ['SecretArn']" in raised.value.causes[0].message


@pytest.mark.parametrize("mode", MODES)
def test_nothing_deployed_refers_to_a_resource_that_does_not_exist(mode: str) -> None:
    """What conditional resources invite: a permission, policy or URL naming a resource this mode does not create."""
    deployed = deploy(mode)
    known = set(deployed.resources) | set(deployed.raw["Parameters"]) | PSEUDO_PARAMETERS
    for section in (deployed.resources, deployed.outputs):
        for name, body in section.items():
            dangling = set(_references(body)) - known
            depends = body.get("DependsOn", [])
            dangling |= set([depends] if isinstance(depends, str) else depends) - set(deployed.resources)
            assert not dangling, f"{name} refers to {sorted(dangling)}, which {mode} mode does not deploy"


@pytest.mark.parametrize("mode", MODES)
def test_routes_are_exactly_the_three_token_routes_on_the_modes_vending_function(mode: str) -> None:
    deployed = deploy(mode)
    routes = _routes(deployed, API)
    assert set(routes) == ROUTES
    for key, operation in routes.items():
        integration = operation["x-amazon-apigateway-integration"]
        assert integration["type"] == "aws_proxy", key
        assert integration["payloadFormatVersion"] == "2.0", key
        assert _integrated_function(operation) == VENDING, key
    permissions = [
        p["Properties"]
        for p in deployed.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] in ({"Ref": VENDING}, {"Ref": f"{VENDING}Aliaslive"})
    ]
    invoked = {re.sub(r"^.*\$\{__Stage__\}/", "", p["SourceArn"]["Fn::Sub"][0]) for p in permissions}
    assert invoked == {"GET/token", "POST/token", "GET/token/explain"}
    for permission in permissions:
        assert permission["Principal"] == "apigateway.amazonaws.com"
        assert permission["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": API}


def test_lambda_authorizer_mode_guards_every_route_with_the_credentials_authorizer() -> None:
    deployed = deploy("LambdaAuthorizer", AuthorizerCacheTtlSeconds="120")
    api = API
    schemes = _security_schemes(deployed, api)
    assert set(schemes) == {"CredentialsAuthorizer"}
    authorizer = schemes["CredentialsAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"].upper() == "REQUEST"
    assert authorizer["authorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["enableSimpleResponses"] is True
    assert authorizer["identitySource"] == ["$request.header.Authorization"]
    assert authorizer["authorizerResultTtlInSeconds"] == "120"  # explicit, and from the parameter
    uri = authorizer["authorizerUri"]["Fn::Sub"]
    assert uri[1]["__FunctionArn__"] == {"Fn::GetAtt": [AUTHORIZER_FUNCTION, "Arn"]}
    for key, operation in _routes(deployed, api).items():
        assert operation.get("security") == [{"CredentialsAuthorizer": []}], key
    (permission,) = (
        p["Properties"]
        for p in deployed.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [AUTHORIZER_FUNCTION, "Arn"]}
    )
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert permission["SourceArn"]["Fn::Sub"][0].endswith("${__ApiId__}/authorizers/*")
    assert permission["SourceArn"]["Fn::Sub"][1]["__ApiId__"] == {"Ref": api}
    environment = deployed.properties(AUTHORIZER_FUNCTION)["Environment"]["Variables"]
    assert environment == {
        "USERS_SECRET_ARN": {"Ref": "UsersSecret"},
        "AUTH_CACHE_TTL_SECONDS": "120",
        "LOG_LEVEL": "INFO",
        "SECRETS_MANAGER_ENDPOINT": "",
    }
    assert deployed.properties("UsersSecret")["SecretString"] == '{"users": {}}'


def test_default_authorizer_cache_time_is_explicit() -> None:
    authorizer = _security_schemes(deploy("LambdaAuthorizer"), API)["CredentialsAuthorizer"]
    assert authorizer["x-amazon-apigateway-authorizer"]["authorizerResultTtlInSeconds"] == "300"


def test_cognito_mode_guards_every_route_with_a_jwt_authorizer_for_the_pool_and_its_client() -> None:
    deployed = deploy("AmazonCognito")
    api = API
    schemes = _security_schemes(deployed, api)
    assert set(schemes) == {"CognitoAuthorizer"}
    authorizer = schemes["CognitoAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt"
    assert authorizer["identitySource"] == "$request.header.Authorization"
    assert authorizer["jwtConfiguration"] == {
        "issuer": {"Fn::Sub": f"https://cognito-idp.{REGION}.amazonaws.com/${{UserPool}}"},
        "audience": [{"Ref": "UserPoolClient"}],
    }
    for key, operation in _routes(deployed, api).items():
        assert operation.get("security") == [{"CognitoAuthorizer": []}], key
    client = deployed.properties("UserPoolClient")
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_USER_SRP_AUTH",
    }
    groups = {g["Properties"]["GroupName"] for g in deployed.of_type("AWS::Cognito::UserPoolGroup").values()}
    assert groups == {"readwrite", "readonly"}
    assert deployed.properties("UserPool")["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


def test_open_mode_has_no_authorizer_at_all() -> None:
    deployed = deploy("Open")
    assert _security_schemes(deployed, API) == {}
    assert all("security" not in operation for operation in _routes(deployed, API).values())
    assert not deployed.of_type("AWS::ApiGatewayV2::Authorizer")
    for absent in (AUTHORIZER_FUNCTION, "UsersSecret", "UserPool", "UserPoolClient"):
        assert absent not in deployed.resources


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("architecture", [None, "arm64", "x86_64"])
def test_every_function_is_python313_on_the_chosen_architecture_with_its_own_code(
    mode: str, architecture: str | None
) -> None:
    deployed = deploy(mode, **({"LambdaArchitecture": architecture} if architecture else {}))
    functions = deployed.of_type("AWS::Lambda::Function")
    assert VENDING in functions
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.13", name
        assert properties["Architectures"] == [architecture or "arm64"], name  # arm64 by default
        assert "TracingConfig" not in properties, name  # Tracing defaults to Disabled
        if name == DEPLOY_CHECK_FUNCTION:  # inline code, standard library only: any architecture runs it
            assert properties["Handler"] == "index.handler"
            assert set(properties["Code"]) == {"ZipFile"}
            continue
        assert properties["Handler"] == "app.handler", name
        kind = {AUTHORIZER_FUNCTION: "authorizer", CANARY_FUNCTION: "canary"}.get(name, "vending")
        assert properties["Code"] == {"S3Bucket": CODE_BUCKET, "S3Key": CODE_URI[kind]}, name
        # momento_tvm from one layer, built by SAM from src/ (no copy of it in either function's folder)
        (layer_ref,) = properties["Layers"]
        layer = deployed.resources[layer_ref["Ref"]]
        assert layer["Type"] == "AWS::Lambda::LayerVersion", name
        assert layer["Properties"]["Content"] == {"S3Bucket": CODE_BUCKET, "S3Key": "src/"}
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("key_source", "secret"),
    [
        ({}, {"Ref": "MomentoApiKeySecret"}),
        ({"MomentoApiKey": "", "MomentoApiKeySecretArn": EXISTING_SECRET_ARN}, EXISTING_SECRET_ARN),
    ],
    ids=["created-secret", "existing-secret"],
)
def test_vending_function_environment_is_the_handler_contract(
    mode: str, key_source: dict[str, str], secret: Any
) -> None:
    deployed = deploy(mode, **key_source)
    environment = deployed.properties(VENDING)["Environment"]["Variables"]
    assert set(environment) == VENDING_ENVIRONMENT
    assert environment == {
        "AUTH_MODE": mode,
        "MOMENTO_API_KEY_SECRET": secret,
        "MOMENTO_ENDPOINT": REQUIRED["MomentoEndpoint"],
        "MOMENTO_EMULATOR_ENDPOINT": "",  # empty: TLS to every endpoint but a loopback one
        "CACHE_NAME": "default-cache",
        "MAX_TOKEN_TTL_SECONDS": "3600",
        "POLICY_FILE": "policy.yaml",
        "POWERTOOLS_SERVICE_NAME": "token-vending",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_METRICS_NAMESPACE": "MomentoTokenVending",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SECRETS_MANAGER_ENDPOINT": "",  # empty: the functions use AWS's own endpoint
        "LIMITS_TABLE": {"Ref": ISSUANCE_TABLE},
        "STORE_FAILURE_MODE": "Allow",  # the request goes through when the table cannot decide
        "DYNAMODB_ENDPOINT": "",  # empty: AWS's own endpoint
    }
    assert ("MomentoApiKeySecret" in deployed.resources) == (secret != EXISTING_SECRET_ARN)
    if "MomentoApiKeySecret" in deployed.resources:
        assert deployed.properties("MomentoApiKeySecret")["SecretString"] == REQUIRED["MomentoApiKey"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("key_source", "secret"),
    [
        ({}, {"Ref": "MomentoApiKeySecret"}),
        ({"MomentoApiKey": "", "MomentoApiKeySecretArn": EXISTING_SECRET_ARN}, EXISTING_SECRET_ARN),
    ],
    ids=["created-secret", "existing-secret"],
)
def test_vending_function_may_only_read_its_key_and_read_and_update_its_issuance_table(
    mode: str, key_source: dict[str, str], secret: Any
) -> None:
    deployed = deploy(mode, **key_source)
    role = _role_of(deployed, VENDING)
    assert role["ManagedPolicyArns"] == [BASIC_EXECUTION]  # CloudWatch Logs only
    statements = _statements(role)
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        assert "Condition" not in statement
    grants = sorted((_actions(statement), json.dumps(_policy_resource(statement))) for statement in statements)
    assert grants == sorted(
        [
            (("secretsmanager:GetSecretValue",), json.dumps(secret)),
            (
                ("dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:UpdateItem"),
                json.dumps({"Fn::GetAtt": [ISSUANCE_TABLE, "Arn"]}),
            ),
        ]
    )


def _actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    action = statement["Action"]
    return tuple(sorted([action] if isinstance(action, str) else action))


@pytest.mark.parametrize("mode", MODES)
def test_a_local_secrets_manager_endpoint_reaches_every_function(mode: str) -> None:
    """SecretsManagerEndpoint is for `sam local` only: given, both functions get it; by default it is empty. (The deploy
    check reads no secret: it has no environment at all.)"""
    deployed = deploy(mode, SecretsManagerEndpoint=LOCAL_MOTO)
    assert "Environment" not in deployed.properties(DEPLOY_CHECK_FUNCTION)
    for name, function in deployed.of_type("AWS::Lambda::Function").items():
        if name == DEPLOY_CHECK_FUNCTION:
            continue
        assert function["Properties"]["Environment"]["Variables"]["SECRETS_MANAGER_ENDPOINT"] == LOCAL_MOTO, name
    spec = _source()["Parameters"]["SecretsManagerEndpoint"]
    assert spec["Default"] == ""
    assert "Local development only; empty = AWS's own endpoint" in spec["Description"]
    for value, allowed in (("", True), (LOCAL_MOTO, True), ("https://sm.example.com", True), ("sm", False)):
        assert _allowed(spec, value) is allowed, value
    assert not _allowed(spec, "http://x/path")


@pytest.mark.parametrize("mode", MODES)
def test_the_emulator_endpoint_parameter_is_local_only_and_empty_by_default(mode: str) -> None:
    """MomentoEmulatorEndpoint (issue 18): local development only, like SecretsManagerEndpoint. By default only the
    vending function and the canary (which mints as it does) get it, empty; the authorizer (IgnoreGlobals) never
    sees it."""
    source = _source()
    spec = source["Parameters"]["MomentoEmulatorEndpoint"]
    assert spec["Default"] == ""
    assert spec["Description"].startswith("Local development only; empty = TLS")
    assert "Leave it empty in every deployment" in spec["Description"]
    groups = {
        g["Label"]["default"]: g["Parameters"]
        for g in source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    }
    assert "MomentoEmulatorEndpoint" in groups["Local development only"]
    for value, allowed in (("", True), ("172.17.0.1:8080", True), ("localhost:8080", True)):
        assert _allowed(spec, value) is allowed, value
    for value in ("172.17.0.1", "http://172.17.0.1:8080", "a b:1", "[::1]:8080", "172.17.0.1:8080/x"):
        assert not _allowed(spec, value), value
    deployed = deploy(mode)
    for name, function in deployed.of_type("AWS::Lambda::Function").items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if name in {VENDING, CANARY_FUNCTION}:
            assert variables["MOMENTO_EMULATOR_ENDPOINT"] == "", name
        else:
            assert "MOMENTO_EMULATOR_ENDPOINT" not in variables, name


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "endpoint",
    [
        REQUIRED["MomentoEndpoint"],
        "cell-4-us-west-2-1.prod.a.momentohq.com:8443",  # a copied port: was plaintext before issue 18
        "cell-4-us-west-2-1.prod.a.momentohq.com:8080",
        "10.0.0.5:8080",
        "172.17.0.1:8080",
    ],
)
def test_a_deployed_function_reaches_every_endpoint_over_tls_whatever_the_port(mode: str, endpoint: str) -> None:
    """The environment the template gives the function (MomentoEmulatorEndpoint left empty, as deployed), read the
    way functions/token_vending/app.py reads it, through the rule it uses: TLS to `token.<endpoint>`."""
    from momento_tvm import EMULATOR_API_KEY
    from momento_tvm.minting import channel_target

    variables = deploy(mode, MomentoEndpoint=endpoint).properties(VENDING)["Environment"]["Variables"]
    target = channel_target(
        EMULATOR_API_KEY, variables["MOMENTO_ENDPOINT"], emulator_endpoint=variables["MOMENTO_EMULATOR_ENDPOINT"]
    )
    assert target == (f"token.{endpoint}", True)


def _sam_local_overrides() -> Iterator[tuple[str, dict[str, str]]]:
    """(where, overrides) of every `sam local` run: make sam-api's (local/sam_local/stack.py) and samconfig's."""
    from sam_local.stack import SamApiConfig, parameter_overrides

    for auth in ("Open", "LambdaAuthorizer"):
        given = parameter_overrides(SamApiConfig(auth=auth), "172.17.0.1", 18080, 15000)
        yield f"make sam-api {auth}", _overrides(shlex.join(given))
    for command in ("local_start_api", "local_invoke"):
        yield (
            f"samconfig offline {command}",
            _overrides(_samconfig()["offline"][command]["parameters"]["parameter_overrides"]),
        )


def test_sam_local_names_its_bridge_emulator_so_the_function_speaks_plaintext_to_it() -> None:
    """Under `sam local` the emulator is on the Docker bridge, no loopback address: the function reaches it in
    plaintext only because MomentoEmulatorEndpoint names it (tests/sam run this for real, with Docker)."""
    from momento_tvm import EMULATOR_API_KEY
    from momento_tvm.minting import channel_target

    found = list(_sam_local_overrides())
    assert len(found) == 4
    for where, overrides in found:
        assert overrides["MomentoEmulatorEndpoint"] == overrides["MomentoEndpoint"], where
        assert overrides["MomentoEndpoint"].startswith("172.17.0.1:"), where
        mode = overrides.pop("AuthenticationMethod")
        variables = deploy(mode, MomentoApiKey="", **overrides).properties(VENDING)["Environment"]["Variables"]
        target = channel_target(
            EMULATOR_API_KEY, variables["MOMENTO_ENDPOINT"], emulator_endpoint=variables["MOMENTO_EMULATOR_ENDPOINT"]
        )
        assert target == (overrides["MomentoEndpoint"], False), where


def test_every_sam_local_run_points_the_issuance_table_client_at_its_moto_on_the_bridge() -> None:
    """SAM CLI's --env-vars overrides only declared variables, so the table's endpoint comes in as the template's
    DynamoDbEndpoint, the same moto as SecretsManagerEndpoint (tests/sam run it, with Docker)."""
    from momento_tvm.aws_json import DYNAMODB, endpoint

    found = list(_sam_local_overrides())
    assert len(found) == 4
    for where, overrides in found:
        assert overrides["DynamoDbEndpoint"] == overrides["SecretsManagerEndpoint"], where
        assert overrides["DynamoDbEndpoint"].startswith("http://172.17.0.1:"), where
        mode = overrides.pop("AuthenticationMethod")
        variables = deploy(mode, MomentoApiKey="", **overrides).properties(VENDING)["Environment"]["Variables"]
        assert endpoint(DYNAMODB, {**variables, "AWS_REGION": REGION}).url == overrides["DynamoDbEndpoint"], where


def test_the_console_groups_every_parameter_once() -> None:
    source = _source()
    groups = source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(source["Parameters"])
    assert len(grouped) == len(set(grouped))


def test_authorizer_may_only_read_the_users_secret() -> None:
    role = _role_of(deploy("LambdaAuthorizer"), AUTHORIZER_FUNCTION)
    assert role["ManagedPolicyArns"] == [BASIC_EXECUTION]
    statements = _statements(role)
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] in (["secretsmanager:GetSecretValue"], "secretsmanager:GetSecretValue")
        assert _policy_resource(statement) == {"Ref": "UsersSecret"}


@pytest.mark.parametrize("mode", MODES)
def test_no_other_iam_grants_exist(mode: str) -> None:
    deployed = deploy(mode)
    roles = set(deployed.of_type("AWS::IAM::Role"))
    function_roles = {
        f["Properties"]["Role"]["Fn::GetAtt"][0] for f in deployed.of_type("AWS::Lambda::Function").values()
    }
    # The canary's schedule has a role of its own: the scheduler may invoke the canary, and nothing else.
    schedule_role = f"{CANARY_FUNCTION}ScheduleRole"
    assert roles == function_roles | {schedule_role}
    scheduler = deployed.properties(schedule_role)
    assert scheduler["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["scheduler.amazonaws.com"]}}
    ]
    assert _statements(scheduler) == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [CANARY_FUNCTION, "Arn"]}}
    ]
    assert "ManagedPolicyArns" not in scheduler
    for role in function_roles:
        assume = deployed.properties(role)["AssumeRolePolicyDocument"]["Statement"]
        assert assume == [
            {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}}
        ]
    for extra in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::AccessKey"):
        assert not deployed.of_type(extra)


@pytest.mark.parametrize("mode", MODES)
def test_no_other_dynamodb_permission_exists(mode: str) -> None:
    """Every DynamoDB action any role of the stack may take: the vending function's three (the revocations' batch
    read, the limiter's read and write), on its table only. No managed policy brings more (those attached are
    CloudWatch Logs' and X-Ray's). Revoking and pausing (PutItem, DeleteItem, Query) are the operators' calls."""
    for tracing in ("Disabled", "Active"):
        deployed = deploy(mode, Tracing=tracing)
        found = set()
        for role_name, role in deployed.of_type("AWS::IAM::Role").items():
            assert set(role["Properties"].get("ManagedPolicyArns", [])) <= {BASIC_EXECUTION, XRAY_WRITE}, role_name
            for statement in _statements(role["Properties"]):
                for action in _actions(statement):
                    if action.lower().startswith("dynamodb:") or action == "*":
                        found.add((role_name, action, json.dumps(_policy_resource(statement))))
        vending_role = deployed.properties(VENDING)["Role"]["Fn::GetAtt"][0]
        canary_role = deployed.properties(CANARY_FUNCTION)["Role"]["Fn::GetAtt"][0]
        table_arn = json.dumps({"Fn::GetAtt": [ISSUANCE_TABLE, "Arn"]})
        assert found == {
            (vending_role, "dynamodb:BatchGetItem", table_arn),
            (vending_role, "dynamodb:GetItem", table_arn),
            (vending_role, "dynamodb:UpdateItem", table_arn),
            (canary_role, "dynamodb:UpdateItem", table_arn),  # its own bucket's unit (functions/canary)
        }, tracing


class _RecordingDynamoDb:
    """An AwsJsonClient that records the operations asked of it and the tables they name, and answers as an empty
    table would."""

    def __init__(self) -> None:
        self.operations: list[str] = []
        self.tables: set[str] = set()

    def call(self, operation: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        self.operations.append(operation)
        # An item call names its table; a batch call names each table it reads as a key of RequestItems.
        self.tables |= {payload["TableName"]} if "TableName" in payload else set(payload["RequestItems"])
        return {}


def test_the_granted_actions_are_every_call_the_vending_function_makes_on_its_table() -> None:
    """What the function's table clients send (app.py's issuance_store: momento_tvm.revocations'
    DynamoDbRevocations.check on every vend and explain, then momento_tvm.limits' DynamoDbLimiter.take for a vend or
    .peek for an explain, on a tier with a limit) is exactly what the template grants, on that table alone
    (tests/deploy proves it again under MiniStack's IAM enforcement)."""
    from momento_tvm.limits import DEFAULT_LIMIT, DynamoDbLimiter
    from momento_tvm.revocations import DynamoDbRevocations

    client = _RecordingDynamoDb()
    limiter = DynamoDbLimiter(client, "the-table", clock=lambda: 1_000.0)
    revocations = DynamoDbRevocations(client, "the-table", clock=lambda: 1_000.0)
    assert revocations.check("user#alice", "readwrite") is None  # a vend: the check, then the take
    limiter.take("user#alice", DEFAULT_LIMIT)
    assert revocations.check("user#alice", "readwrite") is None  # an explain: the check, then the peek
    limiter.peek("user#alice", DEFAULT_LIMIT)
    granted = {
        action.removeprefix("dynamodb:")
        for statement in _statements(_role_of(deploy(), VENDING))
        for action in _actions(statement)
        if action.startswith("dynamodb:")
    }
    assert set(client.operations) == granted == {"BatchGetItem", "UpdateItem", "GetItem"}
    assert client.tables == {"the-table"}


@pytest.mark.parametrize("mode", MODES)
def test_the_issuance_table_is_the_limiters_on_demand_encrypted_and_expiring(mode: str) -> None:
    """One table in every mode, keyed as momento_tvm.limits.DynamoDbLimiter writes (and the revocation items will:
    pk "control", listed by one Query on the partition, so no index), its TTL on the limiter's attribute."""
    from momento_tvm.limits import DynamoDbLimiter

    deployed = deploy(mode)
    assert set(deployed.of_type("AWS::DynamoDB::Table")) == {ISSUANCE_TABLE}
    table = deployed.resources[ISSUANCE_TABLE]
    assert table["DeletionPolicy"] == "Delete"  # deleting the stack leaves no table (tests/deploy checks it)
    assert table["UpdateReplacePolicy"] == "Retain"  # a replacement keeps the old table (its revocations)
    properties = table["Properties"]
    partition, sort = DynamoDbLimiter.PARTITION_KEY, DynamoDbLimiter.SORT_KEY
    assert properties == {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": partition, "AttributeType": "S"},
            {"AttributeName": sort, "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
        "TimeToLiveSpecification": {"AttributeName": DynamoDbLimiter.TTL_ATTRIBUTE, "Enabled": True},
        "SSESpecification": {"SSEEnabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }  # no TableName (CloudFormation names it), no index, no stream, no provisioned capacity
    assert (partition, sort) == ("pk", "sk")


def test_the_limiter_failure_mode_is_allow_or_refuse_and_reaches_the_vending_function_only() -> None:
    spec = _source()["Parameters"]["StoreFailureMode"]
    assert spec["Default"] == "Allow"
    assert spec["AllowedValues"] == ["Allow", "Refuse"]
    assert "shared store" in spec["Description"]
    for value in ("Allow", "Refuse"):
        deployed = deploy("LambdaAuthorizer", StoreFailureMode=value)
        assert deployed.properties(VENDING)["Environment"]["Variables"]["STORE_FAILURE_MODE"] == value
        for name in (AUTHORIZER_FUNCTION, DEPLOY_CHECK_FUNCTION):
            assert "STORE_FAILURE_MODE" not in str(deployed.properties(name).get("Environment")), name
    assert not _allowed(spec, "allow")


@pytest.mark.parametrize("mode", MODES)
def test_the_dynamodb_endpoint_parameter_is_local_only_and_changes_nothing_when_empty(mode: str) -> None:
    """DynamoDbEndpoint exists for `sam local` (whose --env-vars only override declared variables). Empty, as
    deployed, the limiter's client (momento_tvm.aws_json, read as app.py reads it) uses AWS's regional endpoint;
    given, the vending function and the canary (and only they) get it, and the client uses it before
    AWS_ENDPOINT_URL."""
    from momento_tvm.aws_json import DYNAMODB, endpoint

    spec = _source()["Parameters"]["DynamoDbEndpoint"]
    assert spec["Default"] == ""
    assert spec["Description"].startswith("Local development only; empty = AWS's own endpoint")
    assert "Leave it empty in every deployment" in spec["Description"]
    for value, allowed in (("", True), (LOCAL_MOTO, True), ("https://ddb.example.com", True), ("ddb", False)):
        assert _allowed(spec, value) is allowed, value
    assert not _allowed(spec, "http://x/path")

    runtime = {"AWS_REGION": REGION}  # what Lambda sets; a deployed function has no AWS_ENDPOINT_URL
    variables = deploy(mode).properties(VENDING)["Environment"]["Variables"]
    assert variables["DYNAMODB_ENDPOINT"] == ""
    assert endpoint(DYNAMODB, {**variables, **runtime}).url == f"https://dynamodb.{REGION}.amazonaws.com"
    local = deploy(mode, DynamoDbEndpoint=LOCAL_MOTO)
    variables = local.properties(VENDING)["Environment"]["Variables"]
    assert variables["DYNAMODB_ENDPOINT"] == LOCAL_MOTO
    elsewhere = {**variables, **runtime, "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    assert endpoint(DYNAMODB, elsewhere).url == LOCAL_MOTO
    assert local.properties(CANARY_FUNCTION)["Environment"]["Variables"]["DYNAMODB_ENDPOINT"] == LOCAL_MOTO
    for name, function in local.of_type("AWS::Lambda::Function").items():
        if name not in {VENDING, CANARY_FUNCTION}:
            assert LOCAL_MOTO not in json.dumps(function["Properties"].get("Environment", {})), name


DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def _doc_section(number: int) -> str:
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    return text.split(f"\n## {number}. ", 1)[1].split("\n## ", 1)[0]


def test_the_deploy_page_asks_every_parameter_in_the_templates_order() -> None:
    """Section 4's table is `sam deploy --guided`'s questions, which follow the template's Parameters."""
    section = _doc_section(4)
    first_cells = [line.split(" | ", 1)[0] for line in section.splitlines() if line.startswith("| `Parameter ")]
    asked = [found for cell in first_cells for found in re.findall(r"`Parameter (\w+)(?: \[([^\]]*)\])?`", cell)]
    specs = _source()["Parameters"]
    assert [name for name, _ in asked] == list(specs)
    for name, default in asked:
        if "Default" in specs[name] and not specs[name].get("NoEcho"):
            assert default == str(specs[name]["Default"]), name


def test_the_deploy_pages_own_links_lead_to_its_headings() -> None:
    """`[section 10](#10-issuance-limits-and-momentos-quota)` and the like: GitHub's anchors of the page's headings."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    headings = {
        re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in re.findall(r"^#+ (.+)$", prose, re.M)
    }
    links = re.findall(r"\]\(#([^)\s]+)\)", text)
    assert "10-issuance-limits-and-momentos-quota" in links
    assert set(links) <= headings, set(links) - headings


def test_the_deploy_pages_limits_section_says_what_the_code_and_the_policy_do() -> None:
    """docs/deploy.md section 10: the default limit (and that a tier without `limits` gets it), the shipped tiers'
    limits, the table's permissions and the limiter's timeout."""
    import ast

    from momento_tvm.limits import DEFAULT_LIMIT, RateLimit
    from momento_tvm.policy import load_policy, parse_policy

    section = " ".join(_doc_section(10).split())
    assert RateLimit(5, 12.0) == DEFAULT_LIMIT
    assert "gets the default, **5 at once, then one every 12 s** per caller" in section
    policy_text = (ROOT / "functions" / "token_vending" / "policy.yaml").read_text(encoding="utf-8")
    unlimited = re.sub(r"^    limits: .*\n", "", policy_text, flags=re.MULTILINE)
    assert "limits:" not in unlimited.split("tiers:", 1)[1]
    assert {tier.limit for tier in parse_policy(unlimited).tiers.values()} == {DEFAULT_LIMIT}

    documented: dict[str, RateLimit] = {}
    for names, burst, refill in re.findall(r"\| ([^|]+) \| (\d+) at once, then one every (\d+) s", section):
        for name in re.findall(r"`(\w+)`", names):
            documented[name] = RateLimit(int(burst), float(refill))
    shipped = load_policy(ROOT / "functions" / "token_vending" / "policy.yaml")
    assert documented == {name: tier.limit for name, tier in shipped.tiers.items()}

    granted = "may only `dynamodb:BatchGetItem` (the revocations' check of [section 11](#11-cut-a-user-off)), "
    assert granted + "`dynamodb:UpdateItem` and `dynamodb:GetItem` that table" in section  # the IAM tests above
    app = ast.parse((ROOT / "functions" / "token_vending" / "app.py").read_text(encoding="utf-8"))
    (timeout,) = (
        node.value.value
        for node in app.body
        if isinstance(node, ast.Assign)
        and [getattr(target, "id", None) for target in node.targets] == ["LIMITER_TIMEOUT_SECONDS"]
        and isinstance(node.value, ast.Constant)
    )
    assert f"slower than {timeout} s: one attempt" in section
    assert f"within {timeout} s" in _source()["Parameters"]["StoreFailureMode"]["Description"]


@pytest.mark.parametrize("mode", MODES)
def test_tracing_on_adds_tracing_and_only_xray_write(mode: str) -> None:
    deployed = deploy(mode, Tracing="Active")
    for name, function in deployed.of_type("AWS::Lambda::Function").items():
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}, name
        assert _role_of(deployed, name)["ManagedPolicyArns"] == [BASIC_EXECUTION, XRAY_WRITE], name
    environment = deployed.properties(VENDING)["Environment"]["Variables"]
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "false"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("extra", ["", "https://chat.example.com,http://localhost:5173"])
def test_cors_allows_the_site_and_configured_origins_never_a_wildcard(mode: str, extra: str) -> None:
    deployed = deploy(mode, AllowedOrigins=extra)
    cors = deployed.properties(API)["Body"]["x-amazon-apigateway-cors"]
    origins = _origins(cors)
    assert origins == [CLOUDFRONT_ORIGIN, *filter(None, extra.split(","))]
    assert not any("*" in origin for origin in origins)
    assert cors["allowMethods"] == ["GET", "POST", "OPTIONS"]
    assert cors["allowHeaders"] == ["authorization", "content-type"]
    assert cors["maxAge"] == 600
    assert cors["exposeHeaders"] == ["retry-after"]  # the site reads Retry-After on 429/503
    assert "allowCredentials" not in cors


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ("https://chat.example.com", True),
        ("https://chat.example.com,http://localhost:5173", True),
        ("*", False),
        ("https://*.example.com", False),
        ("https://a.example.com, https://b.example.com", False),
        ("chat.example.com", False),
        ("https://chat.example.com/", False),
    ],
)
def test_allowed_origins_parameter_rejects_wildcards_and_malformed_origins(value: str, allowed: bool) -> None:
    assert _allowed(_source()["Parameters"]["AllowedOrigins"], value) is allowed


@pytest.mark.parametrize("mode", MODES)
def test_stage_throttling_comes_from_the_parameters(mode: str) -> None:
    stage = _stage(deploy(mode, ThrottlingBurstLimit="7", ThrottlingRateLimit="3"), API)
    assert stage["StageName"] == "$default"
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": "7", "ThrottlingRateLimit": "3"}
    defaults = _stage(deploy(mode), API)["DefaultRouteSettings"]
    assert defaults == {"ThrottlingBurstLimit": "50", "ThrottlingRateLimit": "25"}


@pytest.mark.parametrize("mode", MODES)
def test_outputs_per_mode(mode: str) -> None:
    deployed = deploy(mode)
    common = {
        "ApiUrl",
        "AuthenticationMethod",
        "Region",
        "SiteUrl",
        "SiteBucketName",
        "SiteDistributionId",
        "MomentoApiKeySecretArn",
        "MomentoEndpoint",
        "IssuanceTableName",
        "CanaryFunctionName",
    }
    extra = {
        "Open": set(),
        "LambdaAuthorizer": {"UsersSecretArn"},
        "AmazonCognito": {"UserPoolId", "UserPoolClientId", "CognitoEndpoint"},
    }
    assert set(deployed.outputs) == common | extra[mode]
    if mode == "AmazonCognito":
        assert deployed.outputs["CognitoEndpoint"]["Value"] == f"https://cognito-idp.{REGION}.amazonaws.com"
    assert deployed.outputs["ApiUrl"]["Value"] == {"Fn::Sub": f"https://${{{API}}}.execute-api.{REGION}.amazonaws.com"}
    assert deployed.outputs["AuthenticationMethod"]["Value"] == mode
    assert deployed.outputs["SiteUrl"]["Value"] == {"Fn::Sub": CLOUDFRONT_ORIGIN}
    assert deployed.outputs["SiteBucketName"]["Value"] == {"Ref": "SiteBucket"}
    assert deployed.outputs["SiteDistributionId"]["Value"] == {"Ref": "SiteDistribution"}
    assert deployed.outputs["IssuanceTableName"]["Value"] == {"Ref": ISSUANCE_TABLE}  # a table's Ref is its name


def test_the_site_publisher_finds_every_output_it_needs() -> None:
    from site_tools.publish import REQUIRED_OUTPUTS

    for mode in MODES:
        assert set(REQUIRED_OUTPUTS) | {"MomentoEndpoint", "SiteUrl"} <= set(deploy(mode).outputs)


def test_static_site_bucket_is_private_and_readable_only_by_the_distribution() -> None:
    deployed = deploy()
    bucket = deployed.properties("SiteBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    statements = deployed.properties("SiteBucketPolicy")["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "AllowCloudFrontRead",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${SiteBucket.Arn}/*"},
            "Condition": {"StringEquals": {"AWS:SourceArn": {"Fn::Sub": DISTRIBUTION_ARN}}},
        }
    ]
    oac = deployed.properties("SiteOriginAccessControl")["OriginAccessControlConfig"]
    assert (
        oac.items()
        >= {"OriginAccessControlOriginType": "s3", "SigningBehavior": "always", "SigningProtocol": "sigv4"}.items()
    )
    distribution = deployed.properties("SiteDistribution")["DistributionConfig"]
    assert distribution["DefaultRootObject"] == "index.html"
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    (origin,) = distribution["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["SiteBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["SiteOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}


@pytest.mark.parametrize(
    ("api_key", "secret_arn", "accepted"),
    [("k", "", True), ("", EXISTING_SECRET_ARN, True), ("", "", False), ("k", EXISTING_SECRET_ARN, False)],
)
def test_exactly_one_momento_key_source_is_required(api_key: str, secret_arn: str, accepted: bool) -> None:
    template = _source()
    parameters = _parameter_values(template, {"MomentoApiKey": api_key, "MomentoApiKeySecretArn": secret_arn})
    (assertion,) = template["Rules"]["ExactlyOneMomentoKeySource"]["Assertions"]
    assert evaluate(assertion["Assert"], parameters, template["Conditions"]) is accepted
    assert _allowed(template["Parameters"]["MomentoApiKeySecretArn"], secret_arn)


def _paths_referring_to(node: Any, name: str, path: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        if name in _references(node) and (set(node) <= {"Ref", "Fn::GetAtt", "Fn::Sub"}):
            yield path
            return
        for key, value in node.items():
            yield from _paths_referring_to(value, name, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths_referring_to(item, name, f"{path}[{index}]")


def _paths_holding(node: Any, text: str, path: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths_holding(value, text, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _paths_holding(item, text, f"{path}[{index}]")
    elif isinstance(node, str) and text in node:
        yield path


def test_momento_key_goes_only_into_its_secret() -> None:
    source = _source()
    assert source["Parameters"]["MomentoApiKey"]["NoEcho"] is True
    written = [
        *_paths_referring_to(source["Resources"], "MomentoApiKey"),
        *_paths_referring_to(source["Outputs"], "MomentoApiKey"),
    ]
    assert written == [".MomentoApiKeySecret.Properties.SecretString"]
    # AWS::LanguageExtensions substitutes parameter values, so follow the value itself through both transforms.
    key = "momento-key-7f3a9c"
    for mode in MODES:
        raw = deploy(mode, MomentoApiKey=key).raw
        used = [*_paths_holding(raw["Resources"], key), *_paths_holding(raw["Outputs"], key)]
        assert used == [".MomentoApiKeySecret.Properties.SecretString"], mode


# ------------------------------------------------------------------------------------------------------ samconfig
def _samconfig() -> dict[str, Any]:
    return tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))


@pytest.mark.parametrize("environment", ["default", "dev", "prod"])
def test_samconfig_environment_overrides_are_valid_template_parameters(environment: str) -> None:
    config = _samconfig()
    assert config["version"] == 0.1
    deploy_parameters = config[environment]["deploy"]["parameters"]
    assert config[environment]["global"]["parameters"]["stack_name"]
    assert set(deploy_parameters["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert deploy_parameters["resolve_s3"] is True
    overrides = _overrides(deploy_parameters["parameter_overrides"])
    specs = _source()["Parameters"]
    for name, value in overrides.items():
        assert name in specs, f"{environment}: {name} is not a template parameter"
        assert not specs[name].get("NoEcho"), f"{environment}: {name} is a secret and must not be in samconfig"
        assert _allowed(specs[name], value), f"{environment}: {name}={value!r} breaks the parameter's constraints"
    deployed = deploy(**{"mode": overrides.get("AuthenticationMethod", "LambdaAuthorizer"), **overrides})
    assert deployed.of_type("AWS::ApiGatewayV2::Api")


def test_samconfig_build_and_prod_settings() -> None:
    config = _samconfig()
    assert config["default"]["build"]["parameters"] == {"cached": True, "parallel": True, "language_extensions": True}
    assert config["default"]["deploy"]["parameters"]["confirm_changeset"] is True
    prod = config["prod"]["deploy"]["parameters"]
    assert prod["confirm_changeset"] is True
    prod_overrides = _overrides(prod["parameter_overrides"])
    specs = _source()["Parameters"]
    assert prod_overrides["LogLevel"] == "WARNING"
    for limit in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
        assert int(prod_overrides[limit]) < int(specs[limit]["Default"]), limit


def _sections_with_overrides(config: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(environment, command, parameter_overrides) for every section of samconfig.toml that sets overrides."""
    for environment, commands in config.items():
        if not isinstance(commands, dict):
            continue
        for command, sections in commands.items():
            overrides = sections.get("parameters", {}).get("parameter_overrides")
            if overrides is not None:
                yield environment, command, overrides


def test_every_samconfig_override_names_a_template_parameter_with_an_allowed_value() -> None:
    specs = _source()["Parameters"]
    found = list(_sections_with_overrides(_samconfig()))
    assert {(environment, command) for environment, command, _ in found} >= {
        ("default", "deploy"),
        ("offline", "local_start_api"),
        ("offline", "local_invoke"),
        ("offline", "build"),
    }
    for environment, command, text in found:
        where = f"[{environment}.{command}]"
        for name, value in _overrides(text).items():
            assert name in specs, f"{where}: {name} is not a template parameter"
            assert not specs[name].get("NoEcho"), f"{where}: {name} is a secret and must not be in samconfig"
            assert _allowed(specs[name], value), f"{where}: {name}={value!r} breaks the parameter's constraints"


@pytest.mark.parametrize(
    ("environment", "command"),
    [
        ("default", "local_start_api"),
        ("default", "local_start_lambda"),
        ("default", "local_invoke"),
        ("default", "build"),
        ("default", "validate"),
        ("offline", "local_start_api"),
        ("offline", "local_invoke"),
        ("offline", "build"),
    ],
)
def test_sam_cli_applies_the_language_extensions_in_local_commands(environment: str, command: str) -> None:
    """Without them `sam local start-api` leaves the Auth's Fn::If unresolved and serves /token unauthenticated."""
    assert _samconfig()[environment][command]["parameters"]["language_extensions"] is True


def test_the_offline_environment_runs_x86_64_functions_against_local_services_and_never_deploys() -> None:
    offline = _samconfig()["offline"]
    assert "deploy" not in offline
    assert _overrides(offline["build"]["parameters"]["parameter_overrides"]) == {"LambdaArchitecture": "x86_64"}
    for command in ("local_start_api", "local_invoke"):
        parameters = offline[command]["parameters"]
        assert parameters["skip_pull_image"] is True, command  # nothing is ever pulled
        overrides = _overrides(parameters["parameter_overrides"])
        assert overrides["LambdaArchitecture"] == "x86_64"
        assert overrides["SecretsManagerEndpoint"].startswith("http://172.17.0.1:")  # moto over the Docker bridge
        mode = overrides.pop("AuthenticationMethod")
        deployed = deploy(mode, MomentoApiKey="", **overrides)
        assert {f["Properties"]["Architectures"][0] for f in deployed.of_type("AWS::Lambda::Function").values()} == {
            "x86_64"
        }


# ------------------------------------------------------------------------------------------------------- cfn-lint
# --------------------------------------------------------------------------------------------- the deploy check
# DeployCheck (issue 20): after an arm64 `sam build`, a deployment with LambdaArchitecture=x86_64 must fail before the
# stack is usable, in one line naming the mismatch. tests/deploy runs it on MiniStack; here its wiring, its IAM and
# its inline code (with fakes for boto3 and a local HTTP server for the package and CloudFormation's ResponseURL).
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
INLINE_CODE_LIMIT = 4096  # CloudFormation's limit on Code.ZipFile (SAM's InlineCode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_deploy_check_covers_every_function_of_the_mode_on_its_architecture(mode: str, architecture: str) -> None:
    deployed = deploy(mode, LambdaArchitecture=architecture)
    served = set(deployed.of_type("AWS::Lambda::Function")) - {DEPLOY_CHECK_FUNCTION}
    check = deployed.properties(DEPLOY_CHECK)
    assert check["ServiceToken"] == {"Fn::GetAtt": [DEPLOY_CHECK_FUNCTION, "Arn"]}
    assert check["Functions"] == {name: {"Ref": name} for name in served}
    assert check["Architecture"] == architecture  # a change of architecture re-runs the check
    assert int(check["ServiceTimeout"]) <= 600  # a check that never answers fails in minutes, not CloudFormation's hour


@pytest.mark.parametrize("mode", MODES)
def test_the_deploy_check_may_only_read_and_invoke_the_functions_and_read_its_own_stack(mode: str) -> None:
    deployed = deploy(mode)
    role = _role_of(deployed, DEPLOY_CHECK_FUNCTION)
    assert role["ManagedPolicyArns"] == [BASIC_EXECUTION]
    served = sorted(set(deployed.of_type("AWS::Lambda::Function")) - {DEPLOY_CHECK_FUNCTION})
    granted = {
        (action, str(resource))
        for statement in _statements(role)
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
        if statement["Effect"] == "Allow"
    }
    expected = {
        (action, str({"Fn::GetAtt": [name, "Arn"]}))
        for action in ("lambda:GetFunction", "lambda:InvokeFunction")
        for name in served
    } | {("cloudformation:DescribeStacks", PSEUDO_VALUES["AWS::StackId"])}  # its own stack only
    assert granted == expected
    assert all(statement["Effect"] == "Allow" and "NotAction" not in statement for statement in _statements(role))


def _deploy_check_code() -> str:
    code = _source()["Resources"][DEPLOY_CHECK_FUNCTION]["Properties"]["InlineCode"]
    assert isinstance(code, str)
    return code


def test_the_deploy_check_code_fits_inline() -> None:
    assert len(_deploy_check_code().encode()) <= INLINE_CODE_LIMIT


def _elf(architecture: str) -> bytes:
    """The first bytes of a 64-bit little-endian ELF shared object for `architecture` (e_machine at offset 18)."""
    return (
        b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little") + ELF_MACHINE[architecture].to_bytes(2, "little")
    )


def _zip_package(files: Mapping[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        for path, body in files.items():
            package.writestr(path, body)
    return buffer.getvalue()


class _CheckWorld:
    """What DeployCheckFunction talks to, faked: Lambda and CloudFormation (boto3 clients), and urllib for the package
    download (Code.Location) and CloudFormation's ResponseURL (the PUT of its answer). No socket is opened."""

    URL = "https://deploy-check.test"

    def __init__(self, architecture: str, package: bytes, invoke_answer: tuple[str | None, Any], status: str) -> None:
        self.architecture, self.package, self.invoke_answer, self.status = architecture, package, invoke_answer, status
        self.responses: list[dict[str, Any]] = []
        self.invoked: list[str] = []
        self.package_url: str | None = None

    def urlopen(self, target: Any, timeout: float) -> Any:
        import io
        import json
        import urllib.error
        import urllib.request

        if isinstance(target, urllib.request.Request):  # the answer to CloudFormation
            assert target.get_method() == "PUT" and target.full_url == f"{self.URL}/response"
            self.responses.append(json.loads(target.data))  # type: ignore[arg-type]
            return io.BytesIO(b"")
        if target != f"{self.URL}/package.zip":
            raise urllib.error.URLError("connection refused")
        return io.BytesIO(self.package)

    def client(self, service: str) -> Any:
        import io
        import json

        world = self

        class Lambda:
            def get_function(self, FunctionName: str) -> dict[str, Any]:
                return {
                    "Configuration": {"Architectures": [world.architecture]},
                    "Code": {"Location": world.package_url or f"{world.URL}/package.zip"},
                }

            def invoke(self, FunctionName: str, Payload: bytes) -> dict[str, Any]:
                assert json.loads(Payload) == {"deployCheck": "import"}
                world.invoked.append(FunctionName)
                error, body = world.invoke_answer
                answer: dict[str, Any] = {"Payload": io.BytesIO(json.dumps(body).encode())}
                if error:
                    answer["FunctionError"] = error
                return answer

        class CloudFormation:
            def describe_stacks(self, StackName: str) -> dict[str, Any]:
                return {"Stacks": [{"StackStatus": world.status}]}

        return Lambda() if service == "lambda" else CloudFormation()

    def run(self, request_type: str) -> dict[str, Any]:
        import types

        event = {
            "RequestType": request_type,
            "ResponseURL": f"{self.URL}/response",
            "StackId": "arn:aws:cloudformation:us-west-2:123456789012:stack/my-tvm/guid",
            "RequestId": "request-1",
            "LogicalResourceId": DEPLOY_CHECK,
            "ResourceProperties": {"Functions": {VENDING: "my-tvm-TokenVendingFunction-1"}, "Architecture": "x"},
        }
        boto3 = types.SimpleNamespace(client=self.client)
        namespace: dict[str, Any] = {}
        with mock.patch.dict(sys.modules, {"boto3": boto3}), mock.patch("urllib.request.urlopen", self.urlopen):
            exec(compile(_deploy_check_code(), "index.py", "exec"), namespace)  # noqa: S102 - the template's code
            namespace["handler"](event, None)
        (response,) = self.responses
        assert {k: response[k] for k in ("StackId", "RequestId", "LogicalResourceId")} == {
            k: event[k] for k in ("StackId", "RequestId", "LogicalResourceId")
        }
        assert response["PhysicalResourceId"] == "deploy-check"  # stable: an update never replaces it
        assert "\n" not in response["Reason"]
        return response


NATIVE = "grpc/_cython/cygrpc.cpython-313-{}-linux-gnu.so"
OK_ANSWER = (None, {"deployCheck": "ok"})


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_the_deploy_check_refuses_native_code_of_another_architecture_in_one_line(request_type: str) -> None:
    package = _zip_package(
        {"app.py": b"", NATIVE.format("aarch64"): _elf("arm64"), "yaml/_yaml.abi3.so": _elf("arm64")}
    )
    world = _CheckWorld("x86_64", package, OK_ANSWER, "UPDATE_IN_PROGRESS")
    response = world.run(request_type)
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(
        f"{VENDING} is x86_64 but its code was built for arm64 ({NATIVE.format('aarch64')} and 1 more native files)"
    )
    assert "sam build --parameter-overrides LambdaArchitecture=x86_64" in response["Reason"]
    assert world.invoked == []  # refused before its code ever runs


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_deploy_check_passes_code_built_for_the_functions_architecture(architecture: str) -> None:
    machine = "aarch64" if architecture == "arm64" else "x86_64"
    package = _zip_package({"app.py": b"", NATIVE.format(machine): _elf(architecture), "README.so.txt": b"not ELF"})
    world = _CheckWorld(architecture, package, OK_ANSWER, "CREATE_IN_PROGRESS")
    assert world.run("Create")["Status"] == "SUCCESS"
    assert world.invoked == ["my-tvm-TokenVendingFunction-1"]


@pytest.mark.parametrize(
    "answer",
    [
        ("Unhandled", {"errorMessage": "Unable to import module 'app': No module named 'yaml'", "errorType": "x"}),
        (None, {"statusCode": 200}),  # a handler that does not know the probe
    ],
)
def test_the_deploy_check_refuses_a_function_that_cannot_load_its_code(answer: tuple[str | None, Any]) -> None:
    world = _CheckWorld("arm64", _zip_package({"app.py": b""}), answer, "CREATE_IN_PROGRESS")
    response = world.run("Create")
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith(f"{VENDING} (arm64) cannot load its code: ")
    if answer[0]:
        assert "No module named 'yaml'" in response["Reason"]


@pytest.mark.parametrize(
    ("request_type", "status"), [("Delete", "DELETE_IN_PROGRESS"), ("Update", "UPDATE_ROLLBACK_IN_PROGRESS")]
)
def test_the_deploy_check_never_blocks_a_deletion_or_a_rollback(request_type: str, status: str) -> None:
    """A rollback sends the old properties while the new code may still be there: failing it would leave the stack in
    UPDATE_ROLLBACK_FAILED. Deleting never depends on the code."""
    package = _zip_package({NATIVE.format("aarch64"): _elf("arm64")})
    world = _CheckWorld("x86_64", package, ("Unhandled", {"errorMessage": "boom"}), status)
    assert world.run(request_type)["Status"] == "SUCCESS"
    assert world.invoked == []


def test_the_deploy_check_fails_in_one_line_when_it_cannot_run() -> None:
    world = _CheckWorld("x86_64", _zip_package({}), OK_ANSWER, "CREATE_IN_PROGRESS")
    world.package_url = "https://elsewhere.test/package.zip"  # the package cannot be fetched
    response = world.run("Create")
    assert response["Status"] == "FAILED"
    assert response["Reason"].startswith("the deploy check could not run: ")
