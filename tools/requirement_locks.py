"""The project's Python locks: each `.in` file (the direct requirements, edited by hand) and the lock compiled from it.

A lock is `uv pip compile --generate-hashes` of its `.in` for one Python and platform: every package, transitive ones
too, pinned with `==` and the sha256 of every file of that release. Its first line records the sha256 of the `.in`
it was compiled from; `check` compares that with the `.in` as it is now (contents, not modification times, which a
git clone does not keep), so a lock older than its `.in` is caught before anything installs from it.

    python3 tools/requirement_locks.py check            # one line and exit status 1 when a lock is stale (make install)
    .venv/bin/python tools/requirement_locks.py lock    # recompile every lock, keeping every version (make lock)
    ... lock --upgrade grpcio --upgrade protobuf         # the same, those packages moved to their newest release
    python3 tools/requirement_locks.py files            # every .in and lock (the Makefile's prerequisites)

Standard library only: `check` and `files` run before the dev venv exists. `lock` runs uv, the version the dev lock
pins, from `.venv/bin/uv` (installed from that lock's hashes when it is missing or another version).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Lock:
    """A `.in` file and the lock compiled from it, for the interpreter and platform that install it."""

    source: str  # the .in, relative to the repository root
    lock: str  # the compiled lock, beside it
    python: str  # the CPython version it is resolved for
    platform: str  # uv's --python-platform

    def paths(self, root: Path = ROOT) -> tuple[Path, Path]:
        return root / self.source, root / self.lock


# Every lock of the project, in the order `lock` compiles them. The dev venv and SAM CLI's are made with the
# Makefile's python3 (3.11); MiniStack's venv, the functions and the runtime image run Python 3.13; the functions
# deploy to arm64 by default (template.yaml's LambdaArchitecture), the local image is x86_64. Each lock holds the
# hashes of every file of each pinned release, so it installs on the other architecture too.
LOCKS: Final = (
    Lock("requirements/dev.in", "requirements/dev.txt", "3.11", "x86_64-manylinux_2_17"),
    Lock("requirements/sam.in", "requirements/sam.txt", "3.11", "x86_64-manylinux_2_17"),
    Lock("requirements/ministack.in", "requirements/ministack.txt", "3.13", "x86_64-manylinux_2_17"),
    Lock(
        "functions/token_vending/requirements.in",
        "functions/token_vending/requirements.txt",
        "3.13",
        "aarch64-manylinux_2_17",
    ),
    Lock(
        "functions/canary/requirements.in",
        "functions/canary/requirements.txt",
        "3.13",
        "aarch64-manylinux_2_17",
    ),
    Lock(
        "authorizers/credentials/requirements.in",
        "authorizers/credentials/requirements.txt",
        "3.13",
        "aarch64-manylinux_2_17",
    ),
    Lock(
        "local/sam_local/runtime-requirements.in",
        "local/sam_local/runtime-requirements.txt",
        "3.13",
        "x86_64-manylinux_2_17",
    ),
)
DEV_LOCK: Final = LOCKS[0]
FUNCTION_LOCKS: Final = tuple(lock for lock in LOCKS if lock.source.startswith(("functions/", "authorizers/")))

_LOCKED: Final = ("--require-hashes", "--no-deps", "-r")
_HEADER: Final = re.compile(r"# Locked from (?P<source>\S+) \(sha256 (?P<sha256>[0-9a-f]{64})\) by `make lock`")


@dataclass(frozen=True)
class Entry:
    """One locked requirement: its name as written (no extras), its pinned version ('' if none), its files' hashes."""

    name: str
    version: str
    hashes: tuple[str, ...]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def header(lock: Lock, source_sha256: str) -> str:
    """The lock's first two lines: the first is what `check` reads."""
    source = Path(lock.source).name
    return (
        f"# Locked from {source} (sha256 {source_sha256}) by `make lock`: edit {source}, never this file.\n"
        f"# uv pip compile for CPython {lock.python} on {lock.platform}, every file of each release hashed.\n"
    )


def recorded_sha256(lock_path: Path) -> str | None:
    """The sha256 of the `.in` that the lock's first line records (None: no such line)."""
    with lock_path.open(encoding="utf-8") as file:
        match = _HEADER.match(file.readline())
    return match["sha256"] if match else None


def stale(locks: Sequence[Lock] = LOCKS, root: Path = ROOT) -> list[str]:
    """Each lock that is missing or older than its `.in`, as 'lock (why)'; empty when every lock is fresh."""
    problems = []
    for lock in locks:
        source, compiled = lock.paths(root)
        if not compiled.is_file():
            problems.append(f"{lock.lock} (missing)")
        elif not source.is_file():
            problems.append(f"{lock.lock} (its {lock.source} is missing)")
        elif (recorded := recorded_sha256(compiled)) is None:
            problems.append(f"{lock.lock} (no `# Locked from` first line)")
        elif recorded != sha256(source):
            problems.append(f"{lock.lock} (older than {Path(lock.source).name})")
    return problems


def check(locks: Sequence[Lock] = LOCKS, root: Path = ROOT) -> str | None:
    """None when every lock is fresh; else the one line that says which are not and what to run."""
    problems = stale(locks, root)
    if not problems:
        return None
    return f"stale Python lock: {', '.join(problems)}: run `make lock` (tools/requirement_locks.py), then commit both"


def entries(lock_path: Path) -> list[Entry]:
    """The lock's requirements (`name==version` and its `--hash=sha256:` options), comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in lock_path.read_text(encoding="utf-8").splitlines():
        text = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not text and not pending:
            continue
        continued = text.endswith("\\")
        text = text.removesuffix("\\").strip()
        pending = f"{pending} {text}".strip()
        if not continued:
            logical.append(pending)
            pending = ""
    if pending:
        logical.append(pending)
    found = []
    for line in logical:
        requirement, *options = line.split(" --")
        name = re.split(r"[\s\[=<>!~;@]", requirement, maxsplit=1)[0]
        pinned = re.search(r"==\s*([^\s;,]+)", requirement)
        hashes = tuple(option.removeprefix("hash=") for option in options if option.startswith("hash="))
        found.append(Entry(name, pinned[1] if pinned else "", hashes))
    return found


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _metadata(dist_info: Path) -> tuple[str, str]:
    fields = dict(
        line.split(": ", 1)
        for line in dist_info.joinpath("METADATA").read_text("utf-8").split("\n\n", 1)[0].splitlines()
        if ": " in line
    )
    return canonical(fields["Name"]), fields["Version"]


def installed_versus_lock(target: Path, lock_path: Path, wheels: Path) -> list[str]:
    """How a folder of unpacked packages (a `sam build` function, SAM's dependency step) differs from a lock; empty
    when it holds exactly the lock's packages at the lock's versions, every file byte for byte that of the wheel in
    `wheels`, which `pip download --require-hashes -r LOCK` fetched (so checked against the lock's hashes).

    Each wheel's RECORD names every file with its sha256; the RECORD itself is in the hashed wheel. So the folder's
    copy of each RECORD must equal the wheel's, and each file it names must have that hash.
    """
    pins = {canonical(entry.name): entry.version for entry in entries(lock_path)}
    built = {_metadata(path): path for path in target.glob("*.dist-info")}
    versions = {name: version for name, version in built}
    problems = [f"{name}=={pins[name]} missing" for name in sorted(set(pins) - set(versions))]
    problems += [f"{name}=={versions[name]} not in the lock" for name in sorted(set(versions) - set(pins))]
    problems += [
        f"{name}=={versions[name]}, the lock pins {pins[name]}"
        for name in sorted(set(pins) & set(versions))
        if versions[name] != pins[name]
    ]
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            records = [name for name in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/RECORD", name)]
            record = archive.read(records[0]) if len(records) == 1 else b""
        name, version = canonical(wheel.name.split("-")[0]), wheel.name.split("-")[1]
        dist_info = built.get((name, version))
        if dist_info is None:
            continue  # reported above
        if dist_info.joinpath("RECORD").read_bytes() != record:
            problems.append(f"{name}=={version}: its RECORD is not that of {wheel.name}")
            continue
        for row in csv.reader(io.StringIO(record.decode("utf-8"))):
            if len(row) < 2 or not row[1].startswith("sha256="):
                continue
            path = target / re.sub(r"^[^/]+\.data/(purelib|platlib)/", "", row[0])
            if not path.is_file():
                problems.append(f"{name}=={version}: {row[0]} missing")
                break
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=").decode()
            if row[1] != f"sha256={digest}":
                problems.append(f"{name}=={version}: {row[0]} differs from {wheel.name}'s")
                break
    return problems


def _pinned_uv(root: Path) -> Entry:
    for entry in entries(root / DEV_LOCK.lock):
        if entry.name == "uv":
            return entry
    raise SystemExit(f"{DEV_LOCK.lock} pins no uv: add `uv` to {DEV_LOCK.source}")


def _uv(root: Path) -> Path:
    """`.venv/bin/uv` at the version the dev lock pins, installed from that lock's hashes if it is not there."""
    pinned = _pinned_uv(root)
    uv = root / ".venv" / "bin" / "uv"
    if uv.is_file():
        ran = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=False)  # noqa: S603
        if ran.stdout.split()[1:2] == [pinned.version]:
            return uv
    python = root / ".venv" / "bin" / "python"
    if not python.is_file():
        raise SystemExit("no .venv: run `make lock` (it makes one), or python3 -m venv .venv")
    print(f"installing uv {pinned.version} into .venv (from {DEV_LOCK.lock}, with its hashes)", flush=True)
    lines = [f"uv=={pinned.version}", *(f"--hash={digest}" for digest in pinned.hashes)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as requirements:
        requirements.write(" \\\n    ".join(lines) + "\n")
        requirements.flush()
        subprocess.run(  # noqa: S603 - the venv's own pip, fixed arguments
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *_LOCKED,
                requirements.name,
            ],
            check=True,
        )
    return uv


def compile_lock(lock: Lock, uv: Path, upgrade: Sequence[str] = (), root: Path = ROOT) -> None:
    """Recompile one lock with uv, keeping the versions it holds (uv prefers the output file's pins), then head it
    with the sha256 of its `.in`."""
    source, compiled = lock.paths(root)
    command = [str(uv), "--no-config", "pip", "compile", source.name, "--output-file", compiled.name]
    command += ["--generate-hashes", "--no-header", "--quiet"]
    command += ["--python-version", lock.python, "--python-platform", lock.platform]
    for package in upgrade:
        command += ["--upgrade-package", package]
    subprocess.run(command, cwd=source.parent, check=True)  # noqa: S603 - uv from the dev lock, fixed arguments
    body = compiled.read_text(encoding="utf-8") if compiled.is_file() else ""
    compiled.write_text(header(lock, sha256(source)) + body, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="requirement_locks", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="one line and exit status 1 when a lock is older than its .in")
    lock = commands.add_parser("lock", help="recompile every lock with uv, keeping its versions")
    lock.add_argument("--upgrade", action="append", default=[], metavar="PACKAGE", help="move it to its newest")
    commands.add_parser("files", help="every .in and lock, space-separated")
    args = parser.parse_args(argv)
    if args.command == "files":
        print(" ".join(path for entry in LOCKS for path in (entry.source, entry.lock)))
        return 0
    if args.command == "check":
        problem = check()
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    uv = _uv(ROOT)
    for entry in LOCKS:
        print(f"locking {entry.lock}", flush=True)
        compile_lock(entry, uv, [name for names in args.upgrade for name in re.split(r"[,\s]+", names) if name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
