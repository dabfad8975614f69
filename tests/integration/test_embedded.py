"""The library embedded in a host app: FastAPI's and Flask's own test clients, the session's emulator behind them,
and every vended token tried with the real `momento` SDK.

The host apps here say who is signed in with two request headers (a stand-in for their own login: the library only
sees what `current_user` returns). The parity tests put the vending Lambda (in-process, as tests/integration/vending.py
loads it) beside each integration and require the same status, error code, message, headers and scope for the same
identity and request.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import flask
import httpx2 as httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from momento_tvm import EMULATOR_API_KEY, Identity, MomentoSettings, TokenRequest, VendingMachine, verified_identity
from momento_tvm.fastapi import token_router
from momento_tvm.flask import token_blueprint
from momento_tvm.http import TokenRoutes
from momento_tvm.parsing import MAX_BODY_BYTES
from tests import sdk_rights
from tests.conftest import CACHE
from tests.integration import vending
from tests.integration.vending import as_user, invoke
from tests.openapi_contract import Answer, contract

ROOT = Path(__file__).resolve().parents[2]
# One tier of each shape (everything; subscribe only; room-* and a {username} name; cache items only), no default tier.
POLICY = Path(__file__).with_name("embedded_policy.yaml")
PATH = "/api/momento/token"
# username -> (groups, the tier embedded_policy.yaml gives them; None: refused).
USERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "alice": (("readwrite",), "readwrite"),
    "viewer": (("readonly",), "readonly"),
    "roomer": (("other", "rooms"), "rooms"),
    "reader": (("cache",), "cache"),
    "nogroup": ((), None),
}
# What each tier with topics may do on room-1, by the SDK: (publish, subscribe).
TOPIC_RIGHTS = {"readwrite": (True, True), "readonly": (False, True), "rooms": (True, True)}
TOPIC_USERS = {name: tier for name, (_, tier) in USERS.items() if tier in TOPIC_RIGHTS}


def header_user(headers: Any) -> Identity | None:
    """The test host's 'login': X-User and X-Groups (comma-separated). A real host reads its own session."""
    name = headers.get("x-user")
    if name is None:
        return None
    groups = tuple(g for g in headers.get("x-groups", "").split(",") if g)
    return Identity(name, groups)


def fastapi_user(request: Request) -> Identity | None:
    """The same login as a FastAPI dependency (FastAPI injects what the parameters' annotations ask for)."""
    return header_user(request.headers)


def signed_in(username: str) -> dict[str, str]:
    return {"X-User": username, "X-Groups": ",".join(USERS[username][0])}


# ---------------------------------------------------------------------------------------------- the two host apps
class Host:
    """One integration behind a uniform `request(method, path, headers, query, body)` -> (status, headers, json)."""

    def __init__(self, name: str, send: Callable[..., httpx.Response | Any]) -> None:
        self.name = name
        self._send = send

    def request(
        self,
        method: str,
        path: str = PATH,
        headers: dict[str, str] | None = None,
        query: str = "",
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        status, answer_headers, text = self._send(method, path + (f"?{query}" if query else ""), headers or {}, body)
        return status, {k.lower(): v for k, v in answer_headers.items()}, json.loads(text)


def fastapi_host(machine: VendingMachine) -> Iterator[Host]:
    app = FastAPI()
    app.include_router(token_router(machine, fastapi_user))
    with TestClient(app) as client:

        def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, Any, str]:
            response = client.request(method, url, headers=headers, content=body)
            return response.status_code, response.headers, response.text

        yield Host("fastapi", send)


def flask_host(machine: VendingMachine) -> Iterator[Host]:
    app = flask.Flask(__name__)
    app.register_blueprint(token_blueprint(machine, lambda: header_user(flask.request.headers)))
    client = app.test_client()

    def send(method: str, url: str, headers: dict[str, str], body: bytes | None) -> tuple[int, Any, str]:
        response = client.open(url, method=method, headers=headers, data=body)
        return response.status_code, dict(response.headers), response.get_data(as_text=True)

    yield Host("flask", send)


@pytest.fixture(scope="module")
def function(moto_endpoint: str, emulator_thread: Any) -> Iterator[ModuleType]:
    """The vending Lambda with this module's policy (POLICY_FILE, as the template can set it)."""
    os.environ["POLICY_FILE"] = str(POLICY)
    try:
        yield from vending.loaded_function(moto_endpoint, emulator_thread)
    finally:
        del os.environ["POLICY_FILE"]


@pytest.fixture(scope="module")
def machine(emulator_thread: Any) -> Iterator[VendingMachine]:
    # The Lambda's settings (tests/integration/vending.py): the same policy, cache and cap.
    with VendingMachine(
        POLICY, MomentoSettings.emulator(emulator_thread.grpc_port), cache_name=CACHE, max_ttl_seconds=3600
    ) as vending_machine:
        yield vending_machine


@pytest.fixture(scope="module", params=["fastapi", "flask"])
def host(request: pytest.FixtureRequest, machine: VendingMachine) -> Iterator[Host]:
    yield from (fastapi_host if request.param == "fastapi" else flask_host)(machine)


# ---------------------------------------------------------------------------------------------- what users see
@pytest.mark.parametrize("username", sorted(TOPIC_USERS))
async def test_a_vended_token_works_with_the_sdk_and_carries_the_tiers_scope(host: Host, username: str) -> None:
    status, headers, body = host.request("GET", headers=signed_in(username), query="topics=room-1")
    assert status == 200, body
    tier = TOPIC_USERS[username]
    assert body["tokenId"] == username
    assert body["scope"]["tier"] == tier
    assert headers["cache-control"] == "no-store"
    provider = sdk_rights.emulator_provider(body["authToken"], int(body["endpoint"].rsplit(":", 1)[1]))
    assert await sdk_rights.topic_rights(provider, CACHE, "room-1") == TOPIC_RIGHTS[tier]
    assert await sdk_rights.topic_rights(provider, CACHE, "room-2") == (False, False)  # not asked for


async def test_a_post_body_vends_the_same_way(host: Host) -> None:
    status, _, body = host.request(
        "POST", headers=signed_in("alice"), body=json.dumps({"topics": ["room-7"], "ttlSeconds": 60}).encode()
    )
    assert status == 200, body
    assert body["scope"]["topics"]["names"] == ["room-7"]
    assert body["expiresAt"] - time.time() <= 61
    provider = sdk_rights.emulator_provider(body["authToken"], int(body["endpoint"].rsplit(":", 1)[1]))
    assert await sdk_rights.topic_rights(provider, CACHE, "room-7") == (True, True)


@pytest.mark.parametrize(("method", "path"), [("GET", PATH), ("POST", PATH), ("GET", f"{PATH}/explain")])
def test_nobody_signed_in_is_401_unauthenticated(host: Host, method: str, path: str) -> None:
    status, headers, body = host.request(method, path, query="topics=room-1")
    assert status == 401
    assert body["error"]["code"] == "unauthenticated"
    assert headers["content-type"].startswith("application/json")
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("username", ["alice smith", "guest:alice", "x" * 65, ""])
def test_a_host_username_that_cannot_be_a_token_id_is_401(host: Host, username: str) -> None:
    """A verified token id is a username no guest (`guest:`) and no other user can have; the host cannot bypass it."""
    status, _, body = host.request("GET", headers={"X-User": username, "X-Groups": "readwrite"}, query="topics=a")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")


def test_explain_says_what_vend_would_mint_and_mints_nothing(host: Host) -> None:
    status, _, body = host.request("GET", f"{PATH}/explain", signed_in("viewer"), "topics=room-1,room-2")
    assert status == 200
    assert "authToken" not in body
    assert body["tokenId"] == "viewer"
    assert body["scope"]["topics"] == {
        "role": "subscribe_only",
        "cache": CACHE,
        "all": False,
        "names": ["room-1", "room-2"],
        "prefixes": [],
    }
    assert body["rule"] == "groups[1]: group 'readonly' -> tier 'readonly'"


def test_a_huge_body_is_a_400_without_being_read_whole(host: Host) -> None:
    status, _, body = host.request("POST", headers=signed_in("alice"), body=b"{" + b" " * (4 * MAX_BODY_BYTES))
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    assert str(MAX_BODY_BYTES) in body["error"]["message"]


def test_repeated_query_keys_are_joined_as_api_gateway_does(host: Host) -> None:
    status, _, body = host.request("GET", f"{PATH}/explain", signed_in("alice"), "topics=room-1&topics=room-2")
    assert status == 200
    assert body["scope"]["topics"]["names"] == ["room-1", "room-2"]


# ---------------------------------------------------------------------------------------------- parity with the Lambda
QUERIES = [
    "",
    "topics=dm-roomer,dm-alice,lobby",
    "cacheItems=roomer-profile,item-9",
    "topics=room-1",
    "topics=room-1,room-2&ttlSeconds=60",
    "topics=room-1&ttlSeconds=5",
    "topics=room-1&ttlSeconds=99999",
    "ttlSeconds=%C2%B2",
    "topics=room-*",
    "cacheItems=item-1,prefix-*",
    "topics=room-1&cacheItems=item-1",
    "unknown=1&pw=hunter2",
    "topics=" + ",".join(f"t{i}" for i in range(51)),
]
BODIES = [
    b'{"topics": ["room-1"]}',
    b'{"cacheItems": ["item-1"], "ttlSeconds": 30}',
    b"{",
    b"[1, 2]",
    b'{"ttlSeconds": "60"}',
    b'{"topics": "room-1"}',
    b'{"surprise": true}',
    b"\xff\xfe not utf-8",
    b"",
]


def lambda_answer(function: ModuleType, username: str, method: str, path: str, query: str, body: bytes | None) -> Any:
    """The vending Lambda's answer to the same request, as API Gateway would deliver it (payload 2.0)."""
    from urllib.parse import parse_qsl

    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    event = as_user(username, ",".join(USERS[username][0]))
    route = "/token/explain" if path.endswith("/explain") else "/token"
    event["rawPath"] = route
    event["routeKey"] = f"{method} {route}"
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = route
    event["rawQueryString"] = query
    if params:
        event["queryStringParameters"] = params
    else:
        event.pop("queryStringParameters", None)
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return invoke(function, event)


def comparable(status: int, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
    """What must match: the status, the contract's headers, and the body without the token's own bytes and clock."""
    kept = {k.lower(): v for k, v in headers.items() if k.lower() in ("content-type", "cache-control", "retry-after")}
    kept["content-type"] = kept.get("content-type", "").split(";")[0]
    if status == 200 and "authToken" in body:
        assert body["authToken"] and body["expiresAt"] > time.time()
        assert abs(body["now"] - time.time()) < 5
        body = {k: v for k, v in body.items() if k not in ("authToken", "expiresAt", "now")}
    return status, kept, body


REQUESTS = (
    [("GET", PATH, q, None) for q in QUERIES]
    + [("GET", f"{PATH}/explain", q, None) for q in QUERIES]
    + [("POST", PATH, "", b) for b in BODIES]
)


@pytest.mark.parametrize("username", sorted(USERS))
@pytest.mark.parametrize(("method", "path", "query", "body"), REQUESTS)
def test_the_lambda_and_each_integration_answer_alike(
    function: ModuleType, host: Host, username: str, method: str, path: str, query: str, body: bytes | None
) -> None:
    lambda_raw = lambda_answer(function, username, method, path, query, body)
    host_raw = host.request(method, path, signed_in(username), query, body)
    route = "/token/explain" if path.endswith("/explain") else "/token"
    for status, headers, answered in (lambda_raw, host_raw):  # each as docs/openapi.yaml describes it, for a user
        contract().check(Answer(method, route, status, headers, json.dumps(answered)), "LambdaAuthorizer")
    expected = comparable(*lambda_raw)
    got = comparable(*host_raw)
    assert got == expected


def test_parity_covers_every_tier_and_each_kind_of_answer(function: ModuleType, machine: VendingMachine) -> None:
    """The parity matrix is worth something only if it reaches every tier and each kind of answer."""
    assert {tier for _, tier in USERS.values()} - {None} == set(machine.policy.tiers)
    answers = {(lambda_answer(function, user, *request)[0], USERS[user][1]) for user in USERS for request in REQUESTS}
    assert {status for status, _ in answers} == {200, 400, 403}
    assert {tier for status, tier in answers if status == 200} == set(machine.policy.tiers)


@pytest.mark.parametrize("make_host", [fastapi_host, flask_host], ids=["fastapi", "flask"])
def test_over_the_issuance_limit_each_integration_answers_the_shared_429(
    emulator_thread: Any, tmp_path: Path, make_host: Any
) -> None:
    """The 429 (body, Retry-After, no-store) is the shared contract's, as the Lambda answers it (the local API's
    flood test, tests/integration/test_issuance_limits.py, sees the Lambda's over HTTP)."""
    limited = tmp_path / "limited.yaml"
    limited.write_text(POLICY.read_text().replace("limits: null", "limits: {burst: 1, refill_seconds: 60}"))
    settings = MomentoSettings.emulator(emulator_thread.grpc_port)
    with VendingMachine(limited, settings, cache_name=CACHE) as machine:
        host = next(make_host(machine))
        assert host.request("GET", headers=signed_in("alice"), query="topics=room-1")[0] == 200
        got = comparable(*host.request("GET", headers=signed_in("alice"), query="topics=room-1"))
        shared = TokenRoutes(machine).get(verified_identity("alice", ["readwrite"]), {"topics": "room-1"})
        assert shared.status == 429
        assert got[0] == 429 and got[2] == shared.body
        assert got[1] == {"content-type": "application/json", **{k.lower(): v for k, v in shared.headers.items()}}
        assert 59 <= int(got[1]["retry-after"]) <= 60


# ---------------------------------------------------------------------------------------------- failures and logs
def test_logs_name_the_user_and_never_the_token_the_key_or_what_the_caller_sent(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="momento_tvm"):
        _, _, vended = host.request("GET", headers=signed_in("alice"), query="topics=room-1")
        host.request("GET", headers=signed_in("alice"), query="pw-s3cr3t=hunter2")
        host.request("POST", headers=signed_in("alice"), body=b'{"pw-s3cr3t": "hunter2"}')
        host.request("GET", query="topics=room-1")
    lines = [
        json.dumps(
            {"message": r.getMessage(), **{k: v for k, v in vars(r).items() if k not in ("args", "msg")}}, default=str
        )
        for r in caplog.records
        if r.name == "momento_tvm"
    ]
    assert [json.loads(line)["message"] for line in lines] == [
        "token issued",
        "request refused",
        "request refused",
        "request refused",
    ]
    issued = json.loads(lines[0])
    assert (issued["user"], issued["tier"]) == ("alice", "readwrite")
    everything = "\n".join(lines)
    for secret in (vended["authToken"], EMULATOR_API_KEY, "hunter2", "s3cr3t"):
        assert secret not in everything


@pytest.fixture(scope="module")
def hung_momento() -> Iterator[int]:
    """A Momento that accepts connections and never answers (a hung service): the mint's deadline must end it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_hung_momento_is_a_quick_503_with_retry_after(hung_momento: int) -> None:
    with VendingMachine(POLICY, MomentoSettings.emulator(hung_momento), cache_name=CACHE) as machine:
        for make_host in (fastapi_host, flask_host):
            for embedded in make_host(machine):
                started = time.perf_counter()
                status, headers, body = embedded.request("GET", headers=signed_in("alice"), query="topics=room-1")
                elapsed = time.perf_counter() - started
                assert (status, body["error"]["code"]) == (503, "upstream_unavailable"), embedded.name
                assert headers["retry-after"] == "2"
                assert elapsed < 3, (embedded.name, elapsed)


async def longest_stall(work: Any) -> tuple[float, float]:
    """(longest gap between 5 ms ticks of the event loop, seconds `work` took) while `work` is awaited."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    with contextlib.suppress(Exception):  # the hung mint's 503 is expected; only the loop's behaviour is measured
        await work
    took = time.perf_counter() - started
    done.set()
    await ticker
    return max(gaps), took


async def test_the_async_path_never_blocks_the_event_loop(hung_momento: int) -> None:
    """A mint that hangs for its whole deadline leaves the loop free under `avend`; the sync `vend` would not.
    (The second half is the control: it shows the measure can see a blocked loop.)"""
    identity = verified_identity("alice", ["readwrite"])
    request = TokenRequest(topics=("room-1",))
    # A fresh machine for each half: after a hung call, the dropped connection makes the next mint fail fast.
    with VendingMachine(POLICY, MomentoSettings.emulator(hung_momento), cache_name=CACHE) as machine:
        stall, took = await longest_stall(machine.avend(identity, request))
    assert took > 0.8, took  # it did wait for the deadline
    assert stall < 0.25, stall

    with VendingMachine(POLICY, MomentoSettings.emulator(hung_momento), cache_name=CACHE) as machine:

        async def blocking() -> None:
            machine.vend(identity, request)

        blocked_stall, _ = await longest_stall(blocking())
    assert blocked_stall > 0.8, blocked_stall


async def test_the_fastapi_router_serves_other_requests_while_a_mint_hangs(hung_momento: int) -> None:
    with VendingMachine(POLICY, MomentoSettings.emulator(hung_momento), cache_name=CACHE) as machine:
        app = FastAPI()
        app.include_router(token_router(machine, fastapi_user))

        @app.get("/health")
        def health(request: Request) -> dict[str, bool]:
            return {"ok": True}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://host") as client:
            hung = asyncio.create_task(
                client.get(f"{PATH}?{urlencode({'topics': 'room-1'})}", headers=signed_in("alice"))
            )
            await asyncio.sleep(0.05)
            started = time.perf_counter()
            explained = await client.get(f"{PATH}/explain?topics=room-1", headers=signed_in("alice"))
            explain_took = time.perf_counter() - started
            assert explained.status_code == 200
            assert not hung.done()  # the hung mint is still waiting on its deadline
            assert explain_took < 0.5, explain_took
            assert (await hung).status_code == 503
