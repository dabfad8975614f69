"""`make dev`'s entry point as a real process: ready report, Ctrl-C / SIGTERM leave no process and no port behind,
and the failures a newcomer meets first (a taken port, an unknown mode) are clear and fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Set
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PORT_VARIABLES = ("API_PORT", "SITE_PORT", "MOMENTO_GRPC_PORT", "MOMENTO_WEB_PORT", "MOTO_PORT")
READY_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0


# ---------------------------------------------------------------------- helpers
def free_ports(count: int) -> list[int]:
    """Distinct ports nothing listens on now (all bound at once, so no two are the same)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def proc_parents() -> dict[int, int]:
    """pid -> parent pid for every process, from /proc/<pid>/stat (the name may hold spaces and parentheses)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie is already gone; its parent just has not reaped it yet
            parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(pid: int) -> set[int]:
    parents = proc_parents()
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pids: set[int]) -> set[int]:
    running = set(proc_parents())
    return {pid for pid in pids if pid in running}


def marked(mark: str) -> set[int]:
    """Every live process whose environment carries `mark`: the devstack and all it started, even orphans that
    were reparented away (it reaches the function workers too: their environment is filtered, not emptied)."""
    needle = f"DEVSTACK_TEST_MARK={mark}".encode()
    found = set()
    for pid in proc_parents():
        try:
            environ = (Path("/proc") / str(pid) / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.add(pid)
    return found


@dataclass
class DevProcess:
    process: subprocess.Popen[bytes]
    stderr: IO[bytes]
    started: float
    mark: str

    def family(self, known: Set[int] = frozenset()) -> set[int]:
        """The devstack and every process it started that is still alive (`known`: descendants collected earlier,
        which an exited parent's /proc no longer leads to)."""
        return marked(self.mark) | alive(descendants(self.process.pid) | set(known))

    def wait_family_gone(self, known: Set[int] = frozenset(), seconds: float = 5.0) -> set[int]:
        deadline = time.monotonic() + seconds
        while (left := self.family(known)) and time.monotonic() < deadline:
            time.sleep(0.05)
        return left

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")

    def wait_for_ready(self, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """The `--ready-json` line (other stdout lines, if any, are skipped)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.5):
                    if self.process.poll() is not None:
                        break
                    continue
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    with contextlib.suppress(ValueError):
                        report = json.loads(line)
                        if isinstance(report, dict) and report.get("event") == "ready":
                            return report
        raise AssertionError(f"no ready line (exit {self.process.poll()}); stderr:\n{self.log()}")


@contextlib.contextmanager
def devstack(*args: str, env: dict[str, str] | None = None) -> Iterator[DevProcess]:
    """`python -m devstack ARGS` as the leader of its own process group, like a command run in a terminal."""
    mark = uuid.uuid4().hex
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {}), "DEVSTACK_TEST_MARK": mark},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
        dev = DevProcess(process, stderr, time.perf_counter(), mark)
        try:
            yield dev
        finally:  # a failed test: leave nothing behind
            for pid in dev.family():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def port_env(ports: list[int]) -> dict[str, str]:
    return dict(zip(PORT_VARIABLES, map(str, ports), strict=True))


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - a local http URL
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status: int = response.status
            return status
    except urllib.error.HTTPError as error:
        return error.code


# ---------------------------------------------------------------------- stopping
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_signal_stops_everything_and_frees_the_ports(how: str) -> None:
    """Ctrl-C: SIGINT to the whole foreground process group, as a terminal sends it; SIGTERM: to the process only."""
    ports = free_ports(len(PORT_VARIABLES))
    with devstack("--ready-json", env=port_env(ports)) as dev:
        ready = dev.wait_for_ready()
        elapsed = time.perf_counter() - dev.started
        print(f"\n`python -m devstack` ready in {elapsed:.2f} s (the stack itself: {ready['startup_seconds']:.2f} s)")

        assert {name: ready["ports"][name]["port"] for name in PORT_VARIABLES} == dict(
            zip(PORT_VARIABLES, ports, strict=True)
        )
        assert all(ready["ports"][name]["source"] == "environment" for name in PORT_VARIABLES)
        assert ready["api_url"] == f"http://127.0.0.1:{ports[0]}"
        assert http_status(f"{ready['api_url']}/token") == 401
        assert http_status(ready["site_url"]) == 200
        assert [user["username"] for user in ready["users"]] == ["alice", "bob", "viewer"]

        children = descendants(dev.process.pid)
        assert len(children) >= 4, children  # the emulator, moto, and one worker per function
        assert len(dev.family()) >= 5  # the marker reaches them all (and itself)
        stopping = time.perf_counter()
        if how == "ctrl-c":
            os.killpg(dev.process.pid, signal.SIGINT)
        else:
            dev.process.send_signal(signal.SIGTERM)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()
        print(f"stopped ({how}) in {time.perf_counter() - stopping:.2f} s")

        left = dev.wait_family_gone(children)
        assert not left, f"left behind: {[cmdline(pid) for pid in left]}\n{dev.log()}"
        taken = [port for port in ports if not port_is_free(port)]
        assert not taken, f"still bound: {taken}"
        assert "Traceback" not in dev.log(), dev.log()


def test_ports_zero_are_free_ports_and_reported() -> None:
    with devstack("--ready-json", "--auth", "Open", env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        ready = dev.wait_for_ready()
        print(f"\n`python -m devstack --auth Open` ready in {time.perf_counter() - dev.started:.2f} s")
        assert ready["auth_method"] == "Open"
        assert ready["users"] == []
        ports = {name: ready["ports"][name]["port"] for name in PORT_VARIABLES}
        assert all(port > 0 for port in ports.values())
        assert len(set(ports.values())) == len(ports)
        assert all(ready["ports"][name]["requested"] == 0 for name in PORT_VARIABLES)
        assert http_status(f"{ready['api_url']}/token?topics=chat-lobby") == 200
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()


def test_the_ready_block_for_people() -> None:
    with devstack(env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        assert dev.process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            line = dev.process.stdout.readline().decode()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        block = "".join(lines)
        print("\n" + block)
        for expected in ("Site ", "API ", "LambdaAuthorizer", "alice", "alice-password", "readwrite", "viewer",
                         "readonly", "Momento emulator", "grpc-web", "moto", "API_PORT", "MOTO_PORT",
                         "Tokens   each tier's lifetime", "TOKEN_TTL_SECONDS=60 make dev", "CORS     API: http://127.0.0.1:",
                         "ALLOWED_ORIGINS=http://localhost:5173 make dev",
                         "Edits    functions/token_vending/policy.yaml and local/demo_users.json apply while this runs",
                         "Press Ctrl-C to stop"):  # fmt: skip
            assert expected in block, (expected, block)
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()


def test_token_ttl_and_allowed_origins_come_from_the_environment() -> None:
    """TOKEN_TTL_SECONDS reaches the site's config.js, ALLOWED_ORIGINS the API's CORS; both are in the ready report."""
    vite = "http://localhost:5173"
    env = {**dict.fromkeys(PORT_VARIABLES, "0"), "TOKEN_TTL_SECONDS": "30", "ALLOWED_ORIGINS": f"{vite}/"}
    with devstack("--ready-json", env=env) as dev:
        ready = dev.wait_for_ready()
        assert ready["token_ttl_seconds"] == 30
        assert ready["allowed_origins"] == [vite]
        assert ready["api_cors_origins"][-1] == vite
        assert ready["watched_files"] == ["functions/token_vending/policy.yaml", "local/demo_users.json"]
        with urllib.request.urlopen(f"{ready['site_url']}config.js", timeout=10) as response:  # noqa: S310
            assert '"tokenTtlSeconds": 30' in response.read().decode()
        preflight = urllib.request.Request(  # noqa: S310 - a local http URL
            f"{ready['api_url']}/token",
            method="OPTIONS",
            headers={"Origin": vite, "Access-Control-Request-Method": "GET"},
        )
        with urllib.request.urlopen(preflight, timeout=10) as response:  # noqa: S310
            assert response.headers["Access-Control-Allow-Origin"] == vite
        dev.process.send_signal(signal.SIGINT)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()


# ---------------------------------------------------------------------- failing early and clearly
def test_a_taken_port_names_its_variable_and_starts_nothing() -> None:
    ports = free_ports(len(PORT_VARIABLES))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[0]))
        squatter.listen(1)
        with devstack("--ready-json", env=port_env(ports)) as dev:
            returncode = dev.process.wait(timeout=30)
            message = dev.log()
    assert returncode != 0
    assert f"port {ports[0]}" in message
    assert "API_PORT" in message
    assert "make dev" in message  # how to choose another
    assert "Traceback" not in message
    assert all(port_is_free(port) for port in ports[1:])


def test_an_unknown_auth_method_is_a_usage_error() -> None:
    with devstack("--auth", "Nope") as dev:
        assert dev.process.wait(timeout=30) == 2
        assert "invalid choice" in dev.log()


# ---------------------------------------------------------------------- the unexpected
def cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_child_that_dies_is_named_and_restarted_and_ctrl_c_still_stops_all() -> None:
    with devstack("--ready-json", env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        ready = dev.wait_for_ready()
        children = dev.family()
        moto = [pid for pid in children if "moto.server" in cmdline(pid)]
        assert len(moto) == 1, {pid: cmdline(pid) for pid in children}
        os.kill(moto[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while "devstack: moto is back (restart 1," not in dev.log():
            assert dev.process.poll() is None, dev.log()
            assert time.monotonic() < deadline, dev.log()
            time.sleep(0.05)
        assert f"devstack: moto exited (signal SIGKILL); restarting it on {ready['moto_url'][7:]} in 0.2 s" in dev.log()
        alice = {"Authorization": "Basic YWxpY2U6YWxpY2UtcGFzc3dvcmQ="}  # alice:alice-password
        assert http_status(f"{ready['api_url']}/token", alice) == 200
        restarted = dev.family() - children
        assert [pid for pid in restarted if "moto.server" in cmdline(pid)], dev.log()
        os.killpg(dev.process.pid, signal.SIGINT)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()
        assert not dev.wait_family_gone(children | restarted), [cmdline(pid) for pid in dev.family(children)]


def test_even_sigkill_of_the_supervisor_leaves_no_process() -> None:
    """The supervisor cannot clean up after SIGKILL: its children must notice on their own (parent-death signal,
    or their stdin closing)."""
    with devstack("--ready-json", env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        dev.wait_for_ready()
        children = descendants(dev.process.pid)
        assert len(children) >= 4  # the emulator, moto, the workers
        dev.process.kill()
        dev.process.wait(timeout=STOP_TIMEOUT)
        assert not dev.wait_family_gone(children), [cmdline(pid) for pid in dev.family(children)]


@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_ctrl_c_while_starting_stops_cleanly(delay: float) -> None:
    with devstack("--ready-json", env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        deadline = time.monotonic() + READY_TIMEOUT
        while not descendants(dev.process.pid) and time.monotonic() < deadline:  # the first child is spawned
            time.sleep(0.01)
        time.sleep(delay)
        os.killpg(dev.process.pid, signal.SIGINT)
        assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()
        assert not dev.wait_family_gone(), [cmdline(pid) for pid in dev.family()]
        assert "Traceback" not in dev.log(), dev.log()
