"""What the vending function's cold path imports (issue 28), seen from a fresh interpreter's `sys.modules`.

Each module kept off the path here was measured on Python 3.13 without bytecode, as Lambda runs the function:
Powertools' event_handler (its AppSync resolvers, data classes and jmespath) about 0.2 s, the generated Momento wire
types the mint does not use about 0.15 s, fastjsonschema's schema compiler about 35 ms. The handler must still answer
as before (tests/integration/test_vending_function.py), and anyone else in the process still gets the whole packages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "functions" / "token_vending"

_LOADED = """
import json, sys
before = set(sys.modules)
exec(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(statement: str, cwd: Path = ROOT) -> set[str]:
    """The modules a fresh interpreter loads to run `statement`, with the function's folder first on its path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "MOMENTO_", "LIMITS_"))}
    env |= {"POWERTOOLS_SERVICE_NAME": "token-vending", "POWERTOOLS_METRICS_NAMESPACE": "Test", "LOG_LEVEL": "ERROR"}
    env |= {"POWERTOOLS_LOG_LEVEL": "ERROR", "AWS_DEFAULT_REGION": "us-east-1", "MOMENTO_ENDPOINT": "127.0.0.1:1"}
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, f"sys.path.insert(0, {str(FUNCTION)!r})\n{statement}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_vending_handler_loads_no_event_handler_grpc_or_wire_types() -> None:
    loaded = loaded_by("import app", cwd=FUNCTION)
    assert "app" in loaded and "aws_lambda_powertools.logging.logger" in loaded  # Logger and metrics stay
    assert not {m for m in loaded if m.startswith("aws_lambda_powertools.event_handler")}
    assert not {m for m in loaded if m.partition(".")[0] in {"grpc", "momento_wire_types", "boto3"}}
    assert not {m for m in loaded if m.startswith("botocore.")}  # Powertools' user agent tries `import botocore` only
    assert not {"fastjsonschema.generator", "fastjsonschema.draft04"} & loaded  # only its exceptions


def test_the_mint_loads_only_the_two_wire_types_it_sends() -> None:
    loaded = loaded_by("import momento_tvm.wire, momento_tvm.minting")
    generated = {m.rpartition(".")[2] for m in loaded if m.startswith("momento_wire_types.generated.")}
    assert generated == {"token_pb2", "permissionmessages_pb2"}, generated
    assert "grpc" not in loaded  # grpc comes with the first mint's channel (momento_tvm.minting)


def test_the_deferred_packages_are_whole_for_anyone_who_asks() -> None:
    loaded = loaded_by(
        "import momento_tvm.wire, momento_tvm.policy\n"
        "import momento_wire_types, fastjsonschema\n"
        "from momento_wire_types import cacheclient_pb2\n"
        "assert momento_wire_types.auth_pb2.__name__ == 'momento_wire_types.generated.auth_pb2'\n"
        "assert 'auth_pb2' in momento_wire_types.__all__\n"
        "assert fastjsonschema.compile({'type': 'integer'})(3) == 3\n"
        "from fastjsonschema import JsonSchemaValueException\n"
        "from momento_tvm.policy import JsonSchemaValueException as used\n"
        "assert used is JsonSchemaValueException\n"
    )
    assert {"momento_wire_types.generated.cachepubsub_pb2", "fastjsonschema.draft04"} <= loaded
