"""make's npm steps check Node.js first (tools/check_node.sh): Vite 8 needs 20.19+ or 22.12+, and an older or missing
Node is one line saying what was found, what is needed and how to get it, and make fails before npm runs.

A fake `node` (printing a chosen version) and a fake `npm` (recording its arguments) come first on PATH; make runs the
real rules, `install-site` and `install-js`, for real, with STAMPS in a temporary directory so that the checkout's
own stamps are neither read nor written (and the fake npm changes nothing).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tools" / "check_node.sh"
NEEDED = "make needs Node.js 20.19+ or 22.12+ (the site's build tool, Vite 8, requires it); install it from "
MAKE_VARIABLES = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
MAKE = shutil.which("make") or "make"  # found on the real PATH: the tests give make another


def fake_bin(directory: Path, node_version: str | None, *, npm: bool = True) -> Path:
    """`node` printing `node_version` (None: no node at all) and an `npm` that appends its arguments to npm.log."""
    directory.mkdir(parents=True, exist_ok=True)
    if node_version is not None:
        node = directory / "node"
        node.write_text(f"#!/bin/sh\necho {node_version}\n")
        node.chmod(0o755)
    if npm:
        tool = directory / "npm"
        tool.write_text(f'#!/bin/sh\necho "$(pwd) $*" >> {directory / "npm.log"}\n')
        tool.chmod(0o755)
    return directory


def only(directory: Path, *tools: str) -> Path:
    """`directory` holding links to just these system tools (a PATH on which no real node or npm is found)."""
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        (directory / tool).symlink_to(found)
    return directory


def environment(path: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in MAKE_VARIABLES}
    env["PATH"] = path
    return env


def check(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=environment(path), capture_output=True, text=True, timeout=30, check=False
    )


@pytest.mark.parametrize("version", ["v20.19.0", "v20.20.2", "v22.12.0", "v23.0.0", "v24.11.1"])
def test_a_node_vite_supports_passes_silently(tmp_path: Path, version: str) -> None:
    done = check(str(fake_bin(tmp_path, version)))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("version", "what"),
    [
        ("v20.18.0", "is too old"),
        ("v22.11.0", "is too old"),
        ("v18.19.1", "is too old"),
        ("v21.7.3", "is not supported"),
    ],
)
def test_an_older_node_is_one_line_naming_it_and_what_is_needed(tmp_path: Path, version: str, what: str) -> None:
    bin_dir = fake_bin(tmp_path, version)
    done = check(str(bin_dir))
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        done.stderr == f"Node.js {version} ({bin_dir / 'node'}) {what}: {NEEDED}https://nodejs.org/ (or with nvm: "
        "nvm install 22), put it first on PATH and run make again\n"
    )


def test_no_node_at_all_is_one_line_too(tmp_path: Path) -> None:
    done = check(str(fake_bin(tmp_path, None)))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Node.js is missing (no node on PATH): {NEEDED}https://nodejs.org/ (or with nvm: nvm install 22), put it "
        "first on PATH and run make again"
    ]


def test_node_without_npm_says_npm_is_missing(tmp_path: Path) -> None:
    """Debian packages npm apart from nodejs: a node alone cannot run make's npm steps."""
    done = check(str(fake_bin(tmp_path, "v22.12.0", npm=False)))
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith("npm is missing (Node.js v22.12.0 is at ")


# ---------------------------------------------------------------------- through make, for real
def make(target: str, path: str, stamps: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MAKE, "--no-print-directory", f"STAMPS={stamps}", target],
        cwd=ROOT,
        env=environment(path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def own_lines(stderr: str) -> list[str]:
    """stderr minus make's own "make: *** [...] Error 1" line."""
    return [line for line in stderr.splitlines() if not line.startswith("make: ***")]


STAMP = {"install-site": "site", "install-js": "js"}
NPM_DIR = {"install-site": ROOT / "static_site", "install-js": ROOT / "tests" / "js"}


@pytest.mark.parametrize("target", ["install-site", "install-js"])
def test_make_stops_before_npm_with_node_20_18(tmp_path: Path, target: str) -> None:
    bin_dir = fake_bin(tmp_path / "bin", "v20.18.0")
    done = make(target, f"{bin_dir}{os.pathsep}{os.environ['PATH']}", tmp_path / "stamps")
    assert done.returncode != 0, done.stdout + done.stderr
    assert own_lines(done.stderr) == [
        f"Node.js v20.18.0 ({bin_dir / 'node'}) is too old: {NEEDED}https://nodejs.org/ (or with nvm: nvm install 22), "
        "put it first on PATH and run make again"
    ]
    assert not (bin_dir / "npm.log").exists()  # npm never ran
    assert not (tmp_path / "stamps" / STAMP[target]).exists()  # and the next make checks again


@pytest.mark.parametrize("target", ["install-site", "install-js"])
def test_make_stops_before_npm_without_node(tmp_path: Path, target: str) -> None:
    bin_dir = only(fake_bin(tmp_path / "bin", None), "sh", "mkdir", "touch", "find")
    done = make(target, str(bin_dir), tmp_path / "stamps")
    assert done.returncode != 0, done.stdout + done.stderr
    assert own_lines(done.stderr) == [
        f"Node.js is missing (no node on PATH): {NEEDED}https://nodejs.org/ (or with nvm: nvm install 22), put it "
        "first on PATH and run make again"
    ]
    assert not (bin_dir / "npm.log").exists()


@pytest.mark.parametrize("target", ["install-site", "install-js"])
def test_make_runs_npm_with_node_22_12(tmp_path: Path, target: str) -> None:
    bin_dir = fake_bin(tmp_path / "bin", "v22.12.0")
    done = make(target, f"{bin_dir}{os.pathsep}{os.environ['PATH']}", tmp_path / "stamps")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    calls = (bin_dir / "npm.log").read_text().splitlines()
    assert calls == [f"{NPM_DIR[target]} ci --no-audit --no-fund", f"{NPM_DIR[target]} run --silent build"]
    assert (tmp_path / "stamps" / STAMP[target]).exists()
