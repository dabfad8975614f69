"""`make sam-api` on a machine it shares (issue 19): Ctrl-C removes its own containers and nobody else's, and a
Docker engine that goes away under it stops it at once, in one line.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from sam_local.engine import is_root
from sam_local.image import IMAGE
from tests.sam.conftest import SamApiProcess, containers_on, figure, network_exists, request
from tests.sam.private_dockerd import PrivateDockerd


def docker(*args: str) -> str:
    """The docker CLI on the machine's engine (the session's dockerd)."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_ctrl_c_removes_its_own_containers_and_not_another_users(sam_build: float, tmp_path: Path) -> None:
    """Another user's SAM container (the same image and labels, a random name, as SAM CLI makes them) appears while
    `make sam-api` runs: Ctrl-C leaves it running, and removes the containers of its own run."""
    started = time.perf_counter()
    decoy = ""
    api = SamApiProcess("Open", tmp_path / "sam-api.log")
    try:
        first = request(f"{api.url}/token?topics=room-1")  # its function container starts now (LAZY)
        assert first.status == 200, first.body
        decoy = docker(
            *("run", "--detach", "--label", "sam.cli.container.type=lambda"),
            *("--label", "sam.cli.function.name=TokenVendingFunction", "--label", "sam.cli.runtime=python3.13"),
            *(IMAGE, "sleep", "300"),
        )
        network = str(api.info.get("docker_network"))
        own = containers_on(network)
        assert api.stop() == 0, api.log()[-3000:]

        decoy_state = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Status}}", decoy], capture_output=True, text=True, check=False
        )
        assert decoy_state.stdout.strip() == "running", (
            f"make sam-api's Ctrl-C removed or stopped another user's container: {decoy_state.stderr.strip()}"
        )
        assert own, "the run's function container was not on its own network"
        assert not containers_on(network) and not network_exists(network)
        for container in own:
            assert subprocess.run(["docker", "inspect", container], capture_output=True, check=False).returncode != 0
    finally:
        api.stop()
        if decoy:
            subprocess.run(["docker", "rm", "--force", decoy], capture_output=True, check=False)
    figure("Ctrl-C leaves another user's container (test time)", f"{time.perf_counter() - started:.1f} s")


def test_docker_going_away_stops_it_in_one_line(sam_build: float, tmp_path: Path) -> None:
    """The dockerd it reused is stopped (as another session's `make test` stops the one it started): `make sam-api`
    says so in one line and exits 1 within seconds, instead of answering 502 with SAM CLI's traceback.

    The engine stopped is one this test starts for itself (its own socket, roots and bridge) and points
    `make sam-api` at with DOCKER_HOST: the machine's dockerd, which others may be using, is never stopped."""
    if not is_root():
        pytest.fail("this test starts a dockerd of its own: run tests/sam as root (make test does)")
    started = time.perf_counter()
    engine = PrivateDockerd()
    api: SamApiProcess | None = None
    try:
        engine.start()
        engine.load(IMAGE)
        loaded = time.perf_counter() - started
        api = SamApiProcess("Open", tmp_path / "sam-api.log", env=engine.env)
        first = request(f"{api.url}/token?topics=room-1")  # a warm function container in that engine
        assert first.status == 200, first.body
        offset = api.log_offset()

        engine.stop()
        stopped = time.perf_counter()
        try:
            returncode = api.process.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"make sam-api still runs 30 s after Docker went away: {api.log()[offset:][-2000:]}")
        seconds = time.perf_counter() - stopped

        after = api.log()[offset:]
        assert returncode == 1, after
        assert seconds < 10, f"{seconds:.1f} s to notice Docker was gone and stop"
        naming = [line for line in after.splitlines() if "docker" in line.lower()]
        assert len(naming) == 1, after
        assert naming[0].startswith("sam_local: Docker is gone"), naming[0]
        assert engine.host in naming[0] and "start that engine again" in naming[0]
        assert "Traceback" not in api.log()
    finally:
        if api is not None:
            api.stop()
        engine.remove()
    figure(
        "Docker gone: make sam-api stopped (test time)",
        f"{seconds:.1f} s after dockerd stopped ({time.perf_counter() - started:.0f} s in all, "
        f"{loaded:.0f} s of it starting a dockerd and loading the image into it)",
    )
