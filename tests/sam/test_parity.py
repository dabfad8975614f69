"""Parity: the same requests through `make dev`'s local API (devstack, in-process workers) and through SAM CLI's
`sam local start-api` (Docker containers) give the same statuses, the same error codes and the same token scopes.

Compared: the status; for the functions' answers the typed error code, or the token's id, scope and lifetime; for
the gateway's own answers (401, 403) the status only, because SAM CLI words its 403 differently from API Gateway
("User is not authorized to access this resource"; `make dev` answers AWS's {"message":"Forbidden"}).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.stack import Stack
from tests.integration.stack_thread import StackThread
from tests.sam.conftest import Answer, SamApiProcess, basic, empty_issuance_table, request

ALICE = basic("alice", "alice-password")
VIEWER = basic("viewer", "viewer-password")
WRONG = basic("alice", "not-alices-password")
POST = json.dumps({"topics": ["room-1"], "ttlSeconds": 120}).encode()

# (name, method, path, Authorization, body)
LAMBDA_AUTHORIZER_REQUESTS: list[tuple[str, str, str, str | None, bytes | None]] = [
    ("no authorization", "GET", "/token", None, None),
    ("wrong password", "GET", "/token", WRONG, None),
    ("alice", "GET", "/token", ALICE, None),
    ("viewer", "GET", "/token", VIEWER, None),
    ("alice, two topics", "GET", "/token?topics=room-1,room-2&ttlSeconds=300", ALICE, None),
    ("viewer, cache items", "GET", "/token?cacheItems=profile:*", VIEWER, None),
    ("unknown parameter", "GET", "/token?topic=typo", ALICE, None),
    ("ttl too short", "GET", "/token?ttlSeconds=5", ALICE, None),
    ("wildcard topic", "GET", "/token?topics=room-*", ALICE, None),
    ("post", "POST", "/token", ALICE, POST),
    ("post, bad json", "POST", "/token", ALICE, b"{not json"),
    ("explain", "GET", "/token/explain?topics=room-1", ALICE, None),
]
OPEN_REQUESTS: list[tuple[str, str, str, str | None, bytes | None]] = [
    ("guest, one room", "GET", "/token?name=Ann&topics=room-1", None, None),
    ("guest, lobby", "GET", "/token?name=Ann&topics=chat-lobby", None, None),
    ("guest, no topics: the tier's prefixes", "GET", "/token?name=Ann", None, None),
    ("guest, bad ttl", "GET", "/token?ttlSeconds=abc", None, None),
    ("guest, explain", "GET", "/token/explain?name=Ann&topics=room-1", None, None),
]


def comparable(answer: Answer) -> dict[str, Any]:
    """What must be equal: no token, endpoint or absolute time (they differ by design)."""
    seen: dict[str, Any] = {"status": answer.status}
    body = answer.body if isinstance(answer.body, dict) else {}
    if "error" in body:
        seen["code"] = body["error"]["code"]
    elif answer.status == 200:
        seen["tokenId"] = body.get("tokenId")
        seen["scope"] = body.get("scope")
        seen["has token"] = "authToken" in body
        seen["ttlSeconds"] = body.get("ttlSeconds")
    return seen


@pytest.fixture(scope="module")
def dev_lambda() -> Iterator[Stack]:
    with StackThread("LambdaAuthorizer") as stack:
        yield stack


@pytest.fixture(scope="module")
def dev_open() -> Iterator[Stack]:
    with StackThread("Open") as stack:
        yield stack


def _both(dev: Stack, sam: SamApiProcess, method: str, path: str, auth: str | None, body: bytes | None) -> None:
    """One request to each, both starting with every issuance bucket full (each stack counts in its own table)."""
    empty_issuance_table(dev.moto_url)
    empty_issuance_table(str(sam.info["moto_url"]))
    by_dev = request(dev.api_url + path, method=method, authorization=auth, body=body)
    by_sam = request(sam.url + path, method=method, authorization=auth, body=body)
    assert comparable(by_sam) == comparable(by_dev), (by_dev.body, by_sam.body)
    if by_dev.status == 200 and "expiresAt" in (by_dev.body or {}):
        assert abs(by_sam.body["expiresAt"] - by_dev.body["expiresAt"]) <= 30


@pytest.mark.parametrize(("name", "method", "path", "auth", "body"), LAMBDA_AUTHORIZER_REQUESTS)
def test_lambda_authorizer_mode_answers_alike(
    dev_lambda: Stack,
    lambda_api: SamApiProcess,
    name: str,
    method: str,
    path: str,
    auth: str | None,
    body: bytes | None,
) -> None:
    _both(dev_lambda, lambda_api, method, path, auth, body)


@pytest.mark.parametrize(("name", "method", "path", "auth", "body"), OPEN_REQUESTS)
def test_open_mode_answers_alike(
    dev_open: Stack,
    open_api: SamApiProcess,
    name: str,
    method: str,
    path: str,
    auth: str | None,
    body: bytes | None,
) -> None:
    _both(dev_open, open_api, method, path, auth, body)


def test_the_gateways_403_bodies_differ_as_documented(dev_lambda: Stack, lambda_api: SamApiProcess) -> None:
    assert request(f"{dev_lambda.api_url}/token", authorization=WRONG).body == {"message": "Forbidden"}
    assert request(f"{lambda_api.url}/token", authorization=WRONG).body == {
        "message": "User is not authorized to access this resource"
    }
