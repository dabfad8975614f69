"""`AwsJsonClient` over a boto3 client: how an embedded app hands the library its AWS access.

An app that embeds the library already has boto3 and expects its credential chain (profiles, SSO, instance roles),
its retries and its configuration; the Lambda functions use `momento_tvm.aws_json.StdlibAwsClient` instead (no boto3
on the cold path). Both answer the same way: the response document as the wire's JSON has it (a timestamp a number
of seconds, a blob base64 text), every failure an `AwsError` carrying a code and never AWS's message.

    import boto3
    from momento_tvm.aws_boto3 import Boto3JsonClient
    secrets = Boto3JsonClient(boto3.client("secretsmanager"))

boto3 is imported by the caller, never here: this module only reads the client's own metadata and exceptions.
Requests are passed as they are: a blob parameter (DynamoDB's `B`) is bytes for boto3 where the wire wants base64
text, so callers of this interface send none (the library's stores use strings and numbers only).
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any

from .aws_json import AwsConfigError, AwsError

__all__ = ["Boto3JsonClient"]

# botocore's exception class names -> the stdlib client's local codes for the same failure.
_TIMEOUTS = {"ConnectTimeoutError", "ReadTimeoutError"}
_CONNECTION = {"EndpointConnectionError", "ConnectionClosedError", "ProxyConnectionError", "SSLError"}


class Boto3JsonClient:
    """`AwsJsonClient` (momento_tvm.aws_json) over `client`, a boto3 client of the service to call."""

    def __init__(self, client: Any) -> None:
        self.client = client
        # "GetSecretValue" -> "get_secret_value", from the client's own model rather than a guessed spelling.
        self._methods = {api: method for method, api in client.meta.method_to_api_mapping.items()}

    def call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        method = self._methods.get(operation)
        if method is None:
            raise ValueError(f"{type(self.client).__name__} has no operation {operation!r}")
        try:
            response = getattr(self.client, method)(**params)
        except Exception as error:
            raise _aws_error(error) from None
        response.pop("ResponseMetadata", None)
        return {name: _wire(value) for name, value in response.items()}


def _aws_error(error: Exception) -> AwsError:
    """botocore's exception as the stdlib client would have raised it: a code, never the message."""
    name = type(error).__name__
    response = getattr(error, "response", None)
    if isinstance(response, dict):  # ClientError and its modeled subclasses: the service answered
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code.isascii() and code.isalnum() and len(code) <= 128:
            item = response.get("Item")  # DynamoDB's ALL_OLD on a failed condition
            return AwsError(code, from_aws=True, item=_wire(item) if isinstance(item, dict) else None)
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return AwsError(f"HTTP{status}" if isinstance(status, int) else "ConnectionError")
    if name in _TIMEOUTS:
        return AwsError("Timeout")
    if name in _CONNECTION:
        return AwsError("ConnectionError")
    if name == "NoRegionError":
        return AwsConfigError("NoRegion", "give the boto3 client a region (region_name=, AWS_REGION or a profile)")
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return AwsConfigError("NoCredentials", "give boto3 credentials (its usual chain: environment, profile, role)")
    if name == "ParamValidationError":  # what AWS answers to the same request
        return AwsError("ValidationException")
    return AwsError(name if name.isidentifier() and len(name) <= 128 else "ConnectionError")


def _wire(value: Any) -> Any:
    """A boto3 response value in the wire's JSON shapes: datetimes as epoch seconds, bytes as base64 text."""
    if isinstance(value, dict):
        return {name: _wire(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_wire(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "read"):  # a StreamingBody (no JSON-protocol operation returns one; kept honest anyway)
        return base64.b64encode(value.read()).decode("ascii")
    return value
