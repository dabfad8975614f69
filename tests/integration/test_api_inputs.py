"""Random queries, bodies and headers sent over HTTP to the whole local stack (`make dev`'s Stack) get only a 200 or a
typed 4xx: the function's `{"error": {"code", "message"}}` or the gateway's own `{"message"}` (401, 403, 404).

The stack runs on its own event loop in a thread; hypothesis drives it with a plain HTTP client, as curl would.
The raw query string is random bytes, percent-encoded or not, so the gateway's decoding is exercised too.
"""

from __future__ import annotations

import base64
import http.client
import json
import string
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devstack.stack import Stack
from tests.integration.stack_thread import StackThread

FUNCTION_CODES = {400: "invalid_request", 401: "unauthenticated", 403: "scope_denied", 404: "not_found"}
GATEWAY_MESSAGES = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found"}
# The declared routes, weighted over two that are not (the gateway's own 404).
ROUTES = (
    [("GET", "/token")] * 3
    + [("POST", "/token")] * 3
    + [("GET", "/token/explain")] * 2
    + [
        ("POST", "/token/explain"),
        ("GET", "/token/"),
    ]
)
ALICE = "Basic " + base64.b64encode(b"alice:alice-password").decode()


@pytest.fixture(scope="module", params=["Open", "LambdaAuthorizer"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with StackThread(request.param) as running:
        yield running


def send(stack: Stack, method: str, target: str, headers: dict[str, str], body: bytes | None) -> tuple[int, Any]:
    port = int(stack.api_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None
    finally:
        connection.close()


def assert_typed(status: int, body: Any) -> None:
    assert status < 500, (status, body)
    if status == 200:
        assert isinstance(body, dict) and ("authToken" in body or "scope" in body)
        return
    assert isinstance(body, dict), body
    if "error" in body:
        assert body["error"]["code"] == FUNCTION_CODES[status], (status, body)
    else:
        assert body == {"message": GATEWAY_MESSAGES[status]}, (status, body)


raw_queries = st.one_of(
    st.binary(max_size=40).map(lambda b: urllib.parse.quote(b, safe="=&,")),
    st.dictionaries(
        st.sampled_from(["topics", "cacheItems", "ttlSeconds", "name", "x"]),
        st.text(max_size=12),
        max_size=3,
    ).map(urllib.parse.urlencode),
    st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=3).map(
        lambda digits: "ttlSeconds=" + urllib.parse.quote(digits)
    ),
)
content_types = st.sampled_from(["application/json", "text/plain", "application/octet-stream", "image/png", ""])
header_values = st.text(alphabet=string.ascii_letters + string.digits + " -_.:/=+", max_size=40)
extra_headers = st.dictionaries(st.sampled_from(["x-custom", "accept", "origin", "x-forwarded-for"]), header_values)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    query=raw_queries,
    body=st.none() | st.binary(max_size=64) | st.text(max_size=64).map(str.encode),
    content_type=content_types,
    authorization=st.sampled_from([ALICE, "Basic !!!", "Bearer x", ALICE + "x", None]),
    headers=extra_headers,
)
def test_random_requests_get_200_or_a_typed_4xx(
    stack: Stack,
    route: tuple[str, str],
    query: str,
    body: bytes | None,
    content_type: str,
    authorization: str | None,
    headers: dict[str, str],
) -> None:
    method, path = route
    sent = dict(headers)
    if content_type:
        sent["Content-Type"] = content_type
    if authorization is not None:
        sent["Authorization"] = authorization
    status, answer = send(stack, method, f"{path}?{query}" if query else path, sent, body)
    assert_typed(status, answer)


def test_a_valid_request_still_vends(stack: Stack) -> None:
    """The property above would hold if everything were refused: the plain request must still mint."""
    status, answer = send(stack, "GET", "/token?topics=room-1", {"Authorization": ALICE}, None)
    assert status == 200 and answer["scope"]["topics"]["names"] == ["room-1"]
