"""The topic broker: per-(cache, topic) sequence numbers, a bounded replay buffer, one bounded queue per subscriber.

Delivery rules (what clients may rely on):
- sequence numbers start at 1 for each (cache, topic) and every message carries the broker's sequence page, a random
  number chosen when the broker is created, so a client resuming after an emulator restart sees a new page and gets
  a discontinuity instead of a silent gap;
- every message reaches every subscriber registered at publish time, in publish order, exactly once;
- a resume (`resume_at` > 0) on the current page replays from the buffer; what the buffer no longer holds, or a
  resume on another page, is announced with a `Discontinuity` before live messages;
- a subscriber that falls more than `queue_size` messages behind loses its backlog and gets a `Discontinuity` naming
  the gap (memory stays bounded; it never gets a message twice).

Plain asyncio, no I/O: the transports drive it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from dataclasses import dataclass, field

from .errors import EmulatorError

__all__ = ["Discontinuity", "Subscription", "TopicBroker", "TopicMessage"]


@dataclass(frozen=True)
class TopicMessage:
    sequence: int
    page: int
    publisher_id: str
    text: str | None = None
    binary: bytes | None = None


@dataclass(frozen=True)
class Discontinuity:
    last_sequence: int
    new_sequence: int
    new_page: int


Event = TopicMessage | Discontinuity


class Subscription:
    """One subscriber's view of a topic. Use as a context manager, or call `close()`."""

    def __init__(self, broker: TopicBroker, key: tuple[str, str], queue_size: int) -> None:
        self._broker = broker
        self.key = key
        self._queue: deque[Event] = deque()
        self._queue_size = queue_size
        self._wakeup = asyncio.Event()
        self._error: EmulatorError | None = None
        self._delivered = 0  # the last sequence number handed to the client
        self.closed = False

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._broker._remove(self)
            self._wakeup.set()

    def fail(self, error: EmulatorError) -> None:
        """End this subscription with an error (for example, its cache was deleted)."""
        self._error = error
        self._wakeup.set()

    def _offer(self, event: Event) -> None:
        if isinstance(event, TopicMessage) and len(self._queue) >= self._queue_size:
            self._queue.clear()
            self._queue.append(Discontinuity(self._delivered, event.sequence, event.page))
        self._queue.append(event)
        self._wakeup.set()

    def pending(self) -> int:
        return len(self._queue)

    async def next(self, within: float | None) -> Event | None:
        """The next event, or None when `within` seconds pass first. Raises the error passed to `fail`."""
        while not self._queue:
            if self._error is not None:
                raise self._error
            if self.closed:
                raise RuntimeError("subscription closed")
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), within)
            except TimeoutError:
                return None
        event = self._queue.popleft()
        self._delivered = event.sequence if isinstance(event, TopicMessage) else event.new_sequence - 1
        return event


@dataclass
class _Topic:
    next_sequence: int = 1
    history: deque[TopicMessage] = field(default_factory=deque)
    subscribers: set[Subscription] = field(default_factory=set)


class TopicBroker:
    def __init__(self, history_size: int = 1024, queue_size: int = 8192, page: int | None = None) -> None:
        self.page = page if page is not None else secrets.randbits(63) or 1
        self._history_size = history_size
        self._queue_size = queue_size
        self._topics: dict[tuple[str, str], _Topic] = {}

    def publish(
        self, cache: str, topic: str, publisher_id: str, *, text: str | None = None, binary: bytes | None = None
    ) -> TopicMessage:
        state = self._topics.setdefault((cache, topic), _Topic())
        message = TopicMessage(state.next_sequence, self.page, publisher_id, text, binary)
        state.next_sequence += 1
        state.history.append(message)
        if len(state.history) > self._history_size:
            state.history.popleft()
        for subscriber in state.subscribers:
            subscriber._offer(message)
        return message

    def subscribe(self, cache: str, topic: str, resume_at: int = 0, page: int = 0) -> Subscription:
        """Register a subscriber now; a resume is answered from the buffer before any later message."""
        key = (cache, topic)
        state = self._topics.setdefault(key, _Topic())
        subscription = Subscription(self, key, self._queue_size)
        if resume_at > 0:
            for event in self._replay(state, resume_at, page):
                subscription._queue.append(event)
        state.subscribers.add(subscription)
        return subscription

    def _replay(self, state: _Topic, resume_at: int, page: int) -> list[Event]:
        last_wanted = resume_at - 1
        if page not in (0, self.page) or resume_at > state.next_sequence:
            return [Discontinuity(last_wanted, state.next_sequence, self.page)]
        kept = [m for m in state.history if m.sequence >= resume_at]
        oldest = kept[0].sequence if kept else state.next_sequence
        events: list[Event] = []
        if oldest > resume_at:
            events.append(Discontinuity(last_wanted, oldest, self.page))
        events.extend(kept)
        return events

    def drop_cache(self, cache: str, error: EmulatorError) -> None:
        """Forget a deleted cache's topics and end their subscriptions with `error`."""
        for key in [k for k in self._topics if k[0] == cache]:
            for subscriber in list(self._topics[key].subscribers):
                subscriber.fail(error)
            del self._topics[key]

    def fail_all(self, error: EmulatorError) -> None:
        """End every subscription with `error` (the emulator is stopping: clients should reconnect, not wait)."""
        for state in self._topics.values():
            for subscriber in list(state.subscribers):
                subscriber.fail(error)

    def subscriber_count(self, cache: str, topic: str) -> int:
        state = self._topics.get((cache, topic))
        return len(state.subscribers) if state else 0

    def _remove(self, subscription: Subscription) -> None:
        state = self._topics.get(subscription.key)
        if state is not None:
            state.subscribers.discard(subscription)
