"""`make canary`: the canary's one line, from a deployed stack or from `make dev`'s emulator; exit 1 on failure.

    python -m canary --stack NAME [--region REGION]   # invoke the stack's CanaryFunction (boto3): no key here
    python -m canary                                  # the same check here, against make dev's emulator

With a stack, the deployed function runs the check with the stack's own key (its output CanaryFunctionName names
it); this laptop needs only permission to invoke it. Without one, functions/canary/canary_check.py runs here against
the emulator at 127.0.0.1:MOMENTO_GRPC_PORT (default 8080) with make dev's key (MOMENTO_EMULATOR_API_KEY, else the
emulator's development key), in CACHE_NAME (default default-cache, make dev's), spending its unit from a limiter in
this process's memory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CANARY_DIR = ROOT / "functions" / "canary"
OUTPUT = "CanaryFunctionName"


def local_line() -> tuple[bool, str]:
    """(passed, line) of one run here against the emulator."""
    sys.path.insert(0, str(CANARY_DIR))
    from canary_check import CanaryFailure, CanaryTarget, run_canary

    from momento_emulator import DEFAULT_API_KEY
    from momento_tvm.limits import InMemoryLimiter

    api_key = os.environ.get("MOMENTO_EMULATOR_API_KEY") or DEFAULT_API_KEY  # as make dev chooses it
    port = os.environ.get("MOMENTO_GRPC_PORT", "").strip() or "8080"
    cache = os.environ.get("CACHE_NAME", "").strip() or "default-cache"
    try:
        passed = run_canary(CanaryTarget(api_key, f"127.0.0.1:{port}", cache), InMemoryLimiter())
    except CanaryFailure as failure:
        return False, failure.line
    return True, passed.line


def stack_line(stack: str, region: str | None) -> tuple[bool, str]:
    """(passed, line) of the stack's canary function, invoked once."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
        names = [o["OutputValue"] for o in outputs if o["OutputKey"] == OUTPUT]
        if not names:
            return False, f"canary FAILED (no_canary): the stack {stack} has no {OUTPUT} output (deployed before it?)"
        answer = boto3.client("lambda", region_name=region).invoke(FunctionName=names[0], Payload=b"{}")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "ClientError")
        return False, f"canary FAILED (invoke_failed): cannot invoke the canary of stack {stack} ({code})"
    except BotoCoreError as error:
        return False, f"canary FAILED (invoke_failed): cannot reach AWS ({type(error).__name__})"
    try:
        body: Any = json.loads(answer["Payload"].read() or b"null")
    except ValueError:
        body = None
    if answer.get("FunctionError") or not isinstance(body, dict) or "line" not in body:
        kind = body.get("errorType", "no answer") if isinstance(body, dict) else "no answer"
        return False, f"canary FAILED (function_error): the canary function itself failed ({kind})"
    return bool(body.get("ok")), str(body["line"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m canary", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stack", help="a deployed stack's name: invoke its canary function")
    parser.add_argument("--region", help="the stack's region (default: the AWS CLI's)")
    args = parser.parse_args(argv)
    passed, line = stack_line(args.stack, args.region) if args.stack else local_line()
    print(line)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
