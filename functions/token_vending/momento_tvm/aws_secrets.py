"""Secrets Manager `GetSecretValue` with the standard library only: a SigV4-signed JSON 1.1 POST.

Why: importing boto3 costs about 150 ms of every cold start, to make one call. This is that call and nothing more:
credentials from the Lambda environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the region
from AWS_REGION (else AWS_DEFAULT_REGION), one attempt with a connect/read deadline. The signature is tested
against botocore's own (tests/unit/test_aws_secrets.py), and the call against a moto server.
Errors carry only the AWS error code (the JSON `__type`), never the message or the body: the body is a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import time
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

__all__ = ["SecretsManagerError", "endpoint_url", "get_secret_string", "signed_headers"]

SERVICE: Final = "secretsmanager"
TARGET: Final = "secretsmanager.GetSecretValue"
CONTENT_TYPE: Final = "application/x-amz-json-1.1"


class SecretsManagerError(Exception):
    """The read failed. `code` is a fixed AWS error name (or a local one such as "ConnectionError"), nothing else."""

    def __init__(self, code: str, *, from_aws: bool = False) -> None:
        super().__init__(code)
        self.code = code
        self.from_aws = from_aws  # True: `code` is Secrets Manager's own error name (its JSON `__type`)


def region(environ: Mapping[str, str] = os.environ) -> str:
    """The function's region: AWS_REGION as Lambda sets it, else AWS_DEFAULT_REGION (local runs)."""
    value = environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip()
    if not value:
        raise SecretsManagerError("NoRegion")
    return value


def endpoint_url(environ: Mapping[str, str] = os.environ) -> str:
    """SECRETS_MANAGER_ENDPOINT when set (the template's local-only parameter), else botocore's own variables
    (AWS_ENDPOINT_URL_SECRETS_MANAGER, AWS_ENDPOINT_URL), else the region's public endpoint, as boto3 would use."""
    for name in ("SECRETS_MANAGER_ENDPOINT", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"):
        value = environ.get(name, "").strip()
        if value:
            return value
    return f"https://secretsmanager.{region(environ)}.amazonaws.com"


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
    """
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
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
            parts.path or "/",
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


def credentials(environ: Mapping[str, str], *, timeout: float) -> tuple[str, str, str | None]:
    """(access key, secret key, session token): the environment's, else the container credentials endpoint's.

    Lambda sets AWS_ACCESS_KEY_ID and friends, except for SnapStart functions, which get
    AWS_CONTAINER_CREDENTIALS_FULL_URI (with AWS_CONTAINER_AUTHORIZATION_TOKEN) so that no credentials are frozen
    into a snapshot; those are asked on every cache miss of the caller (a local HTTP call), never kept here.
    """
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if access_key and secret_key:
        return access_key, secret_key, environ.get("AWS_SESSION_TOKEN") or None
    uri = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
    if not uri:
        raise SecretsManagerError("NoCredentials")
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as file:
                token = file.read().strip()
        except OSError:
            raise SecretsManagerError("NoCredentials") from None
    parts = urlsplit(uri)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/", headers={"Authorization": token} if token else {})
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (OSError, http.client.HTTPException):
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
    return key, secret, session if isinstance(session, str) and session else None


def get_secret_string(secret_id: str, *, timeout: float, environ: Mapping[str, str] = os.environ) -> str:
    """The secret's SecretString, in one attempt of at most `timeout` s to connect and `timeout` s per read.

    Raises SecretsManagerError with the AWS error code (e.g. ResourceNotFoundException, AccessDeniedException), or
    a local code: NoCredentials, NoRegion, Timeout, ConnectionError, HTTP<status>, NoSecretString.
    """
    access_key, secret_key, session_token = credentials(environ, timeout=timeout)
    url = endpoint_url(environ)
    body = json.dumps({"SecretId": secret_id}).encode("utf-8")
    headers = signed_headers(
        url,
        body,
        {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        access_key=access_key,
        secret_key=secret_key,
        session_token=session_token,
        region_name=region(environ),
        now=time.time(),
    )
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path or "/", body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except TimeoutError:  # connect or read past the deadline
        raise SecretsManagerError("Timeout") from None
    except (OSError, http.client.HTTPException):  # refused, reset, TLS: never the exception's text
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
    """The AWS error name from `__type` ("ns#Name" or "Name"), if it is a plain name."""
    kind = document.get("__type") if isinstance(document, dict) else None
    if isinstance(kind, str):
        name = kind.rpartition("#")[2].partition(":")[0]
        if name.isascii() and name.isalnum():
            return name
    return None
