"""The vending core is a library for embedding: a stable export list, and no AWS or Momento SDK at import."""

from __future__ import annotations

import json
import subprocess
import sys

import momento_tvm


def test_every_exported_name_exists() -> None:
    assert sorted(momento_tvm.__all__) == sorted(set(momento_tvm.__all__))
    for name in momento_tvm.__all__:
        assert getattr(momento_tvm, name) is not None


def test_importing_the_core_loads_neither_aws_nor_the_momento_sdk() -> None:
    """Embedding apps and `GET /token/explain` must not pay for boto3 or momento (about 140 ms each), nor the Lambda
    for the web frameworks of the integrations (imported only from momento_tvm.fastapi and momento_tvm.flask)."""
    probe = (
        "import json, sys, momento_tvm; "
        "print(json.dumps([m for m in ('boto3', 'botocore', 'momento', 'aws_lambda_powertools', 'grpc', "
        "'fastapi', 'flask', 'starlette') if m in sys.modules]))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded) == []
