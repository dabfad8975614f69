"""`make dev` (`python -m devstack`) says what matters and nothing else, from start-up to Ctrl-C.

Each of these lines used to be printed and none is news to anyone:
- `CORS origin https://${SiteDistribution.DomainName} dropped: ...` at every start (the deployed site's origin, an
  AWS-only value the local API cannot resolve, dropped as it must be);
- moto's `"POST / HTTP/1.1" 400 -` at every edit of local/demo_users.json (the users secret was re-seeded by
  creating it again, which moto refused, before putting the value);
- "Edits    functions/token_vending/policy.yaml apply while this runs" in Open mode, where one file applies.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from tests.integration.test_devstack_files import copy_checkout
from tests.integration.test_make_dev import PORT_VARIABLES, READY_TIMEOUT, STOP_TIMEOUT, DevProcess, devstack

USERS = Path("local/demo_users.json")
NOISE = (
    re.compile(r"CORS origin .*dropped"),
    re.compile(r"SiteDistribution"),
    re.compile(r'\[moto\].*" 4\d\d '),  # an access line of a request moto refused
    re.compile(r"Traceback"),
)


def ready_block(dev: DevProcess) -> str:
    """The human ready block on stdout, up to its "Press Ctrl-C to stop"."""
    assert dev.process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        line = dev.process.stdout.readline().decode()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C to stop" in line:
            return "".join(lines)
    raise AssertionError(f"no ready block (exit {dev.process.poll()}):\n{''.join(lines)}\n{dev.log()}")


def wait_for_log(dev: DevProcess, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in dev.log():
        assert dev.process.poll() is None, dev.log()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{dev.log()}"
        time.sleep(0.05)


def stop(dev: DevProcess) -> str:
    """Ctrl-C, as a terminal sends it; the whole stderr log."""
    os.killpg(dev.process.pid, signal.SIGINT)
    assert dev.process.wait(timeout=STOP_TIMEOUT) == 0, dev.log()
    return dev.log()


def noise(log: str) -> list[str]:
    return [line for line in log.splitlines() if any(pattern.search(line) for pattern in NOISE)]


def test_make_dev_starts_quietly_and_a_users_edit_adds_no_moto_line(tmp_path: Path) -> None:
    """LambdaAuthorizer (the default), on a copy of the checkout so that its users file can be edited."""
    root = copy_checkout(tmp_path, with_code=True)
    path = os.pathsep.join(str(root / folder) for folder in ("local", "authorizers/credentials", "tools"))
    with devstack(env={**dict.fromkeys(PORT_VARIABLES, "0"), "PYTHONPATH": path}) as dev:
        block = ready_block(dev)
        assert "functions/token_vending/policy.yaml and local/demo_users.json apply while this runs" in block, block

        users = json.loads((root / USERS).read_text())
        users["users"]["carol"] = {"password": "carol-password", "groups": ["readonly"]}
        (root / USERS).write_text(json.dumps(users, indent=2) + "\n")
        wait_for_log(dev, "devstack: local/demo_users.json changed: applied (secret tvm/users re-seeded")
        log = stop(dev)
    print(f"\n{block}\n{log}")
    assert not noise(log), noise(log)


def test_open_modes_ready_block_says_its_one_file_applies() -> None:
    with devstack("--auth", "Open", env=dict.fromkeys(PORT_VARIABLES, "0")) as dev:
        block = ready_block(dev)
        log = stop(dev)
    print(f"\n{block}\n{log}")
    assert "   Edits    functions/token_vending/policy.yaml applies while this runs (no restart)" in block, block
    assert not noise(log), noise(log)
