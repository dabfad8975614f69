"""A second Docker engine that only one test uses, so that the test may stop it: the machine's own dockerd (which
other users' `make sam-api` and `make test` may rely on) is never stopped by a test.

It has everything of its own: socket, data root (a tmpfs: the image loads twice as fast, and goes with an unmount),
exec root (so its own containerd), pid file, and a bridge made for it (dockerd's `--bridge`; two engines cannot
share docker0) on a 10.213.x.0/24 that no route on this machine uses. It leaves the machine's iptables alone
(`--iptables=false`): its containers reach the host at their bridge's address, and published ports go through
docker-proxy. Root only, as any dockerd. `stop()` (SIGTERM, as `systemctl stop docker` or another session's
`make test` stops the dockerd it started) and `remove()` (the engine, its files, its bridge) are idempotent.

If the test process dies, the kernel sends its dockerd SIGTERM (PR_SET_PDEATHSIG), and the next `start()` on this
machine removes what a dead test left: its tmpfs, its bridge, its directory.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sam_local.engine import daemon_answers

_PREFIX = "tvm-dockerd-"
# As devstack's children: ask for SIGTERM when the parent dies, check it has not died already, become dockerd.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class PrivateDockerd:
    def __init__(self) -> None:
        # Short paths: containerd's socket lives under the exec root, and a unix socket path has at most 107 bytes.
        self.base = Path(tempfile.mkdtemp(prefix=_PREFIX, dir="/tmp"))
        (self.base / "owner").write_text(_owner(os.getpid()))
        self.socket = self.base / "docker.sock"
        self.bridge = f"tvmtest{secrets.token_hex(3)}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        """What DOCKER_HOST is set to, to use this engine."""
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def start(self, within_seconds: float = 60) -> PrivateDockerd:
        remove_leftovers()
        try:
            (self.base / "data").mkdir()
            _run("mount", "-t", "tmpfs", "-o", "size=2g,mode=0711", "tvm-dockerd", str(self.base / "data"))
            network = _free_subnet()
            (self.base / "bridge").write_text(self.bridge)
            _run("ip", "link", "add", "name", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", f"{next(network.hosts())}/{network.prefixlen}", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
            dockerd = shutil.which("dockerd")
            assert dockerd is not None, "dockerd is not installed (make install-sam installs it)"
            with (self.base / "dockerd.log").open("wb") as log:
                self.process = subprocess.Popen(
                    [
                        *(sys.executable, "-S", "-I", "-c", _DIE_WITH_PARENT, str(os.getpid()), dockerd),
                        *("--host", self.host, "--pidfile", str(self.base / "docker.pid")),
                        *("--data-root", str(self.base / "data"), "--exec-root", str(self.base / "exec")),
                        *("--bridge", self.bridge, "--iptables=false", "--ip-masq=false", "--log-level", "warn"),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which stops it in order
                )
            deadline = time.monotonic() + within_seconds
            while not daemon_answers(self.socket):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the test's own dockerd did not start: {self.log()[-2000:]}")
                time.sleep(0.1)
        except BaseException:
            self.remove()
            raise
        return self

    def load(self, image: str) -> None:
        """`docker save IMAGE | docker load`: the image from the machine's engine into this one (nothing is pulled)."""
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "load", "--quiet"],
            stdin=save.stdout,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert save.stdout is not None
        save.stdout.close()
        assert save.wait(60) == 0 and loaded.returncode == 0, loaded.stderr

    def log(self) -> str:
        path = self.base / "dockerd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, within_seconds: float = 30) -> None:
        """SIGTERM, as dockerd is normally stopped: it stops its containers and its containerd, then exits."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(within_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def remove(self) -> None:
        """Stop it, then remove its files and its bridge."""
        self.stop()
        _remove(self.base)


def remove_leftovers() -> None:
    """What tests that died left (their owner process is gone): their dockerd stopped, tmpfs, bridge, directory."""
    for base in Path("/tmp").glob(f"{_PREFIX}*"):
        owner = base / "owner"
        with contextlib.suppress(OSError, ValueError):  # no owner file: not one of these, or just being made
            recorded = owner.read_text()
            if recorded == _owner(int(recorded.split(":")[0])):
                continue  # its test still runs
            with contextlib.suppress(OSError, ValueError):
                dockerd = int((base / "docker.pid").read_text())
                if base.as_posix() in Path(f"/proc/{dockerd}/cmdline").read_bytes().decode(errors="replace"):
                    os.kill(dockerd, signal.SIGTERM)
                    for _ in range(300):
                        if not Path(f"/proc/{dockerd}").exists():
                            break
                        time.sleep(0.1)
            _remove(base)


def _remove(base: Path) -> None:
    bridge = base / "bridge"
    if bridge.exists():
        subprocess.run(["ip", "link", "delete", bridge.read_text().strip()], capture_output=True, check=False)
    # Whatever is mounted under it (its tmpfs, the netns and overlay mounts of a dockerd that was killed).
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{base}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)
    shutil.rmtree(base, ignore_errors=True)


def _owner(pid: int) -> str:
    """pid:start time (/proc/PID/stat field 22): one process, even after its pid is reused ("" if none runs)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return f"{pid}:{stat.rsplit(')', 1)[1].split()[19]}"


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {result.stderr.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.213.x.0/24 that no route on this machine overlaps (Docker's own pools are 172.17-31 and 192.168)."""
    routes = subprocess.run(["ip", "-4", "route"], check=True, capture_output=True, text=True).stdout
    used = []
    for line in routes.splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(line.split()[0], strict=False))
    for third in [secrets.randbelow(256) for _ in range(64)]:
        candidate = ipaddress.IPv4Network(f"10.213.{third}.0/24")
        if not any(candidate.overlaps(network) for network in used if network.version == 4):
            return candidate
    raise RuntimeError("no free 10.213.x.0/24 for the test's own dockerd bridge")
