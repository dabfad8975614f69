"""The unit tier's guard (tests/unit/conftest.py) refuses every way to the network or to a new process, and fails a
test that tried one even when the code under test caught the refusal."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.unit import conftest
from tests.unit.conftest import UnitTierViolation


@pytest.fixture
def attempts() -> list[str]:
    """What the guard recorded in this phase: a test that tries a way out on purpose checks it, then empties it, or
    the guard fails the test."""
    return conftest._attempts


def _connect() -> None:
    with socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))


def _bind() -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("\0tier-guard")


def _send() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"x", ("127.0.0.1", 9))


def _spawn() -> None:
    multiprocessing.get_context("spawn").Process(target=print).start()


def _only_if_refused(name: str, *args: object) -> Callable[[], object]:
    """os.`name`(*args), once it is certain to be the guard's refusal (a real fork or exec would take pytest along)."""

    def call() -> object:
        function = getattr(os, name)
        assert function.__qualname__.startswith("_refusal."), f"os.{name} is not guarded"
        return function(*args)

    return call


def _grpc_server() -> None:
    import grpc

    grpc.server(None)  # type: ignore[arg-type]


WAYS_OUT: dict[str, Callable[[], object]] = {
    "connect": _connect,
    "bind": _bind,
    "sendto": _send,
    "create_connection": lambda: socket.create_connection(("127.0.0.1", 9), timeout=1),
    "getaddrinfo": lambda: socket.getaddrinfo("localhost", 80),
    "subprocess.run": lambda: subprocess.run(["true"], check=False),
    "os.system": lambda: os.system("true"),  # noqa: S605
    "os.fork": _only_if_refused("fork"),
    "os.posix_spawn": _only_if_refused("posix_spawn", "/bin/true", ["true"], {}),
    "os.execv": _only_if_refused("execv", sys.executable, [sys.executable, "-c", "pass"]),
    "asyncio subprocess": lambda: asyncio.run(asyncio.create_subprocess_exec("true")),
    "multiprocessing (spawn)": _spawn,
    "grpc.server": _grpc_server,
}


@pytest.mark.parametrize("way", WAYS_OUT.values(), ids=WAYS_OUT.keys())
def test_each_way_out_is_refused_and_recorded(way: Callable[[], object], attempts: list[str]) -> None:
    with pytest.raises(UnitTierViolation, match="tests/unit opens no socket and starts no process"):
        way()
    assert len(attempts) == 1 and "move the test to tests/functional" in attempts[0], attempts
    attempts.clear()


def test_a_refusal_the_code_caught_still_fails_the_test(request: pytest.FixtureRequest) -> None:
    forbidden = r"the test tried what the unit tier forbids:\n.*socket.connect"
    with (
        pytest.raises(pytest.fail.Exception, match=forbidden),
        conftest._unit_tier(request.node, "the test"),
        contextlib.suppress(Exception),  # what code that retries or falls back does
    ):
        _connect()


def test_a_socket_pair_and_a_pipe_are_still_allowed() -> None:
    """An event loop's self-pipe is a socket pair: asyncio works."""
    left, right = socket.socketpair()
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    read, write = os.pipe()
    os.close(read)
    os.close(write)
    assert asyncio.run(asyncio.sleep(0, result=1)) == 1
