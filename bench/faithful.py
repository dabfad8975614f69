"""The faithful cold rows of `make bench` (issue 28): the functions as Lambda runs them, not as the dev venv does.

- What runs is `sam build`'s output (the vending function's folder with its dependencies, the authorizer's, and the
  MomentoTvmLayer's `python/`), built here for this machine's architecture into `.aws-sam/bench/build` (SAM CLI's
  `--cached`: about 5 s when nothing changed), with pyenv's Python 3.13 (the template's runtime).
- Each run gets a fresh copy of it (task/ and opt/python/, as /var/task and /opt/python), every file and folder made
  read-only, with no `__pycache__` but the bytecode the build ships (the layer's, src/Makefile), and the child runs
  with PYTHONDONTWRITEBYTECODE=1; a run that leaves any other `__pycache__` fails the row. Read-only permissions alone
  prove nothing when CI runs as root, so the copy is fresh and the variable is set: CPython compiles every module it
  imports, as it does on Lambda unless bytecode ships in the artifact.
- The floors run the same way: `python3.13 -c "import boto3, momento"` (and `import boto3`) over a fresh copy, each
  run, of boto3, momento and their dependencies at the versions requirements/dev.txt locks (installed once, with its
  hashes, into `.aws-sam/bench/floor-<digest>` for Python 3.13, without bytecode).
- `+ bytecode` rows: the same artifact with unchecked-hash `.pyc` files beside every module (`compileall
  --invalidation-mode unchecked-hash`, made once per bench run from the build): what shipping bytecode would give.
  The build ships them for the layer only (src/Makefile); this measures what the function's own folder (app.py and
  its dependencies, built by SAM's python_pip workflow) would add.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".aws-sam" / "bench"
BUILD_DIR = BENCH_DIR / "build"
# The floors' packages: boto3 and momento with what they import, at dev.txt's versions and hashes.
FLOOR_PACKAGES = (
    "boto3",
    "botocore",
    "jmespath",
    "python-dateutil",
    "s3transfer",
    "six",
    "urllib3",
    "momento",
    "momento-wire-types",
    "grpcio",
    "protobuf",
    "pyjwt",
    "typing-extensions",
)
FUNCTIONS = {"TokenVendingFunction": "vending", "CredentialsAuthorizerFunction": "authorizer"}


def python313() -> Path:
    """pyenv's newest Python 3.13 (what `sam build` and local/sam_local use)."""
    from sam_local.image import find_python313

    return find_python313() / "bin" / "python3.13"


def lambda_architecture() -> str:
    """This machine's architecture in the template's words: the build must run here."""
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def sam_build() -> Path:
    """`sam build` of the template (LambdaAuthorizer mode, this machine's architecture) into .aws-sam/bench/build,
    with Python 3.13 first on PATH (SAM's pip must be 3.13), cached by SAM CLI itself (`--cached`)."""
    from sam_local.stack import sam_environment

    python = python313()
    env = sam_environment()
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    argv = [
        str(ROOT / ".venv" / "sam" / "bin" / "sam"),
        "build",
        "--template-file",
        str(ROOT / "template.yaml"),
        "--build-dir",
        str(BUILD_DIR),
        "--cache-dir",
        str(BENCH_DIR / "cache"),
        "--cached",
        "--parallel",
        "--language-extensions",
        "--skip-pull-image",
        "--parameter-overrides",
        f"LambdaArchitecture={lambda_architecture()} AuthenticationMethod=LambdaAuthorizer",
    ]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed ({done.returncode}): {done.stderr[-600:] or done.stdout[-600:]}")
    return BUILD_DIR


def floor_requirements(lock: Path = ROOT / "requirements" / "dev.txt") -> str:
    """FLOOR_PACKAGES' entries of the dev lock (versions and hashes), as a requirements file."""
    wanted, kept, keep = set(FLOOR_PACKAGES), [], False
    for line in lock.read_text(encoding="utf-8").splitlines():
        start = re.match(r"^([A-Za-z0-9_.-]+)==", line)
        if start:
            keep = start.group(1).lower() in wanted
        elif not line.startswith(" "):
            keep = False
        if keep and not line.strip().startswith("#"):
            kept.append(line)
    return "\n".join(kept) + "\n"


def floor_packages() -> Path:
    """boto3 and momento for Python 3.13, installed once (no bytecode) into a folder named by the lock's digest."""
    text = floor_requirements()
    target = BENCH_DIR / f"floor-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    if (target / ".complete").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    requirements = target.with_suffix(".txt")
    requirements.write_text(text, encoding="utf-8")
    argv = [str(python313()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    argv += ["--no-deps", "--require-hashes", "--only-binary=:all:", "--target", str(target), "-r", str(requirements)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pip install of the floor's packages failed: {done.stderr[-600:]}")
    (target / ".complete").write_text("")
    return target


def with_bytecode(build: Path) -> Path:
    """A copy of the build with unchecked-hash .pyc beside every module (what shipping bytecode would give)."""
    target = BENCH_DIR / "bytecode"
    _remove(target)
    shutil.copytree(build, target, ignore=shutil.ignore_patterns("__pycache__"))
    argv = [str(python313()), "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(target)]
    subprocess.run(argv, capture_output=True, timeout=600, check=False)  # a module that cannot compile stays source
    return target


def _remove(path: Path) -> None:
    if not path.exists():
        return
    for folder, _, _ in os.walk(path):
        os.chmod(folder, 0o700)
    shutil.rmtree(path)


def _read_only(path: Path) -> None:
    for folder, _, files in os.walk(path):
        for name in files:
            file = Path(folder, name)
            if not file.is_symlink():
                file.chmod(file.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        os.chmod(folder, 0o500)  # read and enter, no writing


@contextmanager
def fresh_copy(parts: dict[str, Path]) -> Iterator[Path]:
    """A fresh read-only copy of each source under one temporary folder (name -> source), with no __pycache__
    unless the source ships bytecode (the `+ bytecode` build). Removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="bench-lambda-"))
    try:
        for name, source in parts.items():
            shutil.copytree(source, root / name, symlinks=True)
        _read_only(root)
        yield root
    finally:
        _remove(root)


def child_env(function_env: dict[str, str], layer: Path | None) -> dict[str, str]:
    """The function's environment as Lambda gives it: no bytecode written, the layer's python/ on the path (as
    /opt/python), no user site, nothing else of this machine's Python paths."""
    env = {k: v for k, v in function_env.items() if k not in ("PYTHONPATH", "POLICY_FILE", "VIRTUAL_ENV")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    if layer is not None:
        env["PYTHONPATH"] = str(layer)
    return env


def pycache_folders(path: Path) -> set[Path]:
    """Every __pycache__ under `path`: a child run must leave the set as the build shipped it."""
    return set(path.rglob("__pycache__"))


def python_version(python: Path) -> str:
    done = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return done.stdout.strip()


if __name__ == "__main__":  # `python bench/faithful.py`: build and print where things are
    sys.path.insert(0, str(ROOT / "local"))
    print(sam_build(), floor_packages(), python313())
