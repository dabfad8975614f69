"""The routes' one observer (momento_tvm.observe): every answer of `TokenRoutes`, and so of the FastAPI and Flask
integrations, is reported once, as what it is, and the embedded default (stdlib logging) shows an outage's cause with
a plain `basicConfig`. Tokens are minted by the session's emulator; the outage is a Momento that cannot be reached.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from momento_tvm import MomentoSettings, TvmError, UpstreamUnavailableError, VendingMachine, verified_identity
from momento_tvm.fastapi import token_router
from momento_tvm.flask import token_blueprint
from momento_tvm.http import TokenRoutes
from momento_tvm.observe import LoggingObserver, RouteObserver
from momento_tvm.vending import Explanation, VendedToken
from tests.conftest import CACHE

POLICY = Path(__file__).with_name("embedded_policy.yaml")
PATH = "/api/momento/token"


class Recorder(RouteObserver):
    """Writes down each report: (kind, what identifies it)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def issued(self, token: VendedToken) -> None:
        self.seen.append(("issued", token.tier))

    def explained(self, explanation: Explanation) -> None:
        self.seen.append(("explained", explanation.grant.tier))

    def refused(self, error: TvmError) -> None:
        self.seen.append(("refused", error.code))

    def unavailable(self, error: UpstreamUnavailableError) -> None:
        self.seen.append(("unavailable", error.code))

    def failed(self, error: Exception) -> None:
        self.seen.append(("failed", type(error).__name__))


@pytest.fixture(scope="module")
def machine(emulator_thread: Any) -> Iterator[VendingMachine]:
    with VendingMachine(POLICY, MomentoSettings.emulator(emulator_thread.grpc_port), cache_name=CACHE) as built:
        yield built


@pytest.fixture(scope="module")
def unreachable() -> Iterator[VendingMachine]:
    """A machine whose Momento refuses every connection (a bound port nobody listens on)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with VendingMachine(POLICY, MomentoSettings.emulator(sock.getsockname()[1]), cache_name=CACHE) as built:
            yield built


def user(headers: Any) -> Any:
    name = headers.get("x-user")
    return None if name is None else verified_identity(name, [g for g in headers.get("x-groups", "").split(",") if g])


def fastapi_send(machine: VendingMachine, observer: RouteObserver) -> Callable[..., int]:
    app = FastAPI()

    def current_user(request: Request) -> Any:
        return user(request.headers)

    app.include_router(token_router(machine, current_user, observer=observer))
    client = TestClient(app)
    return lambda method, path, headers, query="", body=None: (
        client.request(method, f"{path}?{query}", headers=headers, content=body).status_code
    )


def flask_send(machine: VendingMachine, observer: RouteObserver) -> Callable[..., int]:
    app = flask.Flask(__name__)
    app.register_blueprint(token_blueprint(machine, lambda: user(flask.request.headers), observer=observer))
    client = app.test_client()
    return lambda method, path, headers, query="", body=None: (
        client.open(f"{path}?{query}", method=method, headers=headers, data=body).status_code
    )


ALICE = {"X-User": "alice", "X-Groups": "readwrite"}


@pytest.mark.parametrize("integration", [fastapi_send, flask_send], ids=["fastapi", "flask"])
def test_each_answer_is_reported_once_as_what_it_is(
    integration: Callable[..., Callable[..., int]], machine: VendingMachine, unreachable: VendingMachine
) -> None:
    recorder = Recorder()
    send = integration(machine, recorder)
    assert send("GET", PATH, ALICE, "topics=room-1") == 200
    assert send("POST", PATH, ALICE, body=json.dumps({"topics": ["room-1"]}).encode()) == 200
    assert send("GET", f"{PATH}/explain", {"X-User": "viewer", "X-Groups": "readonly"}) == 200
    assert send("GET", PATH, ALICE, "ttlSeconds=abc") == 400
    assert send("GET", PATH, {}) == 401
    assert send("GET", PATH, {"X-User": "nogroup"}) == 403
    assert integration(unreachable, recorder)("GET", PATH, ALICE) == 503
    assert recorder.seen == [
        ("issued", "readwrite"),
        ("issued", "readwrite"),
        ("explained", "readonly"),
        ("refused", "invalid_request"),
        ("refused", "unauthenticated"),
        ("refused", "scope_denied"),
        ("unavailable", "upstream_unavailable"),
    ]


def test_a_bug_is_reported_as_a_failure_and_answered_500(machine: VendingMachine) -> None:
    recorder = Recorder()

    def broken_login(parsed: Any) -> Any:
        raise RuntimeError("a host bug, with s3cr3t in its message")

    answer = TokenRoutes(machine, recorder).get(broken_login, {})
    assert (answer.status, answer.body["error"]["code"]) == (500, "internal_error")
    assert recorder.seen == [("failed", "RuntimeError")]


def test_the_identity_callable_is_asked_only_for_a_request_that_parses(machine: VendingMachine) -> None:
    """The Lambda's identity comes from a callable given the parsed request (an Open guest's name is in it): a bad
    request is a 400 before anyone is asked, and a refusal the callable raises is answered like any other."""
    asked: list[Any] = []

    def login(parsed: Any) -> Any:
        asked.append(parsed.display_name)
        return None

    routes = TokenRoutes(machine, Recorder())
    assert routes.get(login, {"ttlSeconds": "abc"}).status == 400
    assert asked == []
    assert routes.get(login, {"name": "Ann"}).status == 401
    assert asked == ["Ann"]


def test_the_default_observer_puts_an_outages_cause_in_the_message(
    unreachable: VendingMachine, caplog: pytest.LogCaptureFixture
) -> None:
    """What a plain `logging.basicConfig` prints is the message: the cause must be in it, not only in `extra`."""
    with caplog.at_level(logging.INFO, logger="momento_tvm"):
        answer = TokenRoutes(unreachable).get(verified_identity("alice", ["readwrite"]), {})
    assert answer.status == 503
    [record] = [r for r in caplog.records if r.name == "momento_tvm"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"upstream unavailable: {record.reason}"  # type: ignore[attr-defined]
    assert record.reason == "Momento did not mint a token (UNAVAILABLE)"  # type: ignore[attr-defined]


def test_the_integrations_log_on_the_logger_they_are_given(
    machine: VendingMachine, caplog: pytest.LogCaptureFixture
) -> None:
    mine = logging.getLogger("host.tokens")
    with caplog.at_level(logging.INFO, logger="host.tokens"):
        status = flask_send_with_logger(machine, mine)
    assert status == 200
    assert [r.getMessage() for r in caplog.records if r.name == "host.tokens"] == ["token issued"]
    assert isinstance(TokenRoutes(machine, mine).observer, LoggingObserver)


def flask_send_with_logger(machine: VendingMachine, logger: logging.Logger) -> int:
    app = flask.Flask(__name__)
    app.register_blueprint(token_blueprint(machine, lambda: user(flask.request.headers), logger=logger))
    return app.test_client().get(f"{PATH}?topics=room-1", headers=ALICE).status_code


@pytest.mark.parametrize("make", [token_router, token_blueprint], ids=["fastapi", "flask"])
def test_a_logger_and_an_observer_together_are_refused(make: Any, machine: VendingMachine) -> None:
    with pytest.raises(TypeError, match="not both"):
        make(machine, lambda: None, logger=logging.getLogger("x"), observer=Recorder())
