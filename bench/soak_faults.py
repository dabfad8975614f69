"""The soak's faults phase: one steady `GET /token` stream at concurrency 1 while a part of the stack fails.

Each fault has three stages, and every answer is counted by stage, status, body code, Retry-After and latency:
- before: the stream against a healthy stack (1 s);
- during: the fault (the emulator or moto SIGSTOPped for a few seconds then SIGCONTed, or SIGKILLed and restarted);
- after: from the moment the part is back (SIGCONT sent, or restarted), until the first 200 and a little longer.
Once the part is back it is probed directly and repeatedly on a fresh connection each time (the emulator: one raw
`GenerateDisposableToken` with the root key over its own grpc channel, 0.25 s deadline; moto: `ListSecrets` with
boto3, 0.5 s timeouts, one attempt, which must list every secret seeded at start), and the time from its first
answer to the first 200 from `GET /token` is measured.

Allowed answers (anything else fails the fault): 200; 503 with body code `upstream_unavailable` and a Retry-After
header (the vending function); and, in the moto faults only, API Gateway's own 500 `{"message":"Internal Server
Error"}` (what it answers when the Lambda authorizer cannot read its users store: the emulator faults cannot cause
that, so there the same bytes mean the vending function crashed or timed out). Never slower than 2 s.

Restarts: with the stack's own supervision (`Stack.child_pid(name)`, `Stack.restarts`, `Stack.wait_ready(name, n)`)
the soak only kills and waits; without it, the emulator is restarted with `await Stack.restart_emulator()` and a
killed moto cannot be brought back, so that fault is skipped. The output says which was used.

The "cold" moto faults also recycle both functions' worker processes during the outage (between two requests, as
Lambda recycles containers): the next calls are cold starts that must read Secrets Manager while it is down. With
warm functions a short outage is hidden by their caches (the key, the users store, the gateway's decisions).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import grpc
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.internal._utilities._permissions import permissions_from_disposable_token_scope
from momento_wire_types.generated import token_pb2
from soak_common import GATEWAY_500_BODY, Answer, Deadline, PhaseResult, Secrets, basic_header, fetch_token

from devstack import Stack

__all__ = ["FaultSpec", "FaultTiming", "Restarter", "run_fault"]

HOST: Final = "127.0.0.1"
SLOW_MS: Final = 2000.0
RECOVERY_MS: Final = 1000.0
REQUEST_TIMEOUT_S: Final = 15.0  # above the functions' 10 s Timeout, so a hung function's answer is seen and counted
RECOVERY_WINDOW_S: Final = 15.0  # how long to wait for the first 200 once the part answers its probe
PROBE_WINDOW_S: Final = 30.0  # how long a part may take to answer its probe once it is back
_MINT_PATH: Final = "/token.Token/GenerateDisposableToken"


@dataclass(frozen=True)
class FaultSpec:
    name: str
    target: str  # "emulator" | "moto"
    kind: str  # "stop" (SIGSTOP ... SIGCONT) | "kill" (SIGKILL, then restarted)
    cold: bool = False  # recycle the function workers during the outage


@dataclass(frozen=True)
class FaultTiming:
    before_s: float = 1.0
    stop_s: float = 5.0  # how long a SIGSTOP lasts
    outage_s: float = 2.0  # at least this long between a SIGKILL and a restart the soak does itself
    after_s: float = 2.0  # the stream goes on this long after the first 200
    interval_s: float = 0.05  # one request at a time, started at most every interval


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running or stopped, not a zombie, and still ours (a recycled pid is not)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and int(fields[1]) == os.getpid()


class Restarter:
    """How this stack's children are found and brought back: its own supervision if it has it, else by hand."""

    _PROGRAMS: Final = {"emulator": "momento_emulator", "moto": "moto.server"}

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        # Looked up, not called directly: a stack from before supervision has none of these (typed Any on purpose).
        self._child_pid: Any = getattr(stack, "child_pid", None)
        self._wait_ready: Any = getattr(stack, "wait_ready", None)
        self.supervised = callable(self._child_pid) and callable(self._wait_ready) and hasattr(stack, "restarts")

    def describe(self) -> str:
        if self.supervised:
            return "the stack's own supervision (Stack.child_pid / restarts / wait_ready)"
        return "no supervision in this stack: Stack.restart_emulator() for the emulator; a killed moto is not restarted"

    def pid(self, name: str) -> int | None:
        if self.supervised:
            pid = self._child_pid(name)
            return int(pid) if pid is not None else None
        return next((p for p in self.stack.child_pids() if self._PROGRAMS[name] in _cmdline(p)), None)

    def restarts(self, name: str) -> int:
        if not self.supervised:
            return 0
        counts: Any = getattr(self.stack, "restarts", {})
        return int((counts() if callable(counts) else counts).get(name, 0))

    def can_restart(self, name: str) -> bool:
        return self.supervised or name == "emulator"

    async def bring_back(self, name: str, restarts_before: int, killed_at: float, timing: FaultTiming) -> str:
        """Wait until `name` is back after a SIGKILL; returns how it came back."""
        if self.supervised:
            await self._wait_ready(name, restarts_before + 1)
            return f"restarted by the stack itself (restarts: {self.restarts(name)})"
        await asyncio.sleep(max(0.0, killed_at + timing.outage_s - time.monotonic()))
        await self.stack.restart_emulator()
        return "restarted by the soak with Stack.restart_emulator()"


class Probes:
    """Direct checks that a part answers again, each on a fresh connection (no client-side backoff carried over)."""

    def __init__(self, stack: Stack, secrets: Secrets) -> None:
        self.stack = stack
        self.secrets = secrets
        self._api_key = stack.config.resolved_api_key()
        scope = DisposableTokenScopes.topic_subscribe_only(stack.info.cache_name, "soak-probe")
        self._mint = token_pb2._GenerateDisposableTokenRequest(
            auth_token=self._api_key,
            expires=token_pb2._GenerateDisposableTokenRequest.Expires(valid_for_seconds=60),
            permissions=permissions_from_disposable_token_scope(scope),
            token_id="soak-probe",
        )
        self._boto: Any = None
        self.seeded: set[str] = set()

    async def emulator(self) -> bool:
        options = [("grpc.use_local_subchannel_pool", 1), ("grpc.enable_retries", 0)]
        async with grpc.aio.insecure_channel(f"{HOST}:{self.stack.emulator_grpc_port}", options=options) as channel:
            call = channel.unary_unary(
                _MINT_PATH,
                request_serializer=token_pb2._GenerateDisposableTokenRequest.SerializeToString,
                response_deserializer=token_pb2._GenerateDisposableTokenResponse.FromString,
            )
            try:
                response = await call(self._mint, metadata=(("authorization", self._api_key),), timeout=0.25)
            except grpc.aio.AioRpcError:
                return False
        self.secrets.add(response.api_key, "a probe token's key")
        return True

    def _moto_names(self) -> set[str]:
        if self._boto is None:
            import boto3
            from botocore.config import Config

            self._boto = boto3.client(
                "secretsmanager",
                endpoint_url=self.stack.moto_url,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
                config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1}),
            )
        return {entry["Name"] for entry in self._boto.list_secrets()["SecretList"]}

    async def moto(self) -> bool:
        try:
            names = await asyncio.to_thread(self._moto_names)
        except Exception:  # refused, timed out, a 5xx: not answering yet
            return False
        return bool(names) and names >= self.seeded

    async def remember_seeded(self) -> None:
        self.seeded = await asyncio.to_thread(self._moto_names)

    async def until_answers(self, target: str, deadline: Deadline) -> float | None:
        """The monotonic time of the first answer, or None if none within PROBE_WINDOW_S."""
        probe = self.emulator if target == "emulator" else self.moto
        give_up = time.monotonic() + min(PROBE_WINDOW_S, max(0.0, deadline.left()))
        while time.monotonic() < give_up:
            if await probe():
                return time.monotonic()
            await asyncio.sleep(0.05)
        return None


class _Stream:
    """GET /token, one at a time, until stopped; `lock` is held during each request (to recycle workers between)."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        url: str,
        users: Sequence[tuple[str, str]],
        secrets: Secrets,
        interval: float,
        *,
        fresh_identities: bool,
    ) -> None:
        self.http, self.url, self.secrets, self.interval = http, url, secrets, interval
        self.headers = [basic_header(u, p) for u, p in users]
        self.fresh_identities = fresh_identities
        self.answers: list[Answer] = []
        self.stage = "before"
        self.lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._answered = asyncio.Event()

    async def first_200_after(self, at: float, give_up: float) -> Answer | None:
        """The first 200 that ended at or after `at`, waiting for it until `give_up` (monotonic)."""
        while (found := next((a for a in self.answers if a.status == 200 and a.ended >= at), None)) is None:
            self._answered.clear()
            try:
                await asyncio.wait_for(self._answered.wait(), give_up - time.monotonic())
            except TimeoutError:
                return None
        return found

    def authorization(self, i: int) -> str:
        """The i-th request's Authorization: the users in turn; with fresh identities, a value never sent before.

        The gateway caches the authorizer's answer per Authorization value, so a repeated value never reaches the
        authorizer. The same credentials written differently (the scheme's letter case, which RFC 7235 leaves
        free, and the spaces before the credentials) are new values: each is a caller the gateway has not seen.
        """
        header = self.headers[i % len(self.headers)]
        if not self.fresh_identities:
            return header
        variant = i // len(self.headers)
        scheme = "".join(c.upper() if variant >> bit & 1 else c for bit, c in enumerate("basic"))
        return scheme + " " * (1 + variant // 32) + header.split(" ", 1)[1]

    async def run(self) -> None:
        i = 0
        while not self._stop.is_set():
            started = time.monotonic()
            async with self.lock:
                answer, body = await fetch_token(
                    self.http,
                    self.url,
                    self.authorization(i),
                    None,
                    timeout_seconds=REQUEST_TIMEOUT_S,
                    stage=self.stage,
                )
            i += 1
            self.answers.append(answer)
            self._answered.set()
            if body is not None and isinstance(body.get("authToken"), str):
                self.secrets.add_token(body["authToken"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, started + self.interval - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()


def _wait_reaped(pids: list[int], within_seconds: float) -> None:
    give_up = time.monotonic() + within_seconds
    while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < give_up:
        time.sleep(0.01)


async def _recycle_workers(stack: Stack, stream: _Stream) -> int:
    """SIGKILL the functions' worker processes between two requests and wait until they are reaped."""
    async with stream.lock:
        pids = [p for p in stack.api.pids if _alive(p) and "local_api.worker" in _cmdline(p)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        await asyncio.to_thread(_wait_reaped, pids, 5.0)
        await asyncio.sleep(0.05)  # the event loop marks them exited: the next request spawns fresh ones
    return len(pids)


def _violation(answer: Answer, allow_gateway_500: bool) -> str | None:
    if answer.status is None:
        return f"no answer within {REQUEST_TIMEOUT_S:.0f} s ({answer.error})"
    if answer.latency_ms > SLOW_MS:
        return f"slower than 2 s: {answer.key}"
    if answer.status == 200:
        return None
    if answer.status == 503 and answer.code == "upstream_unavailable" and answer.retry_after:
        return None
    if answer.status == 500 and answer.body == GATEWAY_500_BODY and allow_gateway_500:
        return None
    return f"not allowed: {answer.key}"


async def run_fault(
    spec: FaultSpec,
    *,
    stack: Stack,
    http: aiohttp.ClientSession,
    users: Sequence[tuple[str, str]],
    restarter: Restarter,
    probes: Probes,
    timing: FaultTiming,
    deadline: Deadline,
    secrets: Secrets,
) -> PhaseResult:
    on_emulator = spec.target == "emulator"
    result = PhaseResult(
        f"fault: {spec.name}",
        "200|503 upstream_unavailable+RA"
        + ("; <2 s; 200 <=1 s after probe" if on_emulator else "|gateway 500; <2 s; a 200 once back"),
    )
    if spec.kind == "kill" and not restarter.can_restart(spec.target):
        result.skipped = True
        result.notes.append(f"skipped: {restarter.describe()}")
        return result
    result.ran = True
    pid = restarter.pid(spec.target)
    if pid is None:
        result.fail(f"no running {spec.target} process found")
        return result
    stream = _Stream(http, f"{stack.api_url}/token", users, secrets, timing.interval_s, fresh_identities=spec.cold)
    streaming = asyncio.create_task(stream.run())
    outcome = _Outcome()
    try:
        await _inflict(spec, pid, stack, stream, restarter, timing, deadline, result, outcome)
        if outcome.back_at is not None:
            stream.stage = "after"
            outcome.answered_at = await probes.until_answers(spec.target, deadline)
        if outcome.answered_at is not None:
            give_up = min(outcome.answered_at + RECOVERY_WINDOW_S, deadline.at)
            first = outcome.first_200 = await stream.first_200_after(outcome.back_at or 0.0, give_up)
            if first is not None:
                await asyncio.sleep(min(timing.after_s, max(0.0, deadline.left())))
    finally:
        stream.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(streaming, REQUEST_TIMEOUT_S + 1)
    _judge(result, spec, stream.answers, outcome)
    return result


@dataclass
class _Outcome:
    how: str = ""
    fault_at: float = 0.0
    back_at: float | None = None  # SIGCONT sent, or the restarted part ready
    answered_at: float | None = None  # its first answer to a direct probe
    first_200: Answer | None = None


async def _inflict(
    spec: FaultSpec,
    pid: int,
    stack: Stack,
    stream: _Stream,
    restarter: Restarter,
    timing: FaultTiming,
    deadline: Deadline,
    result: PhaseResult,
    outcome: _Outcome,
) -> None:
    """Run `before`, then the fault itself; sets outcome.back_at once the part is back (if it comes back)."""
    await asyncio.sleep(min(timing.before_s, max(0.0, deadline.left())))
    stream.stage = "during"
    outcome.fault_at = time.monotonic()
    restarts_before = restarter.restarts(spec.target)
    if spec.kind == "stop":
        os.killpg(pid, signal.SIGSTOP)
        try:
            if spec.cold:
                await asyncio.sleep(min(1.0, timing.stop_s / 2))
                result.notes.append(f"recycled {await _recycle_workers(stack, stream)} function workers")
            await asyncio.sleep(max(0.0, min(outcome.fault_at + timing.stop_s - time.monotonic(), deadline.left())))
        finally:
            os.killpg(pid, signal.SIGCONT)
        outcome.how = f"SIGSTOP for {timing.stop_s:g} s, then SIGCONT"
        outcome.back_at = time.monotonic()
        return
    os.killpg(pid, signal.SIGKILL)
    outcome.how = "SIGKILL"
    if spec.cold:
        result.notes.append(f"recycled {await _recycle_workers(stack, stream)} function workers")
    limit = max(1.0, min(60.0, deadline.left()))
    try:
        async with asyncio.timeout(limit):
            outcome.how += "; " + await restarter.bring_back(spec.target, restarts_before, outcome.fault_at, timing)
    except TimeoutError:
        result.fail(f"the {spec.target} was not back within {limit:.0f} s of its SIGKILL")
        return
    outcome.back_at = time.monotonic()


def _judge(result: PhaseResult, spec: FaultSpec, answers: list[Answer], outcome: _Outcome) -> None:
    result.count(answers)
    on_emulator = spec.target == "emulator"
    if outcome.back_at is not None:
        result.notes.insert(0, f"{outcome.how}; back {outcome.back_at - outcome.fault_at:.2f} s after the fault began")
    for stage in ("before", "during", "after"):
        in_stage = [a for a in answers if a.stage == stage]
        counts = collections.Counter(a.key for a in in_stage)
        slowest = max((a.latency_ms for a in in_stage), default=0.0)
        summary = ", ".join(f"{key}: {n}" for key, n in counts.most_common()) or "none"
        result.notes.append(f"{stage}: {len(in_stage)} answers ({summary}); slowest {slowest:.0f} ms")
    violations = collections.Counter(
        reason for a in answers if (reason := _violation(a, allow_gateway_500=not on_emulator)) is not None
    )
    for reason, n in violations.most_common():
        result.fail(f"{n} x {reason}")
    if outcome.back_at is None:
        return
    target = "emulator" if on_emulator else "Secrets Manager (moto)"
    if outcome.answered_at is None:
        result.fail(f"the {target} did not answer its probe within {PROBE_WINDOW_S:.0f} s of coming back")
        return
    probe_note = f"the {target} answered a direct probe {outcome.answered_at - outcome.back_at:.2f} s after coming back"
    if outcome.first_200 is None:
        result.fail(f"{probe_note}; no 200 from GET /token within {RECOVERY_WINDOW_S:.0f} s after that")
        return
    recovery_ms = max(0.0, (outcome.first_200.ended - outcome.answered_at) * 1000)
    result.notes.append(f"{probe_note}; the first 200 {recovery_ms:.0f} ms after the probe")
    if on_emulator and recovery_ms > RECOVERY_MS:
        result.fail(f"the first 200 came {recovery_ms:.0f} ms after the emulator answered its probe (limit 1000 ms)")
