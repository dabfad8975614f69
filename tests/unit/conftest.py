"""The unit tier's guard: a test under tests/unit opens no socket and starts no process.

While a tests/unit module is imported, and during each of its tests' setup, call and teardown, connecting, binding or
sending on any socket (TCP, UDP or Unix), resolving a host name, making a gRPC server or channel (grpc's C core opens
its own sockets), and starting a process (`subprocess`, `asyncio`'s subprocesses, `multiprocessing`, `os.fork`,
`os.posix_spawn`, `os.exec*`, `os.spawn*`, `os.system`) raise `UnitTierViolation`. Each attempt is also recorded,
and the test fails even if the code under test caught the error (code that retries or falls back on `OSError` must
not hide it). A test that needs moto, a server, a subprocess, SAM's
translator over the network, cfn-lint or the package index belongs in tests/functional (CONTRIBUTING.md's test
section). The guard is a set of hooks in this conftest, so pytest applies it to tests/unit's items only: the other
tiers, run in the same session by `make test`, are untouched.

What stays allowed: `socket.socketpair()` (an event loop's self-pipe), creating a socket object without using it,
and pipes. `unshare -n .venv/bin/python -m pytest tests/unit` checks the same promise from outside.
"""

from __future__ import annotations

import _posixsubprocess
import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


class UnitTierViolation(RuntimeError):
    """A unit test tried to reach the network or start a process."""


_SOCKET_METHODS = ("connect", "connect_ex", "bind", "sendto", "sendmsg")
_SOCKET_FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr", "create_connection")
_OS_FUNCTIONS = tuple(
    name
    for name in (
        "fork",
        "forkpty",
        "posix_spawn",
        "posix_spawnp",
        "system",
        "popen",
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execvp",
        "execvpe",
        "spawnv",
        "spawnve",
        "spawnvp",
        "spawnvpe",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnlpe",
    )
    if hasattr(os, name)
)

_GRPC_FUNCTIONS = ("server", "insecure_channel", "secure_channel")

_INHERITED = object()
HERE = Path(__file__).resolve().parent

_attempts: list[str] = []


def _refusal(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        shown = ", ".join(repr(a) for a in args[:3] if not isinstance(a, (socket.socket, subprocess.Popen)))
        message = (
            f"tests/unit opens no socket and starts no process: {what}({shown}); move the test to tests/functional"
        )
        _attempts.append(message)
        raise UnitTierViolation(message)

    return refuse


@contextmanager
def _guarded() -> Iterator[None]:
    """Replace every way out with a refusal, and put the originals back."""
    saved: list[tuple[object, str, object]] = []

    def replace(owner: object, name: str, what: str) -> None:
        # A class's inherited method (socket.socket's are _socket.socket's) is shadowed, then the shadow deleted.
        saved.append((owner, name, vars(owner).get(name, _INHERITED)))
        setattr(owner, name, _refusal(what))

    for name in _SOCKET_METHODS:
        replace(socket.socket, name, f"socket.{name}")
    for name in _SOCKET_FUNCTIONS:
        replace(socket, name, f"socket.{name}")
    for name in _OS_FUNCTIONS:
        replace(os, name, f"os.{name}")
    replace(subprocess.Popen, "__init__", "subprocess.Popen")
    if hasattr(subprocess, "_fork_exec"):
        replace(subprocess, "_fork_exec", "subprocess fork_exec")
    replace(_posixsubprocess, "fork_exec", "_posixsubprocess.fork_exec")
    replace(asyncio, "create_subprocess_exec", "asyncio.create_subprocess_exec")
    replace(asyncio, "create_subprocess_shell", "asyncio.create_subprocess_shell")
    # gRPC's sockets are its C core's, out of reach of the patches above: its servers and channels are refused
    # instead (a channel dials when first used). Only if some module already imported grpc: nothing else can call it.
    grpc = sys.modules.get("grpc")
    if grpc is not None:
        for name in _GRPC_FUNCTIONS:
            replace(grpc, name, f"grpc.{name}")
        aio = sys.modules.get("grpc.aio")
        for name in _GRPC_FUNCTIONS if aio is not None else ():
            replace(aio, name, f"grpc.aio.{name}")
    try:
        yield
    finally:
        for owner, name, original in reversed(saved):
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _in_unit_tier(node: pytest.Item | pytest.Collector) -> bool:
    return Path(node.path).resolve().is_relative_to(HERE)


@contextmanager
def _unit_tier(node: pytest.Item, what: str) -> Iterator[None]:
    """Run one phase guarded; then fail it if anything in it tried a socket or a process, caught or not."""
    if not _in_unit_tier(node):  # pytest gives these hooks only tests/unit's items; this says so
        yield
        return
    _attempts.clear()
    with _guarded():
        yield
    if _attempts:
        attempts, _attempts[:] = list(_attempts), []
        pytest.fail(f"{what} tried what the unit tier forbids:\n" + "\n".join(attempts), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Importing a unit test module is guarded too (a module-level server or subprocess is refused)."""
    if not isinstance(collector, pytest.Module) or not _in_unit_tier(collector):
        return (yield)
    with _guarded():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _unit_tier(item, "setup"):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _unit_tier(item, "the test"):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    if nextitem is None:
        # The session's last teardown also finalizes every fixture still set up, the other tiers' session fixtures
        # among them (tests/sam stops its dockerd, tests/deploy deletes its stacks): not the unit tier's to refuse.
        yield
        return
    with _unit_tier(item, "teardown"):
        yield
