"""What `sam build` produces, checked on its own.

- Every build output imports on its own: each built function in a clean `python3.13 -I -S` (no site-packages at all,
  no PYTHON* variables) with only its folder and its layers on the path, answering the deploy check's probe (which
  imports what only a request imports, grpc). Under MiniStack a function runs on MiniStack's own interpreter, whose
  packages (PyYAML, boto3, typing_extensions, ...) sit on its path and would hide a dependency missing from
  requirements.txt; on AWS the runtime has none of them.
- The default build (docs/deploy.md's plain `sam build`, arm64) holds aarch64 native extensions, and none other, for
  the packages that ship them (grpc, PyYAML, protobuf): built on this x86_64 machine, in its own folder.
- The layer (src/Makefile) ships every module of momento_tvm with its unchecked-hash Python 3.13 bytecode, and Python
  3.13 runs that bytecode, not the sources, in both builds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
from samtranslator.yaml_helper import yaml_parse

from .conftest import World
from .world import REPORT

# Cold caches: the first test waits for MiniStack, both builds (wheels downloaded) and a deployment.
pytestmark = pytest.mark.timeout(900)

ELF_MACHINES: Final = {62: "x86_64", 183: "arm64"}
# The vending function's and the canary's packages with native code (the canary's PyYAML comes with momento_tvm's
# policy module), and where their extensions are in the package.
NATIVE_PACKAGES: Final = {"grpcio": "grpc/", "PyYAML": "yaml/", "protobuf": "google/_upb/"}
_IMPORT: Final = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
outside = [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
assert not outside, f"not a clean interpreter: {outside}"
import app
heavy = sorted({name.partition(".")[0] for name in sys.modules} & {"yaml", "grpc", "google", "boto3", "botocore"})
answer = app.handler({"deployCheck": "import"}, None)
print(json.dumps(heavy))
print(json.dumps(answer))
"""


def _functions(template: Path) -> dict[str, dict[str, Any]]:
    resources = yaml_parse(template.read_text())["Resources"]
    return {name: r for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def _layers(build: Path, function: dict[str, Any]) -> list[str]:
    """The folders of a function's layers built with it (AWS::Serverless::LayerVersion): python/ inside each."""
    found = []
    for layer in function["Properties"].get("Layers", []):
        assert isinstance(layer, dict) and set(layer) == {"Ref"}, f"a layer this test cannot find locally: {layer}"
        found.append(str(build / layer["Ref"] / "python"))
    return found


def test_every_build_output_imports_on_its_own(world: World) -> None:
    build = world.build("x86_64")
    python = str(world.python313)
    imported = []
    for name, function in _functions(build.template).items():
        properties = function["Properties"]
        if "InlineCode" in properties:  # the deploy check: standard library and the runtime's boto3
            continue
        folder = build.directory / properties["CodeUri"]
        path = [str(folder), *_layers(build.directory, function)]
        result = subprocess.run(
            [python, "-I", "-S", "-c", _IMPORT, json.dumps(path)],
            cwd=folder,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 0, f"{name} does not import on its own: {lines[-1] if lines else result.stdout}"
        *_, heavy, answer = result.stdout.strip().splitlines()
        assert json.loads(answer) == {"deployCheck": "ok"}, result.stdout
        if name == "CredentialsAuthorizerFunction":  # standard library only, the layer's momento_tvm included
            assert json.loads(heavy) == [], f"the authorizer's cold start imports {heavy}"
        imported.append(name)
    assert imported, "no function with code of its own in the build"
    REPORT.add("checked", f"clean import (python3.13 -I -S, only its folder and its layers): {', '.join(imported)}")


def _elf_machine(path: Path) -> str | None:
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return None
    return ELF_MACHINES.get(int.from_bytes(head[18:20], "little"), f"machine {int.from_bytes(head[18:20], 'little')}")


@pytest.mark.parametrize("function", ["TokenVendingFunction", "CanaryFunction"])
def test_the_default_build_is_arm64_with_aarch64_native_extensions(world: World, function: str) -> None:
    build = world.build("arm64")
    assert build.directory != world.root / ".aws-sam" / "build"
    folder = build.function(function)
    native = {
        path.relative_to(folder).as_posix(): _elf_machine(path)
        for path in folder.rglob("*")
        if path.is_file() and (path.name.endswith(".so") or ".so." in path.name)
    }
    foreign = {path: machine for path, machine in native.items() if machine != "arm64"}
    assert not foreign, f"the default (arm64) build holds native code for another machine: {foreign}"
    for package, prefix in NATIVE_PACKAGES.items():
        found = [path for path in native if path.startswith(prefix)]
        assert found, f"{package}: no native extension under {prefix} (the build fell back to pure Python?)"
    REPORT.add("checked", f"arm64 build: {len(native)} native files, all aarch64 ({', '.join(sorted(native))})")


_BYTECODE: Final = """
import json, sys
sys.path[:0] = json.loads(sys.argv[1])
import momento_tvm.aws_json, momento_tvm.errors
print(json.dumps([hasattr(m, "SOURCE_READ") for m in (momento_tvm, momento_tvm.aws_json, momento_tvm.errors)]))
"""


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_the_layer_ships_unchecked_bytecode_that_python313_uses(
    world: World, architecture: str, tmp_path: Path
) -> None:
    """src/Makefile (BuildMethod: makefile, issue 28): every module of the layer with its Python 3.13 .pyc, unchecked-
    hash (PEP 552 flags 0b01: a zip keeps times only to 2 s), and Python 3.13 runs them, not the sources: in a copy
    whose sources gained a line, the modules do not have it."""
    build = world.build(architecture)
    package = build.directory / "MomentoTvmLayer" / "python" / "momento_tvm"
    sources = sorted(package.glob("*.py"))
    assert sources, f"no momento_tvm in the layer: {package}"
    for source in sources:
        compiled = package / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert compiled.is_file(), f"no bytecode for {source.name}"
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == 0b01, f"{compiled.name}: flags {flags:#04b}, not unchecked-hash"
    copy = tmp_path / "python"
    shutil.copytree(package.parent, copy)
    for name in ("__init__", "aws_json", "errors"):
        with (copy / "momento_tvm" / f"{name}.py").open("a", encoding="utf-8") as source_file:
            source_file.write("\nSOURCE_READ = True\n")
    result = subprocess.run(
        [str(world.python313), "-I", "-S", "-B", "-c", _BYTECODE, json.dumps([str(copy)])],
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False, False], "the sources were compiled"
    REPORT.add("checked", f"{architecture} layer: {len(sources)} modules with unchecked-hash cpython-313 .pyc, used")
