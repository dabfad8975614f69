"""The vending Lambda in-process, as Lambda runs it: events from `events/`, Secrets Manager in the suite's moto server,
Momento the session's emulator. Shared by the function's test modules (fixtures in conftest.py)."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3

from tests.stack_settings import unlimited_policy

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events" / "token"
FUNCTION = ROOT / "functions" / "token_vending" / "app.py"
SECRET_NAME = "tvm/momento-api-key"


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return merge(event, changes)


def merge(event: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(event.get(key), dict):
            event[key] = merge(event[key], value)
        else:
            event[key] = value
    return event


def as_user(username: str, groups: str, **changes: Any) -> dict[str, Any]:
    return load_event(
        "get_token_lambda_authorizer.json",
        requestContext={"authorizer": {"lambda": {"username": username, "groups": groups}}},
        **changes,
    )


def without_authorizer(event: dict[str, Any]) -> dict[str, Any]:
    event = copy.deepcopy(event)
    del event["requestContext"]["authorizer"]
    return event


def with_query(event: dict[str, Any], **params: str) -> dict[str, Any]:
    event = copy.deepcopy(event)
    event["queryStringParameters"] = params
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in params.items())
    return event


class Clock:
    """A monotonic clock the test moves by hand (the `clock` fixture of conftest.py)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class LambdaContext:
    function_name = "token-vending"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:token-vending"
    aws_request_id = "test-request"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 5000


def loaded_function(moto_endpoint: str, emulator_thread: Any) -> Iterator[ModuleType]:
    """The handler module, imported once (as Lambda does per container) with the template's environment."""
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_endpoint,
        "AUTH_MODE": "LambdaAuthorizer",
        "MOMENTO_API_KEY_SECRET": SECRET_NAME,
        "MOMENTO_ENDPOINT": f"127.0.0.1:{emulator_thread.grpc_port}",
        "CACHE_NAME": "test-cache",
        "MAX_TOKEN_TTL_SECONDS": "3600",
        "POWERTOOLS_SERVICE_NAME": "token-vending",
        "POWERTOOLS_METRICS_NAMESPACE": "MomentoTokenVending",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    # No issuance limit unless the module chose its policy: these tests vend the same users many times, and the limits
    # have their own (tests/integration/test_issuance_limits.py, test_metric_contract.py).
    env["POLICY_FILE"] = os.environ.get("POLICY_FILE") or str(unlimited_policy())
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    from momento_emulator import DEFAULT_API_KEY

    secrets = boto3.client("secretsmanager")
    try:
        secrets.create_secret(Name=SECRET_NAME, SecretString=DEFAULT_API_KEY)
    except secrets.exceptions.ResourceExistsException:  # moto's state is per process: another module made it
        secrets.put_secret_value(SecretId=SECRET_NAME, SecretString=DEFAULT_API_KEY)
    spec = importlib.util.spec_from_file_location("token_vending_app", FUNCTION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["token_vending_app"] = module
    spec.loader.exec_module(module)
    yield module
    module.vending.close()
    sys.modules.pop("token_vending_app", None)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def captured_logs(function: ModuleType) -> Iterator[io.StringIO]:
    """Everything the function logs (Powertools writes JSON lines; EMF metrics go to stdout separately)."""
    stream = io.StringIO()
    handler = function.logger.registered_handler
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def invoke(function: Any, event: dict[str, Any], mode: str = "LambdaAuthorizer") -> tuple[int, dict[str, Any], Any]:
    """(status, headers, JSON body) of `function.handler` for `event`: the module's handler, or the handler of a
    `VendingFunction` a test built around its own key cache."""
    os.environ["AUTH_MODE"] = mode
    try:
        response = function.handler(event, LambdaContext())
    finally:
        os.environ["AUTH_MODE"] = "LambdaAuthorizer"
    return response["statusCode"], response.get("headers") or {}, json.loads(response["body"])
