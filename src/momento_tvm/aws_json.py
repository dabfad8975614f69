"""A small AWS JSON-protocol client with the standard library only: SigV4-signed POSTs, one attempt, a deadline.

Why not boto3: importing it costs about 150 ms of every cold start, and the functions make one kind of call each
(Secrets Manager's GetSecretValue now, DynamoDB's item calls next). This is those calls and nothing more:
credentials from the Lambda environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or the
container credentials endpoint under SnapStart), the region from AWS_REGION (else AWS_DEFAULT_REGION), one attempt
with a connect/read deadline, no retry (the callers decide what a failure means). The signature is tested against
botocore's own and every call against a moto server (tests/functional/test_aws_json.py).

`AwsJsonClient` is the one interface the library's AWS-backed code takes: `call(operation, params)` -> the response
document, or `AwsError`. `StdlibAwsClient` is this module's (the Lambda functions'); `momento_tvm.aws_boto3` wraps
a boto3 client in the same interface (embedded apps, with boto3's credential chain and configuration).

Everything from the environment is checked before any connection: the region is a host label, as botocore requires
(else `AWS_REGION='x@127.0.0.1:35091/#'` would send the signed request to that address), an endpoint override is
http(s)://host[:port] and nothing more, a credential is visible ASCII (a line break in a header value would make
http.client raise with the value in its message). Errors carry only a code (the JSON `__type` for AWS's) and, for a
bad setting, which variable to fix: never a value, AWS's message or the body (a body can be a secret).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import re
import time
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, Protocol
from urllib.parse import urlsplit

__all__ = [
    "DYNAMODB",
    "SECRETS_MANAGER",
    "AwsConfigError",
    "AwsError",
    "AwsJsonClient",
    "Endpoint",
    "Service",
    "StdlibAwsClient",
    "get_secret_string",
    "parse_endpoint",
    "region",
    "signed_headers",
]


class Service(NamedTuple):
    """An AWS service spoken in its JSON protocol: how it is signed, addressed and targeted."""

    name: str  # the signing name and the endpoint's first label: secretsmanager.<region>.amazonaws.com
    target_prefix: str  # X-Amz-Target: <prefix>.<Operation>
    json_version: str  # Content-Type: application/x-amz-json-<version>
    endpoint_variables: tuple[str, ...]  # overrides, first set wins: the template's own, then botocore's

    @property
    def content_type(self) -> str:
        return f"application/x-amz-json-{self.json_version}"

    def target(self, operation: str) -> str:
        return f"{self.target_prefix}.{operation}"


# SECRETS_MANAGER_ENDPOINT: the template's local-only parameter (empty in every deployment).
SECRETS_MANAGER: Final = Service(
    "secretsmanager",
    "secretsmanager",
    "1.1",
    ("SECRETS_MANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"),
)
# DYNAMODB_ENDPOINT: the template's local-only parameter (empty in every deployment).
DYNAMODB: Final = Service(
    "dynamodb", "DynamoDB_20120810", "1.0", ("DYNAMODB_ENDPOINT", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL")
)
# An operation name as AWS spells them (GetSecretValue, UpdateItem): it becomes a header value.
_OPERATION: Final = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")

# botocore's rule for a region name: one DNS label (endpoint_provider.VALID_HOST_LABEL_RE), not all digits
# (utils.validate_region_name). fullmatch, not `$`, which would also match before a final line break.
_REGION: Final = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
# A host name in an endpoint override: DNS labels (an underscore allowed, as in Docker's service names) or IPv4.
_HOST_LABEL: Final = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
# http(s)://host[:port][/], the host a name, an IPv4 address or a bracketed IPv6 one; nothing else.
_ENDPOINT: Final = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>[0-9]{1,5}))?/?",
    re.IGNORECASE | re.ASCII,
)
# The container credentials endpoint may also have a path and a query (as botocore allows), never a fragment.
_CONTAINER_URI: Final = re.compile(
    r"(?P<scheme>https?)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<target>/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*(?:\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?)?",
    re.IGNORECASE | re.ASCII,
)
# Plain http to the container credentials endpoint only on these hosts or a loopback address (botocore's
# ContainerMetadataFetcher): the authorization token must not cross a network in clear.
_CONTAINER_HTTP_HOSTS: Final = ("169.254.170.2", "169.254.170.23", "fd00:ec2::23", "localhost")
# A credential: visible ASCII, as every AWS key, secret and session token is (no space, no line break).
_CREDENTIAL: Final = re.compile(r"[\x21-\x7e]+")
# The container authorization token: printable ASCII (spaces allowed inside), never a line break.
_HEADER_TOKEN: Final = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


class AwsError(Exception):
    """A call failed. `code` is AWS's error name (ResourceNotFoundException, ConditionalCheckFailedException) or a
    local one (Timeout, ConnectionError, HTTP<status>, NoSecretString), nothing else: never AWS's message text."""

    def __init__(self, code: str, *, from_aws: bool = False, item: Mapping[str, Any] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.from_aws = from_aws  # True: `code` is the service's own error name (its JSON `__type`)
        # DynamoDB's ConditionalCheckFailedException with ReturnValuesOnConditionCheckFailure=ALL_OLD: the item the
        # condition was checked against (the caller's own data, never a message). None otherwise.
        self.item = item


class AwsConfigError(AwsError):
    """The environment is wrong, so nothing was sent: `code` says what (InvalidRegion, InvalidEndpoint,
    InvalidCredentials, NoRegion, NoCredentials), `fix` which variable to set and how, in one line, never its value."""

    def __init__(self, code: str, fix: str) -> None:
        super().__init__(code)
        self.fix = fix
        self.args = (f"{code}: {fix}",)


class Endpoint(NamedTuple):
    """A checked endpoint: a scheme (http or https), a host (a bracketed IPv6 address keeps no brackets) and a port."""

    scheme: str
    host: str
    port: int | None
    target: str = "/"  # the request's path (and query): "/" but for the container credentials endpoint

    @property
    def host_header(self) -> str:
        """The Host header, as botocore signs it: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port is None or self.port == default else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port is None else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def region(environ: Mapping[str, str] = os.environ) -> str:
    """The function's region: AWS_REGION as Lambda sets it, else AWS_DEFAULT_REGION (local runs), checked as botocore
    checks a region name; it becomes part of the endpoint's host name and of the signature."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        value = environ.get(name, "").strip()
        if value:
            if not _is_region_name(value):
                raise AwsConfigError(
                    "InvalidRegion",
                    f"{name} is not a region name: set it to one such as us-east-1 (letters, digits and '-' only)",
                )
            return value
    raise AwsConfigError("NoRegion", "set AWS_REGION (or AWS_DEFAULT_REGION) to the secret's region")


def _is_region_name(value: str) -> bool:
    return _REGION.fullmatch(value) is not None and not value.isdigit()


def _checked_host(host: str) -> str | None:
    """`host` without brackets if it is a host name, an IPv4 address or a bracketed IPv6 address, else None."""
    if host.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host[1:-1]))
        except ValueError:
            return None
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return host


def _endpoint_problem(value: str, *, target: bool) -> str:
    """What is wrong with an endpoint URL the patterns refused, in words (never quoting it)."""
    if not value.isascii() or not value.isprintable():
        return "it holds a line break, a control or a non-ASCII character"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced IPv6 bracket
        return "its host or port is not valid"
    if parts.scheme.lower() not in ("http", "https") or not value.lower().startswith(f"{parts.scheme.lower()}://"):
        return "it must start with http:// or https://"
    if "@" in parts.netloc:
        return "it must not hold a user name or password (user@)"
    if "#" in value:
        return "it must not have a fragment (#)"
    if not target and (parts.path not in ("", "/") or "?" in value):
        return "it must not have a path or a query: only http(s)://host[:port]"
    return "its host or port is not valid"


def parse_endpoint(value: str, variable: str, *, target: bool = False) -> Endpoint:
    """`value` (from the environment variable `variable`) as a checked http(s)://host[:port] endpoint; with `target`,
    a path and query may follow (the container credentials endpoint). Else AwsConfigError, code
    InvalidEndpoint, naming the variable and the rule it breaks."""
    match = (_CONTAINER_URI if target else _ENDPOINT).fullmatch(value)
    host = _checked_host(match["host"]) if match is not None else None
    port = int(match["port"]) if match is not None and match["port"] is not None else None
    if match is None or host is None or (port is not None and not 0 < port < 65536):
        problem = _endpoint_problem(value, target=target)
        raise AwsConfigError("InvalidEndpoint", f"{variable} is not a valid endpoint: {problem}")
    path = (match.groupdict().get("target") or "/") if target else "/"
    return Endpoint(match["scheme"].lower(), host, port, path)


def endpoint(service: Service, environ: Mapping[str, str] = os.environ) -> Endpoint:
    """The first of the service's override variables that is set (for Secrets Manager, SECRETS_MANAGER_ENDPOINT, the
    template's local-only parameter, then botocore's AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL), else
    the region's public endpoint, as boto3 would use. A set variable that is not a plain http(s)://host[:port] is an
    error, never passed over for the next one."""
    for name in service.endpoint_variables:
        value = environ.get(name, "").strip()
        if value:
            return parse_endpoint(value, name)
    return Endpoint("https", f"{service.name}.{region(environ)}.amazonaws.com", None)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signed_headers(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    access_key: str,
    secret_key: str,
    session_token: str | None,
    region_name: str,
    now: float,
    service: str,
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token and the SigV4 Authorization for a POST of `body` to
    `service` (its signing name).

    Every given header is signed (as botocore's SigV4Auth does for these). `now` is a Unix time, so tests can fix it.
    The URL, the region and the credentials are checked first (AwsConfigError), so that no header value
    can hold a line break.
    """
    host = parse_endpoint(url, "the endpoint URL").host_header
    if not _is_region_name(region_name):
        raise AwsConfigError("InvalidRegion", "the region is not a region name such as us-east-1")
    _check_credentials(
        (access_key, "the access key id"), (secret_key, "the secret access key"), (session_token, "the session token")
    )
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    day = amz_date[:8]
    out = {**headers, "Host": host, "X-Amz-Date": amz_date}
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    canonical = {name.lower(): " ".join(value.split()) for name, value in out.items()}
    names = sorted(canonical)
    signed = ";".join(names)
    request = "\n".join(
        [
            "POST",
            "/",
            "",
            "".join(f"{name}:{canonical[name]}\n" for name in names),
            signed,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region_name}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region_name), service), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    credential = f"Credential={access_key}/{scope}"
    out["Authorization"] = f"AWS4-HMAC-SHA256 {credential}, SignedHeaders={signed}, Signature={signature}"
    return out


def _check_credentials(*values: tuple[str | None, str]) -> None:
    """Each (value, what it is) must be visible ASCII, as AWS's keys and tokens are, or None (no session token): a
    line break would end up in a header (and http.client's error would quote it)."""
    for value, what in values:
        if value is not None and _CREDENTIAL.fullmatch(value) is None:
            raise AwsConfigError(
                "InvalidCredentials",
                f"{what} holds a space, a line break or a non-ASCII character: set it again, exactly as AWS gave it",
            )


def _container_endpoint(environ: Mapping[str, str]) -> Endpoint:
    """AWS_CONTAINER_CREDENTIALS_FULL_URI, checked: https, or plain http only to a loopback address or the
    container hosts botocore allows, where the authorization token does not cross a network."""
    name = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
    checked = parse_endpoint(environ[name].strip(), name, target=True)
    if checked.scheme == "http" and checked.host not in _CONTAINER_HTTP_HOSTS:
        try:
            loopback = ipaddress.ip_address(checked.host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise AwsConfigError(
                "InvalidEndpoint",
                f"{name} is not a valid endpoint: plain http only to a loopback address or "
                f"{', '.join(_CONTAINER_HTTP_HOSTS)}; use https",
            )
    return checked


def credentials(environ: Mapping[str, str], *, timeout: float) -> tuple[str, str, str | None]:
    """(access key, secret key, session token): the environment's, else the container credentials endpoint's.

    Lambda sets AWS_ACCESS_KEY_ID and friends, except for SnapStart functions, which get
    AWS_CONTAINER_CREDENTIALS_FULL_URI (with AWS_CONTAINER_AUTHORIZATION_TOKEN) so that no credentials are frozen
    into a snapshot; those are asked on every cache miss of the caller (a local HTTP call), never kept here.
    """
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if access_key and secret_key:
        session = environ.get("AWS_SESSION_TOKEN") or None
        _check_credentials(
            (access_key, "AWS_ACCESS_KEY_ID"), (secret_key, "AWS_SECRET_ACCESS_KEY"), (session, "AWS_SESSION_TOKEN")
        )
        return access_key, secret_key, session
    if not environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "").strip():
        raise AwsConfigError(
            "NoCredentials", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_CONTAINER_CREDENTIALS_FULL_URI)"
        )
    container = _container_endpoint(environ)
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    token_source = "AWS_CONTAINER_AUTHORIZATION_TOKEN"  # noqa: S105 - a variable's name, not a password
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
    if token_file:
        token_source = "the file AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names"  # noqa: S105 - likewise
        try:
            with open(token_file, encoding="utf-8") as file:
                token = file.read().strip()
        except (OSError, ValueError):  # missing, unreadable, not UTF-8
            raise AwsConfigError("NoCredentials", f"{token_source} cannot be read as UTF-8 text") from None
    if token and _HEADER_TOKEN.fullmatch(token) is None:
        raise AwsConfigError(
            "InvalidCredentials", f"{token_source} holds a line break, a control or a non-ASCII character: set it again"
        )
    connection = _connection(container, timeout)
    try:
        connection.request("GET", container.target, headers={"Authorization": token} if token else {})
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (OSError, ValueError, http.client.HTTPException):  # never the exception's text: it may quote the token
        raise AwsError("NoCredentials") from None
    finally:
        connection.close()
    try:
        document = json.loads(payload) if status == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise AwsError("NoCredentials")
    key, secret, session = document.get("AccessKeyId"), document.get("SecretAccessKey"), document.get("Token")
    if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
        raise AwsError("NoCredentials")
    session = session if isinstance(session, str) and session else None
    what = "the container credentials endpoint's answer"
    _check_credentials((key, what), (secret, what), (session, what))
    return key, secret, session


def _connection(checked: Endpoint, timeout: float) -> http.client.HTTPConnection:
    """A connection (not yet opened: that is the first request) to a checked endpoint."""
    connection_class = http.client.HTTPSConnection if checked.scheme == "https" else http.client.HTTPConnection
    return connection_class(checked.host, checked.port, timeout=timeout)


class AwsJsonClient(Protocol):
    """One AWS service in its JSON protocol: what the library's AWS-backed code takes, so that the Lambda passes a
    `StdlibAwsClient` and an embedded app a boto3-backed one (momento_tvm.aws_boto3.Boto3JsonClient).

    `call(operation, params)` sends the operation (as AWS names it: GetSecretValue, UpdateItem) with its request
    document and returns the response document, in the wire's JSON shapes (a timestamp a number of seconds, a blob
    base64 text). Every failure is an `AwsError` whose `code` is AWS's error name or a local one, never a message.
    """

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]: ...


class StdlibAwsClient:
    """`AwsJsonClient` over http.client: one attempt of at most `timeout` s to connect and `timeout` s per read.

    The environment is read on every call (Lambda's never changes, but SnapStart's credentials are asked anew), and
    checked before anything is sent: AwsConfigError, with the variable to fix, for NoRegion, InvalidRegion,
    InvalidEndpoint, NoCredentials or InvalidCredentials. Otherwise AwsError with AWS's code, or a local one:
    Timeout, ConnectionError, HTTP<status> (an error without an AWS name), InvalidResponse (not a JSON object).
    """

    def __init__(self, service: Service, *, timeout: float, environ: Mapping[str, str] = os.environ) -> None:
        self.service = service
        self.timeout = timeout
        self.environ = environ

    @property
    def endpoint_url(self) -> str:
        """Where the calls go: http(s)://host[:port]."""
        return endpoint(self.service, self.environ).url

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if _OPERATION.fullmatch(operation) is None:
            raise ValueError("an operation is a name such as GetSecretValue")
        region_name = region(self.environ)
        target = endpoint(self.service, self.environ)
        access_key, secret_key, session_token = credentials(self.environ, timeout=self.timeout)
        body = json.dumps(params, separators=(",", ":")).encode("utf-8")
        headers = signed_headers(
            target.url,
            body,
            {"Content-Type": self.service.content_type, "X-Amz-Target": self.service.target(operation)},
            access_key=access_key,
            secret_key=secret_key,
            session_token=session_token,
            region_name=region_name,
            now=time.time(),
            service=self.service.name,
        )
        connection = _connection(target, self.timeout)
        try:
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            status, payload = response.status, response.read()
        except TimeoutError:  # connect or read past the deadline
            raise AwsError("Timeout") from None
        except (OSError, ValueError, http.client.HTTPException):  # refused, reset, TLS: never the exception's text
            raise AwsError("ConnectionError") from None
        finally:
            connection.close()
        try:
            document = json.loads(payload)
        except ValueError:
            document = None
        if status != 200:
            code = _error_code(document)
            item = document.get("Item") if isinstance(document, dict) else None
            raise AwsError(code or f"HTTP{status}", from_aws=code is not None, item=_mapping(item))
        if not isinstance(document, dict):
            raise AwsError("InvalidResponse")
        return document


def get_secret_string(client: AwsJsonClient, secret_id: str) -> str:
    """The secret's current SecretString (Secrets Manager's GetSecretValue through `client`); AwsError
    NoSecretString when it holds a binary secret instead."""
    # AWSCURRENT by name: what AWS returns without a stage, and what moto (5.2.5) returns only when asked by name once
    # UpdateSecretVersionStage has moved it (tvm_users moves it to make concurrent edits safe).
    document = client.call("GetSecretValue", {"SecretId": secret_id, "VersionStage": "AWSCURRENT"})
    value = document.get("SecretString")
    if not isinstance(value, str):
        raise AwsError("NoSecretString")
    return value


def _error_code(document: object) -> str | None:
    """The AWS error name from `__type` ("ns#Name" or "Name"), if it is a plain name of at most 128 characters."""
    kind = document.get("__type") if isinstance(document, dict) else None
    if isinstance(kind, str):
        name = kind.rpartition("#")[2].partition(":")[0]
        if name.isascii() and name.isalnum() and len(name) <= 128:
            return name
    return None


def _mapping(value: object) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None
