"""The topic broker: numbering, fan-out, replay, discontinuities and bounded queues."""

from __future__ import annotations

import pytest

from momento_emulator.broker import Discontinuity, TopicBroker, TopicMessage
from momento_emulator.errors import NotFoundError


async def drain(subscription, n: int) -> list:  # type: ignore[no-untyped-def]
    return [await subscription.next(1.0) for _ in range(n)]


async def test_sequence_numbers_start_at_one_per_topic_and_carry_the_page() -> None:
    broker = TopicBroker(page=7)
    with broker.subscribe("c", "a") as sub_a, broker.subscribe("c", "b") as sub_b:
        broker.publish("c", "a", "alice", text="1")
        broker.publish("c", "a", "alice", text="2")
        broker.publish("c", "b", "bob", binary=b"\x00")
        got_a = await drain(sub_a, 2)
        got_b = await drain(sub_b, 1)
    assert [(m.sequence, m.page, m.text, m.publisher_id) for m in got_a] == [(1, 7, "1", "alice"), (2, 7, "2", "alice")]
    assert got_b == [TopicMessage(1, 7, "bob", None, b"\x00")]


async def test_every_present_subscriber_gets_every_message_once_and_latecomers_get_only_later_ones() -> None:
    broker = TopicBroker()
    early = [broker.subscribe("c", "t") for _ in range(3)]
    broker.publish("c", "t", "", text="first")
    late = broker.subscribe("c", "t")
    broker.publish("c", "t", "", text="second")
    for sub in early:
        assert [m.text for m in await drain(sub, 2)] == ["first", "second"]
        assert await sub.next(0.01) is None
    assert [m.text for m in await drain(late, 1)] == ["second"]
    assert await late.next(0.01) is None


async def test_next_times_out_with_none_and_closed_subscriptions_leave_the_topic() -> None:
    broker = TopicBroker()
    sub = broker.subscribe("c", "t")
    assert await sub.next(0.01) is None
    assert broker.subscriber_count("c", "t") == 1
    sub.close()
    assert broker.subscriber_count("c", "t") == 0


async def test_resume_replays_the_buffer_then_continues_live() -> None:
    broker = TopicBroker(history_size=10, page=3)
    for n in range(1, 6):
        broker.publish("c", "t", "", text=str(n))
    sub = broker.subscribe("c", "t", resume_at=4, page=3)
    broker.publish("c", "t", "", text="6")
    assert [m.text for m in await drain(sub, 3)] == ["4", "5", "6"]


@pytest.mark.parametrize(
    ("resume_at", "page", "expected"),
    [
        (2, 99, Discontinuity(1, 6, 3)),  # another page: the emulator restarted since
        (1, 3, Discontinuity(0, 3, 3)),  # older than the buffer (which holds 3..5)
        (9, 3, Discontinuity(8, 6, 3)),  # ahead of the topic
    ],
)
async def test_resume_gaps_are_announced_with_a_discontinuity(
    resume_at: int, page: int, expected: Discontinuity
) -> None:
    broker = TopicBroker(history_size=3, page=3)
    for n in range(1, 6):
        broker.publish("c", "t", "", text=str(n))
    sub = broker.subscribe("c", "t", resume_at=resume_at, page=page)
    assert await sub.next(0.1) == expected


async def test_resume_at_next_sequence_is_a_plain_live_subscription() -> None:
    broker = TopicBroker(page=3)
    broker.publish("c", "t", "", text="1")
    sub = broker.subscribe("c", "t", resume_at=2, page=3)
    assert await sub.next(0.01) is None


async def test_a_subscriber_that_falls_behind_gets_a_discontinuity_never_a_duplicate() -> None:
    broker = TopicBroker(queue_size=3, page=1)
    sub = broker.subscribe("c", "t")
    for n in range(1, 6):
        broker.publish("c", "t", "", text=str(n))
    events = [await sub.next(0.1) for _ in range(sub.pending())]
    assert events[0] == Discontinuity(0, 4, 1)  # it saw nothing; 1..3 were dropped
    assert [e.sequence for e in events[1:]] == [4, 5]
    for n in range(6, 11):
        broker.publish("c", "t", "", text=str(n))
    later = [await sub.next(0.1) for _ in range(sub.pending())]
    assert later[0] == Discontinuity(5, 9, 1)  # it last saw 5; 6..8 were dropped
    assert [e.sequence for e in later[1:]] == [9, 10]


async def test_dropping_a_cache_fails_its_subscriptions() -> None:
    broker = TopicBroker()
    sub = broker.subscribe("gone", "t")
    other = broker.subscribe("kept", "t")
    broker.drop_cache("gone", NotFoundError("cache not found: gone"))
    with pytest.raises(NotFoundError):
        await sub.next(0.1)
    assert await other.next(0.01) is None
