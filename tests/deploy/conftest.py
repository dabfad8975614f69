"""The deploy test's session: one MiniStack (AUTH=true) and one Momento emulator on 127.0.0.1, the bridges' probes,
the two builds (x86_64 for MiniStack, the default arm64 for its own tests, one after the other), the Flow that runs
one AuthenticationMethod's steps on its own stack (test_deploy.py starts one per mode, all at once), and the report
printed at the end.

Where something this needs is missing (MiniStack's venv, SAM CLI, Python 3.13) the tests fail with what to run: they
never skip.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig
from momento_emulator.testing import EmulatorThread
from sam_local import SamLocalError
from sam_local.image import find_python313

from .bridges import Probe, probe_all
from .docs_page import DeployPage
from .stacks import FIGURES, Build, Deployment, deploy, force_delete, sam_build
from .world import REPORT, SAM, MiniStack, Shell, ministack_version, product_root, start_ministack

CACHE = "default-cache"  # the template's default CacheName: no deviation needed
_OWN_SECONDS: list[float] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.nodeid.startswith("tests/deploy/"):
        _OWN_SECONDS.append(report.duration)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not REPORT.lines:
        return
    REPORT.add(
        FIGURES, f"the deploy test's own time (setup, call and teardown of tests/deploy): {sum(_OWN_SECONDS):.1f} s"
    )
    terminalreporter.section("deploy test (MiniStack)")
    for section, lines in REPORT.lines.items():
        terminalreporter.write_line(f"{section}:")
        for line in lines:
            terminalreporter.write_line(f"  {line}")


@dataclass
class World:
    root: Path
    ministack: MiniStack
    emulator: EmulatorThread
    shell: Shell
    page: DeployPage
    probes: dict[str, Probe]
    builds: dict[str, Future[Build]]
    python313: Path
    deploy_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def momento_endpoint(self) -> str:
        return f"{self.emulator.host}:{self.emulator.grpc_port}"

    def build(self, architecture: str) -> Build:
        return self.builds[architecture].result()

    def deploy(
        self, mode: str, build: Build, architecture: str = "x86_64", extra: dict[str, str] | None = None
    ) -> Deployment:
        with self.deploy_lock:
            return deploy(
                self.shell,
                self.page,
                build,
                mode,
                probes=self.probes,
                api_key=DEFAULT_API_KEY,
                momento_endpoint=self.momento_endpoint,
                architecture=architecture,
                extra=extra,
            )


@pytest.fixture(scope="session")
def world() -> Iterator[World]:
    root = product_root()
    if not SAM.is_file():
        pytest.fail(f"SAM CLI is not installed at {SAM}: run `make install-sam` (make test does it)")
    try:
        python313 = find_python313() / "bin" / "python3.13"
    except SamLocalError as error:
        pytest.fail(f"the deploy test needs Python 3.13 for `sam build`: {error}")
    tmp = Path(tempfile.mkdtemp(prefix="tvm-deploy-test-"))
    started = time.perf_counter()
    try:
        ministack = start_ministack(tmp / "ministack", auth=True)
    except RuntimeError as error:
        shutil.rmtree(tmp, ignore_errors=True)
        pytest.fail(str(error))
    REPORT.add(
        "MiniStack",
        f"ministack {ministack_version()} on 127.0.0.1:{ministack.port} (BIND_HOST=127.0.0.1, AUTH=true, "
        f"IOT_MTLS_ENABLED=0, SFTP_ENABLED=0), ready in {time.perf_counter() - started:.1f} s",
    )
    emulator = EmulatorThread(EmulatorConfig(caches=(CACHE,), heartbeat_interval_seconds=1.0)).start()
    shell = Shell(root, ministack, tmp / "bin", python313)
    page = DeployPage(root / "docs" / "deploy.md")
    # One build at a time (x86_64 first: the deployments wait for it): `sam build --cached` keeps its dependencies in
    # the project's .aws-sam/deps, which two builds at once would clean under each other. They run while the probes do.
    pool = ThreadPoolExecutor(1)
    try:
        builds = {arch: pool.submit(sam_build, shell, page, arch) for arch in ("x86_64", "arm64")}
        probes = probe_all(ministack)
        yield World(root, ministack, emulator, shell, page, probes, builds, python313)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        emulator.stop()
        ministack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


Step = Callable[[World, "Flow"], None]


class Flow:
    """One mode's life, docs/deploy.md's steps in order on one stack, in a thread of its own: the three modes run at
    once (their `sam deploy`s one at a time: they share SAM CLI's artifacts bucket, which the first one creates), so
    one stack's checks and `sam delete` (whose waiter sleeps 30 s) overlap another's. Each test waits for its step and
    fails with that step's own error; after a failed step the later ones do not run (their tests say which failed)."""

    def __init__(self, world: World, mode: str, steps: Sequence[tuple[str, Step]]) -> None:
        self.world, self.mode, self.steps = world, mode, steps
        self.deployment: Deployment | None = None
        self.done: dict[str, Future[None]] = {name: Future() for name, _ in steps}
        self.thread = threading.Thread(target=self._run, name=f"deploy-{mode}", daemon=True)

    def _run(self) -> None:
        failed = None
        for name, step in self.steps:
            future = self.done[name]
            if failed is not None:
                future.set_exception(RuntimeError(f"not run: the step `{failed}` failed for {self.mode}"))
                continue
            try:
                step(self.world, self)
            except BaseException as error:  # handed to the test that waits for this step
                failed = name
                future.set_exception(error)
            else:
                future.set_result(None)

    def outcome(self, step: str, timeout: float = 600.0) -> None:
        """Wait for `step`; raise what it raised."""
        self.done[step].result(timeout)

    def finish(self) -> None:
        self.thread.join(600)
        if self.deployment is not None and not self.deployment.deleted:
            force_delete(self.deployment)


def start_flows(world: World, steps: Sequence[tuple[str, Step]], modes: Sequence[str]) -> dict[str, Flow]:
    flows = {mode: Flow(world, mode, steps) for mode in modes}
    for flow in flows.values():
        flow.thread.start()
    return flows
