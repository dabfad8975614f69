"""The Lambda functions' pins exist for the platform they deploy to (CPython 3.13 on arm64), asked of the package
index pip is configured with (PyPI) by `pip download`: each pin has a wheel, and resolving WITH dependencies brings in
nothing the file does not pin. The pin format itself, and the helpers shared here, are
tests/unit/test_function_wheels.py (whose docstring says why `sam build` is not run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from tests.unit.test_function_wheels import REQUIREMENT_FILES, pinned, unpinned_downloads

PLATFORM = "manylinux2014_aarch64"
PYTHON_VERSION = "3.13"


def pip_download(
    requirements: Path, destination: Path, *, with_dependencies: bool, python_version: str = PYTHON_VERSION
) -> subprocess.CompletedProcess[str]:
    target = ["--platform", PLATFORM, "--python-version", python_version, "--implementation", "cp"]
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", *target]
    command += [] if with_dependencies else ["--no-deps"]
    command += ["-r", str(requirements), "-d", str(destination)]
    command += ["--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _downloaded(requirements: Path, destination: Path, *, with_dependencies: bool) -> tuple[int, str, list[str]]:
    result = pip_download(requirements, destination, with_dependencies=with_dependencies)
    files = sorted(path.name for path in destination.iterdir()) if destination.exists() else []
    return result.returncode, result.stdout + result.stderr, files


@pytest.mark.parametrize("requirements", REQUIREMENT_FILES)
def test_every_pin_has_an_arm64_cp313_or_pure_python_wheel(requirements: Path, tmp_path: Path) -> None:
    returncode, output, files = _downloaded(requirements, tmp_path / "wheels", with_dependencies=False)
    assert returncode == 0, f"pip download failed for {requirements}:\n{output}"
    assert all(name.endswith(".whl") for name in files), files
    assert {parse_wheel_filename(name)[0] for name in files} == set(pinned(requirements))


@pytest.mark.parametrize("requirements", REQUIREMENT_FILES)
def test_transitive_dependencies_are_pinned_too(requirements: Path, tmp_path: Path) -> None:
    returncode, output, files = _downloaded(requirements, tmp_path / "wheels", with_dependencies=True)
    assert returncode == 0, f"pip could not resolve {requirements} for python3.13 arm64:\n{output}"
    assert unpinned_downloads(files, pinned(requirements)) == [], (
        f"{requirements} pulls in distributions it does not pin; add them with ==version"
    )


def test_a_pin_without_an_arm64_cp313_wheel_fails_the_download(tmp_path: Path) -> None:
    """cffi 1.16.0 (2023) has arm64 wheels up to cp312 only: the same pin passes for 3.12 and fails for 3.13."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("cffi==1.16.0\n", encoding="utf-8")
    older = pip_download(requirements, tmp_path / "cp312", with_dependencies=False, python_version="3.12")
    assert older.returncode == 0, older.stdout + older.stderr
    result = pip_download(requirements, tmp_path / "cp313", with_dependencies=False)
    assert result.returncode != 0
    assert "No matching distribution found for cffi==1.16.0" in result.stderr
