"""What both of the CLI's back ends share: the error type, reading a password, and boto3 imported on first use.

A module of its own (not ``__main__``) because ``python -m tvm_users`` runs ``__main__`` under that name: a class
defined there and imported again as ``tvm_users.__main__`` would be two classes, and `except CliError` would miss one.
"""

from __future__ import annotations

import getpass
import importlib
import ipaddress
import os
import sys
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "LOCAL_CREDENTIALS",
    "NO_CREDENTIALS",
    "NO_REGION",
    "CliError",
    "aws_client",
    "aws_error_message",
    "aws_errors",
    "aws_errors_if_loaded",
    "error_code",
    "import_boto3",
    "is_local_endpoint",
    "read_password",
    "resolve_region",
]

NO_REGION: Final = "no AWS region: pass --region REGION, or set AWS_REGION (or a region in your AWS profile)"
NO_CREDENTIALS: Final = (
    "no AWS credentials: configure a profile (`aws configure`, AWS_PROFILE) or set AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY"
)

# What a local moto server is signed for when no credentials are configured: moto accepts any (the devstack's own).
LOCAL_CREDENTIALS: Final = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class CliError(Exception):
    """A failure with a message for the user and an exit status (2: their input, 1: the environment)."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def import_boto3() -> Any:
    """boto3, imported on first use: `--file` mode never pays for it (it ships untyped, hence Any)."""
    return importlib.import_module("boto3")


def is_local_endpoint(url: str | None) -> bool:
    """True for an http(s) URL on this machine: localhost, or a loopback address (127.0.0.0/8, ::1)."""
    try:
        host = urlsplit(url or "").hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def aws_client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A boto3 client; for an endpoint on this machine (a local moto) with no AWS credentials configured, one signed
    with dummy credentials (LOCAL_CREDENTIALS), so `--endpoint-url http://127.0.0.1:5000` works with no AWS account.

    The endpoint is the one boto3 itself settles on: `endpoint_url` if given, else AWS_ENDPOINT_URL_<SERVICE>,
    AWS_ENDPOINT_URL or the profile's. Credentials that are configured are always used; dummy ones never leave for
    a remote endpoint, where the call fails as before with "no AWS credentials".
    """
    session = import_boto3().session.Session(region_name=region)
    client = session.client(service, endpoint_url=endpoint_url or None)
    if is_local_endpoint(client.meta.endpoint_url) and session.get_credentials() is None:
        client = session.client(service, endpoint_url=client.meta.endpoint_url, **LOCAL_CREDENTIALS)
    return client


def aws_errors() -> tuple[type[BaseException], ...]:
    """botocore's two error roots (imports botocore)."""
    exceptions = importlib.import_module("botocore.exceptions")
    return (exceptions.BotoCoreError, exceptions.ClientError)


def aws_errors_if_loaded() -> tuple[type[BaseException], ...]:
    """botocore's error classes if boto3 was used (never imports it just to check)."""
    return aws_errors() if "botocore.exceptions" in sys.modules else ()


def resolve_region(explicit: str | None) -> str:
    """--region, else AWS_REGION, else AWS_DEFAULT_REGION or the profile's; a CliError saying how to give one.

    boto3 reads AWS_DEFAULT_REGION and the profile but not AWS_REGION, and without any it fails only at the first
    client, as "You must specify a region" at the end of a traceback.
    """
    if explicit:
        return explicit
    if os.environ.get("AWS_REGION", "").strip():
        return os.environ["AWS_REGION"].strip()
    exceptions = importlib.import_module("botocore.exceptions")
    try:
        configured = import_boto3().session.Session().region_name
    except exceptions.BotoCoreError as exc:  # ProfileNotFound: AWS_PROFILE names no profile
        raise CliError(aws_error_message(exc)[0]) from None
    if not configured:
        raise CliError(NO_REGION)
    return str(configured)


def aws_error_message(exc: BaseException) -> tuple[str, int]:
    """(one line for the terminal, exit status) for a botocore error: what happened and what to do, no traceback.

    Status 2 for a setting to fix (region, profile), 1 for the environment (credentials, network, AWS's refusal).
    """
    exceptions = importlib.import_module("botocore.exceptions")
    if isinstance(exc, exceptions.NoRegionError):
        return NO_REGION, 2
    if isinstance(exc, exceptions.ProfileNotFound):
        return f"{exc}: check AWS_PROFILE (or --profile in ~/.aws/config)", 2
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return NO_CREDENTIALS, 1
    if isinstance(exc, exceptions.EndpointConnectionError | exceptions.ConnectTimeoutError):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "?")
        return f"cannot reach AWS at {endpoint}: check the network and the region (or AWS_ENDPOINT_URL)", 1
    if isinstance(exc, exceptions.ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message") or code)
        operation = getattr(exc, "operation_name", "") or "the call"
        return f"AWS call failed: {operation}: {message} ({code})", 1
    return f"AWS call failed: {exc}", 1


def error_code(exc: BaseException) -> str:
    """The ``Error.Code`` of a botocore ClientError ("" for anything else)."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def read_password(prompt: str, from_stdin: bool, *, min_chars: int, max_chars: int) -> str:
    """A password from stdin's first line or typed twice at a prompt; never from argv (shell history, `ps`).

    NUL is refused everywhere: scrypt treats "pw" and "pw\\0" alike, and a C string would end at it.
    """
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"{prompt}: ")
        if getpass.getpass("Repeat the password: ") != password:
            raise CliError("the passwords do not match")
    if not min_chars <= len(password) <= max_chars:
        raise CliError(f"a password must be {min_chars} to {max_chars} characters")
    if "\0" in password:
        raise CliError("a password cannot contain a NUL character")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise CliError("the password is not valid UTF-8") from None
    return password
