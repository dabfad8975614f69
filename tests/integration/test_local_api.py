"""local_api over real HTTP, with the real handlers in worker processes: moto's Secrets Manager and the Momento
emulator behind them, every route template.yaml declares requested, and no worker left running after `stop`.

The APIs run on their own event loop in a thread (as `make dev` runs them beside other servers); the tests talk to
them with a plain HTTP client, as a browser or curl would.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import http.client
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from momento import CacheClient, Configurations
from momento.responses import CacheGet, CacheSet

from local_api import FunctionSpec, LocalApi, PortInUseError, WorkerStartError
from local_api.workers import InvocationError, Worker, function_environment
from momento_emulator import DEFAULT_API_KEY
from momento_emulator.testing import EmulatorThread
from tests.aws_moto import Moto
from tests.conftest import RunningEmulator
from tvm_users.demo import hashed_store_from_demo_file

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
CACHE = "test-cache"
SITE_ORIGIN = "http://127.0.0.1:8000"
AUTHORIZER_FUNCTION = "CredentialsAuthorizerFunction"


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


ALICE = basic("alice", "alice-password")


# ------------------------------------------------------------------------------------------------------- helpers
@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    api: LocalApi, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a reaped or zombie one is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class ApiThread:
    """A LocalApi on its own event loop in a background thread."""

    def __init__(self, api: LocalApi) -> None:
        self.api = api
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="local-api", daemon=True)

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def __enter__(self) -> LocalApi:
        self.thread.start()
        try:
            self.run(self.api.start())
        except BaseException:
            self.close()
            raise
        return self.api

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.run(self.api.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()


@dataclass
class Aws:
    endpoint: str
    momento_key_arn: str
    users_arn: str


@pytest.fixture(scope="module")
def aws(moto_server: Moto) -> Iterator[Aws]:
    """moto's Secrets Manager (the suite's moto server) with the Momento root key and the demo users (hashed, as in
    production).

    The names are unique, and the secrets are deleted afterwards, so no other test module sees them; the server is
    not emptied, so what other modules keep there stays.
    """
    endpoint = moto_server.url
    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    prefix = f"local-api-test-{uuid.uuid4().hex[:8]}"
    key = client.create_secret(Name=f"{prefix}/momento-api-key", SecretString=DEFAULT_API_KEY)["ARN"]
    users_text = hashed_store_from_demo_file(ROOT / "local" / "demo_users.json")
    users = client.create_secret(Name=f"{prefix}/users", SecretString=users_text)["ARN"]
    yield Aws(endpoint, key, users)
    for arn in (key, users):
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def local_api(mode: str, aws: Aws, emulator: EmulatorThread, log_level: str = "WARNING", **kwargs: Any) -> LocalApi:
    return LocalApi(
        template=TEMPLATE,
        auth_method=mode,
        parameters={
            "MomentoApiKeySecretArn": aws.momento_key_arn,
            "MomentoEndpoint": f"127.0.0.1:{emulator.grpc_port}",
            "CacheName": CACHE,
            "AllowedOrigins": f"{SITE_ORIGIN},http://localhost:8000",
            "LogLevel": log_level,
        },
        resources={"UsersSecret": aws.users_arn},
        env={
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        },
        root=ROOT,
        **kwargs,
    )


def served(api: LocalApi) -> Iterator[LocalApi]:
    with ApiThread(api) as running:
        pids = running.pids
        assert pids and all(alive(pid) for pid in pids)
        yield running
    assert not [pid for pid in api.pids if alive(pid)], "a worker outlived stop()"


@pytest.fixture(scope="module")
def lambda_api(aws: Aws, emulator_thread: EmulatorThread) -> Iterator[LocalApi]:
    yield from served(local_api("LambdaAuthorizer", aws, emulator_thread))


@pytest.fixture(scope="module")
def open_api(aws: Aws, emulator_thread: EmulatorThread) -> Iterator[LocalApi]:
    yield from served(local_api("Open", aws, emulator_thread))


# ----------------------------------------------------------------------------------- LambdaAuthorizer mode, real
def test_every_route_the_template_declares_is_served_behind_its_authorizer(lambda_api: LocalApi) -> None:
    """A change to template.yaml needs no change elsewhere: whatever routes it declares are served, guarded."""
    assert lambda_api.routes
    for route in lambda_api.routes:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        body = b"{}" if route.method in ("POST", "PUT", "PATCH") else None
        json_type = {"Content-Type": "application/json"}
        assert route.authorizer_name is not None, route
        anonymous = call(lambda_api, route.method, path, json_type, body)
        assert (anonymous.status, anonymous.json()) == (401, {"message": "Unauthorized"}), route
        authorized = call(lambda_api, route.method, path, {**ALICE, **json_type}, body)
        assert authorized.status == 200, (route, authorized.body)


def test_alice_gets_a_working_token(lambda_api: LocalApi, emulator: RunningEmulator) -> None:
    response = call(lambda_api, "GET", "/token", ALICE)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["tokenId"] == "alice"
    assert body["expiresAt"] > time.time()
    config = Configurations.Laptop.v1()
    with CacheClient(config, emulator.token_provider(body["authToken"]), timedelta(seconds=60)) as client:
        assert isinstance(client.set(CACHE, "local-api-probe", "v"), CacheSet.Success)
        assert isinstance(client.get(CACHE, "local-api-probe"), CacheGet.Hit)


def test_explain_names_the_same_identity(lambda_api: LocalApi) -> None:
    response = call(lambda_api, "GET", "/token/explain?topics=chat-1", ALICE)
    assert response.status == 200
    assert response.json()["tokenId"] == "alice"


def test_wrong_password_is_forbidden(lambda_api: LocalApi) -> None:
    response = call(lambda_api, "GET", "/token", basic("alice", "not-her-password"))
    assert (response.status, response.json()) == (403, {"message": "Forbidden"})


def test_no_credentials_is_unauthorized_without_invoking_the_authorizer(lambda_api: LocalApi) -> None:
    before = lambda_api.invocations(AUTHORIZER_FUNCTION)
    response = call(lambda_api, "GET", "/token")
    assert (response.status, response.json()) == (401, {"message": "Unauthorized"})
    assert lambda_api.invocations(AUTHORIZER_FUNCTION) == before


@pytest.mark.parametrize(("method", "path"), [("GET", "/nope"), ("DELETE", "/token"), ("GET", "/token/explain/x")])
def test_unknown_route_is_not_found(lambda_api: LocalApi, method: str, path: str) -> None:
    response = call(lambda_api, method, path, ALICE)
    assert (response.status, response.json()) == (404, {"message": "Not Found"})


def test_malformed_parameters_get_the_functions_typed_400(lambda_api: LocalApi) -> None:
    response = call(lambda_api, "GET", "/token?ttlSeconds=abc", ALICE)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_request"
    posted = call(lambda_api, "POST", "/token", {**ALICE, "Content-Type": "application/json"}, b"{not json")
    assert (posted.status, posted.json()["error"]["code"]) == (400, "invalid_request")


def test_cors_preflight_is_answered_from_the_template(lambda_api: LocalApi) -> None:
    before = lambda_api.invocations(AUTHORIZER_FUNCTION)
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    allowed = call(lambda_api, "OPTIONS", "/token", {"Origin": SITE_ORIGIN, **preflight})
    assert allowed.status == 204
    assert allowed.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert allowed.headers["access-control-allow-methods"] == "GET,POST,OPTIONS"
    assert allowed.headers["access-control-allow-headers"] == "authorization,content-type"
    assert allowed.headers["access-control-max-age"] == "600"
    other = call(lambda_api, "OPTIONS", "/token", {"Origin": "http://evil.test", **preflight})
    assert "access-control-allow-origin" not in other.headers
    assert lambda_api.invocations(AUTHORIZER_FUNCTION) == before
    actual = call(lambda_api, "GET", "/token", {**ALICE, "Origin": SITE_ORIGIN})
    assert actual.headers["access-control-allow-origin"] == SITE_ORIGIN
    assert actual.headers["access-control-expose-headers"] == "retry-after"
    assert actual.headers["vary"] == "Origin"
    refused = call(lambda_api, "GET", "/token", {"Origin": SITE_ORIGIN})
    assert (refused.status, refused.headers["access-control-allow-origin"]) == (401, SITE_ORIGIN)


def test_authorizer_result_is_cached_per_credentials_across_routes(lambda_api: LocalApi) -> None:
    bob = basic("bob", "bob-password")
    before = lambda_api.invocations(AUTHORIZER_FUNCTION)
    for path in ("/token", "/token", "/token/explain"):
        assert call(lambda_api, "GET", path, bob).status == 200
    assert lambda_api.invocations(AUTHORIZER_FUNCTION) == before + 1
    assert call(lambda_api, "GET", "/token", basic("viewer", "viewer-password")).status == 200
    assert lambda_api.invocations(AUTHORIZER_FUNCTION) == before + 2


def test_a_taken_port_is_named_and_nothing_is_left_running(
    lambda_api: LocalApi, aws: Aws, emulator_thread: EmulatorThread
) -> None:
    second = local_api("LambdaAuthorizer", aws, emulator_thread, port=lambda_api.port)
    with pytest.raises(PortInUseError) as raised, ApiThread(second):
        pass
    assert raised.value.port == lambda_api.port
    assert str(lambda_api.port) in str(raised.value)
    assert second.pids and not [pid for pid in second.pids if alive(pid)]


# ----------------------------------------------------------------------------------------------------- Open mode
def test_open_mode_serves_guests_without_an_authorizer(open_api: LocalApi) -> None:
    assert {route.authorizer_name for route in open_api.routes} == {None}
    assert AUTHORIZER_FUNCTION not in open_api.functions
    response = call(open_api, "GET", "/token?topics=chat-1&name=Ann")
    assert response.status == 200, response.body
    assert response.json()["tokenId"] == "guest:Ann"
    for route in open_api.routes:  # every route reaches the function (the gateway's own answers are {"message"})
        body = b"{}" if route.method == "POST" else None
        answer = call(open_api, route.method, route.path, {"Content-Type": "application/json"}, body)
        assert answer.status < 500 and set(answer.json()) != {"message"}, (route, answer.body)


def test_stop_leaves_no_worker_alive(aws: Aws, emulator_thread: EmulatorThread) -> None:
    api = local_api("LambdaAuthorizer", aws, emulator_thread)
    with ApiThread(api):
        assert call(api, "GET", "/token", ALICE).status == 200
        pids = api.pids
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    assert not [pid for pid in pids if alive(pid)]


# ------------------------------------------------------------------------------------- workers, synthetic code
FUNCTION_CODE = """
import json, os, sys, time
print("printed at import, on stdout")

def handler(event, context):
    print("printed by the handler", json.dumps({"looks": "like protocol"}))
    sys.stdout.write('{"id": 999, "result": "forged"}\\n')
    action = event.get("action")
    if action == "raise":
        raise ValueError("bad input")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(30)
    if action == "unserializable":
        return {"value": object()}
    return {
        "pid": os.getpid(),
        "name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "request": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "only_here": os.environ.get("ONLY_HERE"),
        "cwd": os.getcwd(),
    }

def authorize(event, context):
    allowed = event["headers"].get("x-key") == "open-sesame"
    return {"isAuthorized": allowed, "context": {"who": "tester", "source": event["identitySource"]}}

def echo(event, context):
    print("echo logs to stdout too")
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    (folder / "app.py").write_text(FUNCTION_CODE)
    return folder


def worker_for(code: Path, handler: str = "app.handler", timeout: int = 2) -> Worker:
    spec = FunctionSpec(
        logical_id="Synthetic",
        name="Synthetic",
        arn="arn:aws:lambda:us-east-1:123456789012:function:Synthetic",
        code_uri=code,
        handler=handler,
        runtime="python3.11",
        memory_mb=192,
        timeout_seconds=timeout,
        environment={"ONLY_HERE": "yes"},
    )
    return Worker(spec, function_environment(spec, region="us-east-1"), grace_seconds=1.0)


async def test_a_worker_is_a_warm_lambda_whose_prints_cannot_corrupt_the_protocol(code: Path) -> None:
    worker = worker_for(code)
    await worker.start()
    try:
        first = await worker.invoke({}, "request-1")
        second = await worker.invoke({}, "request-2")
        assert first["pid"] == second["pid"] == worker.pid
        assert first["name"] == "Synthetic"
        assert first["memory"] == "192"
        assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:Synthetic"
        assert second["request"] == "request-2"
        assert 0 < first["remaining"] <= 2000
        assert first["only_here"] == "yes"
        assert Path(first["cwd"]) == code
        assert worker.invocations == 2
    finally:
        await worker.stop()


async def test_a_workers_layers_follow_its_code_on_the_path(code: Path, tmp_path: Path) -> None:
    """As Lambda orders /var/task before /opt/python: a module in a layer imports, and the function's own folder
    wins over a layer for the same name."""
    first, second = tmp_path / "layer-1", tmp_path / "layer-2"
    for folder, where in ((first, "layer-1"), (second, "layer-2")):
        folder.mkdir()
        (folder / "shared_lib.py").write_text(f"WHERE = {where!r}\n")
        (folder / "layered.py").write_text("def handler(event, context):\n    return 'the layer shadowed the code'\n")
    (code / "layered.py").write_text("import shared_lib\n\ndef handler(event, context):\n    return shared_lib.WHERE\n")
    spec = dataclasses.replace(worker_for(code).spec, handler="layered.handler", layers=(first, second))
    worker = Worker(spec, function_environment(spec, region="us-east-1"), grace_seconds=1.0)
    await worker.start()
    try:
        assert await worker.invoke({}, "request-1") == "layer-1"
    finally:
        await worker.stop()
    without = dataclasses.replace(spec, layers=())
    alone = Worker(without, function_environment(without, region="us-east-1"), grace_seconds=1.0)
    with pytest.raises(WorkerStartError, match="shared_lib"):
        await alone.start()


async def test_a_handler_exception_fails_the_invocation_but_keeps_the_worker(code: Path) -> None:
    worker = worker_for(code)
    await worker.start()
    try:
        pid = worker.pid
        with pytest.raises(InvocationError, match="ValueError: bad input"):
            await worker.invoke({"action": "raise"}, "r")
        with pytest.raises(InvocationError, match=r"Runtime\.MarshalError"):
            await worker.invoke({"action": "unserializable"}, "r")
        assert (await worker.invoke({}, "r"))["pid"] == pid
    finally:
        await worker.stop()


async def test_a_crashed_worker_is_replaced_on_the_next_request(code: Path) -> None:
    worker = worker_for(code)
    await worker.start()
    try:
        crashed = worker.pid
        assert crashed is not None
        with pytest.raises(InvocationError, match="exited with code 3"):
            await worker.invoke({"action": "exit"}, "r")
        assert not alive(crashed)
        assert (await worker.invoke({}, "r"))["pid"] != crashed
    finally:
        await worker.stop()
    assert not [pid for pid in worker.pids if alive(pid)]


async def test_an_invocation_over_the_timeout_kills_the_worker(code: Path) -> None:
    worker = worker_for(code, timeout=1)
    await worker.start()
    try:
        slow = worker.pid
        assert slow is not None
        started = time.monotonic()
        with pytest.raises(InvocationError, match="timed out after 1 s"):
            await worker.invoke({"action": "sleep"}, "r")
        assert time.monotonic() - started < 5
        assert not alive(slow)
        assert (await worker.invoke({}, "r"))["pid"] != slow
    finally:
        await worker.stop()


async def test_a_handler_that_cannot_be_imported_fails_the_start(code: Path) -> None:
    worker = worker_for(code, handler="missing.handler")
    with pytest.raises(
        WorkerStartError,
        match=r"could not load missing\.handler.*Unable to import module 'missing': ModuleNotFoundError",
    ):
        await worker.start()
    missing = worker_for(code, handler="app.nothing")
    with pytest.raises(WorkerStartError, match=r"Runtime.HandlerNotFound: Handler 'nothing' missing on module 'app'"):
        await missing.start()
    assert not [pid for pid in [*worker.pids, *missing.pids] if alive(pid)]


PLAIN_TEMPLATE = """
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
            Identity: {Headers: [X-Key], ReauthorizeEvery: 0}
  Authorizer:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: code/, Handler: app.authorize, Runtime: python3.11}
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.echo
      Runtime: python3.11
      Events:
        Item:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: POST, Path: "/items/{id}"}
"""


async def test_events_reach_the_handlers_as_api_gateway_sends_them(code: Path) -> None:
    template = code.parent / "template.yaml"
    template.write_text(PLAIN_TEMPLATE)
    async with LocalApi(template=template, auth_method=None) as api:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=30)
        connection.putrequest("POST", "/items/a%20b?x=1&x=2&y=")
        for name, value in [
            ("X-Key", "open-sesame"),
            ("X-Multi", "one"),
            ("X-Multi", "two"),
            ("Cookie", "a=1; b=2"),
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", "3"),
        ]:
            connection.putheader(name, value)
        connection.endheaders(b"\x00\x01\x02")
        response = await asyncio.to_thread(connection.getresponse)
        assert response.status == 200
        event = json.loads(response.read())
        connection.close()
        denied = await asyncio.to_thread(call, api, "POST", "/items/1", {"X-Key": "wrong"})
        assert (denied.status, denied.json()) == (403, {"message": "Forbidden"})
        assert api.invocations("Authorizer") == 2  # ReauthorizeEvery: 0 caches nothing
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /items/{id}"
    assert event["rawPath"] == "/items/a%20b"
    assert event["pathParameters"] == {"id": "a b"}
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["headers"]["x-multi"] == "one,two"
    assert event["headers"]["x-key"] == "open-sesame"
    assert all(name == name.lower() for name in event["headers"])
    assert event["cookies"] == ["a=1", "b=2"]
    assert (event["body"], event["isBase64Encoded"]) == (base64.b64encode(b"\x00\x01\x02").decode(), True)
    assert event["requestContext"]["authorizer"] == {"lambda": {"who": "tester", "source": ["open-sesame"]}}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["stage"] == "$default"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_the_cli_prints_one_ready_line_and_stops_cleanly_on_sigterm(code: Path) -> None:
    template = code.parent / "template.yaml"
    template.write_text(PLAIN_TEMPLATE)
    command = [sys.executable, "-m", "local_api", "--template", str(template), "--port", "0", "--quiet"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            ready = json.loads(process.stdout.readline())
            assert ready["url"] == f"http://127.0.0.1:{ready['port']}"
            assert ready["routes"] == [
                {"method": "POST", "path": "/items/{id}", "function_id": "Echo", "authorizer_name": "KeyAuthorizer"}
            ]
            workers = children_of(process.pid)
            assert len(workers) == 2
            connection = http.client.HTTPConnection("127.0.0.1", ready["port"], timeout=30)
            connection.request("POST", "/items/1", headers={"X-Key": "open-sesame"})
            assert connection.getresponse().status == 200
            connection.close()
            process.send_signal(signal.SIGTERM)
            rest, errors = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, errors
    assert rest == ""  # the ready line is the only thing on stdout
    assert not [pid for pid in workers if alive(pid)]
