"""Bounded fan-out load on 127.0.0.1 with the real Python SDK: 20 subscribers x 1,000 messages.

Every subscriber must see every message exactly once, in publish order: the values and the topic sequence numbers
1..N with no gap and no duplicate. All subscriptions are open (the SDK's `subscribe()` returned after the first
heartbeat, and the emulator counts them) before the first publish. Publishing is sequential (each publish awaited),
so publish order is well defined; a final sentinel message tells each subscriber it has seen everything, so an extra
or repeated message would show up before it. Run with `-s` to see the timings.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import pytest
from momento import TopicClientAsync, TopicConfigurations
from momento.auth.access_control.disposable_token_scopes import DisposableTokenScopes
from momento.responses import TopicPublish, TopicSubscribe, TopicSubscriptionItem

from tests.conftest import RunningEmulator, client_timeout

pytestmark = pytest.mark.load

SUBSCRIBERS = 20
SUBSCRIBER_CLIENTS = 4  # subscribers are spread over several SDK clients (each has its own stream channel)
SUBSCRIBE_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 90.0
TEXT_SENTINEL = "<end of load>"
BINARY_SENTINEL = b"\x00<end of load>\xff"


@dataclass
class Received:
    values: list[str | bytes] = field(default_factory=list)
    sequence_numbers: list[int] = field(default_factory=list)
    pages: set[int] = field(default_factory=set)
    error: str | None = None
    done: bool = False


async def consume(subscription: TopicSubscribe.SubscriptionAsync, sentinel: str | bytes, into: Received) -> None:
    """Read until the sentinel (recorded too). Stops at the first error item."""
    async for item in subscription:
        if isinstance(item, TopicSubscriptionItem.Text | TopicSubscriptionItem.Binary):
            into.values.append(item.value)
            into.sequence_numbers.append(item.sequence_number)
            into.pages.add(item.sequence_page)
            if item.value == sentinel:
                into.done = True
                return
        else:
            into.error = repr(item)
            return


async def fan_out(emulator: RunningEmulator, values: list[str] | list[bytes], sentinel: str | bytes) -> list[Received]:
    """Publish `values` then `sentinel` to a fresh topic with SUBSCRIBERS live subscriptions; what each one saw."""
    cache, topic = emulator.cache_name, f"load-{uuid.uuid4().hex[:10]}"
    token, _ = await asyncio.to_thread(
        emulator.vend, DisposableTokenScopes.topic_publish_subscribe(cache, topic), 300, "load-publisher"
    )
    config = TopicConfigurations.Default.v1().with_client_timeout(client_timeout())
    received = [Received() for _ in range(SUBSCRIBERS)]

    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(TopicClientAsync(config, emulator.token_provider(token)))
            for _ in range(SUBSCRIBER_CLIENTS + 1)
        ]
        publisher, subscriber_clients = clients[0], clients[1:]

        started = time.perf_counter()
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            subscriptions = await asyncio.gather(
                *(subscriber_clients[i % SUBSCRIBER_CLIENTS].subscribe(cache, topic) for i in range(SUBSCRIBERS))
            )
        for subscription in subscriptions:
            assert isinstance(subscription, TopicSubscribe.SubscriptionAsync), subscription
            stack.callback(subscription.unsubscribe)
        subscribed_s = time.perf_counter() - started
        # Every subscribe() returned after its first heartbeat; the emulator agrees they are all registered.
        registered = emulator.thread.call(lambda core: core.broker.subscriber_count(cache, topic))
        assert registered == SUBSCRIBERS

        consumers = [
            asyncio.create_task(consume(sub, sentinel, into)) for sub, into in zip(subscriptions, received, strict=True)
        ]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(DELIVERY_TIMEOUT_S):
                for value in [*values, sentinel]:
                    published = await publisher.publish(cache, topic, value)
                    assert isinstance(published, TopicPublish.Success), published
                published_s = time.perf_counter() - started
                await asyncio.gather(*consumers)
        except TimeoutError:
            for task in consumers:
                task.cancel()
            counts = [len(r.values) for r in received]
            pytest.fail(f"not everything arrived within {DELIVERY_TIMEOUT_S} s; per-subscriber counts: {counts}")
        delivered_s = time.perf_counter() - started

    # The clients are closed: the emulator must notice every cancelled stream and drop its subscription.
    for _ in range(200):
        left = emulator.thread.call(lambda core: core.broker.subscriber_count(cache, topic))
        if left == 0:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"{left} subscriptions still registered 10 s after their clients closed")

    deliveries = SUBSCRIBERS * (len(values) + 1)
    print(
        f"\nload: {SUBSCRIBERS} subscribers x {len(values)} {type(values[0]).__name__} messages: "
        f"subscribed in {subscribed_s:.2f} s, published in {published_s:.2f} s "
        f"({(len(values) + 1) / published_s:.0f} publishes/s), all delivered in {delivered_s:.2f} s "
        f"({deliveries / delivered_s:.0f} deliveries/s)"
    )
    return received


def assert_exact_delivery(received: list[Received], values: list[str] | list[bytes], sentinel: str | bytes) -> None:
    expected = [*values, sentinel]
    expected_numbers = list(range(1, len(expected) + 1))  # a fresh topic numbers its messages from 1
    for index, got in enumerate(received):
        assert got.error is None, f"subscriber {index}: {got.error}"
        assert got.done, f"subscriber {index} stopped after {len(got.values)} messages"
        assert len(got.values) == len(expected), f"subscriber {index}: {len(got.values)} messages"
        if got.values != expected:
            first = next(i for i, (a, b) in enumerate(zip(got.values, expected, strict=True)) if a != b)
            pytest.fail(f"subscriber {index}: message {first} is {got.values[first]!r}, expected {expected[first]!r}")
        assert got.sequence_numbers == expected_numbers, f"subscriber {index}: sequence numbers have a gap or repeat"
        assert len(got.pages) == 1, f"subscriber {index}: several sequence pages {got.pages}"
        assert got.pages != {0}
    assert len({page for got in received for page in got.pages}) == 1, "subscribers disagree on the sequence page"


@pytest.mark.timeout(120)
async def test_20_subscribers_each_receive_1000_text_messages_in_order(emulator: RunningEmulator) -> None:
    values = [f"message {i:04d}" + (" ünïcødé ✓" if i % 97 == 0 else "") for i in range(1000)]

    received = await fan_out(emulator, values, TEXT_SENTINEL)

    assert_exact_delivery(received, values, TEXT_SENTINEL)


@pytest.mark.timeout(120)
async def test_20_subscribers_each_receive_200_binary_messages_in_order(emulator: RunningEmulator) -> None:
    rng = random.Random(11)
    # Not UTF-8, of varied sizes up to 16 KiB, each unique (its index leads); one empty value.
    values = [b""] + [
        i.to_bytes(2, "big") + b"\xff\xfe" + rng.randbytes(rng.choice([0, 1, 100, 4096, 16384])) for i in range(1, 200)
    ]

    received = await fan_out(emulator, values, BINARY_SENTINEL)

    assert_exact_delivery(received, values, BINARY_SENTINEL)
