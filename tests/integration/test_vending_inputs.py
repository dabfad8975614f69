"""Whatever a caller sends, the vending function answers 200 or a typed 4xx, never a 500, and logs none of it.

The first tests are the reproductions from the attacks on `make dev` (each gave `500 internal_error` before the
request-parsing layer, momento_tvm/parsing.py); the hypothesis tests then throw random queries, bodies, encodings and
headers at the real handler, in every mode, with a real minter behind it (the session's emulator, moto); each of
their answers must also be one docs/openapi.yaml describes (tests/openapi_contract.py).
"""

from __future__ import annotations

import base64
import copy
import io
import json
import string
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.vending import as_user, invoke, load_event, without_authorizer
from tests.openapi_contract import Answer, contract

TYPED_4XX = {400: "invalid_request", 401: "unauthenticated", 403: "scope_denied", 404: "not_found"}
MODES = ("Open", "LambdaAuthorizer", "AmazonCognito")


def post(body: str | None, *, base64_encoded: bool = False, mode_event: dict[str, Any] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(mode_event or load_event("post_token_lambda_authorizer.json"))
    event["body"] = body
    event["isBase64Encoded"] = base64_encoded
    return event


def get(params: dict[str, str] | None, raw_query: str = "", event: dict[str, Any] | None = None) -> dict[str, Any]:
    event = copy.deepcopy(event or load_event("get_token_lambda_authorizer.json"))
    if params is None:
        event.pop("queryStringParameters", None)
    else:
        event["queryStringParameters"] = params
    event["rawQueryString"] = raw_query
    return event


def assert_typed(status: int, headers: dict[str, Any], body: Any) -> None:
    """200 with a token, or one of the documented 4xx with its code: the contract of docs/api.md."""
    if status == 200:
        assert isinstance(body.get("authToken"), str)
        return
    assert status in TYPED_4XX, (status, body)
    assert body["error"]["code"] == TYPED_4XX[status], body
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in body["error"]["message"]


# --- the reproductions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "¹0", "٣", "1²", "\uff11\uff12", "-5", "+5", " 60", "6e1", ""])
def test_non_ascii_digits_in_ttl_are_invalid_request(function: ModuleType, value: str) -> None:
    """`?ttlSeconds=%C2%B2`: `str.isdigit` said yes, `int()` raised, the caller got a 500."""
    status, _, body = invoke(function, get({"ttlSeconds": value}, "ttlSeconds=x"))
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert "ttlSeconds" in body["error"]["message"]


def test_a_deeply_nested_body_is_invalid_request(function: ModuleType) -> None:
    """A JSON body nested 1,000 deep: `RecursionError` was not caught."""
    for depth in (1_000, 5_000):
        status, _, body = invoke(function, post("[" * depth + "]" * depth))
        assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, _, body = invoke(function, post('{"topics": ' + "[" * 3_000 + "]" * 3_000 + "}"))
    assert (status, body["error"]["code"]) == (400, "invalid_request")


@pytest.mark.parametrize("raw", [b"\xff\xfe{}", b'{"topics": ["\xc3\x28"]}', b"\x80", b'{"name": "\xed\xa0\x80"}'])
def test_a_body_that_is_not_utf8_is_invalid_request(function: ModuleType, raw: bytes) -> None:
    """Any body that is not UTF-8, whatever its content type: it was decoded before it was parsed."""
    for content_type in ("application/json", "application/octet-stream", "text/plain; charset=latin-1"):
        event = post(base64.b64encode(raw).decode(), base64_encoded=True)
        event["headers"]["content-type"] = content_type
        status, _, body = invoke(function, event)
        assert (status, body["error"]["code"]) == (400, "invalid_request"), (raw, content_type)
        assert "UTF-8" in body["error"]["message"]


def test_bad_base64_and_lone_surrogates_are_invalid_request(function: ModuleType) -> None:
    status, _, body = invoke(function, post("not base64!", base64_encoded=True))
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    for text in ('{"name": "\\ud800"}', '{"topics": ["\\udfff"]}', '{"cacheItems": ["a\\ud800b"]}'):
        status, _, body = invoke(function, post(text))
        assert (status, body["error"]["code"]) == (400, "invalid_request"), text


def test_a_valid_base64_body_still_vends(function: ModuleType) -> None:
    raw = json.dumps({"topics": ["room-1"], "ttlSeconds": 60}).encode()
    status, _, body = invoke(function, post(base64.b64encode(raw).decode(), base64_encoded=True))
    assert status == 200, body
    assert body["scope"]["topics"]["names"] == ["room-1"]


def test_unknown_names_are_echoed_bounded_and_never_logged(function: ModuleType, logs: io.StringIO) -> None:
    """The caller is told which field was unknown (sanitised, bounded); the log says only that one was."""
    secret_looking = "hunter2-" + "x" * 500
    status, _, body = invoke(function, get({secret_looking: "1", "ttlSeconds": "60"}, f"{secret_looking}=1"))
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert "hunter2-" in body["error"]["message"] and len(body["error"]["message"]) < 200
    status, _, body = invoke(function, post(json.dumps({"password": "hunter3", f"\u202e{'y' * 40}": 1})))
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert "\u202e" not in body["error"]["message"]
    many = {f"field{i}": i for i in range(40)}
    status, _, body = invoke(function, post(json.dumps(many)))
    assert "and 35 more" in body["error"]["message"]
    logged = logs.getvalue()
    assert "request refused" in logged
    for caller_text in ("hunter2", "hunter3", "password", "field1", "yyyy"):
        assert caller_text not in logged


# --- properties --------------------------------------------------------------------------------------------------

_printable = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _printable
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_printable, inner, max_size=4),
    max_leaves=12,
)
_field = st.sampled_from(["topics", "cacheItems", "ttlSeconds", "name"]) | _printable
_bodies = st.one_of(
    st.dictionaries(_field, _json, max_size=5).map(json.dumps),
    st.dictionaries(_field, _json, max_size=5).map(lambda d: json.dumps(d, ensure_ascii=False)),
    _json.map(json.dumps),
    _printable,
    st.binary(max_size=64).map(lambda b: b.decode("latin-1")),
)
_digits = st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=4)  # any script's digits
_query_value = st.one_of(
    _printable,
    _digits,
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.lists(st.sampled_from(["room-1", "chat-a", "news", "*", "k*", "", " "]), max_size=4).map(",".join),
)
_queries = st.dictionaries(_field, _query_value, max_size=4) | st.fixed_dictionaries({"ttlSeconds": _digits})
_nested = st.builds(
    lambda depth, opener, inner: (opener * depth) + inner + ("]" if opener == "[" else "}") * depth,
    st.integers(min_value=1, max_value=3_000),
    st.sampled_from(["[", '{"a":']),
    st.sampled_from(["", "1", '"x"']),
)
_headers = st.dictionaries(
    st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=20),
    st.text(alphabet=string.printable, max_size=60),
    max_size=4,
)


def _mode_event(mode: str, base: dict[str, Any]) -> dict[str, Any]:
    if mode == "Open":
        return without_authorizer(base)
    if mode == "AmazonCognito":
        event = without_authorizer(base)
        claims = {"cognito:username": "carol", "cognito:groups": "[readwrite]"}
        event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        return event
    return base


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    mode=st.sampled_from(MODES), query=_queries, headers=_headers, route=st.sampled_from(["/token", "/token/explain"])
)
def test_random_queries_get_200_or_a_typed_4xx(
    function: ModuleType, mode: str, query: dict[str, str], headers: dict[str, str], route: str
) -> None:
    event = _mode_event(mode, get(query, "&".join(f"{k}=v" for k in query)))
    event["headers"].update(headers)
    event["rawPath"] = event["requestContext"]["http"]["path"] = route
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {route}"
    status, response_headers, body = invoke(function, event, mode)
    contract().check(Answer("GET", route, status, response_headers, json.dumps(body)), mode)  # docs/openapi.yaml
    if status == 200 and route == "/token/explain":
        assert "authToken" not in body and "scope" in body
        return
    assert_typed(status, response_headers, body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mode=st.sampled_from(MODES), body=_bodies | _nested | st.binary(max_size=64), headers=_headers)
def test_random_bodies_get_200_or_a_typed_4xx(
    function: ModuleType, mode: str, body: str | bytes, headers: dict[str, str]
) -> None:
    """Text bodies as the gateway passes them; raw bytes base64-encoded, as it passes binary media types."""
    if isinstance(body, bytes):
        event = _mode_event(mode, post(base64.b64encode(body).decode(), base64_encoded=True))
    else:
        event = _mode_event(mode, post(body))
    event["headers"].update(headers)
    status, response_headers, answered = invoke(function, event, mode)
    contract().check(Answer("POST", "/token", status, response_headers, json.dumps(answered)), mode)
    assert_typed(status, response_headers, answered)


def test_a_verified_user_event_still_vends(function: ModuleType) -> None:
    """The properties above would pass if everything were refused: a plain valid request must still mint."""
    status, _, body = invoke(function, as_user("alice", "readwrite"))
    assert status == 200 and body["tokenId"] == "alice"
