"""SAM CLI's own `sam local start-api` and `sam local invoke`, in Docker, offline: what `make sam-api` runs.

One dockerd (started here if none runs, stopped at the end if so), one `sam build` and one `make sam-api` process
per mode for the whole session (`python -m sam_local api --ready-json --no-build`, free ports). Where Docker or the
image is missing and this is not root, the tests fail with what to run: they never skip silently.
Figures (image build, sam build, start-up, first and warm request latency, the SAM tests' own time) are printed in
the terminal summary.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from momento import CredentialProvider

from devstack.seed import ISSUANCE_TABLE_NAME, REGION
from sam_local import SamLocalError
from sam_local.engine import DockerDaemon, daemon_answers, docker_api, is_root
from sam_local.image import IMAGE, ensure_image, image_exists
from sam_local.stack import sam_executable

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 300.0
FIGURES: dict[str, str] = {}


def figure(name: str, value: str) -> None:
    FIGURES[name] = value


_OWN_SECONDS: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid.startswith("tests/sam/"):
        _OWN_SECONDS.append(report.duration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        figure("SAM tests' own time (setup, call and teardown of tests/sam)", f"{sum(_OWN_SECONDS):.1f} s")
        terminalreporter.section("sam local figures")
        for name, value in FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")


# ---------------------------------------------------------------------- Docker, the image, the build
@pytest.fixture(scope="session")
def docker() -> Iterator[DockerDaemon]:
    try:
        sam_executable(ROOT)
    except SamLocalError as error:
        pytest.fail(f"{error} (make test does it)")
    if not is_root() and not (daemon_answers() and image_exists()):
        pytest.fail(
            "tests/sam need a running Docker engine and the Lambda image "
            f"{IMAGE}: run `sudo make install-sam` and start dockerd (`sudo dockerd &`), or run make test as root"
        )
    daemon = DockerDaemon()
    try:
        daemon.ensure_running()
        built = ensure_image()
    except SamLocalError as error:
        daemon.stop()
        pytest.fail(str(error))
    figure("image build", f"{built:.0f} s (built in this run)" if built is not None else "present already")
    figure("dockerd", f"started here in {daemon.start_seconds:.1f} s" if daemon.started_here else "already running")
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def sam_build(docker: DockerDaemon) -> float:
    """`python -m sam_local build` once per session; every `make sam-api` process below reuses it (--no-build)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sam_local", "build"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seconds = time.perf_counter() - started
    figure("sam build (x86_64, --cached)", f"{seconds:.1f} s")
    return seconds


# ---------------------------------------------------------------------- make sam-api, as a process
class SamApiProcess:
    """`python -m sam_local api --auth AUTH --ready-json --no-build` on free ports; its ready JSON as `info`."""

    def __init__(self, auth: str, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.auth = auth
        self.log_path = log_path
        env = {
            **(os.environ if env is None else env),
            "API_PORT": "0",
            "MOMENTO_GRPC_PORT": "0",
            "MOMENTO_WEB_PORT": "0",
            "MOTO_PORT": "0",
        }
        self._log: IO[str] = log_path.open("w")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sam_local", "api", "--auth", auth, "--ready-json", "--no-build"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.info = self._ready_line()
        self.startup_seconds = time.perf_counter() - started

    def _ready_line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], READY_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"make sam-api ({self.auth}) did not get ready: {self.log()[-3000:]}")
        info: dict[str, Any] = json.loads(line)
        assert info["event"] == "ready"
        return info

    @property
    def url(self) -> str:
        return str(self.info["api_url"])

    @property
    def grpc_port(self) -> int:
        return int(self.info["momento_grpc_port"])

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_offset(self) -> int:
        self._log.flush()
        return self.log_path.stat().st_size

    def log_since(self, offset: int, settle_seconds: float = 0.5) -> str:
        """What the stack logged since `offset` (SAM streams container output a moment after the response)."""
        time.sleep(settle_seconds)
        return self.log()[offset:]

    def token_provider(self, auth_token: str) -> CredentialProvider:
        """A vended token pointed at the emulator on 127.0.0.1 (the token names the bridge address, for containers)."""
        provider = CredentialProvider.from_disposable_token(auth_token)
        return dataclasses.replace(
            provider,
            control_endpoint="127.0.0.1",
            cache_endpoint="127.0.0.1",
            token_endpoint="127.0.0.1",
            port=self.grpc_port,
        )

    def own_containers(self) -> set[str]:
        """The ids of the containers of this run: those on its own Docker network (sam_local/network.py)."""
        return containers_on(str(self.info["docker_network"]))

    def stop(self, timeout: float = 60) -> int:
        """Ctrl-C, as a person stops it: exit 0, and no container of its own is left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        return self.process.returncode


def containers_on(network: str) -> set[str]:
    """The containers (running or not) attached to a Docker network."""
    from urllib.parse import quote

    query = quote(json.dumps({"network": [network]}))
    return {str(container["Id"]) for container in docker_api("GET", f"/containers/json?all=1&filters={query}")}


def network_exists(network: str) -> bool:
    try:
        docker_api("GET", f"/networks/{network}")
    except SamLocalError:
        return False
    return True


def _sam_api(auth: str, sam_build: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamApiProcess]:
    api = SamApiProcess(auth, tmp_path_factory.mktemp(f"sam-{auth}") / "sam-api.log")
    try:  # stopped even when the first request below fails: no stack outlives the session
        figure(f"make sam-api start-up ({auth}, no build)", f"{api.startup_seconds:.1f} s")
        # The very first request of this sam process: its containers start now (LAZY warm containers).
        if auth == "Open":
            first = request(f"{api.url}/token?topics=room-1")
        else:
            first = request(f"{api.url}/token", authorization=basic("bob", "bob-password"))
        assert first.status == 200, first.body
        figure(f"first request through sam local ({auth}: containers start)", f"{first.seconds:.2f} s")
        yield api
    finally:
        returncode = api.stop()
    assert returncode == 0, api.log()[-3000:]
    # Its own containers only (other users' may come and go on a shared machine), and its network, are gone.
    network = api.info["docker_network"]
    assert not network_exists(network), f"make sam-api ({auth}) left its docker network {network} behind"
    assert not containers_on(network), f"make sam-api ({auth}) left containers behind"
    for variable, port in api.info["ports"].items():  # sam, the emulator, moto and the relays are gone
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port["port"])) != 0, f"{variable} {port['port']} still answers"


@pytest.fixture(autouse=True)
def full_buckets(request: pytest.FixtureRequest) -> None:
    """Every test starts with every caller's issuance bucket full: the session's stacks keep one issuance table each
    (in their moto), and the tests' requests would otherwise count against each other's limits, in whatever order
    they run (as tests/functional's moto is emptied before each test)."""
    for name in ("lambda_api", "open_api"):
        if name in request.fixturenames:
            empty_issuance_table(str(request.getfixturevalue(name).info["moto_url"]))


def issuance_table(moto_url: str) -> Any:
    """A boto3 DynamoDB client on a stack's moto (the functions reach the same one over the Docker bridge)."""
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=moto_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",  # moto accepts any credentials
    )


def empty_issuance_table(moto_url: str) -> None:
    """Every item of the stack's issuance table deleted (the test harness only; the functions never delete)."""
    client = issuance_table(moto_url)
    for page in client.get_paginator("scan").paginate(TableName=ISSUANCE_TABLE_NAME):
        for item in page["Items"]:
            client.delete_item(TableName=ISSUANCE_TABLE_NAME, Key={"pk": item["pk"], "sk": item["sk"]})


@pytest.fixture(scope="session")
def lambda_api(sam_build: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamApiProcess]:
    yield from _sam_api("LambdaAuthorizer", sam_build, tmp_path_factory)


@pytest.fixture(scope="session")
def open_api(sam_build: float, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamApiProcess]:
    yield from _sam_api("Open", sam_build, tmp_path_factory)


# ---------------------------------------------------------------------- HTTP
@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    seconds: float


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def request(url: str, *, method: str = "GET", authorization: str | None = None, body: bytes | None = None) -> Answer:
    headers = {"Accept": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    if body is not None:
        headers["Content-Type"] = "application/json"
    started = time.perf_counter()
    try:
        prepared = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - 127.0.0.1
        with urllib.request.urlopen(prepared, timeout=60) as response:  # noqa: S310 - http://127.0.0.1 only
            status, raw, response_headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, response_headers = error.code, error.read(), dict(error.headers)
    seconds = time.perf_counter() - started
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Answer(status, {k.lower(): v for k, v in response_headers.items()}, parsed, seconds)
