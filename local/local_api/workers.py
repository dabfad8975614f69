"""The parent side of function workers: one process per function, spawned, fed, timed, restarted and stopped.

Like a single warm Lambda container per function: one invocation at a time (requests queue on a lock), the
function's `Timeout` enforced by killing the process, a crashed or killed worker replaced on the next request. The
worker's environment is what Lambda would give it: the template's resolved variables and the runtime's own, and
nothing of the developer's shell that could change the outcome (AWS credentials and profiles, the project's
variables); see `function_environment`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from .errors import WorkerStartError
from .template import FunctionSpec

__all__ = ["InvocationError", "Worker", "function_environment"]

log = logging.getLogger("local_api.workers")

_LINE_LIMIT: Final = 32 * 1024 * 1024  # a reply is one line: Lambda's 6 MB payload, JSON-escaped, fits
_MIN_INIT_SECONDS: Final = 10.0  # Lambda's init phase limit
_LEAKY_PREFIXES: Final = ("AWS_", "POWERTOOLS_", "MOMENTO_", "LAMBDA_", "_X_AMZN_", "_HANDLER")
_LEAKY_WORDS: Final = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|API_?KEY|PRIVATE_KEY", re.IGNORECASE)


class InvocationError(Exception):
    """An invocation that produced no result: a handler exception, a crash, a timeout (the gateway answers 500)."""


def function_environment(
    spec: FunctionSpec,
    *,
    region: str,
    overrides: Mapping[str, str] | None = None,
    declared: Iterable[str] = (),
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The worker's environment, lowest precedence first.

    1. `base` (os.environ) minus anything AWS-, credential- or project-like, and minus every variable any function of
       the template declares: a value must come from the template or from an explicit override, never the shell;
    2. what the Lambda runtime sets (function name, memory, region, task root, handler), plus `AWS_SAM_LOCAL` as
       `sam local` sets it, and no fallback to `~/.aws` or instance metadata for credentials;
    3. the function's resolved template environment (Globals merged);
    4. `overrides` (the caller's: local endpoints, dummy credentials).
    """
    declared_names = set(declared)
    inherited = {
        name: value
        for name, value in (os.environ if base is None else base).items()
        if not name.startswith(_LEAKY_PREFIXES) and not _LEAKY_WORDS.search(name) and name not in declared_names
    }
    runtime = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        "AWS_SAM_LOCAL": "true",
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",  # the code folder is read-only in Lambda: leave no __pycache__ in the repo
    }
    return {**inherited, **runtime, **spec.environment, **(overrides or {})}


class Worker:
    """One function's worker process (see `local_api.worker` for the child side and the protocol)."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], *, grace_seconds: float = 2.0) -> None:
        self.spec = spec
        self._environment = dict(environment)
        self._grace = grace_seconds
        self._process: asyncio.subprocess.Process | None = None
        self._relays: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._next_id = 0
        self.invocations = 0
        self.pids: list[int] = []  # every process ever spawned, for tests that check none is left

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.returncode is None else None

    async def start(self) -> None:
        """Spawn the process and wait until it has imported the handler (Lambda's init phase)."""
        async with self._lock:
            if self.pid is None:
                await self._spawn()

    async def restart(self) -> None:
        """A fresh process in place of the running one (a new container: the handler and its caches loaded again).

        Waits for an invocation under way to finish; requests arriving meanwhile wait for the new process.
        Raises WorkerStartError if the new one cannot load its handler (the next request tries again).
        """
        async with self._lock:
            if self._process is not None:
                await self._end(self._process, kill=False, terminate=True)
            await self._spawn()

    async def invoke(self, event: Mapping[str, Any], request_id: str) -> Any:
        """The handler's result for `event`; one invocation at a time. Raises InvocationError."""
        async with self._lock:
            self.invocations += 1
            if self.pid is None:
                try:
                    await self._spawn()
                except WorkerStartError as error:
                    raise InvocationError(str(error)) from None
            process = self._process
            assert process is not None and process.stdin is not None and process.stdout is not None
            self._next_id += 1
            timeout = float(self.spec.timeout_seconds)
            request = {
                "id": self._next_id,
                "event": event,
                "requestId": request_id,
                "deadlineMs": int((time.time() + timeout) * 1000),
                "invokedFunctionArn": self.spec.arn,
            }
            try:
                process.stdin.write(json.dumps(request, separators=(",", ":")).encode("utf-8") + b"\n")
                await process.stdin.drain()
                line = await asyncio.wait_for(process.stdout.readline(), timeout)
            except TimeoutError:
                self._say(f"{request_id} Task timed out after {timeout:.2f} seconds")
                await self._end(process, kill=True)
                raise InvocationError(f"{self.spec.logical_id} timed out after {timeout:g} s") from None
            except (ConnectionError, ValueError) as error:  # a broken pipe, or a reply over the line limit
                await self._end(process, kill=True)
                raise InvocationError(f"{self.spec.logical_id}: {type(error).__name__}: {error}") from None
            if not line:
                code = await self._end(process, kill=False)
                self._say(f"{request_id} worker exited with code {code} during the invocation; restarted next time")
                raise InvocationError(f"{self.spec.logical_id} exited with code {code}")
            reply = json.loads(line)
            if "error" in reply:
                failure = reply["error"]
                raise InvocationError(f"{self.spec.logical_id}: {failure['errorType']}: {failure['errorMessage']}")
            return reply["result"]

    async def stop(self) -> None:
        """Terminate the process (kill it after the grace period) and wait for its output to drain."""
        process, self._process = self._process, None
        if process is not None:
            await self._end(process, kill=False, terminate=True)
        for relay in list(self._relays):
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(relay, self._grace)

    # ------------------------------------------------------------------------------------------------ internals
    async def _spawn(self) -> None:
        spec = self.spec
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "local_api.worker",
            "--code-uri",
            str(spec.code_uri),
            "--handler",
            spec.handler,
            *(argument for layer in spec.layers for argument in ("--layer", str(layer))),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._environment,
            cwd=spec.code_uri,
            limit=_LINE_LIMIT,
        )
        self.pids.append(process.pid)
        assert process.stdout is not None and process.stderr is not None
        relay = asyncio.create_task(self._relay(process.stderr), name=f"local_api stderr {spec.logical_id}")
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)
        init_seconds = max(_MIN_INIT_SECONDS, float(spec.timeout_seconds))
        try:
            line = await asyncio.wait_for(process.stdout.readline(), init_seconds)
        except TimeoutError:
            await self._end(process, kill=True)
            raise WorkerStartError(
                f"{spec.logical_id}: importing {spec.handler} took over {init_seconds:g} s"
            ) from None
        except BaseException:  # cancelled (stopping while it starts or restarts): leave no process behind
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        message = json.loads(line) if line else {}
        if message.get("ready") is not True:
            code = await self._end(process, kill=False)
            error = message.get("initError")
            reason = f"{error['errorType']}: {error['errorMessage']}" if error else f"exited with code {code}"
            raise WorkerStartError(f"{spec.logical_id} could not load {spec.handler} from {spec.code_uri}: {reason}")
        self._process = process

    async def _end(self, process: asyncio.subprocess.Process, *, kill: bool, terminate: bool = False) -> int:
        """Make sure `process` is gone and reaped; returns its exit code."""
        if self._process is process:
            self._process = None
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        if process.returncode is None and (kill or terminate):
            with contextlib.suppress(ProcessLookupError):
                process.kill() if kill else process.terminate()
        try:
            return await asyncio.wait_for(process.wait(), self._grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            return await process.wait()

    async def _relay(self, stream: asyncio.StreamReader) -> None:
        """The function's logs (its stdout and stderr), line by line, prefixed with its name, on our stderr."""
        pending = b""
        while chunk := await stream.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._say(line.decode("utf-8", "replace"))
        if pending:
            self._say(pending.decode("utf-8", "replace"))

    def _say(self, text: str) -> None:
        sys.stderr.write(f"[{self.spec.logical_id}] {text.rstrip()}\n")
        sys.stderr.flush()
