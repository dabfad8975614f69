"""MiniStack's gaps, bridged here in the test harness only (never in the product), one small helper per gap.

Each helper first PROBES whether its gap is still there, on the running MiniStack, with a tiny stack of its own, and
bridges only then, saying what it bridged (the report at the end of the run lists each probe's result and each
bridge applied). tests/deploy/README.md describes each gap as an upstream report (version, reproduction).

1. `LanguageExtensionsIf`: MiniStack's AWS::LanguageExtensions leaves `Fn::If` unresolved, so SAM's transform refuses
   the HttpApi's `Auth` and the function's `AutoPublishAlias`, which the template chooses with `Fn::If`. Bridge: the
   built template's `Fn::If`s in Resources are resolved for the deployment's parameter values before `sam deploy`
   (with the project's own condition evaluator, local_api.intrinsics), as CloudFormation's transform would. So with
   this bridge, CloudFormation's own AWS::LanguageExtensions is not what the test exercises (tests/unit/test_template.py
   and SAM CLI's own `--language-extensions` are).
2. `HttpApiBody`: MiniStack ignores the OpenAPI `Body` SAM writes for an HttpApi: the API has no routes, integrations,
   authorizers or CORS. Bridge: after each deployment, they are created through ApiGatewayV2 calls from that very
   Body, read from the stack's processed template, its intrinsics resolved against the stack's resources.
3. `SecretRefGivesName`: a `Ref` to an AWS::SecretsManager::Secret gives its name, not its ARN (so an output, an
   environment variable and an IAM policy that should name the ARN do not). Bridge: in the built template, each such
   `Ref` becomes `Fn::GetAtt [Secret, Id]`, which MiniStack answers with the ARN, as CloudFormation answers both.
4. `NonEmptyBucketDeleted`: deleting a stack deletes its bucket even when objects are left in it, where
   CloudFormation stops at DELETE_FAILED. Bridge: before `sam delete`, the harness itself refuses a stack whose
   bucket is not empty (the check docs/deploy.md's step 12 needs must not rely on MiniStack).
5. `TableSettingsIgnored`: an AWS::DynamoDB::Table made by CloudFormation gets its keys and billing mode, but not its
   SSESpecification, TimeToLiveSpecification or PointInTimeRecoverySpecification (DescribeTable shows no
   SSEDescription, DescribeTimeToLive and DescribeContinuousBackups say DISABLED). Nothing the deployed stack does
   depends on them (no test waits for an item to expire), so nothing is changed in MiniStack: the table check reads
   those three from what CloudFormation was given (the stack's processed template) instead, and says so.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from local_api.intrinsics import Conditions, Resolver, no_if

from .world import REGION, REPORT, MiniStack

SECTION: Final = "bridges"


@dataclass(frozen=True)
class Probe:
    gap: str
    present: bool
    seen: str  # what the probe observed
    handled: str = "bridged"  # what the harness does about it when present

    def line(self) -> str:
        state = f"gap present: {self.handled}" if self.present else "gap gone: not bridged (remove this bridge)"
        return f"{self.gap}: {state} ({self.seen})"


def _stack_name(gap: str) -> str:
    return f"probe-{gap.lower()}-{uuid.uuid4().hex[:8]}"


def _wait_stack(cloudformation: Any, name: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        try:
            status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        except cloudformation.exceptions.ClientError as error:
            if "does not exist" in str(error):
                return "DELETE_COMPLETE"
            raise
        if not status.endswith("_IN_PROGRESS"):
            return str(status)
        time.sleep(0.1)
    raise TimeoutError(f"stack {name} still {status} after {timeout:.0f} s")


def _delete_stack(cloudformation: Any, name: str) -> str:
    cloudformation.delete_stack(StackName=name)
    return _wait_stack(cloudformation, name)


# ---------------------------------------------------------------------------------------- 1. LanguageExtensions
class LanguageExtensionsIf:
    gap = "LanguageExtensionsIf"

    @classmethod
    def probe(cls, ministack: MiniStack) -> Probe:
        """A change set of the smallest template that needs it: an HttpApi whose Auth is chosen with Fn::If."""
        cloudformation = ministack.client("cloudformation")
        template = {
            "Transform": ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"],
            "Parameters": {"Mode": {"Type": "String", "Default": "Open"}},
            "Conditions": {"IsOpen": {"Fn::Equals": [{"Ref": "Mode"}, "Open"]}},
            "Resources": {
                "Api": {
                    "Type": "AWS::Serverless::HttpApi",
                    "Properties": {
                        "Auth": {
                            "Fn::If": [
                                "IsOpen",
                                {"Ref": "AWS::NoValue"},
                                {
                                    "DefaultAuthorizer": "Jwt",
                                    "Authorizers": {
                                        "Jwt": {
                                            "IdentitySource": "$request.header.Authorization",
                                            "JwtConfiguration": {"issuer": "https://example.com", "audience": ["a"]},
                                        }
                                    },
                                },
                            ]
                        }
                    },
                }
            },
        }
        name = _stack_name(cls.gap)
        try:
            created = cloudformation.create_change_set(
                StackName=name,
                ChangeSetName="probe",
                ChangeSetType="CREATE",
                TemplateBody=json.dumps(template),
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except cloudformation.exceptions.ClientError as error:
            return Probe(cls.gap, "Auth" in str(error), f"CreateChangeSet refused it: {_short(error)}")
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                change_set = cloudformation.describe_change_set(ChangeSetName=created["Id"])
                if change_set["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                    break
                time.sleep(0.1)
            reason = change_set.get("StatusReason", "")
            return Probe(cls.gap, change_set["Status"] == "FAILED", f"change set {change_set['Status']} {reason}")
        finally:
            with contextlib.suppress(Exception):
                _delete_stack(cloudformation, name)

    @staticmethod
    def apply(template: dict[str, Any], parameters: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
        """`template` with every Fn::If in Resources resolved for `parameters` (a removed AWS::NoValue key or item
        disappears), and where it did so."""
        specs = template.get("Parameters") or {}
        values = {name: str(parameters.get(name, spec.get("Default", ""))) for name, spec in specs.items()}
        conditions = Conditions(template.get("Conditions") or {}, Resolver(values, {}, {}, {}, no_if))
        resolved: list[str] = []
        no_value = object()

        def walk(node: Any, where: str) -> Any:
            if isinstance(node, list):
                items = [walk(item, f"{where}[{index}]") for index, item in enumerate(node)]
                return [item for item in items if item is not no_value]
            if not isinstance(node, dict):
                return node
            if set(node) == {"Fn::If"}:
                condition, if_true, if_false = node["Fn::If"]
                resolved.append(where)
                return walk(if_true if conditions.holds(condition) else if_false, where)
            if node == {"Ref": "AWS::NoValue"}:
                return no_value
            walked = {key: walk(value, f"{where}.{key}") for key, value in node.items()}
            return {key: value for key, value in walked.items() if value is not no_value}

        bridged = copy.deepcopy(template)
        bridged["Resources"] = walk(bridged["Resources"], "Resources")
        return bridged, resolved


# ---------------------------------------------------------------------------------------------- 2. HttpApi Body
class HttpApiBody:
    gap = "HttpApiBody"

    @classmethod
    def probe(cls, ministack: MiniStack) -> Probe:
        """An AWS::ApiGatewayV2::Api whose Body declares one route: does the API get it?"""
        cloudformation = ministack.client("cloudformation")
        body = {
            "openapi": "3.0.1",
            "info": {"title": "probe", "version": "1"},
            "paths": {
                "/probe": {
                    "get": {
                        "x-amazon-apigateway-integration": {
                            "type": "http_proxy",
                            "httpMethod": "GET",
                            "uri": "http://127.0.0.1:9/",
                            "payloadFormatVersion": "1.0",
                        }
                    }
                }
            },
        }
        template = {"Resources": {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": body}}}}
        name = _stack_name(cls.gap)
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
        try:
            status = _wait_stack(cloudformation, name)
            api_id = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Api")[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            routes = [route["RouteKey"] for route in ministack.client("apigatewayv2").get_routes(ApiId=api_id)["Items"]]
            return Probe(cls.gap, "GET /probe" not in routes, f"stack {status}, the API's routes: {routes}")
        finally:
            with contextlib.suppress(Exception):
                _delete_stack(cloudformation, name)

    @staticmethod
    def apply(ministack: MiniStack, stack: str) -> list[str]:
        """The stack's HttpApi routes, integrations, authorizers and CORS, created from its Body; what was made."""
        cloudformation = ministack.client("cloudformation")
        apigateway = ministack.client("apigatewayv2")
        template = cloudformation.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
        template = json.loads(template) if isinstance(template, str) else template
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        given = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
        resources = cloudformation.describe_stack_resources(StackName=stack)["StackResources"]
        refs = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        attributes = _attributes(ministack, resources)
        specs = template.get("Parameters") or {}
        parameters: dict[str, Any] = {
            name: given.get(name, str(spec.get("Default", ""))) for name, spec in specs.items()
        }
        parameters.update(
            {
                "AWS::Region": REGION,
                "AWS::AccountId": described["StackId"].split(":")[4],
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
                "AWS::StackName": stack,
                "AWS::StackId": described["StackId"],
            }
        )
        conditions = Conditions(template.get("Conditions") or {}, Resolver(parameters, {}, {}, {}, no_if))
        resolve = Resolver(parameters, refs, attributes, template.get("Mappings") or {}, conditions.holds)
        made: list[str] = []
        for logical, resource in template["Resources"].items():
            if resource["Type"] != "AWS::ApiGatewayV2::Api" or "Body" not in resource["Properties"]:
                continue
            if logical not in refs:  # its Condition is false
                continue
            body = resolve(resource["Properties"]["Body"])
            made += [f"{logical}: {line}" for line in _create_from_body(apigateway, refs[logical], body)]
        return made


def _attributes(ministack: MiniStack, resources: list[dict[str, Any]]) -> dict[str, str]:
    """The Fn::GetAtt values an HttpApi's Body names: a function's Arn, the distribution's DomainName."""
    found: dict[str, str] = {}
    for resource in resources:
        logical, physical = resource["LogicalResourceId"], resource["PhysicalResourceId"]
        if resource["ResourceType"] == "AWS::Lambda::Function":
            configuration = ministack.client("lambda").get_function_configuration(FunctionName=physical)
            found[f"{logical}.Arn"] = configuration["FunctionArn"]
        elif resource["ResourceType"] == "AWS::CloudFront::Distribution":
            distribution = ministack.client("cloudfront").get_distribution(Id=physical)["Distribution"]
            found[f"{logical}.DomainName"] = distribution["DomainName"]
    return found


def _create_from_body(apigateway: Any, api_id: str, body: Mapping[str, Any]) -> list[str]:
    _refuse_unresolved(body)
    made = []
    authorizers: dict[str, tuple[str, str]] = {}
    for name, scheme in (body.get("components", {}).get("securitySchemes") or {}).items():
        spec = scheme["x-amazon-apigateway-authorizer"]
        sources = spec.get("identitySource", [])
        arguments: dict[str, Any] = {
            "ApiId": api_id,
            "Name": name,
            "IdentitySource": [sources] if isinstance(sources, str) else list(sources),
        }
        if spec["type"] == "jwt":
            arguments["AuthorizerType"] = "JWT"
            configuration = spec["jwtConfiguration"]
            arguments["JwtConfiguration"] = {"Issuer": configuration["issuer"], "Audience": configuration["audience"]}
        else:
            arguments["AuthorizerType"] = "REQUEST"
            arguments["AuthorizerUri"] = spec["authorizerUri"]
            arguments["AuthorizerPayloadFormatVersion"] = spec["authorizerPayloadFormatVersion"]
            arguments["EnableSimpleResponses"] = bool(spec.get("enableSimpleResponses", False))
            if "authorizerResultTtlInSeconds" in spec:
                arguments["AuthorizerResultTtlInSeconds"] = int(spec["authorizerResultTtlInSeconds"])
        authorizer_id = apigateway.create_authorizer(**arguments)["AuthorizerId"]
        authorizers[name] = (authorizer_id, "JWT" if spec["type"] == "jwt" else "CUSTOM")
        made.append(f"authorizer {name} ({arguments['AuthorizerType']})")
    default_security = body.get("security") or []
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            integration = operation["x-amazon-apigateway-integration"]
            integration_id = apigateway.create_integration(
                ApiId=api_id,
                IntegrationType=integration["type"].upper(),
                IntegrationUri=integration["uri"],
                IntegrationMethod=integration.get("httpMethod", "POST"),
                PayloadFormatVersion=integration.get("payloadFormatVersion", "2.0"),
            )["IntegrationId"]
            route: dict[str, Any] = {
                "ApiId": api_id,
                "RouteKey": f"{method.upper()} {path}",
                "Target": f"integrations/{integration_id}",
            }
            security = operation.get("security", default_security)
            if security:
                (scheme,) = security[0]
                route["AuthorizerId"], route["AuthorizationType"] = authorizers[scheme]
            apigateway.create_route(**route)
            made.append(f"route {route['RouteKey']} ({route.get('AuthorizationType', 'NONE')})")
    cors = body.get("x-amazon-apigateway-cors")
    if cors:
        apigateway.update_api(ApiId=api_id, CorsConfiguration={key[0].upper() + key[1:]: v for key, v in cors.items()})
        made.append(f"CORS for {cors.get('allowOrigins')}")
    return made


def _refuse_unresolved(node: Any) -> None:
    text = json.dumps(node)
    assert "\ue000" not in text and '"Fn::' not in text and '"Ref"' not in text, f"unresolved in the Body: {text}"


# ----------------------------------------------------------------------------------------- 3. a secret's Ref
class SecretRefGivesName:
    gap = "SecretRefGivesName"

    @classmethod
    def probe(cls, ministack: MiniStack) -> Probe:
        cloudformation = ministack.client("cloudformation")
        template = {
            "Resources": {"Secret": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "x"}}},
            "Outputs": {"Ref": {"Value": {"Ref": "Secret"}}},
        }
        name = _stack_name(cls.gap)
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
        try:
            _wait_stack(cloudformation, name)
            outputs = cloudformation.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", [])
            value = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "Ref")
            return Probe(cls.gap, not value.startswith("arn:"), f"Ref gave {value!r}")
        finally:
            with contextlib.suppress(Exception):
                _delete_stack(cloudformation, name)

    @staticmethod
    def apply(template: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        secrets = {n for n, r in template["Resources"].items() if r.get("Type") == "AWS::SecretsManager::Secret"}
        replaced: list[str] = []

        def walk(node: Any, where: str) -> Any:
            if isinstance(node, list):
                return [walk(item, f"{where}[{index}]") for index, item in enumerate(node)]
            if not isinstance(node, dict):
                return node
            if set(node) == {"Ref"} and node["Ref"] in secrets:
                replaced.append(where)
                return {"Fn::GetAtt": [node["Ref"], "Id"]}
            return {key: walk(value, f"{where}.{key}") for key, value in node.items()}

        bridged = copy.deepcopy(template)
        for section in ("Globals", "Resources", "Outputs"):
            if section in bridged:
                bridged[section] = walk(bridged[section], section)
        return bridged, replaced


# ------------------------------------------------------------------------------------ 4. non-empty bucket deleted
class NonEmptyBucketDeleted:
    gap = "NonEmptyBucketDeleted"

    @classmethod
    def probe(cls, ministack: MiniStack) -> Probe:
        cloudformation, s3 = ministack.client("cloudformation"), ministack.client("s3")
        name = _stack_name(cls.gap)
        cloudformation.create_stack(
            StackName=name, TemplateBody=json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})
        )
        _wait_stack(cloudformation, name)
        bucket = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Bucket")[
            "StackResourceDetail"
        ]["PhysicalResourceId"]
        s3.put_object(Bucket=bucket, Key="left-behind", Body=b"x")
        status = _delete_stack(cloudformation, name)
        try:
            s3.head_bucket(Bucket=bucket)
            exists = True
        except s3.exceptions.ClientError:
            exists = False
        if exists:  # CloudFormation's behaviour: clean up after the probe
            with contextlib.suppress(Exception):
                s3.delete_object(Bucket=bucket, Key="left-behind")
                _delete_stack(cloudformation, name)
        return Probe(cls.gap, not exists, f"deletion {status}, bucket {'kept' if exists else 'deleted'} with an object")

    @staticmethod
    def apply(ministack: MiniStack, bucket: str) -> str:
        """What CloudFormation would do before deleting a stack whose bucket holds objects: refuse."""
        listed = ministack.client("s3").list_objects_v2(Bucket=bucket)
        left = [item["Key"] for item in listed.get("Contents", [])]
        assert not left, (
            f"the stack's bucket {bucket} still holds {left[:5]}: CloudFormation would stop at DELETE_FAILED, "
            "and MiniStack would delete it anyway"
        )
        return f"bucket {bucket} checked empty by the harness before sam delete"


# ------------------------------------------------------------------------------------ 5. a table's settings ignored
class TableSettingsIgnored:
    gap = "TableSettingsIgnored"
    # The settings, as CloudFormation declares them (template.yaml's IssuanceTable has these three).
    SETTINGS: Final = ("SSESpecification", "TimeToLiveSpecification", "PointInTimeRecoverySpecification")

    @classmethod
    def probe(cls, ministack: MiniStack) -> Probe:
        """A stack of one table with encryption, a time to live and point-in-time recovery: does the table have them?"""
        cloudformation, dynamodb = ministack.client("cloudformation"), ministack.client("dynamodb")
        table = {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "SSESpecification": {"SSEEnabled": True},
                "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
        }
        name = _stack_name(cls.gap)
        cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"Table": table}}))
        try:
            status = _wait_stack(cloudformation, name)
            physical = cloudformation.describe_stack_resource(StackName=name, LogicalResourceId="Table")[
                "StackResourceDetail"
            ]["PhysicalResourceId"]
            applied = cls.applied(dynamodb, physical)
            missing = [setting for setting, done in applied.items() if not done]
            seen = f"stack {status}, not applied: {', '.join(missing) or 'none'}"
            return Probe(cls.gap, bool(missing), seen, "checked in the stack's processed template instead")
        finally:
            with contextlib.suppress(Exception):
                _delete_stack(cloudformation, name)

    @staticmethod
    def applied(dynamodb: Any, table: str) -> dict[str, bool]:
        """Whether MiniStack's table has each setting on, as DynamoDB's own API reports it."""
        described = dynamodb.describe_table(TableName=table)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
        backups = dynamodb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        recovery = backups.get("PointInTimeRecoveryDescription", {})
        return {
            "SSESpecification": (described.get("SSEDescription") or {}).get("Status") == "ENABLED",
            "TimeToLiveSpecification": ttl.get("TimeToLiveStatus") == "ENABLED",
            "PointInTimeRecoverySpecification": recovery.get("PointInTimeRecoveryStatus") == "ENABLED",
        }


# ------------------------------------------------------------------------------------------------------ together
BRIDGES: Final = (LanguageExtensionsIf, HttpApiBody, SecretRefGivesName, NonEmptyBucketDeleted, TableSettingsIgnored)


def probe_all(ministack: MiniStack) -> dict[str, Probe]:
    """Every probe, concurrently (each has a stack of its own); each result goes into the report."""
    probes: list[Callable[[MiniStack], Probe]] = [bridge.probe for bridge in BRIDGES]
    with ThreadPoolExecutor(len(probes)) as pool:
        found = list(pool.map(lambda probe: probe(ministack), probes))
    for probe in found:
        REPORT.add(SECTION, probe.line())
    return {probe.gap: probe for probe in found}


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) < 300 else text[:300] + "..."
