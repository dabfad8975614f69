"""Momento's auth quota for the account, played when asked (`--auth-quota N`): N token-service calls per second.

Momento documents "operations per second: 5" per account for its auth service (a hard limit, adjustable on request)
and answers a call over it with RESOURCE_EXHAUSTED, which the SDKs call LIMIT_EXCEEDED_ERROR. How Momento counts is
not published; the emulator uses a token bucket, for three reasons:

- N is a rate, and may be fractional (0.2 = one call every 5 s): a bucket expresses any rate exactly, where a
  one-second window can only count whole calls per second;
- from rest it lets N calls through at once (at least one), as a one-second window does, and over any longer
  span exactly N per second: a client that keeps under N per second is never refused;
- it is the arithmetic the TVM's own issuance limit uses (momento_tvm.limits), so the two are read the same way.

Pure: the clock is injected (monotonic seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateQuota"]


class RateQuota:
    """`per_second` calls per second on average; up to `max(1, per_second)` at once after a rest."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not per_second > 0:
            raise ValueError("the quota must be a positive number of calls per second")
        self.per_second = per_second
        self.capacity = max(1.0, per_second)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()

    def take(self) -> bool:
        """Spend one call if the bucket holds one; False (nothing spent) when the account is over its quota."""
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
