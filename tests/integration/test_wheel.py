"""The packaging acceptance test (issue 12): build the wheel as a user would, install it in a fresh venv with only
what it declares, use it there against the emulator (tests/integration/wheel_probe.py), then try the tokens it
vended with the real `momento` SDK here. Also: the wheel's long description is the package's own PyPI README
(docs/pypi.md), not the repository's, whose relative links PyPI would render broken.

The wheel is the session's `built_wheel` (tests/integration/conftest.py), built from a clean copy of the checkout
(tests/integration/fresh_venv.py says why). PyPI must be reachable: without it the install fails, and so does this
test.
"""

from __future__ import annotations

import email.message
import email.parser
import json
import re
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import momento_tvm
from tests import sdk_rights
from tests.conftest import CACHE, RunningEmulator
from tests.integration.fresh_venv import INSTALL_TIMEOUT_SECONDS, make_venv, run

REPO = Path(__file__).resolve().parents[2]
PACKAGE_SOURCE = REPO / "src" / "momento_tvm"
PROBE = Path(__file__).with_name("wheel_probe.py")
PYPI_README = REPO / "docs" / "pypi.md"
DIST_INFO = f"momento_tvm-{momento_tvm.__version__}.dist-info"
DEV_TOOLS = ("devstack", "local_api", "site_tools", "tvm_users", "momento_emulator", "sam_local")
# The wheel's package, file by file (asserted exactly: see test_the_wheel_holds_the_package_and_its_metadata_only).
PACKAGE_FILES = {
    "__init__.py",
    "__main__.py",
    "_deferred.py",
    "_policy_validator.py",
    "aws_boto3.py",
    "aws_json.py",
    "control.py",
    "errors.py",
    "fastapi.py",
    "flask.py",
    "grant.py",
    "http.py",
    "identity.py",
    "limits.py",
    "minting.py",
    "observe.py",
    "parsing.py",
    "policy.py",
    "revocations.py",
    "py.typed",
    "secret_cache.py",
    "settings.py",
    "vending.py",
    "wire.py",
}
BASE_DEPENDENCIES = {"grpcio", "momento-wire-types", "protobuf", "pyyaml", "fastjsonschema"}
EXTRAS = {"fastapi": "fastapi", "flask": "flask"}  # extra -> the distribution it adds
SEEDED = {"pip", "setuptools"}  # what `python -m venv` puts in every venv
TOPIC = f"room-1-{uuid.uuid4().hex[:8]}"
PROBE_TIMEOUT_SECONDS = 60  # a failure bound; with the build and install, under pytest's 300 s per-test timeout


@dataclass
class Installed:
    """The built wheel, the fresh venv's python, and the probe's report from inside that venv."""

    wheel: Path
    python: Path
    report: dict[str, Any]


@pytest.fixture(scope="module")
def installed(built_wheel: Path, emulator_thread: Any) -> Iterator[Installed]:
    """Install the session's wheel in a fresh venv and run the probe there once for the module (timings on stderr)."""
    with tempfile.TemporaryDirectory(prefix="momento-tvm-venv-") as work:
        started = time.monotonic()
        python = make_venv(Path(work) / "venv")
        run(
            [python, "-m", "pip", "install", "--timeout", "30", f"{built_wheel}[{','.join(sorted(EXTRAS))}]"],
            "pip install of the wheel from PyPI",
            INSTALL_TIMEOUT_SECONDS,
        )
        venv_ready = time.monotonic()
        out = run(
            [python, "-I", PROBE, str(emulator_thread.grpc_port), CACHE, TOPIC],
            "the probe in the fresh venv",
            PROBE_TIMEOUT_SECONDS,
            show_stdout=False,
        )
        print(
            f"\nwheel: venv + install {venv_ready - started:.1f} s, probe {time.monotonic() - venv_ready:.1f} s",
            file=sys.stderr,
        )
        yield Installed(built_wheel, python, json.loads(out))


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        return email.parser.Parser().parsestr(archive.read(f"{DIST_INFO}/METADATA").decode())


def vending_report(installed: Installed) -> dict[str, Any]:
    """What the library did in the venv; its traceback when it could not even be imported."""
    vending: dict[str, Any] = installed.report["vending"]
    assert "failure" not in vending, vending["failure"]
    return vending


# ---------------------------------------------------------------------- the wheel itself
def test_the_wheel_holds_the_package_and_its_metadata_only(installed: Installed) -> None:
    assert installed.wheel.name == f"momento_tvm-{momento_tvm.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
        record = {line.split(",")[0] for line in archive.read(f"{DIST_INFO}/RECORD").decode().splitlines() if line}
        top_level = archive.read(f"{DIST_INFO}/top_level.txt").decode()
        license_text = archive.read(f"{DIST_INFO}/licenses/LICENSE")
    assert record == names
    assert {name.split("/")[0] for name in record} == {"momento_tvm", DIST_INFO}
    assert top_level.split() == ["momento_tvm"]
    # Exactly these files: a module added to the package (or a tool left in it, as the schema code generator once
    # was) must be added here on purpose. And they are the package's sources: nothing stale, nothing forgotten.
    packaged = {name for name in record if name.startswith("momento_tvm/")}
    assert packaged == {f"momento_tvm/{name}" for name in PACKAGE_FILES}
    sources = {
        f"momento_tvm/{path.relative_to(PACKAGE_SOURCE).as_posix()}"
        for path in PACKAGE_SOURCE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert packaged == sources
    assert "momento_tvm/py.typed" in record
    assert license_text == (REPO / "LICENSE").read_bytes()


def test_the_metadata_declares_ranged_dependencies_and_the_two_extras(installed: Installed) -> None:
    metadata = wheel_metadata(installed.wheel)
    assert metadata["Name"] == "momento-tvm"
    assert metadata["Version"] == momento_tvm.__version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert set(metadata.get_all("Provides-Extra") or []) == set(EXTRAS)
    requirements = [Requirement(text) for text in metadata.get_all("Requires-Dist") or []]
    base = {canonicalize_name(r.name) for r in requirements if r.marker is None}
    assert base == BASE_DEPENDENCIES
    extras = {str(r.marker): canonicalize_name(r.name) for r in requirements if r.marker is not None}
    assert extras == {f'extra == "{extra}"': name for extra, name in EXTRAS.items()}
    for requirement in requirements:
        operators = {spec.operator for spec in requirement.specifier}
        assert {">=", "<"} <= operators or "~=" in operators, f"{requirement} is not a range"


def test_the_long_description_is_the_pypi_readme_with_no_relative_link(installed: Installed) -> None:
    """PyPI shows the long description on the package's page, where a link relative to the repository leads
    nowhere: the package's own README (docs/pypi.md) links absolutely, or not at all."""
    metadata = wheel_metadata(installed.wheel)
    assert metadata["Description-Content-Type"] == "text/markdown"
    description = metadata.get_payload()
    assert isinstance(description, str)
    assert description.strip() == PYPI_README.read_text(encoding="utf-8").strip()
    targets = re.findall(r"\]\(\s*<?([^)\s>]*)", description)  # [text](target) and ![alt](target)
    targets += re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?\s*$", description, re.MULTILINE)  # [label]: target
    targets += re.findall(r"""(?:href|src)\s*=\s*["']([^"']*)""", description)  # raw HTML
    assert targets, "the PyPI README links to Momento's site: the link patterns here must find it"
    assert [target for target in targets if not target.startswith("https://")] == []


# ---------------------------------------------------------------------- the fresh venv
def test_the_fresh_venv_holds_the_library_and_none_of_the_project_tooling(installed: Installed) -> None:
    env = installed.report["environment"]
    site_packages = [Path(p) for p in env["site_packages"]]
    venv = installed.python.parent.parent
    assert env["prefix"] != env["base_prefix"]
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    assert all(p.is_relative_to(venv) for p in site_packages), site_packages
    assert not [p for p in env["sys_path"] if Path(p).is_relative_to(REPO)], env["sys_path"]
    assert Path(env["momento_tvm_origin"]).is_relative_to(site_packages[0])

    # The momento-tvm distribution installed one top-level module, plus its metadata, and no .pth file.
    tvm_tops = {Path(f).parts[0] for f in env["tvm_files"]}
    assert tvm_tops == {"momento_tvm", DIST_INFO}, env["tvm_files"]
    assert [top for top, owners in env["owners"].items() if "momento-tvm" in owners] == ["momento_tvm"]
    assert env["owners"]["momento_tvm"] == ["momento-tvm"]
    # Every top-level module in site-packages belongs to some installed distribution; no project tool is one.
    assert [top for top in env["top_level"] if top not in env["owners"]] == []
    assert not set(DEV_TOOLS) & set(env["top_level"])
    assert env["dev_tools_found"] == []


def test_every_distribution_in_the_venv_is_a_declared_dependency(installed: Installed) -> None:
    """Walk `Requires-Dist` from momento-tvm[fastapi,flask], extras and markers included: what the walk does not
    reach was not asked for by the wheel. Markers are evaluated here: the venv runs this same interpreter."""
    distributions: dict[str, Any] = {
        canonicalize_name(n): d for n, d in installed.report["environment"]["distributions"].items()
    }
    reached: dict[str, set[str]] = {}
    pending: list[tuple[str, set[str]]] = [("momento-tvm", set(EXTRAS))]
    while pending:
        name, extras = pending.pop()
        if name in reached and extras <= reached[name]:
            continue
        reached[name] = reached.get(name, set()) | extras
        for text in distributions[name]["requires"]:
            requirement = Requirement(text)
            wanted = requirement.marker is None or any(
                requirement.marker.evaluate({"extra": extra}) for extra in extras | {""}
            )
            if not wanted:
                continue
            dependency = canonicalize_name(requirement.name)
            assert dependency in distributions, f"{name} requires {requirement}, which is not installed"
            version = distributions[dependency]["version"]
            assert requirement.specifier.contains(version, prereleases=True), f"{dependency} {version}: {requirement}"
            pending.append((dependency, set(requirement.extras)))
    assert set(distributions) - SEEDED == set(reached)
    assert BASE_DEPENDENCIES | set(EXTRAS.values()) <= set(reached)


# ---------------------------------------------------------------------- what it vended, tried with the real SDK
def test_the_installed_library_vends_through_the_core_and_both_integrations(installed: Installed) -> None:
    vending = vending_report(installed)
    assert vending["version"] == momento_tvm.__version__
    assert vending["explain"]["tokenId"] == "alice"
    tokens = {"core": vending["token"], "flask": vending["flask"]["body"], "fastapi": vending["fastapi"]["body"]}
    assert (vending["flask"]["status"], vending["fastapi"]["status"]) == (200, 200)
    for via, name in (("core", "alice"), ("flask", "bob"), ("fastapi", "carol")):
        token = tokens[via]
        assert token["tokenId"] == name, via
        assert token["scope"] == {
            "tier": "readwrite",
            "cache": CACHE,
            "topics": {"role": "publish_subscribe", "cache": CACHE, "all": False, "names": [TOPIC], "prefixes": []},
            "cacheItems": None,
        }, via
        assert token["expiresAt"] > time.time(), via
    assert tokens["core"]["scope"] == vending["explain"]["scope"]
    assert tokens["core"]["authToken"] not in vending["token_repr"]
    assert vending["fastapi_routes"] == [
        ["/api/momento/token", ["GET"]],
        ["/api/momento/token", ["POST"]],
        ["/api/momento/token/explain", ["GET"]],
    ]


def test_the_integrations_refuse_a_request_without_a_user(installed: Installed) -> None:
    vending = vending_report(installed)
    for via in ("flask_unauthenticated", "fastapi_unauthenticated"):
        assert vending[via]["status"] == 401, via
        assert vending[via]["body"]["error"]["code"] == "unauthenticated", via


@pytest.mark.parametrize("via", ["core", "flask", "fastapi"])
async def test_a_token_vended_in_the_venv_publishes_and_subscribes_on_its_topic_only(
    installed: Installed, emulator: RunningEmulator, via: str
) -> None:
    vending = vending_report(installed)
    token = {"core": vending["token"], "flask": vending["flask"]["body"], "fastapi": vending["fastapi"]["body"]}[via]
    assert token["endpoint"] == f"{emulator.host}:{emulator.grpc_port}"
    provider = emulator.token_provider(token["authToken"])
    assert await sdk_rights.topic_rights(provider, emulator.cache_name, TOPIC) == (True, True)
    # Another room: the tier allows it, but the token carries only the topic that was asked for.
    assert await sdk_rights.topic_rights(provider, emulator.cache_name, f"room-2-{uuid.uuid4().hex[:8]}") == (
        False,
        False,
    )
    assert await sdk_rights.cache_rights(provider, emulator.cache_name, "wheel-key") == (False, False)
