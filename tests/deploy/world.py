"""What the deploy test runs against: MiniStack on 127.0.0.1, the Momento emulator, and a shell for docs/deploy.md's
commands with exactly the deviations this machine needs, each recorded in a report printed at the end of the run.

MiniStack (`.venv/ministack`, requirements/ministack.txt) is started with GATEWAY_PORT on a free port (it takes no 0:
a port is chosen, and on a bind race, another), BIND_HOST=127.0.0.1 (its default is every interface),
MINISTACK_HOST=127.0.0.1 (the host of the URLs it hands out; its default, localhost, may resolve to ::1, where another
program can hold the same port number), no extra listeners (IOT_MTLS_ENABLED=0, SFTP_ENABLED=0), AUTH=true (its IAM
enforcement: the functions run with their roles' policies), a temporary directory of its own (TMPDIR: its pid file,
the functions' unpacked code) and a minimal environment, which its functions inherit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parents[2]  # the tests, the venvs and the build caches are always this clone's
REGION: Final = "us-west-2"  # docs/deploy.md's region, kept: MiniStack takes the region from each request's signature
ACCESS_KEY: Final = "test"  # MiniStack's root (every permission), as an administrator deploys
MINISTACK_PYTHON: Final = REPO / ".venv" / "ministack" / "bin" / "python"
SAM: Final = REPO / ".venv" / "sam" / "bin" / "sam"
AWS_CLI: Final = REPO / ".venv" / "ministack" / "bin" / "aws"
START_ATTEMPTS: Final = 5
START_TIMEOUT: Final = 60.0
# What a user's shell would not have: make's own variables (this runs under `make test`) and the settings the Makefile
# and the stacks read.
NOT_INHERITED: Final = frozenset(
    {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHONHOME", "PYTHONPATH", "STACK", "REGION", "AUTH"}
)


def product_root() -> Path:
    """The project whose template, code and docs are deployed: this clone, or (tests/deploy/broken.py) a broken copy
    of it named by DEPLOY_TEST_ROOT."""
    return Path(os.environ.get("DEPLOY_TEST_ROOT") or REPO).resolve()


# ---------------------------------------------------------------------------------------------------- the report
@dataclass
class Report:
    """What the run printed at its end: MiniStack's settings, each bridge's probe, each deviation, the figures."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, section: str, line: str) -> None:
        with self.lock:
            entries = self.lines.setdefault(section, [])
            if line not in entries:
                entries.append(line)


REPORT: Final = Report()


# ---------------------------------------------------------------------------------------------------------- ports
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------------------------------------------ MiniStack
@dataclass
class MiniStack:
    """A running MiniStack: its port, its process (a group of its own) and its log."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path
    auth: bool

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def execute_api(self, api_id: str) -> str:
        """The base URL of an HTTP API's $default stage, in MiniStack's path form."""
        return f"{self.url}/_aws/execute-api/{api_id}/$default"

    def aws_environment(self) -> dict[str, str]:
        """What SAM CLI, the AWS CLI, boto3 and the project's CLIs read: MiniStack's endpoint and root credentials,
        the docs' region, and no configuration files (a developer's real profile never applies)."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": ACCESS_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "SAM_CLI_TELEMETRY": "0",
        }

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session(region_name=REGION).client(
            service,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=ACCESS_KEY,
            config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=60),
        )

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def start_ministack(tmp: Path, *, auth: bool = True) -> MiniStack:
    """MiniStack on a free 127.0.0.1 port, ready (its health answers); another port on a bind race."""
    if not MINISTACK_PYTHON.is_file():
        raise RuntimeError(
            f"MiniStack is not installed at {MINISTACK_PYTHON.parent.parent}: run `make install-ministack`"
        )
    tmp.mkdir(parents=True, exist_ok=True)
    failures = []
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        log = tmp / f"ministack-{attempt}.log"
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp)),
            "LANG": "C.UTF-8",
            "TMPDIR": str(tmp),
            "GATEWAY_PORT": str(port),
            "BIND_HOST": "127.0.0.1",
            "MINISTACK_HOST": "127.0.0.1",  # the host of the URLs it makes (a package's, a ResponseURL): never ::1
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
            "AUTH": "true" if auth else "false",
            "LOG_LEVEL": "INFO",
        }
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(MINISTACK_PYTHON), "-m", "ministack"],
                cwd=tmp,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        ministack = MiniStack(port, process, log, auth)
        if _wait_ready(ministack):
            return ministack
        ministack.stop()
        tail = ministack.log_tail(5)
        failures.append(f"port {port}: {tail}")
        if "already in use" not in tail and "Address already in use" not in tail:
            break  # not a bind race: trying again would fail the same way
    raise RuntimeError("MiniStack did not start: " + " | ".join(failures))


def _wait_ready(ministack: MiniStack) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if ministack.process.poll() is not None:
            return False
        health = f"{ministack.url}/_ministack/health"  # http://127.0.0.1 only
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(health, timeout=2) as answer:  # noqa: S310
            # Ours, not another server that took the port: MiniStack lists its services.
            if answer.status == 200 and "services" in json.loads(answer.read()):
                return True
        time.sleep(0.1)
    return False


def ministack_version() -> str:
    found = subprocess.run(
        [str(MINISTACK_PYTHON), "-c", "import importlib.metadata as m; print(m.version('ministack'))"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return found.stdout.strip()


# ---------------------------------------------------------------------------------------------------------- shell
@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def tail(self, lines: int = 30) -> str:
        return "\n".join(_readable(self.output).splitlines()[-lines:])


def _readable(text: str) -> str:
    """SAM CLI's upload progress rewrites one line hundreds of times: keep the last state of each."""
    return "\n".join(line.split("\r")[-1] for line in text.replace("\t\tUploading", "\n\tUploading").splitlines())


class Shell:
    """bash -e -o pipefail from the project's root, as a user types docs/deploy.md's commands: the AWS settings point
    at MiniStack, `sam` and `aws` are the pinned ones (and python3.13 is on PATH for `sam build`), no controlling
    terminal (prompts read stdin, as curl's, getpass's and read's fall back to), and `curl` reaches an API's
    `https://<id>.execute-api.<region>.amazonaws.com` URL at MiniStack's path form."""

    def __init__(self, root: Path, ministack: MiniStack, bin_dir: Path, python313: Path) -> None:
        self.root = root
        self.ministack = ministack
        bin_dir.mkdir(parents=True, exist_ok=True)
        for name, target in (("sam", SAM), ("aws", AWS_CLI), ("python3.13", python313)):
            link = bin_dir / name
            if not link.exists():
                link.symlink_to(target)
        environment = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
        environment = {name: value for name, value in environment.items() if not name.startswith(("AWS_", "PYTEST"))}
        environment.update(ministack.aws_environment())
        environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
        # The project's own CLIs (tvm_users, site_tools) from the project under test, before the venv's copies.
        environment["PYTHONPATH"] = os.pathsep.join(
            str(root / folder) for folder in ("authorizers/credentials", "tools", "local")
        )
        self.environment = environment
        self.prelude = _CURL_AT_MINISTACK.replace("@MINISTACK@", ministack.url)

    def run(self, script: str, *, stdin: str = "", timeout: float = 300.0, env: Mapping[str, str] | None = None) -> Ran:
        started = time.perf_counter()
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", self.prelude + script],
            cwd=self.root,
            env={**self.environment, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,  # no controlling terminal: every prompt reads stdin
            check=False,
        )
        return Ran(script, result.returncode, result.stdout, result.stderr, time.perf_counter() - started)

    def run_argv(self, argv: Sequence[str], **kwargs: Any) -> Ran:
        return self.run(shell_line(argv), **kwargs)


# `curl` as docs/deploy.md uses it, with the one deviation MiniStack needs: an execute-api URL of AWS's form is sent to
# MiniStack's path form of the same API and stage (no DNS or TLS for amazonaws.com here). It prints the answer's status
# on a last line of its own, so a check sees both.
_CURL_AT_MINISTACK: Final = r"""
curl() {
  local arguments=() argument
  for argument in "$@"; do
    if [[ $argument =~ ^https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(/.*)?$ ]]; then
      argument="@MINISTACK@/_aws/execute-api/${BASH_REMATCH[1]}/\$default${BASH_REMATCH[2]}"
    fi
    arguments+=("$argument")
  done
  command curl --silent --show-error --write-out '\nstatus %{http_code}\n' "${arguments[@]}"
}
"""


def shell_line(argv: Sequence[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the JSON, or the text when it is not JSON
    headers: Mapping[str, str] = field(default_factory=dict)  # names in lower case (request() only; curl's: none)


def answers(output: str) -> list[Answer]:
    """Every answer the `curl` above printed, in order."""
    found = []
    for match in re.finditer(r"(?s)(.*?)\nstatus (\d{3})\n", output):
        text = match.group(1).strip().splitlines()[-1] if match.group(1).strip() else ""
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = text
        found.append(Answer(int(match.group(2)), body))
    return found


def request(url: str, headers: Mapping[str, str] | None = None) -> Answer:
    """One GET from the test itself (not a docs command), to MiniStack on 127.0.0.1."""
    assert url.startswith("http://127.0.0.1:"), url
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(headers or {})), timeout=30) as answer:  # noqa: S310
            status, text, received = answer.status, answer.read().decode(), answer.headers
    except urllib.error.HTTPError as error:
        status, text, received = error.code, error.read().decode(), error.headers
    lowered = {name.lower(): value for name, value in received.items()}
    try:
        return Answer(status, json.loads(text), lowered)
    except ValueError:
        return Answer(status, text, lowered)
