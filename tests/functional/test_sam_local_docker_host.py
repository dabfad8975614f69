"""`make sam-api`'s view of the Docker engine, without one (issue 19): DOCKER_HOST picks the engine and none is
started in its place; an engine whose socket is gone, refuses or stalls is told apart (tests/sam/test_shared_machine.py
stops a real dockerd under a running `make sam-api`)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sam_local.engine import DOCKER_SOCKET, docker_socket, ping, wait_until_docker_gone
from sam_local.errors import SamLocalError

ROOT = Path(__file__).resolve().parents[2]


def test_docker_host_names_the_socket_as_the_docker_cli_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert docker_socket() == DOCKER_SOCKET
    monkeypatch.setenv("DOCKER_HOST", "unix:///tmp/other/docker.sock")
    assert docker_socket() == Path("/tmp/other/docker.sock")
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    with pytest.raises(SamLocalError, match=r"DOCKER_HOST='tcp://10.0.0.5:2375' is not supported here"):
        docker_socket()


def test_an_engine_named_by_docker_host_that_does_not_answer_is_said_and_no_other_is_started(tmp_path: Path) -> None:
    """Not the default dockerd started in its place (which other users' runs would then share): one line, exit 1."""
    missing = tmp_path / "docker.sock"
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "sam_local", "api", "--auth", "Open", "--no-build"],
        cwd=ROOT,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "DOCKER_HOST": f"unix://{missing}", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == (
        f"sam_local: no Docker engine answers at DOCKER_HOST=unix://{missing}: start that engine, or unset "
        "DOCKER_HOST to use (or start) the default one"
    )
    assert result.stdout == ""
    assert time.perf_counter() - started < 15


def test_a_missing_or_refusing_socket_is_gone_and_a_stalled_one_is_silent(tmp_path: Path) -> None:
    assert ping(tmp_path / "none.sock") == "gone"
    refusing = tmp_path / "refusing.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(refusing))  # bound, never listening: connect() is refused, as after dockerd died
    assert ping(refusing) == "gone"
    stalled = tmp_path / "stalled.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(stalled))
        server.listen()  # accepts, never answers: a dockerd that hangs
        assert ping(stalled, timeout=0.3) == "silent"


async def test_docker_gone_is_one_sentence_naming_the_engine_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr("sam_local.engine.DOCKER_SOCKET", tmp_path / "docker.sock")
    reason = await asyncio.wait_for(wait_until_docker_gone(interval=0.05), 5)
    assert reason == (
        f"Docker is gone (nothing answers at unix://{tmp_path}/docker.sock: was dockerd stopped?), so SAM CLI cannot "
        "run the functions (each request would be a 502): start Docker again (`sudo dockerd &`; or `sudo make "
        "sam-api` starts one), then run make sam-api again"
    )
    assert "\n" not in reason
