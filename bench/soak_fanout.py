"""The soak's fan-out phase: S subscribers x N messages on one topic with the real `momento` SDK, tokens from the API.

Every token comes from `GET /token?topics=<topic>` (the publisher is alice; subscribers cycle through the demo users,
viewer included, whose tier may only subscribe). Each SDK client holds one token, so the subscribers are spread over
a few `TopicClientAsync`s. All subscriptions are open (each `subscribe()` returned after its first heartbeat) before
the first publish. Publishing is closed-loop: each `publish()` is awaited, and a `TopicPublish.Success` is the SDK's
acknowledgement. Each payload carries its sequence number (`soak:<run>:<seq>`); a last sentinel tells each
subscriber it has everything, so a late duplicate shows up before it. Per subscriber: every acknowledged sequence
number exactly once, in publish order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

import aiohttp
from momento import CredentialProvider, TopicClientAsync, TopicConfigurations
from momento.responses import TopicPublish, TopicSubscribe, TopicSubscriptionItem
from soak_common import Answer, Deadline, PhaseResult, Secrets, basic_header, fetch_token

__all__ = ["run_fanout"]

HOST: Final = "127.0.0.1"


@dataclass
class _Seen:
    """What one subscriber received, checked as it arrives (O(1) per message)."""

    count: int = 0
    last: int = -1
    duplicates: int = 0
    reordered: int = 0
    seen: set[int] = field(default_factory=set)
    error: str | None = None
    done: bool = False
    first_problem: str | None = None

    def take(self, seq: int) -> None:
        self.count += 1
        if seq in self.seen:
            self.duplicates += 1
            self.first_problem = self.first_problem or f"{seq} again after {self.last}"
        elif seq < self.last:
            self.reordered += 1
            self.first_problem = self.first_problem or f"{seq} after {self.last}"
        self.seen.add(seq)
        self.last = max(self.last, seq)


def _provider(auth_token: str, grpc_port: int) -> CredentialProvider:
    return dataclasses.replace(
        CredentialProvider.from_disposable_token(auth_token),
        control_endpoint=HOST,
        cache_endpoint=HOST,
        token_endpoint=HOST,
        port=grpc_port,
    )


async def _consume(subscription: TopicSubscribe.SubscriptionAsync, prefix: str, into: _Seen) -> None:
    sentinel = f"{prefix}end"
    async for item in subscription:
        if isinstance(item, TopicSubscriptionItem.Text):
            if item.value == sentinel:
                into.done = True
                return
            if not item.value.startswith(prefix):
                into.error = into.error or f"a foreign message {item.value[:40]!r}"
                continue
            into.take(int(item.value[len(prefix) :]))
        else:
            into.error = repr(item)[:200]
            return


async def run_fanout(
    http: aiohttp.ClientSession,
    *,
    api_url: str,
    grpc_port: int,
    cache: str,
    users: Sequence[tuple[str, str]],
    subscribers: int,
    messages: int,
    sub_clients: int,
    deadline: Deadline,
    secrets: Secrets,
) -> PhaseResult:
    result = PhaseResult(
        f"fan-out {subscribers}x{messages}",
        "every acked publish once, in order, at every subscriber",
    )
    result.ran = True
    topic = f"soak-{uuid.uuid4().hex[:10]}"
    prefix = f"soak:{uuid.uuid4().hex[:6]}:"

    # Tokens, through the API: one for the publisher, one per subscriber client.
    vended: list[str] = []
    answers: list[Answer] = []
    for i in range(sub_clients + 1):
        username, password = users[0] if i == 0 else users[(i - 1) % len(users)]
        authorization = basic_header(username, password)
        secrets.add(authorization.split(" ", 1)[1], "an Authorization value")
        answer, body = await fetch_token(http, f"{api_url}/token", authorization, {"topics": topic}, timeout_seconds=15)
        answers.append(answer)
        if body is None or not isinstance(body.get("authToken"), str):
            result.count(answers)
            result.fail(f"could not vend a token for {username}: {answer.key}")
            return result
        secrets.add_token(body["authToken"])
        vended.append(body["authToken"])
    result.count(answers)

    config = TopicConfigurations.Default.v1().with_client_timeout(timedelta(minutes=10))
    seen = [_Seen() for _ in range(subscribers)]
    publish_errors: list[str] = []
    acked: list[int] = []
    async with AsyncExitStack() as stack:
        publisher = await stack.enter_async_context(TopicClientAsync(config, _provider(vended[0], grpc_port)))
        clients = [
            await stack.enter_async_context(TopicClientAsync(config, _provider(token, grpc_port)))
            for token in vended[1:]
        ]
        started = time.monotonic()
        try:
            async with asyncio.timeout(min(60.0, deadline.left())):
                subscriptions = await asyncio.gather(
                    *(clients[i % len(clients)].subscribe(cache, topic) for i in range(subscribers))
                )
        except TimeoutError:
            result.fail("the subscriptions did not open within 60 s (or the global deadline)")
            return result
        opened: list[TopicSubscribe.SubscriptionAsync] = []
        for subscription in subscriptions:
            if not isinstance(subscription, TopicSubscribe.SubscriptionAsync):
                result.fail(f"a subscribe failed: {subscription!r}"[:200])
                return result
            stack.callback(subscription.unsubscribe)
            opened.append(subscription)
        subscribed_s = time.monotonic() - started
        consumers = [asyncio.create_task(_consume(sub, prefix, into)) for sub, into in zip(opened, seen, strict=True)]
        started = time.monotonic()
        published_s = delivered_s = None
        try:
            async with asyncio.timeout(max(0.0, deadline.left())):
                for seq in range(messages):
                    published = await publisher.publish(cache, topic, f"{prefix}{seq}")
                    if isinstance(published, TopicPublish.Success):
                        acked.append(seq)
                    else:
                        publish_errors.append(repr(published)[:200])
                sentinel = await publisher.publish(cache, topic, f"{prefix}end")
                published_s = time.monotonic() - started
                if not isinstance(sentinel, TopicPublish.Success):
                    publish_errors.append(f"the sentinel: {sentinel!r}"[:200])
                await asyncio.gather(*consumers)
                delivered_s = time.monotonic() - started
        except TimeoutError:
            result.fail(f"the global deadline passed with {len(acked)} of {messages} published")
        finally:
            for task in consumers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*consumers, return_exceptions=True)

    _judge(result, seen, acked, publish_errors)
    deliveries = sum(s.count for s in seen)
    result.notes.append(
        f"subscribed {subscribers} (over {len(clients)} SDK clients) in {subscribed_s:.2f} s; "
        + (
            f"published {messages} + sentinel in {published_s:.1f} s ({(messages + 1) / published_s:.0f}/s); "
            if published_s
            else "publishing did not finish; "
        )
        + (
            f"all {deliveries} deliveries in {delivered_s:.1f} s ({deliveries / delivered_s:.0f}/s)"
            if delivered_s
            else f"{deliveries} deliveries before the deadline"
        )
    )
    return result


def _judge(result: PhaseResult, seen: list[_Seen], acked: list[int], publish_errors: list[str]) -> None:
    if publish_errors:
        result.fail(f"{len(publish_errors)} publishes not acknowledged; first: {publish_errors[0]}")
    acked_set = set(acked)
    lost = duplicated = reordered = 0
    for index, got in enumerate(seen):
        missing = len(acked_set - got.seen)
        lost += missing
        duplicated += got.duplicates
        reordered += got.reordered
        if got.error:
            result.fail(f"subscriber {index}: {got.error}")
        elif not got.done:
            result.fail(f"subscriber {index}: no sentinel after {got.count} messages")
        if missing or got.first_problem:
            result.notes.append(f"subscriber {index}: {missing} missing; first problem: {got.first_problem}")
    if lost or duplicated or reordered:
        result.fail(f"acknowledged messages lost {lost}, duplicated {duplicated}, reordered {reordered}")
    result.notes.insert(
        0,
        f"{len(acked)} acknowledged publishes x {len(seen)} subscribers: lost {lost}, duplicated {duplicated}, "
        f"reordered {reordered}",
    )
