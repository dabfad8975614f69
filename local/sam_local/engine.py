"""Docker for `sam local`, offline and idempotent: docker.io installed, a dockerd running, the Lambda image present.

Nothing is ever pulled: no registry but PyPI, npm and Debian's can be reached here, so the Lambda Python 3.13 x86_64
runtime image that `sam local` runs functions in is built on this machine (image.py) under the name SAM CLI asks
for, and every SAM command gets `--skip-pull-image`. A dockerd this code started is stopped by the same code
(`DockerDaemon.stop`); one that was already running is left alone. DOCKER_HOST (a unix:// socket) is honoured as
the docker CLI and SAM CLI honour it: then that engine is used, and none is ever started.

A Docker engine can go away under a running `make sam-api` (on a shared machine, whoever started it may stop it):
`wait_until_docker_gone` polls it once a second so the caller can say so in one line and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import logging
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Final, Literal

from .errors import SamLocalError

__all__ = [
    "DOCKER_SOCKET",
    "DockerDaemon",
    "bridge_gateway",
    "docker_api",
    "docker_host",
    "docker_socket",
    "ensure_docker_installed",
    "is_root",
    "ping",
    "wait_until_docker_gone",
]

log = logging.getLogger("sam_local")

DOCKER_SOCKET: Final = Path("/var/run/docker.sock")
DOCKERD_LOG: Final = Path("/var/log/momento-tvm-dockerd.log")
_DOCKERD_START_SECONDS: Final = 60.0
_DOCKERD_STOP_SECONDS: Final = 30.0
# Gone: no socket, or refused, on two polls in a row (about 2 s); an engine that only stalls (a ping that times out,
# e.g. under a heavy `docker load`) is declared gone after 20 s of silence, not at the first slow answer.
_WATCH_INTERVAL_SECONDS: Final = 1.0
_WATCH_REFUSED_POLLS: Final = 2
_WATCH_SILENT_SECONDS: Final = 20.0


def is_root() -> bool:
    return os.geteuid() == 0


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over docker's unix socket (standard library only: the dev venv has no docker SDK)."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def docker_socket() -> Path:
    """The engine's socket: DOCKER_HOST's when set (unix:///path, as the docker CLI and SAM CLI read it), else the
    default /var/run/docker.sock."""
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host:
        return DOCKER_SOCKET
    if host.startswith("unix://") and len(host) > len("unix://"):
        return Path(host.removeprefix("unix://"))
    raise SamLocalError(
        f"DOCKER_HOST={host!r} is not supported here: give a local engine's socket (unix:///path/docker.sock), "
        "or unset it to use the default one"
    )


def docker_host() -> str:
    """The engine as a person names it (DOCKER_HOST's form), for messages."""
    return f"unix://{docker_socket()}"


def docker_api(
    method: str, path: str, *, body: Any = None, timeout: float = 10.0, socket_path: Path | None = None
) -> Any:
    """One call to the Docker engine API (`body`: sent as JSON); the decoded JSON (or text), SamLocalError for a
    status >= 400."""
    connection = _UnixConnection(socket_path or docker_socket(), timeout)
    try:
        if body is None:
            connection.request(method, path)
        else:
            connection.request(method, path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status >= 400:
        raise SamLocalError(f"docker {method} {path} answered {response.status}: {body[:200].decode(errors='replace')}")
    if response.getheader("Content-Type", "").startswith("application/json"):
        return json.loads(body)
    return body.decode(errors="replace")


def ping(socket_path: Path | None = None, timeout: float = 2.0) -> Literal["ok", "gone", "silent"]:
    """`GET /_ping` now: "ok"; "gone" (no socket, or nothing listens on it); "silent" (no answer in time, or a bad
    one: a daemon that is stalled or shutting down)."""
    try:
        answer = docker_api("GET", "/_ping", timeout=timeout, socket_path=socket_path)
    except (FileNotFoundError, ConnectionRefusedError):
        return "gone"
    except (OSError, SamLocalError, http.client.HTTPException):  # TimeoutError is an OSError: keep it after the two
        return "silent"
    return "ok" if str(answer).strip() == "OK" else "silent"


def daemon_answers(socket_path: Path | None = None) -> bool:
    """True when a dockerd answers `GET /_ping` on the socket now."""
    return ping(socket_path) == "ok"


async def wait_until_docker_gone(interval: float = _WATCH_INTERVAL_SECONDS) -> str:
    """Return a sentence (what happened, what to do) once the engine stops answering: its socket is gone or refuses
    on two polls in a row, or it has been silent for 20 s. Until then, poll it every `interval` seconds."""
    socket_path = docker_socket()
    refused = 0
    last_answer = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        state = await asyncio.to_thread(ping, socket_path)
        if state == "ok":
            refused, last_answer = 0, time.monotonic()
            continue
        refused = refused + 1 if state == "gone" else 0
        if refused >= _WATCH_REFUSED_POLLS or time.monotonic() - last_answer >= _WATCH_SILENT_SECONDS:
            what = "nothing answers at" if state == "gone" else "for 20 s, no answer from"
            restart = (
                "start that engine again"
                if os.environ.get("DOCKER_HOST", "").strip()
                else "start Docker again (`sudo dockerd &`; or `sudo make sam-api` starts one)"
            )
            return (
                f"Docker is gone ({what} unix://{socket_path}: was dockerd stopped?), so SAM CLI cannot run the "
                f"functions (each request would be a 502): {restart}, then run make sam-api again"
            )


def ensure_docker_installed() -> None:
    """docker.io from Debian when `dockerd` is missing (root only; otherwise say what to run)."""
    if shutil.which("dockerd") and shutil.which("docker"):
        return
    if not is_root():
        raise SamLocalError(
            "Docker is missing: `sam local` runs functions in containers. Install it with "
            "`sudo apt-get install -y docker.io` (then `sudo make install-sam`), or run `make test` as root."
        )
    log.info("sam_local: installing docker.io (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", "docker.io"], env=env)
    if not shutil.which("dockerd"):
        raise SamLocalError("apt-get installed docker.io, but dockerd is still not on PATH")


class DockerDaemon:
    """A running dockerd: the one already there, or one started here (and then stopped by `stop()`)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self.started_here = False
        self.start_seconds = 0.0

    def ensure_running(self) -> DockerDaemon:
        if daemon_answers():
            log.info("sam_local: dockerd is already running at %s (it is left running)", docker_host())
            return self
        if os.environ.get("DOCKER_HOST", "").strip():  # an engine named on purpose: never start another in its place
            raise SamLocalError(
                f"no Docker engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}: start that engine, or unset "
                "DOCKER_HOST to use (or start) the default one"
            )
        ensure_docker_installed()
        if not is_root():
            raise SamLocalError(
                "no Docker engine is running and only root can start one: run `sudo dockerd &` "
                "(or `sudo make sam-api`), then try again"
            )
        started = time.perf_counter()
        DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
        with DOCKERD_LOG.open("ab") as output:
            # Its own session: a Ctrl-C in the terminal reaches us, and we stop dockerd last, after the containers.
            self._process = subprocess.Popen(
                ["dockerd"],  # noqa: S607 - dockerd from PATH (/usr/sbin)
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started_here = True
        deadline = time.monotonic() + _DOCKERD_START_SECONDS
        while not daemon_answers():
            if self._process.poll() is not None:
                self.started_here = False
                raise SamLocalError(f"dockerd exited with {self._process.returncode} at start: see {DOCKERD_LOG}")
            if time.monotonic() > deadline:
                self.stop()
                raise SamLocalError(f"dockerd did not answer within {_DOCKERD_START_SECONDS:.0f} s: see {DOCKERD_LOG}")
            time.sleep(0.1)
        self.start_seconds = time.perf_counter() - started
        log.info(
            "sam_local: started dockerd (pid %d) in %.1f s; it is stopped again at the end",
            self._process.pid,
            self.start_seconds,
        )
        return self

    def stop(self) -> None:
        """Stop dockerd if it was started here (SIGTERM, SIGKILL after 30 s); a dockerd found running stays."""
        process, self._process = self._process, None
        if process is None or not self.started_here:
            return
        self.started_here = False
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_DOCKERD_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("sam_local: dockerd did not stop within %.0f s: killing it", _DOCKERD_STOP_SECONDS)
                process.kill()
                process.wait()
        log.info("sam_local: stopped the dockerd started here")

    def __enter__(self) -> DockerDaemon:
        return self.ensure_running()

    def __exit__(self, *_: object) -> None:
        self.stop()


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge (docker0, usually 172.17.0.1): what containers reach us at."""
    deadline = time.monotonic() + 10.0
    while True:  # a dockerd that has just started may answer before its bridge has an address
        network = docker_api("GET", "/networks/bridge")
        with contextlib.suppress(KeyError, IndexError, TypeError):
            gateway = str(network["IPAM"]["Config"][0]["Gateway"])
            if gateway:
                return gateway
        if time.monotonic() > deadline:
            raise SamLocalError("docker's default bridge network has no gateway address")
        time.sleep(0.2)


def _run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        raise SamLocalError(f"`{' '.join(argv[:3])} ...` failed ({result.returncode}): {tail}")
