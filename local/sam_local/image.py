"""The Lambda Python 3.13 x86_64 runtime image, built on this machine (images cannot be pulled here).

SAM CLI runs each function in `public.ecr.aws/lambda/python:3.13-x86_64` plus its own runtime interface emulator
(RIE, shipped inside the aws-sam-cli wheel, added by SAM on top). That base image is assembled here from parts that
can be had offline, in about a minute (shared/design/sam-local.md, "SAM CLI"):

1. a Debian root file system: `debootstrap --variant=minbase` of this machine's own release from the Debian mirror
   in its apt sources, with the shared libraries Python's extension modules link against;
2. Python 3.13: pyenv's build copied to /var/lang (its test suite and site-packages left out), /var/lang/lib in
   ld.so.conf;
3. /var/runtime: the runtime interface client and boto3 (runtime-requirements.txt, every package pinned and
   hashed, compiled from runtime-requirements.in by `make lock`), as the real runtime has them, and the
   `bootstrap` that RIE starts: `python3.13 -m awslambdaric $_HANDLER`;
4. `docker import` of that tree under the name SAM asks for, labelled as built here.

The image is checked by running its Python once (the extension modules load, awslambdaric and boto3 import).
The root file system is built in a temporary directory and removed: the image itself persists in docker, so it is
built once per machine.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Final

from .engine import _run, docker_api, is_root
from .errors import SamLocalError

__all__ = ["IMAGE", "IMAGE_LABEL", "build_image", "debian_mirror", "ensure_image", "find_python313", "image_exists"]

log = logging.getLogger("sam_local")

IMAGE: Final = "public.ecr.aws/lambda/python:3.13-x86_64"
IMAGE_LABEL: Final = "momento-tvm.built-locally"
RUNTIME_REQUIREMENTS: Final = Path(__file__).with_name("runtime-requirements.txt")
# What Python 3.13's extension modules link against (ldd of lib-dynload, minus Tk and X11), and the CA bundle.
LIBRARIES: Final = (
    "libssl3",
    "libffi8",
    "zlib1g",
    "libbz2-1.0",
    "liblzma5",
    "libsqlite3-0",
    "libreadline8",
    "libncursesw6",
    "libuuid1",
    "libexpat1",
    "ca-certificates",
)
_BOOTSTRAP: Final = """#!/bin/sh
# Started by the runtime interface emulator for each container: the handler comes as $_HANDLER (or argument 1).
export PYTHONPATH="/var/task:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
exec /var/lang/bin/python3.13 -m awslambdaric "${_HANDLER:-$1}"
"""
_IMPORT_CHANGES: Final = (
    "ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=:UTC "
    "LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime",
    "WORKDIR /var/task",
    f"LABEL {IMAGE_LABEL}=true",
)
_CHECK: Final = (
    "import ssl, ctypes, sqlite3, lzma, bz2, zlib, uuid, hashlib, decimal, xml.parsers.expat, json; "
    "import awslambdaric, boto3; print('ok')"
)


def image_exists(image: str = IMAGE) -> bool:
    try:
        docker_api("GET", f"/images/{image}/json")
    except SamLocalError:
        return False
    return True


def ensure_image(image: str = IMAGE) -> float | None:
    """Build the image if docker does not have it; the seconds the build took, or None when it was there."""
    if image_exists(image):
        log.info("sam_local: image %s is present", image)
        return None
    if not is_root():
        raise SamLocalError(
            f"the Lambda runtime image {image} is missing and only root can build it: run `sudo make install-sam`"
        )
    return build_image(image)


def find_python313() -> Path:
    """pyenv's newest 3.13.x (`~/.pyenv/versions/3.13.*`): the image's Python, and what `sam build` needs."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = []
    for path in root.glob("3.13.*"):
        match = re.fullmatch(r"3\.13\.(\d+)", path.name)
        if match and (path / "bin" / "python3.13").is_file():
            candidates.append((int(match.group(1)), path))
    if not candidates:
        raise SamLocalError(
            f"no Python 3.13 under {root}: `sam build` and the Lambda image need one (e.g. `pyenv install 3.13`)"
        )
    return max(candidates)[1]


def debian_mirror(sources: Path = Path("/etc/apt")) -> tuple[str, str]:
    """(mirror URL, suite) of this machine's Debian release, read from its apt sources (both formats)."""
    codename = _codename()
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for file in files:
        if not file.is_file():
            continue
        text = file.read_text(errors="replace")
        if file.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = _deb822(stanza)
                if "deb" in fields.get("types", "").split() and codename in fields.get("suites", "").split():
                    return fields["uris"].split()[0].rstrip("/"), codename
        else:
            for line in text.splitlines():
                parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
                if len(parts) >= 3 and parts[0] == "deb" and parts[2] == codename:
                    return parts[1].rstrip("/"), codename
    raise SamLocalError(f"no Debian mirror for {codename} in /etc/apt/sources.list*: debootstrap needs one")


def _deb822(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def _codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise SamLocalError("/etc/os-release names no VERSION_CODENAME: is this Debian?")


def build_image(image: str = IMAGE) -> float:
    """Assemble the root file system and `docker import` it as `image`; the seconds it took."""
    started = time.perf_counter()
    python = find_python313()
    mirror, suite = debian_mirror()
    if not shutil.which("debootstrap"):
        log.info("sam_local: installing debootstrap (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], env=env)
    work = Path(tempfile.mkdtemp(prefix="momento-tvm-lambda-root-", dir="/var/tmp"))
    root = work / "root"
    try:
        log.info("sam_local: building %s: debootstrap %s from %s (about 30 s)", image, suite, mirror)
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(LIBRARIES)}",
                suite,
                str(root),
                mirror,
            ]
        )
        log.info("sam_local: copying Python %s to /var/lang, installing /var/runtime", python.name)
        _copy_python(python, root / "var" / "lang")
        (root / "etc" / "ld.so.conf.d" / "var-lang.conf").write_text("/var/lang/lib\n")
        _run(["chroot", str(root), "/sbin/ldconfig"])
        runtime = root / "var" / "runtime"
        _run(
            [
                str(python / "bin" / "python3.13"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--require-hashes",
                "--only-binary=:all:",
                "--no-compile",
                "--target",
                str(runtime),
                "-r",
                str(RUNTIME_REQUIREMENTS),
            ]
        )
        bootstrap = runtime / "bootstrap"
        bootstrap.write_text(_BOOTSTRAP)
        bootstrap.chmod(0o755)
        for directory in ("var/task", "opt"):
            (root / directory).mkdir(parents=True, exist_ok=True)
        check = subprocess.run(  # noqa: S603 - the image's own Python, in its root
            ["chroot", str(root), "/usr/bin/env", "PYTHONPATH=/var/runtime", "/var/lang/bin/python3.13", "-c", _CHECK],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        if check.stdout.strip() != "ok":
            raise SamLocalError(f"the image's Python does not work: {check.stderr.strip()[-400:]}")
        _import(root, image)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - started
    log.info("sam_local: built %s in %.0f s", image, seconds)
    return seconds


def _copy_python(python: Path, target: Path) -> None:
    """pyenv's build without its test suite and without its site-packages (nothing but the stdlib and pip)."""
    stdlib = python / "lib" / "python3.13"

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory)
        if here == stdlib:
            return {name for name in names if name in {"test", "idlelib", "tkinter", "turtledemo"}}
        if here == stdlib / "site-packages":
            return {name for name in names if name != "README.txt"}
        return set()

    shutil.copytree(python, target, symlinks=True, ignore=ignore)


def _import(root: Path, image: str) -> None:
    argv = ["docker", "import"]
    for change in _IMPORT_CHANGES:
        argv += ["--change", change]
    tar = subprocess.Popen(  # noqa: S603 - fixed argv
        ["tar", "--numeric-owner", "-C", str(root), "-c", "."],  # noqa: S607
        stdout=subprocess.PIPE,
    )
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv
            [*argv, "-", image], stdin=tar.stdout, capture_output=True, text=True, check=False
        )
    finally:
        assert tar.stdout is not None
        tar.stdout.close()
        tar.wait()
    if result.returncode != 0 or tar.returncode != 0:
        raise SamLocalError(f"docker import of {image} failed: {result.stderr.strip()[-400:]}")
