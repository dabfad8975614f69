#!/usr/bin/env python3
"""Topic publish-to-delivery latency and fan-out throughput of the local Momento emulator, beside a floor.

A benchmark, not a test: it asserts nothing about timing and pytest does not collect it (see bench/README.md).

Everything runs on 127.0.0.1. A spawned server process hosts two gRPC servers, each on its own background-thread
event loop: the emulator (`momento_emulator`, the real thing: auth, permissions, sequence numbers, buffers) and a
FLOOR, a trivial grpcio aio servicer for the same two RPCs (`/cache_client.pubsub.Pubsub/Publish` and `/Subscribe`,
the same message types) that only fans each published value out to in-memory subscriber queues. This process is
the client: one asyncio loop driving raw `grpc.aio` stubs (the same client code, the same `authorization` metadata,
against both servers), plus optionally the real `momento` SDK (`TopicClientAsync`) against the emulator.

Each published text carries its send time (`time.perf_counter_ns()`, a system-wide monotonic clock); a subscriber
takes the latency when the message comes out of its stream. Publishing is closed-loop: one Publish in flight,
the next one sent when the previous one is acknowledged. The measured messages are split into interleaved rounds
(floor, emulator, SDK, then the reverse order, ...) and pooled, so drift in the machine's speed hits every row.

    .venv/bin/python bench/topic_latency.py [--messages-1 2000] [--messages-100 300] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import multiprocessing
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any, Protocol

import grpc
from grpc import aio
from momento import AuthClient, CredentialProvider, TopicClientAsync, TopicConfigurations
from momento.auth.access_control.disposable_token_scope import DisposableTokenProps
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.auth.access_control.permission_scope import AllTopics
from momento.config.auth_configurations import AuthConfigurations
from momento.responses import GenerateDisposableToken, TopicPublish, TopicSubscribe, TopicSubscriptionItem
from momento.utilities import ExpiresIn
from momento_wire_types.generated import cachepubsub_pb2, cachepubsub_pb2_grpc, common_pb2

from momento_emulator import DEFAULT_API_KEY, EmulatorConfig, ServerOptions
from momento_emulator.testing import EmulatorThread

HOST = "127.0.0.1"
CACHE = "bench"
PUBLISHER_ID = "bench-client"  # the vended token's id
# Every client channel gets its own HTTP/2 connection: by default grpc-core shares one connection between
# channels that have the same target and arguments, which would put the publisher behind the subscribers' streams.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]
SDK_MAX_STREAMS_PER_CHANNEL = 100  # the SDK refuses a 101st stream on one channel
_EOF: Any = aio.EOF  # type: ignore[attr-defined]  # (missing from grpc-stubs)


# ---------------------------------------------------------------------------------------------------------------
# The floor: the same two RPC paths and message types, nothing else.
# ---------------------------------------------------------------------------------------------------------------
class FloorPubsub:
    """No auth, no permissions, no sequence numbers, no buffers: Publish puts the raw value in every queue."""

    _HEARTBEAT = cachepubsub_pb2._SubscriptionItem(heartbeat=cachepubsub_pb2._Heartbeat())
    _EMPTY = common_pb2._Empty()

    def __init__(self) -> None:
        self._subscribers: dict[tuple[str, str], set[asyncio.Queue[Any]]] = {}

    async def Publish(self, request: Any, context: aio.ServicerContext[Any, Any]) -> Any:
        item = cachepubsub_pb2._SubscriptionItem(item=cachepubsub_pb2._TopicItem(value=request.value))
        for queue in self._subscribers.get((request.cache_name, request.topic), ()):
            queue.put_nowait(item)
        return self._EMPTY

    async def Subscribe(self, request: Any, context: aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        key = (request.cache_name, request.topic)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._subscribers.setdefault(key, set()).add(queue)
        try:
            yield self._HEARTBEAT  # the same first message as the emulator's, so the same client works
            while True:
                yield await queue.get()
        finally:
            self._subscribers[key].discard(queue)


class FloorThread:
    """The floor server on its own background-thread event loop, like `EmulatorThread`."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.grpc_port = 0
        self._server: aio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pubsub-floor", daemon=True)

    def start(self) -> FloorThread:
        self._thread.start()
        self.grpc_port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> int:
        self._server = aio.server(options=[("grpc.so_reuseport", 0)])
        cachepubsub_pb2_grpc.add_PubsubServicer_to_server(FloorPubsub(), self._server)
        port = self._server.add_insecure_port(f"{self.host}:0")
        await self._server.start()
        return port

    def stop(self) -> None:
        if self._thread.is_alive():
            if self._server is not None:
                asyncio.run_coroutine_threadsafe(self._server.stop(0.5), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()


# ---------------------------------------------------------------------------------------------------------------
# The server side: both servers in one process (a spawned child by default).
# ---------------------------------------------------------------------------------------------------------------
def _start_both(host: str) -> tuple[EmulatorThread, FloorThread]:
    emulator = EmulatorThread(EmulatorConfig(caches=(CACHE,)), ServerOptions(host=host, grpc_port=0, web_port=0))
    emulator.start()
    return emulator, FloorThread(host).start()


def _serve(conn: Connection, host: str) -> None:
    """The server process: start both servers, report their ports, answer CPU-time queries until told to stop."""
    emulator, floor = _start_both(host)
    conn.send((emulator.grpc_port, floor.grpc_port))
    try:
        while conn.recv() == "cpu":
            conn.send(time.process_time())
    except EOFError:
        pass
    finally:
        floor.stop()
        emulator.stop()


class ChildServers:
    """The server process, seen from the client: its ports, its CPU time, and stopping it."""

    def __init__(self, host: str) -> None:
        context = multiprocessing.get_context("spawn")  # grpc-core does not survive fork()
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_conn, host), name="bench-servers", daemon=True)
        self._process.start()
        child_conn.close()
        if not self._conn.poll(60):
            self._process.kill()
            raise RuntimeError("the server process did not start within 60 s")
        self.emulator_port, self.floor_port = self._conn.recv()
        self.pid = self._process.pid

    def cpu_seconds(self) -> float:
        self._conn.send("cpu")
        value: float = self._conn.recv()
        return value

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


# ---------------------------------------------------------------------------------------------------------------
# The client side.
# ---------------------------------------------------------------------------------------------------------------
class Receiver:
    """One subscriber's record: latency per measured message, and anything that is not exactly-once delivery."""

    def __init__(self, warmup: int, messages: int) -> None:
        loop = asyncio.get_running_loop()
        self.warmup, self.messages = warmup, messages
        self.latencies_ns: list[int] = []
        self.seen = bytearray(messages)
        self.warm_seen = 0
        self.duplicates = 0
        self.discontinuities = 0
        self.errors: list[str] = []
        self.last_ns = 0
        self.warm_done: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()
        if warmup == 0:
            self.warm_done.set_result(None)
        if messages == 0:
            self.done.set_result(None)

    def on_text(self, text: str, now_ns: int) -> None:
        phase, seq_text, sent_text, _ = text.split(":", 3)
        if phase == "w":
            self.warm_seen += 1
            if self.warm_seen == self.warmup and not self.warm_done.done():
                self.warm_done.set_result(None)
            return
        seq = int(seq_text)
        if self.seen[seq]:
            self.duplicates += 1
            return
        self.seen[seq] = 1
        self.latencies_ns.append(now_ns - int(sent_text))
        self.last_ns = now_ns
        if len(self.latencies_ns) == self.messages and not self.done.done():
            self.done.set_result(None)

    def fail(self, reason: str) -> None:
        self.errors.append(reason)
        for future in (self.warm_done, self.done):
            if not future.done():
                future.set_result(None)


class Driver(Protocol):
    label: str

    async def subscribe(self, topic: str, receiver: Receiver) -> None:
        """Open a subscription; return once it is live (its first message, a heartbeat, has arrived)."""

    async def publish(self, topic: str, text: str) -> None: ...

    async def close(self) -> None: ...


class RawDriver:
    """Raw `grpc.aio` stubs: one channel for the publisher, subscribers spread over `sub_channels` channels."""

    label = "grpc.aio"

    def __init__(self, port: int, api_key: str, sub_channels: int) -> None:
        target = f"{HOST}:{port}"
        self._metadata = (("authorization", api_key),)
        self._pub_channel = aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._sub_channels = [aio.insecure_channel(target, options=CHANNEL_OPTIONS) for _ in range(sub_channels)]
        self._publish = cachepubsub_pb2_grpc.PubsubStub(self._pub_channel).Publish
        self._subscribe = [cachepubsub_pb2_grpc.PubsubStub(c).Subscribe for c in self._sub_channels]
        self._calls: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def subscribe(self, topic: str, receiver: Receiver) -> None:
        stub = self._subscribe[len(self._calls) % len(self._subscribe)]
        call = stub(cachepubsub_pb2._SubscriptionRequest(cache_name=CACHE, topic=topic), metadata=self._metadata)
        self._calls.append(call)
        first = await call.read()
        if first is _EOF or first.WhichOneof("kind") != "heartbeat":
            raise RuntimeError(f"the subscription's first message is not a heartbeat: {first!r}")
        self._tasks.append(asyncio.create_task(self._pump(call, receiver)))

    async def _pump(self, call: Any, receiver: Receiver) -> None:
        try:
            while True:
                message = await call.read()
                now = time.perf_counter_ns()
                if message is _EOF:
                    receiver.fail("the stream ended")
                    return
                kind = message.WhichOneof("kind")
                if kind == "item":
                    receiver.on_text(message.item.value.text, now)
                elif kind == "discontinuity":
                    receiver.discontinuities += 1
        except grpc.RpcError as error:
            if not self._closing:
                receiver.fail(f"stream error: {error}")

    async def publish(self, topic: str, text: str) -> None:
        request = cachepubsub_pb2._PublishRequest(
            cache_name=CACHE, topic=topic, value=cachepubsub_pb2._TopicValue(text=text)
        )
        await self._publish(request, metadata=self._metadata)

    async def close(self) -> None:
        self._closing = True
        for call in self._calls:
            call.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in [self._pub_channel, *self._sub_channels]:
            await channel.close(None)


class SdkDriver:
    """The real `momento` SDK: one `TopicClientAsync` for the publisher and every subscriber."""

    label = "momento SDK"

    def __init__(self, provider: CredentialProvider, subscribers: int) -> None:
        # The default 5 s deadline is a whole-stream deadline (it kills subscriptions): use a long one.
        configuration = TopicConfigurations.Default.v1().with_client_timeout(timedelta(minutes=5))
        if subscribers > SDK_MAX_STREAMS_PER_CHANNEL:
            configuration = configuration.with_max_subscriptions(subscribers)
        self._client = TopicClientAsync(configuration, provider)
        self._subscriptions: list[TopicSubscribe.SubscriptionAsync] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    async def subscribe(self, topic: str, receiver: Receiver) -> None:
        response = await self._client.subscribe(CACHE, topic)  # returns after the first message, the heartbeat
        if not isinstance(response, TopicSubscribe.SubscriptionAsync):
            raise RuntimeError(f"subscribe failed: {response!r}")
        self._subscriptions.append(response)
        self._tasks.append(asyncio.create_task(self._pump(response, receiver)))

    async def _pump(self, subscription: TopicSubscribe.SubscriptionAsync, receiver: Receiver) -> None:
        async for item in subscription:
            now = time.perf_counter_ns()
            if isinstance(item, TopicSubscriptionItem.Text):
                receiver.on_text(item.value, now)
            elif isinstance(item, TopicSubscriptionItem.Error):
                if not self._closing:
                    receiver.fail(f"subscription error: {item.message}")
                return  # after unsubscribe() the SDK yields a CANCELLED error item

    async def publish(self, topic: str, text: str) -> None:
        response = await self._client.publish(CACHE, topic, text)
        if isinstance(response, TopicPublish.Error):
            raise RuntimeError(f"publish failed: {response.message}")

    async def close(self) -> None:
        self._closing = True
        for subscription in self._subscriptions:
            subscription.unsubscribe()  # never cancel the SDK's iterator task: it swallows CancelledError
        _, pending = await asyncio.wait(self._tasks, timeout=10) if self._tasks else (set(), set())
        for task in pending:
            task.cancel()
        await self._client.close()


# ---------------------------------------------------------------------------------------------------------------
# Scenarios and statistics.
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Round:
    """What one round of one scenario measured: raw samples, pooled later."""

    latencies_ns: list[int]
    acks_ns: list[int]
    expected: int
    duplicates: int
    discontinuities: int
    errors: list[str]
    wall_ns: int
    server_cpu_s: float
    client_cpu_s: float


@dataclass
class Result:
    """One scenario, all rounds pooled. Rates and CPU are totals over totals; percentiles are over all samples."""

    scenario: str
    server: str
    client: str
    subscribers: int
    rounds: int
    messages: int
    warmup: int
    expected_deliveries: int
    deliveries: int
    missing: int
    duplicates: int
    discontinuities: int
    errors: list[str]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    deliveries_per_s: float
    publish_ack_p50_ms: float
    wall_s: float
    server_cpu_us_per_delivery: float
    client_cpu_us_per_delivery: float
    by_round: list[dict[str, float]] = field(default_factory=list)
    ratio_to_floor: dict[str, float] = field(default_factory=dict)
    ratio_to_floor_by_round: list[dict[str, float]] = field(default_factory=list)


def percentile(sorted_values: Sequence[int], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (NaN when empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return float(sorted_values[rank - 1])


async def _publish_run(driver: Driver, topic: str, phase: str, count: int, pad: str, acks: list[int]) -> None:
    for seq in range(count):
        sent = time.perf_counter_ns()
        await driver.publish(topic, f"{phase}:{seq}:{sent}:{pad}")
        acks.append(time.perf_counter_ns() - sent)


async def _wait_all(futures: Sequence[asyncio.Future[None]], wait_s: float) -> bool:
    if not futures:
        return True
    _, pending = await asyncio.wait(futures, timeout=wait_s)
    return not pending


async def run_round(
    driver: Driver,
    servers: ChildServers,
    subscribers: int,
    messages: int,
    warmup: int,
    payload_bytes: int,
    wait_s: float,
) -> Round:
    """Subscribe (fresh topic), warm up, then publish `messages` closed-loop and wait for every delivery."""
    topic = f"bench-{subscribers}-{uuid.uuid4().hex[:12]}"
    receivers = [Receiver(warmup, messages) for _ in range(subscribers)]
    pad = "x" * max(0, payload_bytes - 40)  # about payload_bytes of text in all, with the header
    acks: list[int] = []
    try:
        await asyncio.gather(*(driver.subscribe(topic, r) for r in receivers))
        await _publish_run(driver, topic, "w", warmup, pad, [])
        await _wait_all([r.warm_done for r in receivers], wait_s)

        server_cpu0, client_cpu0 = servers.cpu_seconds(), time.process_time()
        start = time.perf_counter_ns()
        await _publish_run(driver, topic, "m", messages, pad, acks)
        await _wait_all([r.done for r in receivers], wait_s)
        client_cpu1, server_cpu1 = time.process_time(), servers.cpu_seconds()
    finally:
        await driver.close()
    end = max((r.last_ns for r in receivers), default=start)
    return Round(
        latencies_ns=[x for r in receivers for x in r.latencies_ns],
        acks_ns=acks,
        expected=subscribers * messages,
        duplicates=sum(r.duplicates for r in receivers),
        discontinuities=sum(r.discontinuities for r in receivers),
        errors=[e for r in receivers for e in r.errors],
        wall_ns=max(end - start, 1),
        server_cpu_s=server_cpu1 - server_cpu0,
        client_cpu_s=client_cpu1 - client_cpu0,
    )


def _round_summary(r: Round) -> dict[str, float]:
    latencies = sorted(r.latencies_ns)
    n = max(len(latencies), 1)
    return {
        "p50_ms": percentile(latencies, 0.50) / 1e6,
        "p99_ms": percentile(latencies, 0.99) / 1e6,
        "deliveries_per_s": len(latencies) / (r.wall_ns / 1e9),
        "server_cpu_us_per_delivery": r.server_cpu_s * 1e6 / n,
    }


def summarize(
    scenario: str, server: str, client: str, subscribers: int, messages: int, warmup: int, rounds: list[Round]
) -> Result:
    latencies = sorted(x for r in rounds for x in r.latencies_ns)
    deliveries = len(latencies)
    expected = sum(r.expected for r in rounds)
    wall = sum(r.wall_ns for r in rounds) / 1e9
    per_delivery = 1e6 / max(deliveries, 1)
    return Result(
        scenario=scenario,
        server=server,
        client=client,
        subscribers=subscribers,
        rounds=len(rounds),
        messages=messages * len(rounds),
        warmup=warmup,
        expected_deliveries=expected,
        deliveries=deliveries,
        missing=expected - deliveries,
        duplicates=sum(r.duplicates for r in rounds),
        discontinuities=sum(r.discontinuities for r in rounds),
        errors=sorted({e for r in rounds for e in r.errors}),
        p50_ms=percentile(latencies, 0.50) / 1e6,
        p90_ms=percentile(latencies, 0.90) / 1e6,
        p99_ms=percentile(latencies, 0.99) / 1e6,
        max_ms=percentile(latencies, 1.0) / 1e6,
        deliveries_per_s=deliveries / wall,
        publish_ack_p50_ms=percentile(sorted(x for r in rounds for x in r.acks_ns), 0.50) / 1e6,
        wall_s=wall,
        server_cpu_us_per_delivery=sum(r.server_cpu_s for r in rounds) * per_delivery,
        client_cpu_us_per_delivery=sum(r.client_cpu_s for r in rounds) * per_delivery,
        by_round=[_round_summary(r) for r in rounds],
    )


def vend_token(port: int) -> str:
    """A disposable token (publish + subscribe on every topic of the bench cache), vended by the emulator."""
    root = CredentialProvider(DEFAULT_API_KEY, HOST, HOST, HOST, port)
    with AuthClient(AuthConfigurations.Laptop.latest(), root) as auth:
        response = auth.generate_disposable_token(
            DisposableTokenScopes.topic_publish_subscribe(CACHE, AllTopics()),
            ExpiresIn.minutes(30),
            DisposableTokenProps(token_id=PUBLISHER_ID),
        )
    if not isinstance(response, GenerateDisposableToken.Success):
        raise RuntimeError(f"could not vend a token: {response!r}")
    return response.auth_token


def _ratios(value: dict[str, float], floor: dict[str, float]) -> dict[str, float]:
    return {k: value[k] / floor[k] if floor.get(k) else math.nan for k in value}


def _with_ratios(results: list[Result]) -> None:
    floors = {r.subscribers: r for r in results if r.server == "floor"}
    keys = ("p50_ms", "p99_ms", "deliveries_per_s", "server_cpu_us_per_delivery")
    for r in results:
        floor = floors.get(r.subscribers)
        if floor is None:
            continue
        r.ratio_to_floor = _ratios({k: getattr(r, k) for k in keys}, {k: getattr(floor, k) for k in keys})
        r.ratio_to_floor_by_round = [_ratios(mine, base) for mine, base in zip(r.by_round, floor.by_round, strict=True)]


def format_table(results: list[Result]) -> str:
    header = (
        f"{'scenario':<24} {'subs':>4} {'msgs':>5} {'deliv':>6} {'p50 ms':>7} {'p99 ms':>7} {'deliv/s':>8} "
        f"{'p50 xF':>6} {'p99 xF':>6} {'rate xF':>7} {'srv us/d':>8} {'cpu xF':>6} {'cli us/d':>8}"
    )
    lines = [header, "-" * len(header)]

    def ratio(r: Result, key: str) -> str:
        return _fmt(r.ratio_to_floor.get(key, math.nan))

    for r in results:
        p50, p99, rate = ratio(r, "p50_ms"), ratio(r, "p99_ms"), ratio(r, "deliveries_per_s")
        cpu = ratio(r, "server_cpu_us_per_delivery")
        lines.append(
            f"{r.scenario:<24} {r.subscribers:>4} {r.messages:>5} {r.deliveries:>6} {r.p50_ms:>7.3f} {r.p99_ms:>7.3f} "
            f"{r.deliveries_per_s:>8.0f} {p50:>6} {p99:>6} {rate:>7} {r.server_cpu_us_per_delivery:>8.1f} {cpu:>6} "
            f"{r.client_cpu_us_per_delivery:>8.1f}"
        )
        problems = []
        if r.missing:
            problems.append(f"{r.missing} deliveries missing")
        if r.duplicates:
            problems.append(f"{r.duplicates} duplicates")
        if r.discontinuities:
            problems.append(f"{r.discontinuities} discontinuities")
        problems.extend(r.errors[:3])
        if problems:
            lines.append(f"{'':<24}   ! {'; '.join(problems)}")
    spread = [r for r in results if r.server != "floor" and len(r.ratio_to_floor_by_round) > 1]
    if spread:
        lines.append("")
        lines.append("Spread, each round against the floor's same round (p50 xF | rate xF | cpu xF):")
        for r in spread:
            rounds = "   ".join(
                " | ".join(
                    _fmt(x.get(k, math.nan)) for k in ("p50_ms", "deliveries_per_s", "server_cpu_us_per_delivery")
                )
                for x in r.ratio_to_floor_by_round
            )
            lines.append(f"  {r.scenario:<24} {r.subscribers:>4}   {rounds}")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}"


async def run_all(args: argparse.Namespace, servers: ChildServers, auth_token: str) -> list[Result]:
    provider = CredentialProvider.from_disposable_token(auth_token)
    api_key = provider.auth_token  # the inner key: what the SDK sends as `authorization`
    emulator_provider = CredentialProvider(api_key, HOST, HOST, HOST, servers.emulator_port)
    results: list[Result] = []
    for subscribers, messages, warmup in (
        (1, args.messages_1, args.warmup_1),
        (10, args.messages_10, args.warmup_10),
        (100, args.messages_100, args.warmup_100),
    ):
        if messages <= 0:
            continue
        channels = max(1, min(args.sub_channels, subscribers))
        plans: list[tuple[str, str, Callable[[], Driver]]] = [
            ("floor (grpc.aio)", "floor", functools.partial(RawDriver, servers.floor_port, api_key, channels)),
            ("emulator (grpc.aio)", "emulator", functools.partial(RawDriver, servers.emulator_port, api_key, channels)),
        ]
        if not args.no_sdk:
            plans.append(
                ("emulator (momento SDK)", "emulator", functools.partial(SdkDriver, emulator_provider, subscribers))
            )
        # Interleave: A B C, then C B A, ... so drift in the machine's speed and order effects hit every row alike.
        per_round = max(1, messages // args.rounds)
        rounds: dict[str, list[Round]] = {scenario: [] for scenario, _, _ in plans}
        labels: dict[str, str] = {}
        for index in range(args.rounds):
            for scenario, _, make_driver in plans if index % 2 == 0 else plans[::-1]:
                driver = make_driver()
                labels[scenario] = driver.label
                measured = await run_round(
                    driver, servers, subscribers, per_round, warmup, args.payload_bytes, args.timeout
                )
                rounds[scenario].append(measured)
                print(
                    f"  round {index + 1}/{args.rounds}: {scenario}, {subscribers} subscriber(s): "
                    f"{len(measured.latencies_ns)} deliveries in {measured.wall_ns / 1e9:.2f} s",
                    file=sys.stderr,
                    flush=True,
                )
        for scenario, server, _ in plans:
            results.append(
                summarize(scenario, server, labels[scenario], subscribers, per_round, warmup, rounds[scenario])
            )
    _with_ratios(results)
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages-1", type=int, default=2000, help="measured messages, 1 subscriber (0 skips)")
    parser.add_argument("--warmup-1", type=int, default=100, help="warm-up messages per round, 1 subscriber")
    parser.add_argument("--messages-10", type=int, default=0, help="measured messages, 10 subscribers (0 skips)")
    parser.add_argument("--warmup-10", type=int, default=50, help="warm-up messages per round, 10 subscribers")
    parser.add_argument("--messages-100", type=int, default=300, help="measured messages, 100 subscribers (0 skips)")
    parser.add_argument("--warmup-100", type=int, default=20, help="warm-up messages per round, 100 subscribers")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds the measured messages are split into")
    parser.add_argument("--payload-bytes", type=int, default=100, help="approximate size of each text value")
    parser.add_argument("--sub-channels", type=int, default=1, help="gRPC channels the raw subscribers share")
    parser.add_argument("--no-sdk", action="store_true", help="skip the rows driven by the momento SDK")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a phase's deliveries")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(argv)
    if args.sub_channels < 1:
        parser.error("--sub-channels must be at least 1")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    servers = ChildServers(HOST)
    try:
        auth_token = vend_token(servers.emulator_port)
        results = asyncio.run(run_all(args, servers, auth_token))
    finally:
        servers.stop()
    layout = (
        f"client (pid {os.getpid()}, one asyncio loop) and servers (pid {servers.pid}, emulator and floor each on "
        "its own thread and event loop) in separate processes"
    )
    print()
    print(f"Topic publish-to-delivery on {HOST}: {layout}.")
    print(
        f"Python {platform.python_version()}, grpcio {grpc.__version__}, {os.cpu_count()} CPUs; "
        f"one Publish in flight; ~{args.payload_bytes}-byte text values; raw subscribers on "
        f"{args.sub_channels} channel(s), publisher on its own; {args.rounds} interleaved round(s) pooled."
    )
    print("xF = this row / the floor row with the same subscriber count (rate xF < 1: fewer deliveries/s).")
    print("srv us/d, cli us/d = server / client process CPU microseconds per delivery.")
    print()
    print(format_table(results))
    print()
    document: dict[str, Any] = {
        "benchmark": "topic_latency",
        "host": HOST,
        "separate_processes": True,
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "cpus": os.cpu_count(),
        "args": vars(args),
        "runtime_s": round(time.perf_counter() - started, 2),
        "results": [asdict(r) for r in results],
    }
    text = json.dumps(_json_safe(document), allow_nan=False)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(text)
    return 0


def _json_safe(value: Any) -> Any:
    """NaN (an empty sample) becomes null: strict JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
