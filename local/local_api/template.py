"""template.yaml as one mode really deploys it: the HTTP API's routes, authorizers and CORS, and its functions.

Why each step:
- SAM's own transform (aws-sam-translator, the code CloudFormation runs) turns `AWS::Serverless::*` into the HTTP
  API's OpenAPI body and plain Lambda functions, with Globals merged and IgnoreGlobals honoured. Re-implementing
  SAM would be the second source of truth we promised not to write. The transform insists on S3 CodeUris and an AWS
  region: local CodeUris are swapped for S3 ones (and remembered) and the region is set around the call.
- A template that lists AWS::LanguageExtensions first (this project's does: the HttpApi's Auth is an Fn::If) is
  resolved by that transform before SAM's, as CloudFormation does, here with `intrinsics.resolve_language_extensions`.
- SAM leaves Conditions to CloudFormation, so every mode's API survives the transform. Conditions are evaluated here
  for the parameters, and only the resources whose Condition holds are kept.
- Intrinsics are resolved as CloudFormation would at deploy time (see `intrinsics`). A reference to something that
  exists only in AWS (a CloudFront domain name) cannot be known: unless `resources` gives its physical id it resolves
  to None, and a value built from it is dropped: a CORS origin quietly (the deployed site's origin is in every
  local run; the local site's come in through AllowedOrigins), an environment variable with a log line.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NamedTuple

import yaml
from samtranslator.model.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
from samtranslator.yaml_helper import intrinsics_multi_constructor  # type: ignore[import-untyped]

from .errors import TemplateError
from .intrinsics import (
    MARKED,
    Conditions,
    Resolver,
    as_text,
    check_rules,
    concrete,
    no_if,
    parameter_values,
    resolve_language_extensions,
    strings,
    typed_parameters,
    unresolved,
)

__all__ = [
    "ApiSpec",
    "AuthorizerSpec",
    "CorsSpec",
    "DeployedResource",
    "FunctionSpec",
    "JwtAuthorizerSpec",
    "LambdaAuthorizerSpec",
    "RouteSpec",
    "deployed_resources",
    "load_api",
    "parameter_default",
]

log = logging.getLogger("local_api.template")
# SAM's transform records metrics it never publishes and says so at WARNING on every run: not our concern.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)

ACCOUNT_ID: Final = "123456789012"
STACK_NAME: Final = "local"
API_ID: Final = "local"
DEFAULT_STAGE: Final = "$default"
LAMBDA_DEFAULT_MEMORY_MB: Final = 128
LAMBDA_DEFAULT_TIMEOUT_S: Final = 3
_CODE_BUCKET: Final = "local-api-code"
_SERVERLESS_CODE: Final = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
# What a browser's Origin header looks like (scheme://host[:port]), or `*`; `*` may stand for a part of the host/port.
_ORIGIN: Final = re.compile(r"\*|[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.*-]+(:([0-9]{1,5}|\*))?", re.ASCII)

_FUNCTION_IN_ARN: Final = re.compile(r":function:([^/:]+)")
_OPENAPI_METHODS: Final = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_ANY_METHOD: Final = "x-amazon-apigateway-any-method"
_IDENTITY_SOURCE: Final = re.compile(r"\$request\.(header|querystring)\.([^\s,]+)")


# ---------------------------------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class RouteSpec:
    """One route of the API: `GET /token` served by `function_id`, behind `authorizer_name` (None: open)."""

    method: str  # GET, POST, ... or ANY
    path: str  # /token, /items/{id}, /{proxy+}, or $default
    function_id: str
    authorizer_name: str | None

    @property
    def route_key(self) -> str:
        """API Gateway's name for the route (`routeKey` in events): `GET /token`, or `$default`."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one function as Lambda would: code, handler, limits and resolved environment."""

    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_seconds: int
    environment: Mapping[str, str]
    # The local folders of its layers (each a ContentUri built as a Python layer), in the template's order: on the
    # path after `code_uri`, as Lambda puts /opt/python after /var/task.
    layers: tuple[Path, ...] = ()


class LocalCode(NamedTuple):
    """Each function's local folder (None: S3, inline or image code) and its local layers' folders."""

    functions: dict[str, Path | None]
    layers: dict[str, tuple[Path, ...]]


@dataclass(frozen=True)
class LambdaAuthorizerSpec:
    """A REQUEST (Lambda) authorizer. `identity_sources` are expressions such as `$request.header.Authorization`."""

    name: str
    function_id: str
    identity_sources: tuple[str, ...]
    ttl_seconds: int
    simple_responses: bool
    payload_version: str


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """A JWT authorizer (AmazonCognito mode). `issuer` is None while it needs an AWS-only value (the pool's id).

    Served by `jwt_authorizer` (local use only: see there), given a JWKS URL for the issuer.
    """

    name: str
    identity_sources: tuple[str, ...]
    issuer: str | None
    audience: tuple[str, ...]


AuthorizerSpec = LambdaAuthorizerSpec | JwtAuthorizerSpec


@dataclass(frozen=True)
class CorsSpec:
    """The HTTP API's CorsConfiguration, with unresolvable origins already dropped."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class ApiSpec:
    """The one HTTP API a set of parameters deploys, and exactly the functions it invokes."""

    logical_id: str
    api_id: str
    stage: str
    region: str
    account_id: str
    routes: tuple[RouteSpec, ...]
    authorizers: Mapping[str, AuthorizerSpec]
    cors: CorsSpec | None
    functions: Mapping[str, FunctionSpec]
    # Every environment variable name any function of the template declares, in any mode: workers never inherit
    # these from the parent process, so a value can only come from the template or an explicit override.
    declared_environment: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class DeployedResource:
    """A plain CloudFormation resource one set of parameters deploys, with its intrinsics resolved.

    A value that only exists once deployed (a `Ref` to another resource, an attribute) stays a marker naming it
    (`intrinsics.marked("UserPool")`); `intrinsics.physical` puts the physical id in its place.
    """

    logical_id: str
    type: str
    properties: Mapping[str, Any]


# ------------------------------------------------------------------------------------------------------- loading
class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short tags; a subclass, so `yaml.safe_load` elsewhere stays strict."""


_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def parameter_default(template: Path, name: str) -> str | None:
    """The template's Default for parameter `name` as a string (None: no such parameter, or no default)."""
    spec = _read(template).get("Parameters", {}).get(name)
    default = spec.get("Default") if isinstance(spec, dict) else None
    return None if default is None else str(default)


def _read(template: Path) -> dict[str, Any]:
    try:
        document = yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as error:
        raise TemplateError(f"cannot read {template}: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{template} is not a CloudFormation template (no Resources)")
    return document


class _ManagedPolicies:
    """SAM asks for the account's managed policy ARNs only for names it does not bundle: answer offline."""

    def load(self) -> dict[str, str]:
        return {}  # SAM then uses its bundled map, or the name as written: neither matters locally


@contextmanager
def _aws_region(region: str) -> Iterator[None]:
    """SAM's transform builds a boto3 session to learn the region (and fails without one): give it ours, briefly."""
    names = ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({"AWS_DEFAULT_REGION": region, "AWS_REGION": region, "AWS_CONFIG_FILE": os.devnull})
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_DEFAULT_PROFILE", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _swap_local_code(source: dict[str, Any], base: Path) -> LocalCode:
    """Point every local CodeUri and ContentUri at S3, as `sam package` would, and return the local folders: each
    function's, and its layers' (a `Ref` to a layer of this template with a local ContentUri; an ARN is AWS's)."""
    globals_function = (source.get("Globals") or {}).get("Function") or {}
    default_uri = globals_function.get("CodeUri")
    default_layers = globals_function.get("Layers") or []
    if isinstance(default_uri, str) and not default_uri.startswith("s3://"):
        globals_function["CodeUri"] = f"s3://{_CODE_BUCKET}/globals"
    local: dict[str, Path | None] = {}
    layer_folders: dict[str, Path] = {}
    function_layers: dict[str, list[Any]] = {}
    for name, resource in source["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") not in _SERVERLESS_CODE:
            continue
        if not isinstance(resource.get("Properties"), dict):
            resource["Properties"] = {}
        properties = resource["Properties"]
        if resource["Type"] == "AWS::Serverless::Function":
            uri = properties.get("CodeUri", default_uri)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                local[name] = (base / uri).resolve()
                properties["CodeUri"] = f"s3://{_CODE_BUCKET}/{name}"
            else:
                local[name] = None  # S3, inline or image code: not servable from here
            function_layers[name] = list(properties.get("Layers") or default_layers)
        else:  # a layer: SAM wants its content in S3 too
            uri = properties.get("ContentUri")
            if isinstance(uri, str) and not uri.startswith("s3://"):
                layer_folders[name] = (base / uri).resolve()
                properties["ContentUri"] = f"s3://{_CODE_BUCKET}/{name}"
    layers: dict[str, tuple[Path, ...]] = {}
    for name, refs in function_layers.items():
        found = [layer_folders.get(ref["Ref"]) if isinstance(ref, dict) and "Ref" in ref else None for ref in refs]
        if None in found:
            log.warning("%s: a layer that is not a local folder of this template is not put on the path", name)
        layers[name] = tuple(folder for folder in found if folder is not None)
    return LocalCode(local, layers)


def _transform(source: dict[str, Any], given: Mapping[str, str], region: str) -> dict[str, Any]:
    try:
        with _aws_region(region):
            result: dict[str, Any] = transform(source, dict(given), _ManagedPolicies())
    except InvalidDocumentException as error:
        causes = "; ".join(sorted(cause.message for cause in error.causes))
        raise TemplateError(f"SAM's transform rejects the template: {causes}") from None
    return result


# ------------------------------------------------------------------------------------------------- resources
def deployed_resources(
    template: Path, parameters: Mapping[str, str], region: str = "us-east-1"
) -> dict[str, DeployedResource]:
    """Every resource `parameters` deploy from `template` (Conditions evaluated), without SAM's transform.

    For the plain resources a local stand-in must create the way CloudFormation would (the Cognito user pool, its
    client and groups in moto): the AWS::LanguageExtensions are applied, Conditions and Rules evaluated, parameters and
    pseudo parameters resolved. `AWS::Serverless::*` resources are returned as written (use `load_api` for those).
    """
    original = _read(template)
    specs = original.get("Parameters") or {}
    values = parameter_values(specs, parameters)
    typed = {**typed_parameters(specs, values), **_pseudo_parameters(region)}
    source = resolve_language_extensions(original, typed)
    mappings = source.get("Mappings") or {}
    conditions = Conditions(source.get("Conditions") or {}, Resolver(typed, {}, {}, mappings, no_if))
    check_rules(original.get("Rules") or {}, conditions)
    resolve = Resolver(typed, {}, {}, mappings, conditions.holds)
    found: dict[str, DeployedResource] = {}
    for name, resource in (source.get("Resources") or {}).items():
        if not isinstance(resource, dict) or ("Condition" in resource and not conditions.holds(resource["Condition"])):
            continue
        properties = resolve(resource.get("Properties") or {})
        found[name] = DeployedResource(name, str(resource.get("Type")), properties)
    return found


def _pseudo_parameters(region: str) -> dict[str, Any]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackName": STACK_NAME,
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
        "AWS::NotificationARNs": [],
    }


# ------------------------------------------------------------------------------------------------------- the API
def load_api(
    template: Path,
    parameters: Mapping[str, str],
    resources: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> ApiSpec:
    """The HTTP API that `parameters` deploy from `template`, with every function it invokes (see the module doc).

    `resources` maps a logical id (for `Ref`) or `LogicalId.Attribute` (for `Fn::GetAtt`) to its physical value,
    for resources that exist only in AWS (a secret's ARN, say).
    """
    original = _read(template)
    specs = original.get("Parameters") or {}
    values = parameter_values(specs, parameters)
    typed = {**typed_parameters(specs, values), **_pseudo_parameters(region)}
    source = resolve_language_extensions(original, typed)
    local_code = _swap_local_code(source, template.parent)
    given = {name: value for name, value in values.items() if name in parameters}
    transformed = _transform(copy.deepcopy(source), given, region)

    mappings = transformed.get("Mappings") or {}
    conditions = Conditions(transformed.get("Conditions") or {}, Resolver(typed, {}, {}, mappings, no_if))
    check_rules(original.get("Rules") or {}, conditions)

    all_resources: dict[str, dict[str, Any]] = transformed["Resources"]
    deployed = {
        name: resource
        for name, resource in all_resources.items()
        if "Condition" not in resource or conditions.holds(resource["Condition"])
    }
    functions_by_name, refs, attributes = _served_identities(
        deployed, Resolver(typed, {}, {}, mappings, conditions.holds), resources or {}, region
    )
    resolve = Resolver(typed, refs, attributes, mappings, conditions.holds)

    api_name = _the_http_api(deployed)
    api = resolve(deployed[api_name].get("Properties") or {})
    body = api.get("Body") or {}
    if not body and ("BodyS3Location" in api or "DefinitionUri" in api):
        raise TemplateError(f"{api_name}: an OpenAPI definition from a file or S3 is not supported locally")

    others = {
        name: resolve(resource)
        for name, resource in deployed.items()
        if resource["Type"].startswith("AWS::ApiGatewayV2::")
    }
    authorizers = {**_body_authorizers(body, functions_by_name), **_resource_authorizers(others, functions_by_name)}
    routes = [
        *_body_routes(body, authorizers, functions_by_name),
        *_resource_routes(others, authorizers, functions_by_name),
    ]
    if not routes:
        raise TemplateError(f"{api_name} has no routes")
    routes.sort(key=lambda route: (route.path, route.method))

    wanted = {route.function_id for route in routes} | {
        a.function_id for a in authorizers.values() if isinstance(a, LambdaAuthorizerSpec)
    }
    functions = {
        logical: _function(
            logical,
            deployed[logical],
            resolve,
            local_code.functions.get(logical),
            functions_by_name,
            local_code.layers.get(logical, ()),
        )
        for logical in sorted(wanted)
    }
    declared = _declared_variables(original, all_resources)
    return ApiSpec(
        logical_id=api_name,
        api_id=API_ID,
        stage=_stage(others),
        region=region,
        account_id=ACCOUNT_ID,
        routes=tuple(routes),
        authorizers=authorizers,
        cors=_cors(body.get("x-amazon-apigateway-cors") or _capitalised_cors(api.get("CorsConfiguration"))),
        functions=functions,
        declared_environment=declared,
    )


def _variables(function: Any) -> Iterator[str]:
    environment = (function.get("Environment") or {}) if isinstance(function, dict) else {}
    variables = environment.get("Variables") if isinstance(environment, dict) else None
    yield from (str(name) for name in (variables if isinstance(variables, dict) else {}))


def _declared_variables(original: Mapping[str, Any], transformed: Mapping[str, dict[str, Any]]) -> frozenset[str]:
    """Every variable name a function declares, in any mode: read before the language extensions too, because
    they empty the environment of a function whose Condition is false."""
    written = [
        (resource.get("Properties") or {})
        for resource in (original.get("Resources") or {}).values()
        if isinstance(resource, dict) and resource.get("Type") in ("AWS::Serverless::Function", "AWS::Lambda::Function")
    ]
    written.append((original.get("Globals") or {}).get("Function") or {})
    deployed = [
        (resource.get("Properties") or {})
        for resource in transformed.values()
        if resource["Type"] == "AWS::Lambda::Function"
    ]
    return frozenset(name for function in [*written, *deployed] for name in _variables(function))


def _served_identities(
    deployed: Mapping[str, dict[str, Any]], plain: Resolver, given: Mapping[str, str], region: str
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(function name -> logical id, Ref values, GetAtt values): served functions and APIs get local identities."""
    refs = {key: value for key, value in given.items() if "." not in key}
    attributes = {key: value for key, value in given.items() if "." in key}
    by_name: dict[str, str] = {}
    for logical, resource in deployed.items():
        if resource["Type"] == "AWS::Lambda::Function":
            explicit = plain((resource.get("Properties") or {}).get("FunctionName"))
            name = explicit if isinstance(explicit, str) and not unresolved(explicit) else logical
            by_name[name] = logical
            refs[logical] = name
            attributes[f"{logical}.Arn"] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
        elif resource["Type"] == "AWS::ApiGatewayV2::Api":
            refs[logical] = API_ID
        elif resource["Type"] in ("AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Authorizer"):
            refs[logical] = logical  # their physical ids only link routes to them
    return by_name, refs, attributes


def _the_http_api(deployed: Mapping[str, dict[str, Any]]) -> str:
    apis = sorted(
        name
        for name, resource in deployed.items()
        if resource["Type"] == "AWS::ApiGatewayV2::Api"
        and (resource.get("Properties") or {}).get("ProtocolType", "HTTP") == "HTTP"
    )
    if not apis:
        raise TemplateError("these parameters deploy no HTTP API (AWS::Serverless::HttpApi): nothing to serve")
    if len(apis) > 1:
        raise TemplateError(f"these parameters deploy several HTTP APIs ({', '.join(apis)}); one is served locally")
    return apis[0]


def _function_of(uri: Any, functions_by_name: Mapping[str, str], where: str) -> str:
    """The logical id of the function an integration or authorizer URI invokes; an error if the template lacks it."""
    text = uri if isinstance(uri, str) else ""
    missing = unresolved(text)
    match = _FUNCTION_IN_ARN.search(MARKED.sub("", text))
    if missing or not match or match.group(1) not in functions_by_name:
        named = missing[0].split(".", 1)[0] if missing else (match.group(1) if match else repr(uri))
        raise TemplateError(
            f"{where} invokes {named}, which is not a Lambda function these parameters deploy from the template"
        )
    return functions_by_name[match.group(1)]


def _body_routes(
    body: Mapping[str, Any], authorizers: Mapping[str, AuthorizerSpec], functions_by_name: Mapping[str, str]
) -> Iterator[RouteSpec]:
    default_security = body.get("security")
    for path, operations in (body.get("paths") or {}).items():
        for key, operation in (operations or {}).items():
            method = "ANY" if key == _ANY_METHOD else key.upper() if key in _OPENAPI_METHODS else None
            if method is None or not isinstance(operation, dict):
                continue
            where = f"route {method} {path}"
            integration = operation.get("x-amazon-apigateway-integration") or {}
            _check_integration(integration.get("type"), integration.get("payloadFormatVersion", "2.0"), where)
            function = _function_of(integration.get("uri"), functions_by_name, where)
            security = operation.get("security", default_security)
            yield RouteSpec(method, path, function, _authorizer_of(security, authorizers, where))


def _resource_routes(
    others: Mapping[str, dict[str, Any]],
    authorizers: Mapping[str, AuthorizerSpec],
    functions_by_name: Mapping[str, str],
) -> Iterator[RouteSpec]:
    """Routes declared as plain AWS::ApiGatewayV2::Route resources (the other way to switch authorizers per mode)."""
    for logical, resource in others.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        properties = resource.get("Properties") or {}
        if properties.get("ApiId") != API_ID:
            continue
        route_key = str(properties.get("RouteKey"))
        method, _, path = route_key.partition(" ")
        method, path = ("ANY", "$default") if route_key == "$default" else (method, path)
        where = f"route {route_key} ({logical})"
        target = str(properties.get("Target") or "")
        integration_id = target.removeprefix("integrations/")
        integration = next(
            (
                (other.get("Properties") or {})
                for name, other in others.items()
                if other["Type"] == "AWS::ApiGatewayV2::Integration" and name == integration_id
            ),
            None,
        )
        if integration is None:
            raise TemplateError(f"{where}: target {target!r} is not an integration of the template")
        _check_integration(
            str(integration.get("IntegrationType", "")).lower(), integration.get("PayloadFormatVersion"), where
        )
        function = _function_of(integration.get("IntegrationUri"), functions_by_name, where)
        authorization = str(properties.get("AuthorizationType", "NONE")).upper()
        authorizer = None
        if authorization != "NONE":
            authorizer_id = str(properties.get("AuthorizerId"))
            authorizer = authorizer_id if authorizer_id in authorizers else None
            if authorizer is None:
                raise TemplateError(f"{where}: authorizer {authorizer_id!r} is not an authorizer of the API")
        yield RouteSpec(method.upper(), path, function, authorizer)


def _check_integration(kind: Any, payload_version: Any, where: str) -> None:
    if str(kind).lower() != "aws_proxy":
        raise TemplateError(f"{where}: integration type {kind!r} is not served locally (only Lambda proxy)")
    if str(payload_version) != "2.0":
        raise TemplateError(f"{where}: payload format {payload_version!r} is not served locally (only 2.0)")


def _authorizer_of(security: Any, authorizers: Mapping[str, AuthorizerSpec], where: str) -> str | None:
    names = [str(name) for requirement in security or [] for name in requirement if name != "NONE"]
    if not names:
        return None
    if len(names) > 1 or names[0] not in authorizers:
        raise TemplateError(f"{where}: security {security!r} does not name one authorizer of the API")
    return names[0]


def _identity_sources(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value or [])
    sources = tuple(str(item).strip() for item in items if str(item).strip())
    for source in sources:
        if not _IDENTITY_SOURCE.fullmatch(source):
            raise TemplateError(f"{where}: identity source {source!r} is not served locally (headers and query only)")
    return sources


def _lambda_authorizer(
    name: str,
    uri: Any,
    identity: Any,
    ttl: Any,
    simple: Any,
    version: Any,
    functions_by_name: Mapping[str, str],
) -> LambdaAuthorizerSpec:
    where = f"authorizer {name}"
    if str(version) != "2.0":
        raise TemplateError(f"{where}: payload format {version!r} is not served locally (only 2.0)")
    return LambdaAuthorizerSpec(
        name=name,
        function_id=_function_of(uri, functions_by_name, where),
        identity_sources=_identity_sources(identity, where),
        ttl_seconds=max(0, min(int(ttl or 0), 3600)),
        simple_responses=simple is True or str(simple).lower() == "true",
        payload_version="2.0",
    )


def _body_authorizers(body: Mapping[str, Any], functions_by_name: Mapping[str, str]) -> dict[str, AuthorizerSpec]:
    found: dict[str, AuthorizerSpec] = {}
    schemes = (body.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        settings = scheme.get("x-amazon-apigateway-authorizer") if isinstance(scheme, dict) else None
        if not isinstance(settings, dict):
            continue
        kind = str(settings.get("type", "")).lower()
        if kind == "request":
            found[name] = _lambda_authorizer(
                name,
                settings.get("authorizerUri"),
                settings.get("identitySource"),
                settings.get("authorizerResultTtlInSeconds"),
                settings.get("enableSimpleResponses"),
                settings.get("authorizerPayloadFormatVersion"),
                functions_by_name,
            )
        elif kind == "jwt":
            jwt = settings.get("jwtConfiguration") or {}
            found[name] = JwtAuthorizerSpec(
                name,
                _identity_sources(settings.get("identitySource"), f"authorizer {name}"),
                concrete(jwt.get("issuer"), f"authorizer {name} issuer"),
                strings(jwt.get("audience"), f"authorizer {name} audience"),
            )
        else:
            raise TemplateError(f"authorizer {name}: type {kind!r} is not served locally")
    return found


def _resource_authorizers(
    others: Mapping[str, dict[str, Any]], functions_by_name: Mapping[str, str]
) -> dict[str, AuthorizerSpec]:
    found: dict[str, AuthorizerSpec] = {}
    for name, resource in others.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Authorizer":
            continue
        properties = resource.get("Properties") or {}
        kind = str(properties.get("AuthorizerType", "")).upper()
        if kind == "REQUEST":
            found[name] = _lambda_authorizer(
                name,
                properties.get("AuthorizerUri"),
                properties.get("IdentitySource"),
                properties.get("AuthorizerResultTtlInSeconds"),
                properties.get("EnableSimpleResponses"),
                properties.get("AuthorizerPayloadFormatVersion"),
                functions_by_name,
            )
        elif kind == "JWT":
            jwt = properties.get("JwtConfiguration") or {}
            found[name] = JwtAuthorizerSpec(
                name,
                _identity_sources(properties.get("IdentitySource"), f"authorizer {name}"),
                concrete(jwt.get("Issuer"), f"authorizer {name} issuer"),
                strings(jwt.get("Audience"), f"authorizer {name} audience"),
            )
    return found


def _stage(others: Mapping[str, dict[str, Any]]) -> str:
    for resource in others.values():
        properties = resource.get("Properties") or {}
        if resource["Type"] == "AWS::ApiGatewayV2::Stage" and properties.get("ApiId") == API_ID:
            return str(properties.get("StageName") or DEFAULT_STAGE)
    return DEFAULT_STAGE


def _capitalised_cors(configuration: Any) -> dict[str, Any] | None:
    """AWS::ApiGatewayV2::Api's CorsConfiguration (AllowOrigins, ...) in the OpenAPI extension's spelling."""
    if not isinstance(configuration, dict):
        return None
    return {key[0].lower() + key[1:]: value for key, value in configuration.items()}


def _cors(cors: Any) -> CorsSpec | None:
    if not isinstance(cors, dict):
        return None
    max_age = cors.get("maxAge")
    return CorsSpec(
        allow_origins=_cors_origins(cors.get("allowOrigins")),
        allow_methods=tuple(method.upper() for method in strings(cors.get("allowMethods"), "CORS method")),
        allow_headers=tuple(header.lower() for header in strings(cors.get("allowHeaders"), "CORS header")),
        expose_headers=tuple(header.lower() for header in strings(cors.get("exposeHeaders"), "CORS header")),
        max_age=None if max_age is None else int(max_age),
        allow_credentials=str(cors.get("allowCredentials", False)).lower() == "true",
    )


def _cors_origins(value: Any) -> tuple[str, ...]:
    """The allowed origins that exist locally.

    One built from an AWS-only value (the template's `https://${SiteDistribution.DomainName}`, the deployed site) is
    dropped at debug level: it is expected in every local run, and the local site's origins come in through
    AllowedOrigins instead. A literal origin that is not scheme://host[:port] (a path, no scheme) is kept as written
    but warned about: no browser sends such an Origin, so it is most likely a typo in the template.
    """
    items = value if isinstance(value, list) else [value] if value is not None else []
    origins: list[str] = []
    for item in items:
        text = as_text(item, "CORS origin")
        missing = unresolved(text)
        if missing:
            shown = MARKED.sub(lambda match: "${" + match.group(1) + "}", text)
            log.debug("CORS origin %s dropped: %s exists only in AWS", shown, ", ".join(sorted(set(missing))))
            continue
        if not _ORIGIN.fullmatch(text):
            log.warning(
                "CORS origin %r is not an origin (scheme://host[:port], or *): no browser sends that Origin header",
                text,
            )
        origins.append(text)
    return tuple(origins)


def _function(
    logical: str,
    resource: Mapping[str, Any],
    resolve: Resolver,
    code_uri: Path | None,
    functions_by_name: Mapping[str, str],
    layers: tuple[Path, ...] = (),
) -> FunctionSpec:
    properties = resolve(resource.get("Properties") or {})
    runtime = str(properties.get("Runtime", ""))
    if not runtime.startswith("python"):
        raise TemplateError(f"{logical}: runtime {runtime or properties.get('PackageType')!r} is not served locally")
    if code_uri is None or not code_uri.is_dir():
        raise TemplateError(f"{logical}: CodeUri must be a local folder of the repository (got {code_uri})")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if runtime != f"python{here}":
        log.debug("%s: runtime %s is served by this interpreter, Python %s", logical, runtime, here)
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    environment = {
        name: text
        for name, value in variables.items()
        if (text := concrete(value, f"{logical} environment {name}")) is not None
    }
    name = next(function_name for function_name, lid in functions_by_name.items() if lid == logical)
    return FunctionSpec(
        logical_id=logical,
        name=name,
        arn=resolve({"Fn::GetAtt": [logical, "Arn"]}),
        code_uri=code_uri,
        handler=str(properties.get("Handler")),
        runtime=runtime,
        memory_mb=int(properties.get("MemorySize", LAMBDA_DEFAULT_MEMORY_MB)),
        timeout_seconds=int(properties.get("Timeout", LAMBDA_DEFAULT_TIMEOUT_S)),
        environment=environment,
        layers=layers,
    )
