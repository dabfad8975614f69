"""`make soak`: a bounded reliability run of the whole offline stack on 127.0.0.1, with pass criteria per phase.

It starts its own stack in this process (`devstack.Stack`, every port free, LambdaAuthorizer mode with the demo
users), then runs, under one global deadline:
1. steady load: N `GET /token` (Basic alice/bob/viewer, some with ?topics=) at concurrency C: every answer a 200
   with a token for the caller;
2. fan-out: S subscribers x M messages on one topic with the real `momento` SDK, tokens vended through the API:
   no acknowledged publish lost, duplicated or reordered at any subscriber (soak_fanout.py);
3. faults, at concurrency 1: the emulator SIGSTOPped then SIGCONTed, the emulator SIGKILLed and restarted, Secrets
   Manager (moto) SIGSTOPped (warm, and with the functions' workers recycled meanwhile), moto SIGKILLed and
   restarted: only the allowed answers, none slower than 2 s, and a 200 within 1 s of the emulator answering a
   direct probe (soak_faults.py);
4. logs: every line the stack wrote, checked for the demo passwords, every vended token (and its inner key), the
   emulator's API key and every Authorization value sent (soak_logs.py).
Then one table (phase, requests, by status, p50/p99/max ms, criterion, PASS/FAIL) and a verdict; the exit status is
1 if any criterion failed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final

import aiohttp
from soak_common import Deadline, PhaseResult, Secrets, basic_header, fetch_token
from soak_fanout import run_fanout
from soak_faults import FaultSpec, FaultTiming, Probes, Restarter, run_fault
from soak_logs import LogCapture, SecretScanner

from devstack import Stack, StackConfig
from devstack.policies import policy_with_limits
from tvm_users.demo import load_demo_users

PHASES: Final = ("steady", "fanout", "faults")
PHASE_GRACE_S: Final = 20.0  # past the global deadline, a phase that has not returned is abandoned
FAULTS: Final = (
    FaultSpec("emulator SIGSTOP", "emulator", "stop"),
    FaultSpec("emulator SIGKILL", "emulator", "kill"),
    FaultSpec("moto SIGSTOP", "moto", "stop"),
    FaultSpec("moto SIGSTOP, cold", "moto", "stop", cold=True),
    FaultSpec("moto SIGKILL, cold", "moto", "kill", cold=True),
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller counts and shorter faults, for a smoke run")
    parser.add_argument("--seed", type=int, default=None, help="the request mix's seed (default: a random one)")
    parser.add_argument("--requests", type=int, help="steady load: requests (default 5000; --quick 500)")
    parser.add_argument("--concurrency", type=int, default=32, help="steady load: requests in flight (default 32)")
    parser.add_argument("--subscribers", type=int, help="fan-out: subscribers (default 50; --quick 10)")
    parser.add_argument("--messages", type=int, help="fan-out: messages (default 2000; --quick 200)")
    parser.add_argument("--sub-clients", type=int, default=5, help="fan-out: SDK clients the subscribers share")
    parser.add_argument("--stop-seconds", type=float, help="faults: how long a SIGSTOP lasts (default 5; --quick 3)")
    parser.add_argument("--deadline", type=float, help="global deadline in seconds (default 540; --quick 240)")
    parser.add_argument(
        "--phases", default=",".join(PHASES), help=f"which of {','.join(PHASES)} to run (logs always runs)"
    )
    parser.add_argument("--log-file", type=Path, help="also write every captured stack log line to this file")
    args = parser.parse_args(argv)
    quick = args.quick
    args.requests = args.requests if args.requests is not None else (500 if quick else 5000)
    args.subscribers = args.subscribers if args.subscribers is not None else (10 if quick else 50)
    args.messages = args.messages if args.messages is not None else (200 if quick else 2000)
    args.stop_seconds = args.stop_seconds if args.stop_seconds is not None else (3.0 if quick else 5.0)
    args.deadline = args.deadline if args.deadline is not None else (240.0 if quick else 540.0)
    args.seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    args.phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = args.phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phases {', '.join(sorted(unknown))}: choose from {', '.join(PHASES)}")
    return args


def say(text: str) -> None:
    """Progress on stdout (stderr belongs to the stack's captured logs while it runs)."""
    print(f"soak: {text}", flush=True)


# ---------------------------------------------------------------------------------------------- phase 1: steady
async def run_steady(
    http: aiohttp.ClientSession,
    api_url: str,
    users: Sequence[tuple[str, str]],
    *,
    count: int,
    concurrency: int,
    rng: random.Random,
    deadline: Deadline,
    secrets: Secrets,
) -> PhaseResult:
    result = PhaseResult(f"steady {count} @{concurrency}", "all 200, each a token for its caller")
    result.ran = True
    plan: list[tuple[int, dict[str, str] | None]] = []
    for _ in range(count):
        topics = None
        if rng.random() < 0.3:
            topics = {"topics": ",".join(f"room-{rng.randrange(1000)}" for _ in range(rng.randint(1, 3)))}
        plan.append((rng.randrange(len(users)), topics))
    headers = [basic_header(u, p) for u, p in users]
    wrong: list[str] = []
    pending = iter(plan)

    async def worker() -> None:
        for user, params in pending:
            answer, body = await fetch_token(http, f"{api_url}/token", headers[user], params, timeout_seconds=30)
            result.count([answer])
            if answer.status != 200:
                continue
            token, token_id = (body or {}).get("authToken"), (body or {}).get("tokenId")
            if isinstance(token, str):
                secrets.add_token(token)
            if not isinstance(token, str) or token_id != users[user][0]:
                wrong.append(f"a 200 for {users[user][0]} with tokenId {token_id!r} and authToken {type(token)}")

    started = time.monotonic()
    try:
        async with asyncio.timeout(max(0.0, deadline.left())):
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    except TimeoutError:
        result.fail(f"the global deadline passed after {result.requests} of {count} requests")
    elapsed = time.monotonic() - started
    bad = result.requests - result.by_status.get("200", 0)
    if bad:
        result.fail(
            f"{bad} non-200 answers: " + ", ".join(f"{k}: {n}" for k, n in result.by_status.items() if k != "200")
        )
    if wrong:
        result.fail(f"{len(wrong)} 200s without the caller's token; first: {wrong[0]}")
    result.notes.append(f"{result.requests} requests in {elapsed:.1f} s: {result.requests / elapsed:.0f} requests/s")
    return result


# ------------------------------------------------------------------------------------------------- the whole run
async def run_phase(
    results: list[PhaseResult], name: str, deadline: Deadline, phase: Callable[[], Awaitable[PhaseResult]]
) -> None:
    """One phase, bounded by the global deadline; a crash or the deadline is that phase's FAIL, not the run's end."""
    if deadline.passed():
        results.append(PhaseResult(name, "-", ran=True, failures=["not run: the global deadline had passed"]))
        return
    say(f"{name} ...")
    started = time.monotonic()
    try:
        # Each phase bounds its own loops by the deadline and reports what it counted; this is the safety net.
        async with asyncio.timeout(max(0.0, deadline.left()) + PHASE_GRACE_S):
            result = await phase()
    except TimeoutError:
        result = PhaseResult(name, "-", ran=True, failures=["the global deadline passed during this phase"])
    except Exception as error:  # a bug here or a stack that broke: this phase fails, the rest still runs
        result = PhaseResult(name, "-", ran=True, failures=[f"crashed: {type(error).__name__}: {error}"[:300]])
    result.notes.append(f"phase time {time.monotonic() - started:.1f} s")
    say(f"{name}: {result.verdict}")
    results.append(result)


async def soak(args: argparse.Namespace) -> int:
    run_started = time.monotonic()
    deadline = Deadline(args.deadline)
    rng = random.Random(args.seed)
    capture = LogCapture()
    secrets = Secrets()
    results: list[PhaseResult] = []
    say(f"seed {args.seed}; global deadline {args.deadline:.0f} s; {'quick' if args.quick else 'full'} run")
    capture.install()
    # Explicit stack settings: no issuance limits (thousands of tokens for three users is the point here; the limits
    # have their own tests) and no Momento quota in the emulator.
    config = StackConfig(
        auth="LambdaAuthorizer",
        api_port=0,
        site_port=0,
        momento_grpc_port=0,
        momento_web_port=0,
        moto_port=0,
        policy=policy_with_limits(Path(tempfile.mkdtemp(prefix="soak-policy-")), None),
        momento_auth_quota=None,
    )
    # Every secret the stack could write is known before it starts, so even a failed start's logs are checked.
    demo_users = load_demo_users(config.demo_users_file)
    for username, (password, _) in demo_users.items():
        secrets.add(password, f"the password of {username}")
        secrets.add(basic_header(username, password).split(" ", 1)[1], "an Authorization value")
    secrets.add(config.resolved_api_key(), "the emulator's API key")
    stack = Stack(config)
    try:
        await stack.start()
        info = stack.info
        say(f"stack ready in {info.startup_seconds:.2f} s: API {info.api_url}, emulator {info.momento_endpoint}")
        users = [(user.username, user.password) for user in info.users]
        await _phases(args, stack, users, rng, deadline, secrets, results)
    except Exception as error:  # the stack did not start (or broke between phases): the run's FAIL, logs still checked
        results.append(
            PhaseResult("stack", "starts and stays up", ran=True, failures=[f"{type(error).__name__}: {error}"])
        )
    finally:
        try:
            await asyncio.wait_for(stack.stop(), 30)
        finally:
            capture.close()
    results.append(_logs_phase(capture, secrets, args.log_file))
    _print_report(results, time.monotonic() - run_started, args)
    return 1 if any(r.verdict == "FAIL" for r in results) else 0


async def _phases(
    args: argparse.Namespace,
    stack: Stack,
    users: list[tuple[str, str]],
    rng: random.Random,
    deadline: Deadline,
    secrets: Secrets,
    results: list[PhaseResult],
) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        if "steady" in args.phases:
            await run_phase(
                results,
                "steady",
                deadline,
                lambda: run_steady(
                    http,
                    stack.api_url,
                    users,
                    count=args.requests,
                    concurrency=args.concurrency,
                    rng=rng,
                    deadline=deadline,
                    secrets=secrets,
                ),
            )
        if "fanout" in args.phases:
            await run_phase(
                results,
                "fan-out",
                deadline,
                lambda: run_fanout(
                    http,
                    api_url=stack.api_url,
                    grpc_port=stack.emulator_grpc_port,
                    cache=stack.info.cache_name,
                    users=users,
                    subscribers=args.subscribers,
                    messages=args.messages,
                    sub_clients=args.sub_clients,
                    deadline=deadline,
                    secrets=secrets,
                ),
            )
        if "faults" in args.phases:
            restarter = Restarter(stack)
            say(f"faults: restarts by {restarter.describe()}")
            probes = Probes(stack, secrets)
            await probes.remember_seeded()
            timing = FaultTiming(stop_s=args.stop_seconds)
            for spec in FAULTS:
                await run_phase(
                    results,
                    f"fault: {spec.name}",
                    deadline,
                    lambda spec=spec: run_fault(  # type: ignore[misc]
                        spec,
                        stack=stack,
                        http=http,
                        users=users,
                        restarter=restarter,
                        probes=probes,
                        timing=timing,
                        deadline=deadline,
                        secrets=secrets,
                    ),
                )
            results[-1].notes.append(f"restarts: {restarter.describe()}")


# ---------------------------------------------------------------------------------------------- phase 4: logs
def _logs_phase(capture: LogCapture, secrets: Secrets, log_file: Path | None) -> PhaseResult:
    result = PhaseResult("logs", "no password, token, API key or Authorization value")
    result.ran = True
    started = time.monotonic()
    scanner = SecretScanner(secrets.values)
    missed = scanner.self_check()
    if missed:
        result.fail(f"the scanner missed planted secrets: {'; '.join(missed)}")
    checked, leaks = scanner.scan(capture.lines)
    result.requests = checked
    kinds = sorted({label for label in secrets.values.values()})
    result.notes.append(
        f"{checked} lines checked ("
        + ", ".join(f"{source} {n}" for source, n in sorted(capture.sources().items()))
        + f") for {len(secrets.values)} secrets ({', '.join(kinds)}) in {time.monotonic() - started:.1f} s"
    )
    if not checked:
        result.fail("no log lines were captured: the capture is broken")
    for leak in leaks[:10]:
        result.notes.append(f"line {leak.index} ({leak.source}) holds {leak.what}: {leak.excerpt}")
    if leaks:
        result.fail(f"{len(leaks)} secrets in {len({leak.index for leak in leaks})} lines")
    if log_file is not None:
        log_file.write_text("".join(f"{source}\t{line}\n" for source, line in capture.lines))
        result.notes.append(f"captured lines written to {log_file}")
    return result


def _print_report(results: list[PhaseResult], elapsed: float, args: argparse.Namespace) -> None:
    print()
    for result in results:
        print(f"[{result.verdict}] {result.name}")
        for failure in result.failures:
            print(f"    FAIL: {failure}")
        for note in result.notes:
            print(f"    {note}")
    header = ["phase", "requests", "by status", "p50 ms", "p99 ms", "max ms", "criterion", "result"]
    rows = [header] + [r.row() for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print()
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    failed = [r.name for r in results if r.verdict == "FAIL"]
    skipped = [r.name for r in results if r.verdict == "SKIP"]
    print()
    verdict = "PASS" if not failed else f"FAIL ({len(failed)} of {len(results)} phases: {', '.join(failed)})"
    extra = f"; skipped: {', '.join(skipped)}" if skipped else ""
    print(f"soak: {verdict}{extra}; {elapsed:.0f} s; seed {args.seed}{'; --quick' if args.quick else ''}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sys.exit(asyncio.run(soak(args)))


if __name__ == "__main__":
    main()
