"""local_api's gateway over HTTP (an aiohttp test server on 127.0.0.1) with a fake invoker: the authorizer context and
its cache across routes, answers in AWS's shapes, preflights and unknown routes. What it reads from the template,
and the helpers shared here, are tests/unit/test_local_api_template.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from local_api import RouteSpec
from local_api.gateway import Gateway
from local_api.template import ApiSpec
from local_api.workers import InvocationError
from tests.unit.test_local_api_template import CORS, LAMBDA_AUTHORIZER


# ------------------------------------------------------------------------------------------ the gateway, faked
class FakeFunctions:
    """An `Invoke` that answers from a table and records what it was given."""

    def __init__(self, results: Mapping[str, Any]) -> None:
        self.results = dict(results)
        self.calls: list[tuple[str, Mapping[str, Any]]] = []

    async def __call__(self, function_id: str, event: Mapping[str, Any], request_id: str) -> Any:
        self.calls.append((function_id, event))
        result = self.results[function_id]
        if isinstance(result, Exception):
            raise result
        return result

    def count(self, function_id: str) -> int:
        return sum(1 for called, _ in self.calls if called == function_id)


def gateway_spec() -> ApiSpec:
    return ApiSpec(
        logical_id="Api",
        api_id="local",
        stage="$default",
        region="us-east-1",
        account_id="123456789012",
        routes=(
            RouteSpec("GET", "/items/{id}", "Items", "Auth"),
            RouteSpec("POST", "/items/{id}", "Items", "Auth"),
            RouteSpec("GET", "/open", "Items", None),
        ),
        authorizers={"Auth": LAMBDA_AUTHORIZER},
        cors=CORS,
        functions={},
    )


ALLOW = {"isAuthorized": True, "context": {"username": "alice", "groups": "readwrite"}}


ECHO = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*", "X-Own": "1"}, "body": "ok"}


async def serve(functions: FakeFunctions) -> TestClient[Any, Any]:
    client: TestClient[Any, Any] = TestClient(TestServer(Gateway(gateway_spec(), functions).app()))
    await client.start_server()
    return client


async def test_gateway_merges_the_authorizer_context_and_caches_it_across_routes() -> None:
    functions = FakeFunctions({"AuthFunction": ALLOW, "Items": ECHO})
    client = await serve(functions)
    try:
        first = await client.get("/items/1", headers={"X-Key": "k", "Origin": "http://localhost:8000"})
        assert (first.status, await first.text()) == (200, "ok")
        assert first.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"  # the function's "*" ignored
        assert first.headers["X-Own"] == "1"
        assert first.headers["apigw-requestid"]
        second = await client.post("/items/2", headers={"X-Key": "k"}, data=b"{}")
        assert second.status == 200
        assert functions.count("AuthFunction") == 1
        event = functions.calls[-1][1]
        assert event["requestContext"]["authorizer"] == {"lambda": {"username": "alice", "groups": "readwrite"}}
        assert event["pathParameters"] == {"id": "2"}
        assert (await client.get("/items/3", headers={"X-Key": "other"})).status == 200
        assert functions.count("AuthFunction") == 2
        open_event = (await client.get("/open"), functions.calls[-1][1])[1]
        assert "authorizer" not in open_event["requestContext"]
    finally:
        await client.close()


@pytest.mark.parametrize(
    ("authorizer", "items", "headers", "status", "body"),
    [
        (ALLOW, ECHO, {}, 401, {"message": "Unauthorized"}),
        ({"isAuthorized": False}, ECHO, {"X-Key": "k"}, 403, {"message": "Forbidden"}),
        (InvocationError("boom"), ECHO, {"X-Key": "k"}, 500, {"message": "Internal Server Error"}),
        ({"allow": "yes"}, ECHO, {"X-Key": "k"}, 500, {"message": "Internal Server Error"}),
        (ALLOW, InvocationError("crash"), {"X-Key": "k"}, 500, {"message": "Internal Server Error"}),
        (ALLOW, {"statusCode": "nope"}, {"X-Key": "k"}, 500, {"message": "Internal Server Error"}),
    ],
    ids=["no-identity", "deny", "authorizer-error", "unreadable-authorizer", "function-error", "unreadable-result"],
)
async def test_gateway_answers_in_aws_shapes(
    authorizer: Any, items: Any, headers: dict[str, str], status: int, body: dict[str, str]
) -> None:
    functions = FakeFunctions({"AuthFunction": authorizer, "Items": items})
    client = await serve(functions)
    try:
        response = await client.get("/items/1", headers={**headers, "Origin": "http://localhost:8000"})
        assert response.status == status
        assert json.loads(await response.text()) == body
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
        if status == 401:
            assert functions.calls == []
    finally:
        await client.close()


async def test_gateway_answers_preflights_and_unknown_routes_itself() -> None:
    functions = FakeFunctions({"AuthFunction": ALLOW, "Items": ECHO})
    client = await serve(functions)
    try:
        allowed = await client.options(
            "/items/1", headers={"Origin": "http://localhost:8000", "Access-Control-Request-Method": "GET"}
        )
        assert allowed.status == 204
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
        assert allowed.headers["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
        other = await client.options(
            "/items/1", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"}
        )
        assert other.status == 204
        assert "Access-Control-Allow-Origin" not in other.headers
        for method, path in (("GET", "/nope"), ("DELETE", "/items/1"), ("OPTIONS", "/items/1")):
            missing = await client.request(method, path)
            assert (missing.status, await missing.json()) == (404, {"message": "Not Found"})
        assert functions.calls == []
    finally:
        await client.close()
