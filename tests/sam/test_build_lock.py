"""What SAM's build installs for a function is its lock, file for file, on both architectures.

SAM CLI builds a function's dependencies with aws_lambda_builders' python_pip packager (read in
.venv/sam/.../aws_lambda_builders/workflows/python_pip/packager.py): first `pip download -r requirements.txt`, which
honours the lock's hashes (any mismatch fails the build); then, for each package whose downloaded wheel does not fit
the function's platform (grpcio, protobuf and PyYAML when building arm64 on an x86_64 machine), a second
`pip download --only-binary=:all: --no-deps --platform ... name==version` that names the version alone: those wheels
are not checked against the lock's hashes. This test closes that gap by running that same packager (no Docker) for
each function that has packages, for arm64 and x86_64, and checking what it unpacked against wheels downloaded with
the lock's hashes (`pip download --require-hashes`, the packager's own platform tags): every locked package at its
version, nothing else, every file byte for byte that of the hashed wheel (tools/requirement_locks.py,
`installed_versus_lock`). It needs .venv/sam (`make install-sam`), pyenv's Python 3.13 and the package index.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from requirement_locks import FUNCTION_LOCKS, Lock, entries, installed_versus_lock
from sam_local.image import find_python313
from sam_local.stack import sam_executable
from tests.sam.conftest import ROOT

# SAM's dependency step as `sam build` runs it (PythonPipBuildAction.execute), printing the platform tags it accepts.
_PACKAGER = """
import json, sys
from aws_lambda_builders.workflows.python_pip.packager import (
    DependencyBuilder, PipRunner, PythonPipDependencyBuilder, SubprocessPip)
from aws_lambda_builders.workflows.python_pip.utils import OSUtils
python, architecture, requirements, target, scratch = sys.argv[1:]
osutils = OSUtils()
runner = PipRunner(python_exe=python, pip=SubprocessPip(osutils=osutils, python_exe=python))
builder = DependencyBuilder(
    osutils=osutils, python_exe=python, pip_runner=runner, runtime="python3.13", architecture=architecture)
PythonPipDependencyBuilder(
    osutils=osutils, runtime="python3.13", python_exe=python, dependency_builder=builder
).build_dependencies(target, scratch, requirements)
print(json.dumps(builder.compatible_platforms))
"""
LOCKS_WITH_PACKAGES = [pytest.param(lock, id=lock.lock) for lock in FUNCTION_LOCKS if entries(ROOT / lock.lock)]


def test_a_function_has_packages_to_check() -> None:
    assert "functions/token_vending/requirements.txt" in [param.id for param in LOCKS_WITH_PACKAGES]


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
@pytest.mark.parametrize("lock", LOCKS_WITH_PACKAGES)
def test_sam_installs_exactly_the_hashed_wheels_of_the_lock(lock: Lock, architecture: str, tmp_path: Path) -> None:
    sam_python = sam_executable(ROOT).with_name("python")
    python = str(find_python313() / "bin" / "python3.13")
    requirements = ROOT / lock.lock
    target, scratch, wheels = tmp_path / "build", tmp_path / "scratch", tmp_path / "wheels"
    built = subprocess.run(
        [str(sam_python), "-c", _PACKAGER, python, architecture, str(requirements), str(target), str(scratch)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, f"SAM's dependency step failed:\n{built.stderr[-3000:]}"
    platforms = json.loads(built.stdout.strip().splitlines()[-1])
    download = [python, "-m", "pip", "download", "--require-hashes", "--no-deps", "--only-binary=:all:"]
    download += [argument for platform in platforms for argument in ("--platform", platform)]
    download += ["--implementation", "cp", "--abi", "cp313", "-r", str(requirements), "-d", str(wheels)]
    download += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    fetched = subprocess.run(download, capture_output=True, text=True, timeout=600, check=False)
    assert fetched.returncode == 0, f"the hash-checked download failed:\n{fetched.stderr[-3000:]}"
    assert installed_versus_lock(target, requirements, wheels) == []
