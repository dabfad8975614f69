"""The authorizer's users-store read with a bad region, endpoint or credential: nothing is sent anywhere, the
authorizer fails as for any unreadable store (API Gateway answers 500, caches nothing), and its log line says which
variable to fix without quoting any value.

`AWS_REGION='x@127.0.0.1:PORT/#'` sent the signed GetSecretValue to 127.0.0.1:PORT; the proof that nothing is sent
is a 127.0.0.1 listener no connection reaches.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.functional.test_authorizer import decision_lines, fails, load_authorizer, load_event

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm-users-AbCdEf"


@pytest.fixture
def authorizer() -> Iterator[ModuleType]:
    import sys

    module = load_authorizer()
    yield module
    sys.modules.pop("credentials_authorizer_app", None)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setblocking(False)
        yield sock


def reached(listener: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "SECRETS_MANAGER_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("USERS_SECRET_ARN", ARN)
    return monkeypatch


@pytest.mark.parametrize(
    ("variable", "template", "code"),
    [
        ("AWS_REGION", "x@127.0.0.1:{port}/#", "InvalidRegion"),
        ("SECRETS_MANAGER_ENDPOINT", "http://x@127.0.0.1:{port}/", "InvalidEndpoint"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:{port}/evil?x=1", "InvalidEndpoint"),
        ("AWS_SESSION_TOKEN", "SEEN-{port}\r\nX-Injected: 1", "InvalidCredentials"),
    ],
)
def test_a_bad_setting_sends_nothing_and_the_log_says_what_to_fix(
    authorizer: ModuleType,
    listener: socket.socket,
    environment: pytest.MonkeyPatch,
    caplog: Any,
    variable: str,
    template: str,
    code: str,
) -> None:
    port = listener.getsockname()[1]
    if variable == "AWS_SESSION_TOKEN":  # sent (were it sent) to the listener
        environment.setenv("SECRETS_MANAGER_ENDPOINT", f"http://127.0.0.1:{port}")
    environment.setenv(variable, template.format(port=port))
    caplog.set_level(logging.INFO)
    fails(authorizer, load_event("valid_alice"))
    assert reached(listener) == 0, "a connection was made"
    [line] = decision_lines(caplog)
    assert (line["decision"], line["reason"], line["error"]) == ("error", "users_store_unavailable", code)
    assert line["fix"].startswith(variable), line["fix"]
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert str(port) not in logged and "SEEN" not in logged
