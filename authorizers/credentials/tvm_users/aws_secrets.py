"""Secrets Manager `GetSecretValue` with the standard library only: a SigV4-signed JSON 1.1 POST.

Why: importing boto3 costs about 150 ms of every cold start, to make one call. This is that call and nothing more:
credentials from the Lambda environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the region
from AWS_REGION (else AWS_DEFAULT_REGION), one attempt with a connect/read deadline. The signature is tested
against botocore's own (tests/functional/test_aws_secrets.py), and the call against a moto server.

Everything from the environment is checked before any connection: the region is a host label, as botocore requires
(else `AWS_REGION='x@127.0.0.1:35091/#'` would send the signed request to that address), an endpoint override is
http(s)://host[:port] and nothing more, a credential is visible ASCII (a line break in a header value would make
http.client raise with the value in its message). Errors carry only a code (the JSON `__type` for AWS's) and, for a
bad setting, which variable to fix: never a value, AWS's message or the body (the body is a secret).
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
from typing import Final, NamedTuple
from urllib.parse import urlsplit

__all__ = [
    "Endpoint",
    "SecretsManagerConfigError",
    "SecretsManagerError",
    "endpoint",
    "endpoint_url",
    "get_secret_string",
    "parse_endpoint",
    "region",
    "signed_headers",
]

SERVICE: Final = "secretsmanager"
TARGET: Final = "secretsmanager.GetSecretValue"
CONTENT_TYPE: Final = "application/x-amz-json-1.1"
ENDPOINT_VARIABLES: Final = ("SECRETS_MANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL")

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


class SecretsManagerError(Exception):
    """The read failed. `code` is a fixed AWS error name (or a local one such as "ConnectionError"), nothing else."""

    def __init__(self, code: str, *, from_aws: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.from_aws = from_aws  # True: `code` is Secrets Manager's own error name (its JSON `__type`)


class SecretsManagerConfigError(SecretsManagerError):
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
                raise SecretsManagerConfigError(
                    "InvalidRegion",
                    f"{name} is not a region name: set it to one such as us-east-1 (letters, digits and '-' only)",
                )
            return value
    raise SecretsManagerConfigError("NoRegion", "set AWS_REGION (or AWS_DEFAULT_REGION) to the secret's region")


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
    a path and query may follow (the container credentials endpoint). Else SecretsManagerConfigError, code
    InvalidEndpoint, naming the variable and the rule it breaks."""
    match = (_CONTAINER_URI if target else _ENDPOINT).fullmatch(value)
    host = _checked_host(match["host"]) if match is not None else None
    port = int(match["port"]) if match is not None and match["port"] is not None else None
    if match is None or host is None or (port is not None and not 0 < port < 65536):
        problem = _endpoint_problem(value, target=target)
        raise SecretsManagerConfigError("InvalidEndpoint", f"{variable} is not a valid endpoint: {problem}")
    path = (match.groupdict().get("target") or "/") if target else "/"
    return Endpoint(match["scheme"].lower(), host, port, path)


def endpoint(environ: Mapping[str, str] = os.environ) -> Endpoint:
    """SECRETS_MANAGER_ENDPOINT when set (the template's local-only parameter), else botocore's own variables
    (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL), else the region's public endpoint, as boto3 would use.
    A set variable that is not a plain http(s)://host[:port] is an error, never passed over for the next one."""
    for name in ENDPOINT_VARIABLES:
        value = environ.get(name, "").strip()
        if value:
            return parse_endpoint(value, name)
    return Endpoint("https", f"secretsmanager.{region(environ)}.amazonaws.com", None)


def endpoint_url(environ: Mapping[str, str] = os.environ) -> str:
    """`endpoint(environ)` as a URL: http(s)://host[:port]."""
    return endpoint(environ).url


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
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token and the SigV4 Authorization for a POST of `body`.

    Every given header is signed (as botocore's SigV4Auth does for these). `now` is a Unix time, so tests can fix it.
    The URL, the region and the credentials are checked first (SecretsManagerConfigError), so that no header value
    can hold a line break.
    """
    host = parse_endpoint(url, "the endpoint URL").host_header
    if not _is_region_name(region_name):
        raise SecretsManagerConfigError("InvalidRegion", "the region is not a region name such as us-east-1")
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
    scope = f"{day}/{region_name}/{SERVICE}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), day), region_name), SERVICE), "aws4_request")
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    credential = f"Credential={access_key}/{scope}"
    out["Authorization"] = f"AWS4-HMAC-SHA256 {credential}, SignedHeaders={signed}, Signature={signature}"
    return out


def _check_credentials(*values: tuple[str | None, str]) -> None:
    """Each (value, what it is) must be visible ASCII, as AWS's keys and tokens are, or None (no session token): a
    line break would end up in a header (and http.client's error would quote it)."""
    for value, what in values:
        if value is not None and _CREDENTIAL.fullmatch(value) is None:
            raise SecretsManagerConfigError(
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
            raise SecretsManagerConfigError(
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
        raise SecretsManagerConfigError(
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
            raise SecretsManagerConfigError("NoCredentials", f"{token_source} cannot be read as UTF-8 text") from None
    if token and _HEADER_TOKEN.fullmatch(token) is None:
        raise SecretsManagerConfigError(
            "InvalidCredentials", f"{token_source} holds a line break, a control or a non-ASCII character: set it again"
        )
    connection = _connection(container, timeout)
    try:
        connection.request("GET", container.target, headers={"Authorization": token} if token else {})
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (OSError, ValueError, http.client.HTTPException):  # never the exception's text: it may quote the token
        raise SecretsManagerError("NoCredentials") from None
    finally:
        connection.close()
    try:
        document = json.loads(payload) if status == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise SecretsManagerError("NoCredentials")
    key, secret, session = document.get("AccessKeyId"), document.get("SecretAccessKey"), document.get("Token")
    if not isinstance(key, str) or not isinstance(secret, str) or not key or not secret:
        raise SecretsManagerError("NoCredentials")
    session = session if isinstance(session, str) and session else None
    what = "the container credentials endpoint's answer"
    _check_credentials((key, what), (secret, what), (session, what))
    return key, secret, session


def _connection(checked: Endpoint, timeout: float) -> http.client.HTTPConnection:
    """A connection (not yet opened: that is the first request) to a checked endpoint."""
    connection_class = http.client.HTTPSConnection if checked.scheme == "https" else http.client.HTTPConnection
    return connection_class(checked.host, checked.port, timeout=timeout)


def get_secret_string(secret_id: str, *, timeout: float, environ: Mapping[str, str] = os.environ) -> str:
    """The secret's SecretString, in one attempt of at most `timeout` s to connect and `timeout` s per read.

    Raises SecretsManagerError with the AWS error code (e.g. ResourceNotFoundException, AccessDeniedException), or
    a local code: Timeout, ConnectionError, HTTP<status>, NoSecretString; SecretsManagerConfigError, before anything
    is sent, for a setting to fix: NoRegion, InvalidRegion, InvalidEndpoint, NoCredentials, InvalidCredentials.
    """
    region_name = region(environ)
    target = endpoint(environ)
    access_key, secret_key, session_token = credentials(environ, timeout=timeout)
    # AWSCURRENT by name: what AWS returns without a stage, and what moto (5.2.5) returns only when asked by name once
    # UpdateSecretVersionStage has moved it (tvm_users moves it to make concurrent edits safe).
    body = json.dumps({"SecretId": secret_id, "VersionStage": "AWSCURRENT"}).encode("utf-8")
    headers = signed_headers(
        target.url,
        body,
        {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
        region_name=region_name,
        now=time.time(),
    )
    connection = _connection(target, timeout)
    try:
        connection.request("POST", "/", body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except TimeoutError:  # connect or read past the deadline
        raise SecretsManagerError("Timeout") from None
    except (OSError, ValueError, http.client.HTTPException):  # refused, reset, TLS: never the exception's text
        raise SecretsManagerError("ConnectionError") from None
    finally:
        connection.close()
    try:
        document = json.loads(payload)
    except ValueError:
        document = None
    if status != 200:
        code = _error_code(document)
        raise SecretsManagerError(code or f"HTTP{status}", from_aws=code is not None)
    value = document.get("SecretString") if isinstance(document, dict) else None
    if not isinstance(value, str):
        raise SecretsManagerError("NoSecretString")
    return value


def _error_code(document: object) -> str | None:
    """The AWS error name from `__type` ("ns#Name" or "Name"), if it is a plain name of at most 128 characters."""
    kind = document.get("__type") if isinstance(document, dict) else None
    if isinstance(kind, str):
        name = kind.rpartition("#")[2].partition(":")[0]
        if name.isascii() and name.isalnum() and len(name) <= 128:
            return name
    return None
