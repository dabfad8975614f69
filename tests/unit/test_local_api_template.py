"""local_api without processes or sockets: what it reads from template.yaml per mode, the payload-2.0 events it builds,
how it reads function results, and the gateway's own decisions (routing, CORS, authorizer cache).

The gateway serving HTTP with a fake invoker is tests/functional/test_local_api_template.py; the worker processes and
the real handlers are exercised in tests/integration/test_local_api.py.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from local_api import LocalApi, RouteSpec, TemplateError, load_api
from local_api.authorizers import Decision, DecisionCache, decide, identity_values
from local_api.cors import Cors
from local_api.events import HttpRequest, InvalidProxyResultError, RequestEvents, parse_proxy_result
from local_api.intrinsics import resolve_language_extensions
from local_api.routing import Router
from local_api.template import CorsSpec, LambdaAuthorizerSpec
from local_api.workers import function_environment

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm/momento-AbCdEf"
USERS_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm/users-GhIjKl"
TABLE = "local-issuance"  # the issuance table's name, as make dev gives it for `!Ref IssuanceTable`
LOCAL_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")
PARAMETERS = {
    "MomentoApiKeySecretArn": KEY_ARN,
    "MomentoEndpoint": "127.0.0.1:8080",
    "CacheName": "default-cache",
    "AllowedOrigins": ",".join(LOCAL_ORIGINS),
}
TOKEN_ROUTES = {("GET", "/token"), ("POST", "/token"), ("GET", "/token/explain")}
VENDING = {"Open": "TokenVendingFunction", "LambdaAuthorizer": "TokenVendingFunction"}  # one function, every mode
AUTHORIZER = "CredentialsAuthorizer"
AUTHORIZER_FUNCTION = "CredentialsAuthorizerFunction"


def local_api(mode: str, **parameters: str) -> LocalApi:
    """Constructed only: the template is read, nothing is spawned or bound."""
    return LocalApi(
        template=TEMPLATE,
        auth_method=mode,
        parameters={**PARAMETERS, **parameters},
        resources={"UsersSecret": USERS_ARN, "IssuanceTable": TABLE},
    )


# ------------------------------------------------------------------------------------------- what the template says
@pytest.mark.parametrize("mode", ["Open", "LambdaAuthorizer"])
def test_routes_are_the_templates_for_the_mode(mode: str) -> None:
    api = local_api(mode)
    assert {(route.method, route.path) for route in api.routes} == TOKEN_ROUTES
    assert all(isinstance(route, RouteSpec) for route in api.routes)
    assert {route.function_id for route in api.routes} == {VENDING[mode]}
    expected_authorizer = AUTHORIZER if mode == "LambdaAuthorizer" else None
    assert {route.authorizer_name for route in api.routes} == {expected_authorizer}
    served = {VENDING[mode], AUTHORIZER_FUNCTION} if mode == "LambdaAuthorizer" else {VENDING[mode]}
    assert set(api.functions) == served


def test_lambda_authorizer_is_read_with_its_identity_source_and_ttl() -> None:
    spec = local_api("LambdaAuthorizer", AuthorizerCacheTtlSeconds="120").spec
    authorizer = spec.authorizers[AUTHORIZER]
    assert authorizer == LambdaAuthorizerSpec(
        name=AUTHORIZER,
        function_id=AUTHORIZER_FUNCTION,
        identity_sources=("$request.header.Authorization",),
        ttl_seconds=120,
        simple_responses=True,
        payload_version="2.0",
    )
    assert spec.stage == "$default"


@pytest.mark.parametrize("mode", ["Open", "LambdaAuthorizer"])
def test_vending_function_environment_is_resolved_from_parameters(mode: str) -> None:
    function = local_api(mode, LogLevel="DEBUG").functions[VENDING[mode]]
    assert function.environment == {
        "AUTH_MODE": mode,
        "MOMENTO_API_KEY_SECRET": KEY_ARN,
        "MOMENTO_ENDPOINT": "127.0.0.1:8080",
        "MOMENTO_EMULATOR_ENDPOINT": "",  # a loopback endpoint needs no naming: plaintext all the same
        "CACHE_NAME": "default-cache",
        "MAX_TOKEN_TTL_SECONDS": "3600",
        "POLICY_FILE": "policy.yaml",
        "POWERTOOLS_SERVICE_NAME": "token-vending",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_METRICS_NAMESPACE": "MomentoTokenVending",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "SECRETS_MANAGER_ENDPOINT": "",
        "LIMITS_TABLE": TABLE,  # the template's `!Ref IssuanceTable`, from `resources`
        "STORE_FAILURE_MODE": "Allow",
        "DYNAMODB_ENDPOINT": "",  # empty: the function's AWS_ENDPOINT_URL (make dev's moto) serves it
    }
    assert function.code_uri == ROOT / "functions" / "token_vending"
    assert function.handler == "app.handler"
    assert function.layers == (ROOT / "src",)  # the MomentoTvmLayer's ContentUri, on the path after the code
    assert (function.memory_mb, function.timeout_seconds) == (256, 10)


def test_authorizer_environment_ignores_globals_and_takes_the_users_secret_from_resources() -> None:
    function = local_api("LambdaAuthorizer").functions[AUTHORIZER_FUNCTION]
    assert function.environment == {
        "USERS_SECRET_ARN": USERS_ARN,
        "AUTH_CACHE_TTL_SECONDS": "300",
        "LOG_LEVEL": "INFO",
        "SECRETS_MANAGER_ENDPOINT": "",
    }
    assert function.code_uri == ROOT / "authorizers" / "credentials"
    assert function.memory_mb == 512
    assert function.layers == (ROOT / "src",)


def test_an_unresolvable_environment_value_is_dropped() -> None:
    api = LocalApi(template=TEMPLATE, auth_method="LambdaAuthorizer", parameters=PARAMETERS)
    assert "USERS_SECRET_ARN" not in api.functions[AUTHORIZER_FUNCTION].environment
    assert "LIMITS_TABLE" not in api.functions[VENDING["LambdaAuthorizer"]].environment  # the function then warns


@pytest.mark.parametrize("mode", ["Open", "LambdaAuthorizer", "AmazonCognito"])
def test_make_dev_gives_every_mode_the_issuance_tables_name(mode: str) -> None:
    """devstack's resources for the local API (modes.py's api_authorizers, seed.py's stack_resources) resolve the
    template's `!Ref IssuanceTable` to the table make dev seeds into moto, in every mode."""
    import asyncio

    from devstack.cognito import CognitoInfo, CognitoPool
    from devstack.modes import MODES, Seeded
    from devstack.seed import ISSUANCE_TABLE_NAME

    async def resources() -> dict[str, str]:
        seeded: asyncio.Future[Seeded] = asyncio.get_running_loop().create_future()
        info = CognitoInfo("us-east-1", "pool-id", "client-id", "http://127.0.0.1:1", "iss", "jwks")
        # AmazonCognito's ids come from moto: a stand-in pool here (the other modes do not wait for it)
        seeded.set_result(Seeded((CognitoPool({}, {}, (), (), "UserPool", "UserPoolClient"),), info))
        return dict((await MODES[mode].api_authorizers(seeded)).resources)

    given = asyncio.run(resources())
    assert given["IssuanceTable"] == ISSUANCE_TABLE_NAME
    if mode != "AmazonCognito":  # the local API of that mode also needs the pool's keys: tests/integration
        api = LocalApi(template=TEMPLATE, auth_method=mode, parameters=PARAMETERS, resources=given)
        assert api.functions["TokenVendingFunction"].environment["LIMITS_TABLE"] == ISSUANCE_TABLE_NAME


@pytest.mark.parametrize("mode", ["Open", "LambdaAuthorizer"])
def test_cors_keeps_local_origins_and_drops_the_cloudfront_one(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    """Dropped quietly: the deployed site's origin is in every local run (it printed a line at each `make dev`)."""
    with caplog.at_level(logging.INFO, logger="local_api"):
        cors = local_api(mode).spec.cors
    assert cors == CorsSpec(
        allow_origins=LOCAL_ORIGINS,
        allow_methods=("GET", "POST", "OPTIONS"),
        allow_headers=("authorization", "content-type"),
        expose_headers=("retry-after",),
        max_age=600,
    )
    assert "SiteDistribution" not in caplog.text
    assert not caplog.records
    with caplog.at_level(logging.DEBUG, logger="local_api"):  # still said, for whoever looks
        local_api(mode)
    assert "CORS origin https://${SiteDistribution.DomainName} dropped" in caplog.text


def test_a_literal_cors_origin_that_is_not_an_origin_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo in the template (a path, no scheme) is still said at start: no browser sends such an Origin."""
    (tmp_path / "code").mkdir()
    template = tmp_path / "template.yaml"
    origins = json.dumps(
        ["https://chat.example.com", "http://localhost:5173/app", "chat.example.org", "https://*.example.net", "*"]
    )
    source = PLAIN_TEMPLATE.replace("INTEGRATED", "Echo")
    source = source.replace(
        "Properties: {Name: plain, ProtocolType: HTTP}",
        f"Properties: {{Name: plain, ProtocolType: HTTP, CorsConfiguration: {{AllowOrigins: {origins}}}}}",
    )
    template.write_text(source)
    with caplog.at_level(logging.INFO, logger="local_api"):
        spec = load_api(template, {})
    assert spec.cors is not None
    assert spec.cors.allow_origins == tuple(json.loads(origins))  # kept as written
    warned = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert warned == [
        "CORS origin 'http://localhost:5173/app' is not an origin (scheme://host[:port], or *): no browser sends "
        "that Origin header",
        "CORS origin 'chat.example.org' is not an origin (scheme://host[:port], or *): no browser sends that "
        "Origin header",
    ]


def test_a_cloudfront_domain_given_in_resources_is_an_allowed_origin() -> None:
    spec = load_api(
        TEMPLATE,
        {**PARAMETERS, "AuthenticationMethod": "Open"},
        {"SiteDistribution.DomainName": "d111111abcdef8.cloudfront.net"},
    )
    assert spec.cors is not None
    assert spec.cors.allow_origins == ("https://d111111abcdef8.cloudfront.net", *LOCAL_ORIGINS)


@pytest.mark.parametrize("mode", ["Open", "LambdaAuthorizer"])
def test_the_secrets_manager_endpoint_parameter_reaches_both_functions(mode: str) -> None:
    functions = local_api(mode, SecretsManagerEndpoint="http://127.0.0.1:5000").functions
    assert {name: f.environment["SECRETS_MANAGER_ENDPOINT"] for name, f in functions.items()} == dict.fromkeys(
        functions, "http://127.0.0.1:5000"
    )


def test_every_variable_any_mode_declares_is_known_in_open_mode_too() -> None:
    """The extensions empty a false-condition function's environment; its names still never leak from the shell."""
    declared = local_api("Open").spec.declared_environment
    assert {
        "USERS_SECRET_ARN",
        "AUTH_CACHE_TTL_SECONDS",
        "LOG_LEVEL",
        "AUTH_MODE",
        "SECRETS_MANAGER_ENDPOINT",
    } <= declared


def test_cognito_mode_reads_the_jwt_authorizer_the_extensions_chose() -> None:
    spec = load_api(TEMPLATE, {**PARAMETERS, "AuthenticationMethod": "AmazonCognito"})
    assert {route.authorizer_name for route in spec.routes} == {"CognitoAuthorizer"}
    assert set(spec.authorizers) == {"CognitoAuthorizer"}
    assert set(spec.functions) == {"TokenVendingFunction"}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"AuthenticationMethod": "Basic"}, "AuthenticationMethod='Basic' is not one of"),
        ({"MomentoEndpont": "x"}, "unknown template parameter.*MomentoEndpont"),
        ({"MomentoApiKeySecretArn": ""}, "rule ExactlyOneMomentoKeySource: Set exactly one"),
        ({"AllowedOrigins": "*"}, "AllowedOrigins='\\*' does not match"),
        ({"MomentoApiKey": "secret-value"}, "rule ExactlyOneMomentoKeySource: Set exactly one"),
    ],
)
def test_parameters_are_checked_as_cloudformation_would(parameters: dict[str, str], message: str) -> None:
    given = {**PARAMETERS, "AuthenticationMethod": "Open", **parameters}
    with pytest.raises(TemplateError, match=message) as raised:
        load_api(TEMPLATE, given)
    assert "secret-value" not in str(raised.value)


def test_a_required_parameter_must_be_given() -> None:
    with pytest.raises(TemplateError, match="MomentoEndpoint has no default"):
        load_api(TEMPLATE, {"AuthenticationMethod": "Open", "MomentoApiKeySecretArn": KEY_ARN})


PLAIN_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: plain, ProtocolType: HTTP}
  Echo:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: code/, Handler: app.handler, Runtime: python3.11, Timeout: 2}
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !GetAtt INTEGRATED.Arn,
                 PayloadFormatVersion: "2.0"}
  ItemRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: "GET /items/{id}", Target: !Join ["/", [integrations, !Ref Integration]]}
"""


def test_plain_cloudformation_routes_are_served_too(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(PLAIN_TEMPLATE.replace("INTEGRATED", "Echo"))
    spec = load_api(template, {})
    assert spec.routes == (RouteSpec("GET", "/items/{id}", "Echo", None),)
    assert spec.functions["Echo"].timeout_seconds == 2
    assert spec.cors is None


def test_a_route_to_a_function_the_template_lacks_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(PLAIN_TEMPLATE.replace("INTEGRATED", "Missing"))
    with pytest.raises(
        TemplateError, match=r"route GET /items/\{id\}.* invokes Missing, which is not a Lambda function"
    ):
        load_api(template, {})


# ------------------------------------------------------------------------------------- AWS::LanguageExtensions
EXTENDED_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]
Parameters:
  Mode: {Type: String, Default: Open, AllowedValues: [Open, Guarded]}
  Origins: {Type: CommaDelimitedList, Default: "http://a.test,http://b.test"}
Conditions:
  IsGuarded: !Equals [!Ref Mode, Guarded]
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: !If
        - IsGuarded
        - DefaultAuthorizer: Check
          Authorizers:
            Check:
              FunctionArn: !GetAtt Checker.Arn
              AuthorizerPayloadFormatVersion: "2.0"
              EnableSimpleResponses: true
              Identity: {Headers: [X-Key], ReauthorizeEvery: 0}
        - !Ref AWS::NoValue
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.13
      Environment:
        Variables:
          MODE: !Ref Mode
          WHERE: !Sub "${Mode} in ${AWS::Region}, api ${Api}"
          ONLY_GUARDED: !If [IsGuarded, "yes", !Ref AWS::NoValue]
      Events:
        Get: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: GET, Path: /echo}}
  Checker:
    Type: AWS::Serverless::Function
    Condition: IsGuarded
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.13
      Environment:
        Variables: {MODE: !Ref Mode, REGION: !Ref AWS::Region, API: !Ref Api, JOINED: !Join [",", !Ref Origins]}
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.amazonaws.com"}
  CheckerArn: {Condition: IsGuarded, Value: !GetAtt Checker.Arn}
  Guard: {Value: !If [IsGuarded, "on", !Ref AWS::NoValue]}
"""
PSEUDO = {"AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}


def _extended(mode: str) -> dict[str, Any]:
    source = _yaml_template(EXTENDED_TEMPLATE)
    return resolve_language_extensions(source, {"Mode": mode, "Origins": ["http://a.test"], **PSEUDO})


def _yaml_template(text: str) -> dict[str, Any]:
    from local_api.template import _CfnLoader

    document: dict[str, Any] = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return document


def test_language_extensions_choose_the_branch_and_resolve_parameters_before_sam() -> None:
    guarded, open_ = _extended("Guarded"), _extended("Open")
    assert guarded["Transform"] == "AWS::Serverless-2016-10-31"
    assert guarded["Resources"]["Api"]["Properties"]["Auth"]["DefaultAuthorizer"] == "Check"
    assert guarded["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["Check"]["FunctionArn"] == {
        "Fn::GetAtt": ["Checker", "Arn"]
    }
    assert open_["Resources"]["Api"]["Properties"] == {}  # AWS::NoValue: the key is gone
    variables = guarded["Resources"]["Echo"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "MODE": "Guarded",
        "WHERE": {"Fn::Sub": "Guarded in eu-west-1, api ${Api}"},  # a resource is left to CloudFormation
        "ONLY_GUARDED": "yes",
    }
    assert "ONLY_GUARDED" not in open_["Resources"]["Echo"]["Properties"]["Environment"]["Variables"]
    assert guarded["Conditions"] == _yaml_template(EXTENDED_TEMPLATE)["Conditions"]  # other sections untouched
    assert guarded["Outputs"]["Guard"] == {"Value": "on"}
    assert open_["Outputs"]["Guard"] == {"Value": {"Ref": "AWS::NoValue"}}  # Outputs keep it for CloudFormation


def test_a_false_condition_resource_loses_its_plain_refs_as_the_transform_does() -> None:
    checker = _extended("Open")["Resources"]["Checker"]
    assert checker["Condition"] == "IsGuarded"
    assert checker["Properties"]["Environment"]["Variables"] == {
        "REGION": "eu-west-1",  # pseudo parameters survive
        "JOINED": {"Fn::Join": [",", ["http://a.test"]]},  # an intrinsic is resolved, not dropped
    }
    assert _extended("Open")["Outputs"]["CheckerArn"] == {
        "Condition": "IsGuarded",
        "Value": {"Fn::GetAtt": ["Checker", "Arn"]},
    }
    kept = _extended("Guarded")["Resources"]["Checker"]["Properties"]["Environment"]["Variables"]
    assert kept == {"MODE": "Guarded", "REGION": "eu-west-1", "API": {"Ref": "Api"}, "JOINED": kept["JOINED"]}


def test_a_template_without_the_transform_is_left_alone() -> None:
    source = _yaml_template(
        EXTENDED_TEMPLATE.replace("[AWS::LanguageExtensions, AWS::Serverless-2016-10-31]", "AWS::Serverless-2016-10-31")
    )
    assert resolve_language_extensions(source, {"Mode": "Guarded", **PSEUDO}) == source


@pytest.mark.parametrize("function", ["Fn::Length", "Fn::ToJsonString", "Fn::ForEach::Things"])
def test_extensions_not_implemented_here_are_refused(function: str) -> None:
    source = _yaml_template(EXTENDED_TEMPLATE)
    source["Resources"]["Echo"]["Properties"]["Environment"]["Variables"]["X"] = {function: ["a", ["b"], {}]}
    with pytest.raises(TemplateError, match=function.split("::Things")[0] + r" \(AWS::LanguageExtensions\)"):
        resolve_language_extensions(source, {"Mode": "Open", **PSEUDO})


@pytest.mark.parametrize(("mode", "authorizer"), [("Open", None), ("Guarded", "Check")])
def test_the_local_api_serves_what_the_extensions_resolve(tmp_path: Path, mode: str, authorizer: str | None) -> None:
    (tmp_path / "code").mkdir()
    template = tmp_path / "template.yaml"
    template.write_text(EXTENDED_TEMPLATE)
    spec = load_api(template, {"Mode": mode})
    assert spec.routes == (RouteSpec("GET", "/echo", "Echo", authorizer),)
    assert set(spec.functions) == ({"Echo", "Checker"} if authorizer else {"Echo"})
    assert spec.functions["Echo"].environment["MODE"] == mode


def test_without_the_extensions_sam_rejects_the_auth_if() -> None:
    """What the extensions are for: SAM's transform alone refuses an intrinsic where the authorizer is chosen."""
    from local_api.template import _transform

    source = _yaml_template(EXTENDED_TEMPLATE)
    source["Transform"] = "AWS::Serverless-2016-10-31"
    for function in ("Echo", "Checker"):
        source["Resources"][function]["Properties"]["CodeUri"] = "s3://bucket/code"
    with pytest.raises(TemplateError, match="SAM's transform rejects the template"):
        _transform(source, {"Mode": "Guarded"}, "eu-west-1")


# ----------------------------------------------------------------------------------------------------- events
def request(**changes: Any) -> HttpRequest:
    fields: dict[str, Any] = {
        "method": "GET",
        "raw_path": "/items/a%20b",
        "raw_query": "topics=a&topics=b&name=Ann%20B&empty=",
        "headers": (
            ("Host", "127.0.0.1:3000"),
            ("Authorization", "Basic abc"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("Cookie", "a=1; b=2"),
            ("User-Agent", "test-agent"),
        ),
        "source_ip": "127.0.0.9",
        "port": 3000,
    }
    fields.update(changes)
    return HttpRequest(**fields)


def events(http: HttpRequest) -> RequestEvents:
    return RequestEvents(
        http,
        route_key="GET /items/{id}",
        path_parameters={"id": "a b"},
        api_id="local",
        stage="$default",
        region="us-east-1",
        account_id="123456789012",
        request_id="req-1",
        now=1764169200.5,
    )


def test_proxy_event_is_payload_2_0_as_the_gateway_builds_it() -> None:
    event = events(request()).proxy_event({"lambda": {"username": "alice"}})
    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert headers["authorization"] == "Basic abc"
    assert headers["x-multi"] == "one,two"
    assert "cookie" not in headers
    assert headers["x-forwarded-for"] == "127.0.0.9"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"] == "3000"
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["rawPath"] == "/items/a%20b"
    assert event["rawQueryString"] == "topics=a&topics=b&name=Ann%20B&empty="
    assert event["queryStringParameters"] == {"topics": "a,b", "name": "Ann B", "empty": ""}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["routeKey"] == "GET /items/{id}"
    assert event["isBase64Encoded"] is False
    assert "body" not in event
    context = event["requestContext"]
    assert context == {
        "accountId": "123456789012",
        "apiId": "local",
        "domainName": "127.0.0.1",
        "domainPrefix": "127",
        "http": {
            "method": "GET",
            "path": "/items/a b",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.9",
            "userAgent": "test-agent",
        },
        "requestId": "req-1",
        "routeKey": "GET /items/{id}",
        "stage": "$default",
        "time": "26/Nov/2025:15:00:00 +0000",
        "timeEpoch": 1764169200500,
        "authorizer": {"lambda": {"username": "alice"}},
    }


def test_keys_with_nothing_to_say_are_left_out() -> None:
    event = RequestEvents(
        request(raw_query="", headers=(("Host", "localhost"),)),
        route_key="GET /token",
        path_parameters={},
        api_id="local",
        stage="$default",
        region="us-east-1",
        account_id="123456789012",
    ).proxy_event(None)
    for absent in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert absent not in event
    assert "authorizer" not in event["requestContext"]
    assert event["rawQueryString"] == ""


@pytest.mark.parametrize(
    ("content_type", "body", "expected", "encoded"),
    [
        ("application/json", b'{"a": 1}', '{"a": 1}', False),
        ("text/plain; charset=utf-8", "héllo".encode(), "héllo", False),
        ("application/vnd.api+json", b"{}", "{}", False),
        ("application/octet-stream", b"\x00\xff", base64.b64encode(b"\x00\xff").decode(), True),
        ("application/x-www-form-urlencoded", b"a=1", base64.b64encode(b"a=1").decode(), True),
        (None, b"raw", base64.b64encode(b"raw").decode(), True),
        ("application/json", b"\xff\xfe", base64.b64encode(b"\xff\xfe").decode(), True),
    ],
)
def test_text_bodies_are_plain_and_others_base64(
    content_type: str | None, body: bytes, expected: str, encoded: bool
) -> None:
    headers = (("Content-Type", content_type),) if content_type else ()
    event = events(request(method="POST", headers=headers, body=body)).proxy_event(None)
    assert (event["body"], event["isBase64Encoded"]) == (expected, encoded)


def test_authorizer_event_is_a_payload_2_0_request_event_sharing_the_request_id() -> None:
    built = events(request())
    event = built.authorizer_event(["Basic abc"])
    assert event["version"] == "2.0"
    assert event["type"] == "REQUEST"
    assert event["identitySource"] == ["Basic abc"]
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:local/$default/GET/items/a b"
    assert event["headers"]["authorization"] == "Basic abc"
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event and "isBase64Encoded" not in event
    assert event["requestContext"]["requestId"] == built.proxy_event(None)["requestContext"]["requestId"] == "req-1"
    assert event["headers"]["x-amzn-trace-id"] == built.proxy_event(None)["headers"]["x-amzn-trace-id"]


# -------------------------------------------------------------------------------------------- function results
def test_structured_result_becomes_the_response() -> None:
    response = parse_proxy_result(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Flag": True, "Content-Length": "999"},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": '{"ok":true}',
        }
    )
    assert response.status == 201
    assert response.headers == (
        ("Content-Type", "application/json"),
        ("X-Flag", "true"),
        ("X-Many", "a"),
        ("X-Many", "b"),
        ("set-cookie", "s=1; HttpOnly"),
        ("set-cookie", "t=2"),
    )
    assert response.body == b'{"ok":true}'


def test_base64_result_body_is_decoded() -> None:
    body = base64.b64encode(b"\x89PNG").decode()
    response = parse_proxy_result({"statusCode": 200, "body": body, "isBase64Encoded": True})
    assert response.body == b"\x89PNG"


@pytest.mark.parametrize(
    ("result", "body"),
    [
        ({"message": "hi"}, b'{"message": "hi"}'),
        ({"body": "not structured without statusCode"}, b'{"body": "not structured without statusCode"}'),
        ([1, 2], b"[1, 2]"),
        ("Hello from Lambda!", b"Hello from Lambda!"),
        (None, b"null"),
    ],
)
def test_unstructured_result_is_a_200_json_body(result: Any, body: bytes) -> None:
    response = parse_proxy_result(result)
    assert (response.status, response.headers, response.body) == (200, (("content-type", "application/json"),), body)


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "two hundred"},
        {"statusCode": 99},
        {"statusCode": True},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "cookies": "a=1"},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    ],
)
def test_a_result_the_gateway_cannot_read_is_an_error(result: Any) -> None:
    with pytest.raises(InvalidProxyResultError):
        parse_proxy_result(result)


# ------------------------------------------------------------------------------------------------------ routing
def test_routes_match_by_api_gateway_priority() -> None:
    routes = [
        RouteSpec("ANY", "/{proxy+}", "Greedy", None),
        RouteSpec("GET", "/items/{id}", "Item", None),
        RouteSpec("GET", "/items/special", "Special", None),
        RouteSpec("ANY", "/items/special", "AnySpecial", None),
        RouteSpec("GET", "/token", "Token", None),
    ]
    router = Router(routes)

    def served(method: str, path: str) -> tuple[str, dict[str, str]] | None:
        match = router.match(method, path)
        return None if match is None else (match.route.function_id, match.path_parameters)

    assert served("GET", "/token") == ("Token", {})
    assert served("GET", "/items/special") == ("Special", {})
    assert served("POST", "/items/special") == ("AnySpecial", {})
    assert served("GET", "/items/a%2Fb") == ("Item", {"id": "a/b"})
    assert served("POST", "/token") == ("Greedy", {"proxy": "token"})
    assert served("DELETE", "/a/b/c") == ("Greedy", {"proxy": "a/b/c"})
    assert served("GET", "/") is None
    assert Router(routes[1:]).match("GET", "/token/") is None


def test_a_named_stage_prefixes_every_path() -> None:
    router = Router([RouteSpec("GET", "/token", "Token", None)], stage="dev")
    assert router.match("GET", "/token") is None
    match = router.match("GET", "/dev/token")
    assert match is not None and match.route.function_id == "Token"


# --------------------------------------------------------------------------------------------------------- CORS
CORS = CorsSpec(
    allow_origins=("http://localhost:8000", "https://*.example.com"),
    allow_methods=("GET", "POST", "OPTIONS"),
    allow_headers=("authorization", "content-type"),
    expose_headers=("retry-after",),
    max_age=600,
)


def test_preflight_headers_only_for_allowed_origins() -> None:
    cors = Cors(CORS)
    assert dict(cors.preflight_headers("http://localhost:8000")) == {
        "access-control-allow-origin": "http://localhost:8000",
        "vary": "Origin",
        "access-control-allow-methods": "GET,POST,OPTIONS",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }
    assert dict(cors.preflight_headers("https://chat.example.com"))["access-control-allow-origin"] == (
        "https://chat.example.com"
    )
    assert cors.preflight_headers("http://evil.test") == []
    assert cors.preflight_headers(None) == []
    assert dict(cors.response_headers("http://localhost:8000")) == {
        "access-control-allow-origin": "http://localhost:8000",
        "vary": "Origin",
        "access-control-expose-headers": "retry-after",
    }
    assert Cors.without_cors([("Access-Control-Allow-Origin", "*"), ("X", "1")]) == [("X", "1")]


# -------------------------------------------------------------------------------------------------- authorizers
LAMBDA_AUTHORIZER = LambdaAuthorizerSpec("Auth", "AuthFunction", ("$request.header.X-Key",), 300, True, "2.0")


def test_identity_values_require_every_source() -> None:
    spec = LambdaAuthorizerSpec(
        "Auth", "AuthFunction", ("$request.header.X-Key", "$request.querystring.tenant"), 0, True, "2.0"
    )
    assert identity_values(spec, request(headers=(("x-key", "k"),), raw_query="tenant=t")) == ["k", "t"]
    assert identity_values(spec, request(headers=(("x-key", "k"),), raw_query="")) is None
    assert identity_values(spec, request(headers=(("x-key", ""),), raw_query="tenant=t")) is None


def test_simple_and_policy_responses() -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:local/$default/GET/token"
    assert decide(LAMBDA_AUTHORIZER, {"isAuthorized": True, "context": {"u": "a"}}, arn) == Decision(True, {"u": "a"})
    assert decide(LAMBDA_AUTHORIZER, {"isAuthorized": False}, arn) == Decision(False, {})
    policy_spec = LambdaAuthorizerSpec("Auth", "AuthFunction", (), 0, False, "2.0")

    def policy(effect: str, resource: str) -> dict[str, Any]:
        statement = {"Effect": effect, "Action": "execute-api:Invoke", "Resource": resource}
        return {"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": [statement]}}

    assert decide(policy_spec, policy("Allow", "arn:aws:execute-api:*:*:local/*/GET/*"), arn).authorized
    assert not decide(policy_spec, policy("Allow", "arn:aws:execute-api:*:*:local/*/POST/*"), arn).authorized
    assert not decide(policy_spec, policy("Deny", "*"), arn).authorized


def test_decision_cache_keeps_a_response_for_the_ttl() -> None:
    now = [0.0]
    cache = DecisionCache(clock=lambda: now[0])
    cache.put("Auth", ["k"], {"isAuthorized": True}, 300)
    cache.put("Auth", ["other"], {"isAuthorized": True}, 0)  # TTL 0: never cached
    now[0] = 299.0
    assert cache.get("Auth", ["k"]) == {"isAuthorized": True}
    assert cache.get("Other", ["k"]) is None
    assert cache.get("Auth", ["other"]) is None
    now[0] = 300.0
    assert cache.get("Auth", ["k"]) is None


# ------------------------------------------------------------------------------------------ worker environment
def test_worker_environment_is_lambdas_not_the_shell() -> None:
    function = local_api("LambdaAuthorizer").functions[AUTHORIZER_FUNCTION]
    shell = {
        "PATH": "/usr/bin",
        "HOME": "/home/dev",
        "AWS_ACCESS_KEY_ID": "AKIAREAL",
        "AWS_SECRET_ACCESS_KEY": "real",
        "AWS_PROFILE": "prod",
        "AUTH_MODE": "Open",  # declared by another function of the template: never inherited
        "GITHUB_TOKEN": "ghp_x",
        "MOMENTO_API_KEY": "key",
        "LOG_LEVEL": "DEBUG",
    }
    environment = function_environment(
        function,
        region="eu-west-1",
        overrides={"AWS_ACCESS_KEY_ID": "local", "LOG_LEVEL": "WARNING"},
        declared={"AUTH_MODE", "LOG_LEVEL", "USERS_SECRET_ARN"},
        base=shell,
    )
    assert environment["PATH"] == "/usr/bin" and environment["HOME"] == "/home/dev"
    for leaked in ("AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AUTH_MODE", "GITHUB_TOKEN", "MOMENTO_API_KEY"):
        assert leaked not in environment, leaked
    assert environment["AWS_ACCESS_KEY_ID"] == "local"
    assert environment["LOG_LEVEL"] == "WARNING"  # an override wins over the template
    assert environment["USERS_SECRET_ARN"] == USERS_ARN
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == AUTHORIZER_FUNCTION
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_SHARED_CREDENTIALS_FILE"] == environment["AWS_CONFIG_FILE"]
    assert environment["_HANDLER"] == "app.handler"
