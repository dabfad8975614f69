"""How many password checks the sign-in makes, for whom and how fast. No web framework in here (both examples use
it): `login.py` and the Flask app call `admit` before checking a password and `finish` after.

Each check is a 16 MiB, ~50 ms scrypt (users.py), so without limits anyone could guess one password 20-40 times a
second from one machine and keep the server's CPU and memory busy. The numbers (`SignInLimits`):

- **Per username**: 5 failed sign-ins are free. After the 5th, the next attempt must wait 30 s; each further failure
  doubles the wait (1, 2, 4, 8 min), up to 15 min. Attempts during a wait are refused (429) without a password
  check, even with the right password; a success clears the count, and so do 15 minutes without a failure after the
  wait. Unknown usernames are counted alike, so a 429 does not tell which names exist.
- **Per client address**: 20 attempts a minute (a bucket of 20 that refills one every 3 s), whatever the username.
- **At once**: 4 password checks in the whole process (64 MiB); one more is refused (503) at once, not queued.
- **Memory**: at most 10,000 usernames and 10,000 addresses remembered (a username by a 16-byte digest, whatever its
  length); past that the least recently seen is forgotten, so a flood of made-up names stays within that.

A wait, not a lock: whoever knows a username can keep it waiting (one wrong guess each time the wait ends, at most
every 15 min), but cannot lock it for good, and guesses from everyone together are held to about 4 an hour. In
memory: one process. With several workers, keep the counts in your shared store (e.g. Redis) instead.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

__all__ = ["Refusal", "SignInLimiter", "SignInLimits"]


@dataclass(frozen=True)
class SignInLimits:
    """The limits (the module docstring says why these)."""

    free_failures: int = 5  # failed sign-ins per username before any wait
    first_wait_seconds: float = 30.0  # the wait after the last free failure; doubled by each further one
    max_wait_seconds: float = 15 * 60.0
    forget_after_seconds: float = 15 * 60.0  # a username's failures are forgotten this long after its wait ends
    client_attempts: int = 20  # attempts per client address ...
    client_period_seconds: float = 60.0  # ... per this long
    concurrent_checks: int = 4  # password checks at once, in this process
    max_remembered: int = 10_000  # usernames, and client addresses, remembered at most


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused: the status (429 too many, 503 busy), the `Retry-After` in whole seconds, what the
    sign-in page tells the person, and what the log says (no username or address in it)."""

    status: int
    retry_after_seconds: int
    message: str
    reason: str


class _Expiring(Protocol):
    expires: float  # when the record holds nothing worth keeping


R = TypeVar("R", bound=_Expiring)


class _Recent(Generic[R]):
    """At most `size` records, the least recently updated first: expired ones are dropped as they come to the front,
    and the oldest live one when there is no room for a new one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._records: OrderedDict[Hashable, R] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: Hashable, now: float) -> R | None:
        record = self._records.get(key)
        return record if record is not None and record.expires > now else None

    def put(self, key: Hashable, record: R, now: float) -> None:
        self._records[key] = record
        self._records.move_to_end(key)
        while self._records:
            oldest = next(iter(self._records.values()))
            if oldest.expires > now and len(self._records) <= self.size:
                break
            self._records.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        self._records.pop(key, None)


@dataclass
class _Failures:
    count: int  # failures in a row
    wait_until: float  # no attempt before this
    expires: float


@dataclass
class _Bucket:
    tokens: float
    at: float  # when `tokens` was counted
    expires: float  # when the bucket is full again (forgetting it then changes nothing)


class SignInLimiter:
    """The limits of `SignInLimits`, in this process's memory, safe to share between threads. `clock`: seconds that
    only go forward (tests pass their own)."""

    def __init__(self, limits: SignInLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or SignInLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(self.limits.concurrent_checks)
        self._failures: _Recent[_Failures] = _Recent(self.limits.max_remembered)
        self._clients: _Recent[_Bucket] = _Recent(self.limits.max_remembered)

    def admit(self, client: str, username: str) -> Refusal | None:
        """Before checking `username`'s password for `client` (its address): None, and then one of the password
        checks is held until `finish`; else why not. Every attempt counts against its client's allowance."""
        limits = self.limits
        with self._lock:
            now = self._clock()
            full, rate = float(limits.client_attempts), limits.client_attempts / limits.client_period_seconds
            bucket = self._clients.get(client, now)  # None: never seen, or full again and forgotten
            tokens = full if bucket is None else min(full, bucket.tokens + (now - bucket.at) * rate)
            if tokens < 1:
                wait = _seconds((1 - tokens) / rate)
                return Refusal(429, wait, _please_wait(_FROM_HERE, wait), "too many attempts from a client")
            tokens -= 1
            self._clients.put(client, _Bucket(tokens, now, now + (full - tokens) / rate), now)
            failures = self._failures.get(_key(username), now)
            if failures is not None and failures.wait_until > now:
                wait = _seconds(failures.wait_until - now)
                return Refusal(429, wait, _please_wait(_FOR_THIS_NAME, wait), "failed sign-ins for a username")
        if not self._checks.acquire(blocking=False):
            return Refusal(503, 1, _BUSY, "too many password checks at once")
        return None

    def finish(self, username: str, *, succeeded: bool) -> None:
        """After the check `admit` allowed: gives its place back; a failure counts against `username` (and may start
        a wait), a success clears its failures."""
        self._checks.release()
        key = _key(username)
        with self._lock:
            now = self._clock()
            if succeeded:
                self._failures.pop(key)
                return
            failures = self._failures.get(key, now)
            count = 1 if failures is None else failures.count + 1
            wait_until = now + self.wait_after(count)
            self._failures.put(key, _Failures(count, wait_until, wait_until + self.limits.forget_after_seconds), now)

    def wait_after(self, failures: int) -> float:
        """Seconds the next attempt waits after `failures` failures in a row: none while they are free, then doubling
        from `first_wait_seconds` up to `max_wait_seconds`."""
        limits = self.limits
        if failures < limits.free_failures:
            return 0.0
        return min(limits.max_wait_seconds, limits.first_wait_seconds * 2.0 ** min(failures - limits.free_failures, 32))

    def remembered(self) -> tuple[int, int]:
        """(usernames, client addresses) held in memory now: what the bounds bound."""
        with self._lock:
            return len(self._failures), len(self._clients)


_FROM_HERE = "Too many sign-in attempts from your network."
_FOR_THIS_NAME = "Too many failed sign-ins for this username."
_BUSY = "The server is busy checking other sign-ins. Please try again in a moment."


def _please_wait(problem: str, seconds: int) -> str:
    """What the sign-in page says: the problem, and how long to wait (what `Retry-After` says)."""
    if seconds >= 120:
        wait = f"{math.ceil(seconds / 60)} minutes"
    else:
        wait = "1 second" if seconds == 1 else f"{seconds} seconds"
    return f"{problem} Please wait {wait} and try again."


def _seconds(span: float) -> int:
    """A `Retry-After`: whole seconds, at least 1, never early."""
    return max(1, math.ceil(span - 1e-9))


def _key(username: str) -> bytes:
    """A fixed-size key: a 4 KB username costs the table no more than a short one."""
    return hashlib.blake2b(username.encode("utf-8", "surrogatepass"), digest_size=16).digest()
