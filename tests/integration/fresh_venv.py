"""The library as a user gets it: the wheel built from a clean copy of the checkout, and fresh venvs with nothing but
what an install line puts there. Used by tests/integration/test_wheel.py and test_readme_embedding.py; the wheel is
built once per session (tests/integration/conftest.py's `built_wheel`).

The build uses a clean copy (tracked and untracked-but-not-ignored files, as a clone with these edits would hold), not
the work tree: setuptools builds in-tree into `build/lib` and packs all of it, so a stale `build/` from an earlier
build could add modules the sources no longer have, and other work on this tree would race with it. The venvs'
installs reach PyPI through pip's own cache (the user's: nothing here disables it), so a warm run downloads nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Failure bounds, not expectations (warm cache: about 5 s, 10 s and 20 s on a busy 2-core machine).
BUILD_TIMEOUT_SECONDS = 90
VENV_TIMEOUT_SECONDS = 60
INSTALL_TIMEOUT_SECONDS = 180


def clean_env() -> dict[str, str]:
    """This environment without the dev venv's Python variables, so nothing of it leaks into a fresh venv."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}


def activated_env(venv: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What activating `venv` gives a shell: its bin first on PATH, VIRTUAL_ENV set; plus `extra`."""
    env = clean_env()
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return {**env, **(extra or {})}


def run(
    args: Sequence[str | Path],
    what: str,
    timeout: float,
    *,
    show_stdout: bool = True,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> str:
    """Run a command, failing the test loudly (with its output's tail) when it fails or overruns."""
    try:
        done = subprocess.run(
            [str(a) for a in args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(env) if env is not None else clean_env(),
            cwd=cwd,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took more than {timeout} s (is PyPI reachable?)")
    if done.returncode != 0:
        shown = done.stdout[-3000:] if show_stdout else "(stdout withheld: it may hold tokens)"
        pytest.fail(f"{what} failed with exit code {done.returncode}:\n{shown}\n{done.stderr[-3000:]}")
    return done.stdout


def copy_checkout(destination: Path) -> None:
    """The checkout's files without anything git ignores (build/, *.egg-info, caches, node_modules, .venv)."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # a tracked file deleted in the work tree is listed but absent
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)


def build_wheel(work: Path) -> Path:
    """`pip wheel --no-deps` of a clean copy of the checkout, into `work/dist`; the one wheel it made."""
    copy_checkout(work / "src")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", work / "dist", work / "src"],
        "pip wheel",
        BUILD_TIMEOUT_SECONDS,
    )
    wheels = list((work / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def make_venv(venv: Path) -> Path:
    """`python -m venv` (this interpreter's version, no system site-packages); its python."""
    run([sys.executable, "-m", "venv", venv], "python -m venv", VENV_TIMEOUT_SECONDS)
    return venv / "bin" / "python"


def run_install_line(venv: Path, line: str) -> None:
    """A documented shell line (`pip install ...`), run as written by bash in the activated venv."""
    run(["bash", "-e", "-c", line], f"`{line}` in a fresh venv", INSTALL_TIMEOUT_SECONDS, env=activated_env(venv))
