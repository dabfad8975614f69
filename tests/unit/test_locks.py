"""The Python locks (tools/requirement_locks.py): each is fresh, fully pinned and hashed, and installed with its hashes.

Every lock's first line records the sha256 of the `.in` it was compiled from; `make install` refuses, in one line, a
lock whose `.in` has changed since (`make lock` recompiles). These tests read files only: no resolver, no index.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from pathlib import Path

import pytest

import requirement_locks
from requirement_locks import LOCKS, Lock, canonical, check, entries, header, installed_versus_lock, sha256

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".git", ".venv", "node_modules", ".aws-sam", ".stamps", "__pycache__", ".mypy_cache", ".ruff_cache"}
LOCK_IDS = [lock.lock for lock in LOCKS]


def _repository_files() -> list[Path]:
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [name for name in subdirectories if name not in SKIPPED_DIRS]
        found += [Path(directory, name) for name in files]
    return found


# ------------------------------------------------------------------------------------------------------ the locks
@pytest.mark.parametrize("lock", LOCKS, ids=LOCK_IDS)
def test_every_lock_is_fresh(lock: Lock) -> None:
    """A lock older than its .in: `make lock`, then commit both."""
    assert check([lock]) is None


@pytest.mark.parametrize("lock", LOCKS, ids=LOCK_IDS)
def test_every_locked_package_is_pinned_exactly_and_hashed(lock: Lock) -> None:
    locked = entries(ROOT / lock.lock)
    assert [e.name for e in locked if not re.fullmatch(r"[0-9][0-9A-Za-z.+!]*", e.version)] == []
    assert [e.name for e in locked if not e.hashes or not all(h.startswith("sha256:") for h in e.hashes)] == []
    assert len({canonical(e.name) for e in locked}) == len(locked), "a package locked twice"


def test_the_locks_hold_what_the_project_runs() -> None:
    """Spot checks that each lock is the one for its venv (a lock compiled from the wrong .in would still be fresh)."""
    names = {lock.lock: {canonical(e.name) for e in entries(ROOT / lock.lock)} for lock in LOCKS}
    assert {"pytest", "moto", "ruff", "mypy", "uv", "momento"} <= names["requirements/dev.txt"]
    assert "aws-sam-cli" in names["requirements/sam.txt"]
    assert {"ministack", "awscli"} <= names["requirements/ministack.txt"]
    assert {"grpcio", "aws-lambda-powertools"} <= names["functions/token_vending/requirements.txt"]
    assert {"momento", "grpcio", "aws-lambda-powertools"} <= names["functions/canary/requirements.txt"]
    assert names["authorizers/credentials/requirements.txt"] == set()  # standard library only
    assert {"awslambdaric", "boto3"} <= names["local/sam_local/runtime-requirements.txt"]


def test_every_requirements_file_is_a_lock_with_its_in_file() -> None:
    """Every requirements file here is one of LOCKS (so `make install` checks it), and every .in has its lock."""
    pattern = re.compile(r"(.*-)?requirements(-.*)?\.(txt|in)")
    on_disk = {
        str(path.relative_to(ROOT))
        for path in _repository_files()
        if pattern.fullmatch(path.name) or (path.parent == ROOT / "requirements" and path.suffix in {".txt", ".in"})
    }
    assert on_disk == {name for lock in LOCKS for name in (lock.source, lock.lock)}


def test_the_functions_deploy_what_the_tests_run() -> None:
    """The tests import the functions' code with the dev venv's packages: each shared package is the same version."""
    dev = {canonical(e.name): e.version for e in entries(ROOT / requirement_locks.DEV_LOCK.lock)}
    for lock in requirement_locks.FUNCTION_LOCKS:
        locked = entries(ROOT / lock.lock)
        assert [e.name for e in locked if canonical(e.name) not in dev] == [], f"{lock.lock}: not in the dev venv"
        differing = [f"{e.name}=={e.version} (dev: {dev[canonical(e.name)]})" for e in locked]
        assert [d for d, e in zip(differing, locked, strict=True) if dev[canonical(e.name)] != e.version] == []


def test_every_install_from_a_lock_checks_its_hashes() -> None:
    """The Makefile's pip installs from a lock, and the runtime image's, run in hash-checking mode."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [line for line in makefile.splitlines() if re.search(r"pip install .*-r requirements/", line)]
    assert len(installs) == 3, installs  # dev, SAM CLI, MiniStack
    assert all("$(PIP_LOCKED)" in line for line in installs), installs
    assert re.search(r"^PIP_LOCKED := --require-hashes --no-deps$", makefile, re.MULTILINE)
    image = (ROOT / "local" / "sam_local" / "image.py").read_text(encoding="utf-8")
    assert '"--require-hashes"' in image and '"--no-deps"' in image
    # The lock check runs before the first install: the dev venv's stamp waits for it.
    assert re.search(r"^\$\(STAMPS\)/python: .*\| \$\(STAMPS\)/locks$", makefile, re.MULTILINE)


# ------------------------------------------------------------------------------------------------- the staleness check
def _tiny(root: Path, content: str = "grpcio\n") -> Lock:
    lock = Lock("reqs/tiny.in", "reqs/tiny.txt", "3.13", "x86_64-manylinux_2_17")
    source, compiled = lock.paths(root)
    source.parent.mkdir(parents=True)
    source.write_text(content, encoding="utf-8")
    compiled.write_text(header(lock, sha256(source)) + "grpcio==1.85.3 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    return lock


def test_a_fresh_lock_passes(tmp_path: Path) -> None:
    assert check([_tiny(tmp_path)], tmp_path) is None


def test_an_edited_in_file_makes_its_lock_stale_in_one_line(tmp_path: Path) -> None:
    lock = _tiny(tmp_path)
    (tmp_path / lock.source).write_text("grpcio\nprotobuf\n", encoding="utf-8")
    problem = check([lock], tmp_path)
    assert problem is not None and "\n" not in problem
    assert problem.startswith("stale Python lock: reqs/tiny.txt (older than tiny.in)")
    assert problem.endswith("run `make lock` (tools/requirement_locks.py), then commit both")


def test_whitespace_counts_a_comment_too(tmp_path: Path) -> None:
    """Contents, not meaning, are compared: any edit of the .in asks for `make lock` (which keeps every version)."""
    lock = _tiny(tmp_path)
    (tmp_path / lock.source).write_text("# why grpcio\ngrpcio\n", encoding="utf-8")
    assert check([lock], tmp_path) is not None


def test_every_stale_lock_is_named_on_the_one_line(tmp_path: Path) -> None:
    first = _tiny(tmp_path)
    second = Lock("other/b.in", "other/b.txt", "3.13", "x86_64-manylinux_2_17")
    (tmp_path / "other").mkdir()
    (tmp_path / second.source).write_text("boto3\n", encoding="utf-8")
    (tmp_path / second.lock).write_text("boto3==1.44.8\n", encoding="utf-8")  # made by hand: no header
    (tmp_path / first.source).write_text("protobuf\n", encoding="utf-8")
    problem = check([first, second], tmp_path)
    assert problem is not None and "\n" not in problem
    assert "reqs/tiny.txt (older than tiny.in)" in problem
    assert "other/b.txt (no `# Locked from` first line)" in problem


def test_a_missing_lock_or_in_file_is_named(tmp_path: Path) -> None:
    lock = _tiny(tmp_path)
    (tmp_path / lock.lock).unlink()
    assert "reqs/tiny.txt (missing)" in (check([lock], tmp_path) or "")
    lock = Lock("gone.in", "reqs/tiny.in", "3.13", "x86_64-manylinux_2_17")
    assert "its gone.in is missing" in (check([lock], tmp_path) or "")


# -------------------------------------------------------------------------------------------------- reading a lock
def test_entries_read_hashes_extras_and_annotations(tmp_path: Path) -> None:
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "# Locked from x.in (sha256 " + "0" * 64 + ") by `make lock`: edit x.in, never this file.\n"
        "boto3-stubs[s3, sqs]==1.43.126 \\\n"
        "    --hash=sha256:" + "1" * 64 + " \\\n"
        "    --hash=sha256:" + "2" * 64 + "\n"
        "    # via\n"
        "    #   -r x.in\n"
        "pyyaml==6.0.4 \\\n"
        "    --hash=sha256:" + "3" * 64 + "\n"
        "    # via -r x.in\n",
        encoding="utf-8",
    )
    assert [(e.name, e.version, len(e.hashes)) for e in entries(lock)] == [
        ("boto3-stubs", "1.43.126", 2),
        ("pyyaml", "6.0.4", 1),
    ]
    assert entries(lock)[1].hashes == ("sha256:" + "3" * 64,)


# ------------------------------------------------------------------- what a build installed, against the lock's wheels
def _wheel(directory: Path, name: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal wheel: the files, METADATA, and a RECORD with each file's sha256."""
    dist_info = f"{name}-{version}.dist-info"
    files = {**files, f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()}
    rows = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{path},sha256={digest},{len(data)}")
    rows.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _unpacked(wheels: Path, target: Path) -> None:
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(target)


@pytest.fixture
def build(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(the unpacked build, its lock, the wheels) for two packages, as a faithful build leaves them."""
    wheels, target = tmp_path / "wheels", tmp_path / "build"
    wheels.mkdir()
    _wheel(wheels, "alpha", "1.0", {"alpha/__init__.py": b"A = 1\n"})
    _wheel(wheels, "beta_pkg", "2.0", {"beta/__init__.py": b"B = 2\n", "beta/native.so": b"\x7fELF..."})
    _unpacked(wheels, target)
    lock = tmp_path / "lock.txt"
    lock.write_text(f"alpha==1.0 \\\n    --hash=sha256:{'a' * 64}\nbeta-pkg==2.0 \\\n    --hash=sha256:{'b' * 64}\n")
    return target, lock, wheels


def test_a_faithful_build_matches_its_lock(build: tuple[Path, Path, Path]) -> None:
    assert installed_versus_lock(*build) == []


def test_a_file_changed_after_the_hashed_download_is_found(build: tuple[Path, Path, Path]) -> None:
    target, lock, wheels = build
    (target / "beta" / "native.so").write_bytes(b"\x7fELF other")
    assert installed_versus_lock(target, lock, wheels) == [
        "beta-pkg==2.0: beta/native.so differs from beta_pkg-2.0-py3-none-any.whl's"
    ]


def test_another_version_a_missing_and_an_extra_package_are_found(build: tuple[Path, Path, Path]) -> None:
    target, lock, wheels = build
    lock.write_text(f"alpha==1.1 \\\n    --hash=sha256:{'a' * 64}\ngamma==3.0 \\\n    --hash=sha256:{'c' * 64}\n")
    assert installed_versus_lock(target, lock, wheels) == [
        "gamma==3.0 missing",
        "beta-pkg==2.0 not in the lock",
        "alpha==1.0, the lock pins 1.1",
    ]


def test_a_build_from_another_wheel_of_the_same_version_is_found(
    tmp_path: Path, build: tuple[Path, Path, Path]
) -> None:
    """Same name and version, other bytes (what an unhashed second download could bring): its RECORD differs."""
    target, lock, wheels = build
    other = tmp_path / "other"
    other.mkdir()
    (wheels / "alpha-1.0-py3-none-any.whl").unlink()
    _wheel(other, "alpha", "1.0", {"alpha/__init__.py": b"A = 'tampered'\n"})
    (other / "alpha-1.0-py3-none-any.whl").rename(wheels / "alpha-1.0-py3-none-any.whl")
    assert installed_versus_lock(target, lock, wheels) == [
        "alpha==1.0: its RECORD is not that of alpha-1.0-py3-none-any.whl"
    ]
