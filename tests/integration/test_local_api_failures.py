"""local_api when things go wrong, over real HTTP and raw sockets, with real worker processes.

- An authorizer that raises, crashes, times out or answers nonsense: `500 {"message":"Internal Server Error"}`,
  never cached (the next request invokes it again); only a real `isAuthorized: false` is a cached 403.
- The credentials authorizer with Secrets Manager down (moto stopped) or hung (moto under SIGSTOP): a fast 500, and
  the same credentials get in once it is back (the old authorizer denied, and the gateway cached the deny).
- Requests aiohttp cannot parse: a JSON 400 that quotes nothing, and the server keeps serving.
- The access log: nothing the caller chose (query values, path parameters, made-up methods).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from local_api import LocalApi
from momento_emulator import DEFAULT_API_KEY
from momento_emulator.testing import EmulatorThread
from tests.integration.test_local_api import ALICE, ApiThread, Aws, basic, call, local_api
from tvm_users.demo import hashed_store_from_demo_file

ROOT = Path(__file__).resolve().parents[2]
AUTHORIZER_FUNCTION = "CredentialsAuthorizerFunction"
INTERNAL_ERROR = {"message": "Internal Server Error"}

# ---------------------------------------------------------------------------------- a synthetic authorizer
CODE = """
import os, time

def authorize(event, context):
    key = event["headers"].get("x-key", "")
    if key == "raise":
        raise RuntimeError("the authorizer failed")
    if key == "sleep":
        time.sleep(30)
    if key == "exit":
        os._exit(1)
    if key == "unreadable":
        return {"allowed": "yes"}
    if key == "null":
        return None
    return {"isAuthorized": key == "allow", "context": {"who": "tester"}}

def echo(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"ok": true}'}
"""

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: KeyAuthorizer
        Authorizers:
          KeyAuthorizer:
            FunctionArn: !GetAtt Authorizer.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity: {Headers: [X-Key], ReauthorizeEvery: 300}
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: code/, Handler: app.authorize, Runtime: python3.11, Timeout: 1}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.echo
      Runtime: python3.11
      Events:
        Item:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: GET, Path: "/items/{id}"}
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    folder = tmp_path_factory.mktemp("synthetic")
    (folder / "code").mkdir()
    (folder / "code" / "app.py").write_text(CODE)
    (folder / "template.yaml").write_text(TEMPLATE)
    with ApiThread(LocalApi(template=folder / "template.yaml", auth_method=None)) as api:
        yield api


@pytest.mark.parametrize("failure", ["raise", "sleep", "exit", "unreadable", "null"])
def test_an_authorizer_failure_is_a_500_that_is_never_cached(synthetic: LocalApi, failure: str) -> None:
    before = synthetic.invocations("Authorizer")
    for _ in range(2):
        response = call(synthetic, "GET", "/items/1", {"X-Key": failure})
        assert (response.status, response.json()) == (500, INTERNAL_ERROR)
        assert response.headers["content-type"] == "application/json"
    assert synthetic.invocations("Authorizer") == before + 2  # invoked again: the failure was not cached
    assert call(synthetic, "GET", "/items/1", {"X-Key": "allow"}).status == 200  # and the API still serves


def test_only_a_real_deny_is_cached(synthetic: LocalApi) -> None:
    key = f"deny-{uuid.uuid4().hex}"
    before = synthetic.invocations("Authorizer")
    for _ in range(2):
        response = call(synthetic, "GET", "/items/1", {"X-Key": key})
        assert (response.status, response.json()) == (403, {"message": "Forbidden"})
    assert synthetic.invocations("Authorizer") == before + 1


# ------------------------------------------------------------------------------ unparsable requests
PASSWORD = "s3cret-in-a-bad-header"
TOKEN = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
SECRETS = [TOKEN, TOKEN[8:], PASSWORD, TOKEN[8:24]]
HEAD = b"GET /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Key: allow\r\n"
MALFORMED = {
    "nul-in-authorization": HEAD + b"Authorization: Basic " + TOKEN[:8].encode() + b"\x00" + TOKEN[8:].encode(),
    "no-colon": HEAD + b"Authorization Basic " + TOKEN.encode(),
    "over-long-authorization": HEAD + b"Authorization: Basic " + TOKEN.encode() + b"A" * 9000,
    "bare-cr": HEAD + b"Authorization: Basic " + TOKEN.encode() + b"\rX-Other: 1",
    "nul-in-name": HEAD + b"X-Auth\x00" + TOKEN.encode() + b": 1",
    "nul-in-request-line": b"GET /items/" + TOKEN.encode() + b"\x00 HTTP/1.1\r\nHost: 127.0.0.1",
    "bad-content-length": HEAD
    + b"Authorization: Basic "
    + TOKEN.encode()
    + b"\r\nContent-Length: "
    + PASSWORD.encode(),
}


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send bytes as they are and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("name", list(MALFORMED))
def test_an_unparsable_request_gets_a_json_400_that_quotes_nothing(
    synthetic: LocalApi, name: str, caplog: Any, capfd: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    raw = raw_exchange(synthetic.port, MALFORMED[name] + b"\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {line.partition(":")[0].lower(): line.partition(":")[2].strip() for line in header_lines}
    assert status_line.split()[1] == "400", raw
    assert headers["content-type"] == "application/json"
    assert body == b'{"message":"Bad Request"}'
    captured = capfd.readouterr()
    logs = caplog.text + captured.out + captured.err
    for secret in SECRETS:
        assert secret.encode() not in raw
        assert secret not in logs
    # The server keeps serving: a well-formed request on a new connection is answered.
    assert call(synthetic, "GET", "/items/1", {"X-Key": "allow"}).status == 200


def test_the_access_log_holds_no_caller_supplied_values(synthetic: LocalApi, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    ok = call(synthetic, "GET", "/items/hunter2?ttlSeconds=1&secret=hunter2", {"X-Key": "allow"})
    assert ok.status == 200
    assert call(synthetic, "GET", "/hunter2/nowhere?secret=hunter2").status == 404
    close = b" /items/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert raw_exchange(synthetic.port, b"PROPFIND" + close).startswith(b"HTTP/1.1 404")  # a method we do not log
    assert raw_exchange(synthetic.port, b"HUNTER2" + close).startswith(b"HTTP/1.0 400")  # one the parser refuses
    assert "hunter2" not in caplog.text.lower()
    lines = [record.getMessage() for record in caplog.records if record.name == "local_api.access"]
    assert len(lines) == 4
    assert lines[0].startswith("GET /items/{id} 200 ") and lines[0].endswith(" query_parameters=2")
    assert ok.headers["apigw-requestid"] in lines[0]
    assert lines[1].startswith("GET (no route) 404 ") and lines[1].endswith(" query_parameters=1")
    assert lines[2].startswith("OTHER (no route) 404 ")
    assert lines[3] == "- (unparsed) 400 - - query_parameters=0"


# ------------------------------------------------------------- the credentials authorizer, Secrets Manager failing
def create_secrets(endpoint: str) -> Aws:
    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    prefix = f"local-api-failures-{uuid.uuid4().hex[:8]}"
    key = client.create_secret(Name=f"{prefix}/momento-api-key", SecretString=DEFAULT_API_KEY)["ARN"]
    users = hashed_store_from_demo_file(ROOT / "local" / "demo_users.json")
    return Aws(endpoint, key, client.create_secret(Name=f"{prefix}/users", SecretString=users)["ARN"])


def test_secrets_manager_down_at_a_cold_start_is_a_500_and_alice_gets_in_once_it_is_back(
    emulator_thread: EmulatorThread,
) -> None:
    """The issue's reproduction: the old authorizer denied, the gateway cached the deny, and alice stayed out."""
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = create_secrets(f"http://{host}:{port}")
    moto.stop()  # moto's state lives in this process: a new server on the same port has the same secrets
    with ApiThread(local_api("LambdaAuthorizer", aws, emulator_thread)) as api:
        down = call(api, "GET", "/token", ALICE)
        assert (down.status, down.json()) == (500, INTERNAL_ERROR)
        back = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        back.start()
        try:
            response = call(api, "GET", "/token", ALICE)
            assert response.status == 200, response.body
            assert response.json()["tokenId"] == "alice"
            assert api.invocations(AUTHORIZER_FUNCTION) == 2  # the 500 was not cached
            assert call(api, "GET", "/token", basic("alice", "wrong")).status == 403  # a deny is still a deny
        finally:
            back.stop()


def test_the_authorizers_decisions_are_logged_as_the_lambda_runtime_would(
    emulator_thread: EmulatorThread, capsys: pytest.CaptureFixture[str]
) -> None:
    """The worker gives functions the runtime's root handler, so the authorizer's INFO lines are written (and can be
    checked for secrets), in the runtime's format; the password itself never is."""
    with (
        moto_process() as (_, endpoint),
        ApiThread(local_api("LambdaAuthorizer", create_secrets(endpoint), emulator_thread, log_level="INFO")) as api,
    ):
        wrong = call(api, "GET", "/token", basic("alice", "not-alices-password"))
        assert wrong.status == 403
        assert call(api, "GET", "/token", ALICE).status == 200
    logged = capsys.readouterr().err
    decisions = [line for line in logged.splitlines() if "authorizer decision" in line]
    assert len(decisions) == 2, logged
    deny, allow = (json.loads(line.split("\t", 3)[3]) for line in decisions)
    assert (deny["decision"], deny["reason"], allow["decision"]) == ("deny", "wrong_password", "allow")
    assert decisions[0].split("] ", 1)[1].startswith("[INFO]\t")
    assert "not-alices-password" not in logged and "alice-password" not in logged


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def moto_process() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """moto's server in its own process, so that it can be stopped with SIGSTOP."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert process.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_hung_secrets_manager_is_a_fast_500_and_then_a_200(emulator_thread: EmulatorThread) -> None:
    """moto under SIGSTOP accepts connections and never answers: the secret read's own deadline ends the wait,
    well inside the function's 10 s timeout (the old authorizer took about 9 s, then denied)."""
    with (
        moto_process() as (moto, endpoint),
        ApiThread(local_api("LambdaAuthorizer", create_secrets(endpoint), emulator_thread)) as api,
    ):
        os.kill(moto.pid, signal.SIGSTOP)
        started = time.monotonic()
        hung = call(api, "GET", "/token", ALICE)
        elapsed = time.monotonic() - started
        os.kill(moto.pid, signal.SIGCONT)
        assert (hung.status, hung.json()) == (500, INTERNAL_ERROR)
        assert elapsed < 5, f"the authorizer took {elapsed:.1f} s to fail"
        print(f"authorizer failure with Secrets Manager stopped: {elapsed:.2f} s")
        response = call(api, "GET", "/token", ALICE)
        assert response.status == 200, response.body
        assert response.json()["tokenId"] == "alice"
