"""Which SAM containers are this run's: the ones on a Docker network made for this run alone.

SAM CLI creates the function containers itself, and every SAM container on a machine looks alike: the same labels
(`sam.cli.container.type=lambda`, the function's name), the same image, a random name. So "SAM containers that
appeared while we ran" also catches another user's `make sam-api`, a `sam local invoke`, or `make test`'s
tests/sam running at the same time, and removing those would break them. Instead each run creates its own network
(a unique name, labelled with its owner) and starts `sam local start-api --docker-network NAME`: SAM CLI connects
every container it creates to it, right after creating it. At the end, the containers on that network, plus any
SAM CLI reported creating ("SAM_CONTAINER_ID: ..." in its output, which covers the instant between its create and
its connect), are this run's and nobody else's; they are removed, then the network.

The network is `internal` (no gateway, no address translation) and carries no traffic: the containers stay on
Docker's default bridge too, which is where they reach the emulator and moto (forward.py). A run killed outright
(SIGKILL), or one that lost Docker while it ran, leaves its network (and maybe containers on it) behind; the next
run removes those once their owner process is gone, so they do not pile up or use up Docker's address pools.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
from pathlib import Path
from typing import Final
from urllib.parse import quote

from .engine import docker_api
from .errors import SamLocalError

__all__ = ["OWNER_LABEL", "RunNetwork"]

log = logging.getLogger("sam_local")

OWNER_LABEL: Final = "momento-tvm.sam-local.owner"  # host:pid:start-time of the sam_local process that made it
_NAME_PREFIX: Final = "momento-tvm-sam-local-"


class RunNetwork:
    """A Docker network for one run; `containers()` are the run's own; `remove()` removes them, then it."""

    def __init__(self) -> None:
        self.name = f"{_NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        self.reported: set[str] = set()  # container ids SAM CLI said it created
        self.created = False

    def create(self) -> RunNetwork:
        _remove_networks_of_dead_runs()
        docker_api(
            "POST",
            "/networks/create",
            body={
                "Name": self.name,
                "CheckDuplicate": True,
                "Driver": "bridge",
                "Internal": True,
                "Labels": {OWNER_LABEL: _owner(os.getpid())},
            },
            timeout=30,
        )
        self.created = True
        return self

    def containers(self) -> set[str]:
        """The ids of this run's containers that still exist (running or not)."""
        if not self.created:
            return set()
        filters = quote(json.dumps({"network": [self.name]}))
        on_network = {str(c["Id"]) for c in docker_api("GET", f"/containers/json?all=1&filters={filters}")}
        reported = set()
        for container in self.reported:
            with contextlib.suppress(SamLocalError):
                reported.add(str(docker_api("GET", f"/containers/{container}/json")["Id"]))
        return on_network | reported

    def remove(self) -> None:
        """Force-remove this run's containers, then the network (each error logged, none raised)."""
        if not self.created:
            return
        try:
            ours = self.containers()
        except (SamLocalError, OSError) as error:
            log.warning("sam_local: could not list this run's containers: %s", error)
            ours = set()
        for container in sorted(ours):
            log.info("sam_local: removing container %s that sam left", container[:12])
            with contextlib.suppress(SamLocalError, OSError):
                docker_api("DELETE", f"/containers/{container}?force=true", timeout=30)
        try:
            docker_api("DELETE", f"/networks/{self.name}", timeout=30)
        except (SamLocalError, OSError) as error:
            log.warning("sam_local: could not remove docker network %s: %s", self.name, error)
        else:
            self.created = False


def _owner(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """The process's start time (clock ticks since boot, /proc/PID/stat field 22): a pid with its start time names
    one process, even after the pid is reused. Empty when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _remove_networks_of_dead_runs() -> None:
    """Networks left by runs on this machine that were killed outright (or lost Docker while they ran), with the
    containers still on them: their owner process is gone, and so is its `sam` (it dies with its parent), so nobody
    uses them any more. Networks of live runs, and of other machines, are left alone."""
    filters = quote(json.dumps({"label": [OWNER_LABEL]}))
    with contextlib.suppress(SamLocalError, OSError):
        for network in docker_api("GET", f"/networks?filters={filters}"):
            host, _, rest = str((network.get("Labels") or {}).get(OWNER_LABEL, "")).partition(":")
            pid, _, started = rest.partition(":")
            if host != socket.gethostname() or not pid.isdigit() or not started or _start_time(int(pid)) == started:
                continue
            on_it = quote(json.dumps({"network": [network["Name"]]}))
            with contextlib.suppress(SamLocalError, OSError):
                for container in docker_api("GET", f"/containers/json?all=1&filters={on_it}"):
                    docker_api("DELETE", f"/containers/{container['Id']}?force=true", timeout=30)
                docker_api("DELETE", f"/networks/{network['Id']}", timeout=30)
                log.info("sam_local: removed docker network %s, left by a run that was stopped", network["Name"])
