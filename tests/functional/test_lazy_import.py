"""`momento_tvm` loads nothing until asked (issue 21): the authorizer imports `momento_tvm.aws_json` from the shared
layer, and its cold start must not pay for PyYAML, the policy validator or gRPC, which only the vending core needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import momento_tvm

_LOADED = """
import json, sys
before = set(sys.modules)
exec(sys.argv[1])
print(json.dumps(sorted(name for name in set(sys.modules) - before if not name.startswith("encodings"))))
"""


def loaded_by(statement: str) -> list[str]:
    """The modules a fresh interpreter loads to run `statement`."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", _LOADED, statement], capture_output=True, text=True, timeout=60, check=True
    )
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_the_package_and_its_aws_client_load_no_third_party_module() -> None:
    loaded = loaded_by("import momento_tvm, momento_tvm.aws_json")
    ours = {name for name in loaded if name.startswith("momento_tvm")}
    assert ours == {"momento_tvm", "momento_tvm.aws_json"}, ours
    assert not {name.partition(".")[0] for name in loaded} & {"yaml", "grpc", "google", "fastjsonschema", "boto3"}


def test_a_public_name_loads_its_module_on_first_use() -> None:
    loaded = loaded_by("from momento_tvm import VendingMachine")
    assert {"momento_tvm.vending", "momento_tvm.policy", "yaml"} <= set(loaded)


@pytest.mark.parametrize("name", momento_tvm.__all__)
def test_every_exported_name_resolves_and_is_listed(name: str) -> None:
    assert getattr(momento_tvm, name) is not None
    assert name in dir(momento_tvm)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        momento_tvm.NoSuchThing  # noqa: B018
