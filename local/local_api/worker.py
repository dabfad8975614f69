"""The child side of a function worker: one process plays one warm Lambda container for one function.

Why a process per function: two handlers in one interpreter share `os.environ`, `sys.modules` (two modules named
`app`) and Powertools' module-level state. Lambda gives every function its own sandbox; so does this.

    python -m local_api.worker --code-uri functions/token_vending --handler app.handler --layer src

Protocol, one JSON object per line. Before importing anything of the function, the worker keeps a private duplicate
of its stdout for the protocol and points fd 1 at stderr: whatever the handler prints (Powertools logs, EMF metrics)
goes to stderr like Lambda's logs, and cannot corrupt a reply. Requests arrive on a duplicate of stdin (fd 0 is then
/dev/null).
- worker -> parent, once: `{"ready": true}`, or `{"initError": {"errorType", "errorMessage"}}` and exit 1;
- parent -> worker: `{"id", "event", "requestId", "deadlineMs", "invokedFunctionArn"}`;
- worker -> parent: `{"id", "result"}` or `{"id", "error": {"errorType", "errorMessage"}}`.
EOF on the requests ends the worker (so it dies with its parent); SIGINT is ignored (a Ctrl-C in the terminal reaches
the whole process group: the parent decides when workers stop).
"""

from __future__ import annotations

import argparse
import decimal
import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["LambdaContext", "main"]

Handler = Callable[[Any, "LambdaContext"], Any]


class LambdaContext:
    """The context object the Python runtime passes (the same attributes, `memory_limit_in_mb` a string too)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_name = name
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _private_channels() -> tuple[IO[bytes], IO[bytes]]:
    """(requests, replies) on private duplicates of fds 0 and 1; fd 1 becomes stderr and fd 0 /dev/null."""
    replies = os.fdopen(os.dup(1), "wb")
    requests = os.fdopen(os.dup(0), "rb")
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # one log line at a time, as Lambda ships them
    return requests, replies


_request_id = ""  # the invocation being served, for the log lines' request-id column


class _RuntimeFormatter(logging.Formatter):
    """The Python runtime's text format: `[LEVEL]\t2026-11-26T15:00:00.123Z\t<request id>\tmessage`."""

    def __init__(self) -> None:
        super().__init__(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        self.converter = time.gmtime  # UTC, as the runtime writes it

    def format(self, record: logging.LogRecord) -> str:
        record.aws_request_id = _request_id
        return super().format(record)


def _runtime_logging() -> None:
    """What the Lambda Python runtime sets up before it imports a handler: a handler on the root logger, on stderr.

    Without it, a function's `logging` lines below WARNING (the authorizer's INFO decisions) would be written in AWS
    and silently dropped here. Powertools' Logger has its own handler and does not propagate to this one.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RuntimeFormatter())
    logging.getLogger().addHandler(handler)


def _send(channel: IO[bytes], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, separators=(",", ":"), default=_json_default).encode("utf-8") + b"\n")
    channel.flush()


def _json_default(value: object) -> object:
    """What the Lambda runtime's encoder adds to json: Decimals (DynamoDB numbers) as numbers."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(error: BaseException, error_type: str | None = None) -> dict[str, str]:
    return {"errorType": error_type or type(error).__name__, "errorMessage": str(error)}


def _log_error(error: BaseException) -> None:
    """As the Lambda runtime logs an unhandled exception: `[ERROR] Type: message` and the traceback."""
    sys.stderr.write(f"[ERROR] {type(error).__name__}: {error}\n")
    traceback.print_exception(error, file=sys.stderr)
    sys.stderr.flush()


class _HandlerNotFoundError(Exception):
    """The module imported but has no such callable (Lambda's Runtime.HandlerNotFound)."""


def _load(handler: str) -> Handler:
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise _HandlerNotFoundError(f"Bad handler {handler!r}: expected module.function")
    module = importlib.import_module(module_name.replace("/", "."))
    function = getattr(module, function_name, None)
    if not callable(function):
        raise _HandlerNotFoundError(f"Handler {function_name!r} missing on module {module_name!r}")
    return function  # type: ignore[no-any-return]


def _init_error(handler: str, error: BaseException) -> dict[str, str]:
    """As the Lambda runtime reports a failed init."""
    if isinstance(error, _HandlerNotFoundError):
        return _error(error, "Runtime.HandlerNotFound")
    module = handler.rpartition(".")[0]
    message = f"Unable to import module {module!r}: {type(error).__name__}: {error}"
    return {"errorType": "Runtime.ImportModuleError", "errorMessage": message}


def serve(requests: IO[bytes], replies: IO[bytes], handler: Handler) -> None:
    """Answer requests one at a time until EOF, as one Lambda container does."""
    global _request_id
    for line in requests:
        request = json.loads(line)
        _request_id = str(request["requestId"])
        context = LambdaContext(
            str(request["requestId"]), str(request["invokedFunctionArn"]), int(request["deadlineMs"])
        )
        reply: dict[str, Any]
        try:
            reply = {"id": request["id"], "result": handler(request["event"], context)}
        except Exception as error:
            _log_error(error)
            reply = {"id": request["id"], "error": _error(error)}
        try:
            _send(replies, reply)
        except (TypeError, ValueError) as error:  # a result json cannot encode
            _log_error(error)
            _send(replies, {"id": request["id"], "error": _error(error, "Runtime.MarshalError")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one Lambda handler for local_api (one process per function).")
    parser.add_argument("--code-uri", required=True, type=Path, help="the function's folder (its CodeUri)")
    parser.add_argument("--handler", required=True, help="module.function, as the template's Handler")
    parser.add_argument(
        "--layer", action="append", default=[], type=Path, help="a layer's folder (its ContentUri), in order"
    )
    args = parser.parse_args(argv)
    requests, replies = _private_channels()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    code_uri = args.code_uri.resolve()
    # As Lambda orders them: the function's folder (/var/task), then its layers (/opt/python), then the runtime's.
    sys.path[0:0] = [str(code_uri), *(str(layer.resolve()) for layer in args.layer)]
    os.chdir(code_uri)  # Lambda's working directory is the code's folder (/var/task)
    _runtime_logging()
    try:
        handler = _load(args.handler)
    except BaseException as error:  # SystemExit or a syntax error at import is an init error too
        _log_error(error)
        _send(replies, {"initError": _init_error(args.handler, error)})
        return 1
    _send(replies, {"ready": True})
    serve(requests, replies, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
