"""Issuance limits: how many tokens one identity may take, shared by every process that vends.

Why: Momento allows about 5 token mints per second per account, and every token vended is one. Without a limit per
caller, one abusive or looping client spends the account's quota and every other user is refused. Each identity
(a verified username, or an Open-mode caller's source address) gets a token bucket: `burst` tokens at once, one more
every `refill_seconds`. Only requests that reach the mint are counted (after authentication and the scope decision);
`explain` only looks.

The bucket is kept as one number, its "theoretical arrival time" `tat` (GCRA, the generic cell rate algorithm): the
moment the bucket would be full again. At time `now`, with T = refill_seconds and B = burst, a take is allowed when
max(tat, now) <= now + (B - 1) * T, and moves tat to max(tat, now) + T. One number means one conditional write
decides (`DynamoDbLimiter`), and the arithmetic (`decide`) is pure, shared by both limiters and property-tested.

- `Limiter`: the protocol `VendingMachine` takes. `InMemoryLimiter` for one process (an embedded app on one worker,
  tests); `DynamoDbLimiter` for many (every Lambda instance, an app on several workers), over an injected
  `AwsJsonClient` (momento_tvm.aws_json: the standard-library one in Lambda, boto3's in an app).
- The clock is injectable everywhere (wall-clock seconds: a bucket is shared across machines).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Protocol

from .aws_json import AwsError, AwsJsonClient

__all__ = [
    "DEFAULT_LIMIT",
    "Allowance",
    "DynamoDbLimiter",
    "InMemoryLimiter",
    "Limiter",
    "LimiterError",
    "RateLimit",
    "decide",
    "limit_key",
]

MOMENTO_MINTS_PER_SECOND: Final = 5  # Momento's auth quota per account (its published default; adjustable on request)
# Times are kept to the millisecond (tat, now, the refill period): exact integer arithmetic, and enough for any
# refill period the policy allows (at least 0.01 s).
_PRECISION: Final = 3


@dataclass(frozen=True)
class RateLimit:
    """`burst` tokens at once, then one more every `refill_seconds` (to the millisecond)."""

    burst: int
    refill_seconds: float

    def __post_init__(self) -> None:
        if type(self.burst) is not int or self.burst < 1:
            raise ValueError("burst must be an integer of at least 1")
        if not (isinstance(self.refill_seconds, int | float) and 0.01 <= self.refill_seconds <= 86_400):
            raise ValueError("refill_seconds must be between 0.01 and 86400")

    @property
    def window_seconds(self) -> float:
        """How long an empty bucket takes to fill: burst * refill_seconds."""
        return self.burst * self.refill_seconds

    def to_json(self) -> dict[str, Any]:
        return {"burst": self.burst, "refillSeconds": self.refill_seconds}


# A tier without `limits` in its policy gets this: a person opening five tabs at once and renewing each hourly never
# meets it; a client in a loop is down to one token every 12 s after its first second; one identity alone never takes
# more than Momento's 5 mints/s per account.
DEFAULT_LIMIT: Final = RateLimit(burst=5, refill_seconds=12.0)


@dataclass(frozen=True)
class Allowance:
    """A limiter's answer: whether this take is allowed, how many more the bucket holds after it, and (when refused)
    the whole seconds until it allows one again."""

    allowed: bool
    remaining: int
    retry_after: int

    def to_json(self) -> dict[str, Any]:
        return {"remaining": self.remaining, "retryAfterSeconds": self.retry_after}


class LimiterError(Exception):
    """The limiter's store could not decide (down, slow, throttled, misconfigured). `code` says which, never more."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Limiter(Protocol):
    """Decides takes from per-key token buckets. `take` counts one if allowed; `peek` only looks. Both raise
    `LimiterError` when they cannot decide (the caller chooses between failing open and refusing)."""

    def take(self, key: str, limit: RateLimit) -> Allowance: ...

    def peek(self, key: str, limit: RateLimit) -> Allowance: ...


def decide(tat: float | None, now: float, limit: RateLimit) -> tuple[Allowance, float | None]:
    """The pure arithmetic: (the answer, the new tat to store, or None when refused) for a bucket at `tat` (None: a
    new or full bucket) at time `now`. In whole milliseconds, so that no float rounding ever lets one more through."""
    now_ms, period = _ms(now), _ms(limit.refill_seconds)
    base = now_ms if tat is None or _ms(tat) < now_ms else _ms(tat)
    allow_until = now_ms + (limit.burst - 1) * period
    if base <= allow_until:
        new_tat = base + period
        return Allowance(True, _remaining_ms(new_tat, now_ms, limit), 0), new_tat / 1000
    return Allowance(False, 0, max(1, -(-(base - allow_until) // 1000))), None


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _remaining_ms(tat_ms: int | None, now_ms: int, limit: RateLimit) -> int:
    """Whole tokens the bucket holds at `now_ms`, given its tat (both in ms)."""
    if tat_ms is None or tat_ms <= now_ms:
        return limit.burst
    period = _ms(limit.refill_seconds)
    return max(0, min(limit.burst, (now_ms + limit.burst * period - tat_ms) // period))


def _remaining(tat: float | None, now: float, limit: RateLimit) -> int:
    return _remaining_ms(None if tat is None else _ms(tat), _ms(now), limit)


def peek_allowance(tat: float | None, now: float, limit: RateLimit) -> Allowance:
    """What a take would be told, without taking: `remaining` is what the bucket holds now."""
    allowance, _ = decide(tat, now, limit)
    return Allowance(allowance.allowed, _remaining(tat, now, limit), allowance.retry_after)


def limit_key(username: str, *, anonymous: bool, source_ip: str | None = None, case_insensitive: bool = False) -> str:
    """The bucket's key for a caller: `user#<name>` for a verified username (case-folded where the identity provider
    compares names without case, as a Cognito pool does), `ip#<address>` for an anonymous caller (an IPv6 address by
    its /64, which one subscriber usually holds whole). Anonymous with no address: one shared `ip#unknown` bucket."""
    if not anonymous:
        return f"user#{username.casefold() if case_insensitive else username}"
    if not source_ip:
        return "ip#unknown"
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        return "ip#unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"ip#{address.ipv4_mapped}"
        return f"ip#{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"ip#{address}"


class InMemoryLimiter:
    """Buckets in this process: right for one process (an embedded app on one worker, tests), wrong for many (each
    would allow the full limit). Holds at most `max_keys` buckets, dropping the least recently used (a dropped bucket
    is a full one, so at worst a caller unseen for a while gets its burst back). Thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.time, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._tats: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, limit: RateLimit) -> Allowance:
        with self._lock:
            allowance, new_tat = decide(self._tats.get(key), self.clock(), limit)
            if new_tat is not None:
                self._tats[key] = new_tat
                self._tats.move_to_end(key)
                while len(self._tats) > self.max_keys:
                    self._tats.popitem(last=False)
            return allowance

    def peek(self, key: str, limit: RateLimit) -> Allowance:
        with self._lock:
            return peek_allowance(self._tats.get(key), self.clock(), limit)


class DynamoDbLimiter:
    """Buckets in a DynamoDB table, shared by every process using it: each take is at most two conditional writes on
    the caller's item (partition key `pk` = `limit#<key>`, sort key `sk` = `bucket`), never a read-then-write.

    - fresh: `SET tat = now + T` if the item is new or its tat has passed (a full bucket): allowed.
    - next: `SET tat = tat + T` if now < tat <= now + (B - 1) * T: allowed. Refused when tat is past that, and the
      failed condition returns the item (ReturnValuesOnConditionCheckFailure), whose tat says how long to wait.

    Exactly one of the two conditions holds for any item, so which goes first changes only the cost: the one this
    process expects (it remembers the tat of its own last write for each key, a hint only) goes first, and the other
    only when the first failed. So a caller vending again within its refill period costs one write, not a failed one
    and then another. Both use the same `now`, and a tat only ever grows, so the two cannot both fail for a bucket
    that is not over its limit (but for the item expiring between them: then a refusal of one second). Limit items
    carry `expires_at` (the table's TTL attribute): once past, the bucket is full anyway, and DynamoDB deletes it. Any
    failure of the store is a `LimiterError` with the AWS code.
    """

    PARTITION_KEY: Final = "pk"
    SORT_KEY: Final = "sk"
    TTL_ATTRIBUTE: Final = "expires_at"
    KEY_PREFIX: Final = "limit#"
    SORT_VALUE: Final = "bucket"
    MAX_HINTS: Final = 10_000

    def __init__(self, client: AwsJsonClient, table: str, *, clock: Callable[[], float] = time.time) -> None:
        if not table:
            raise ValueError("table must name the DynamoDB table")
        self.client = client
        self.table = table
        self.clock = clock
        self._hints: OrderedDict[str, int] = OrderedDict()  # key -> the tat (ms) of this process's last write
        self._lock = threading.Lock()

    def _key(self, key: str) -> dict[str, dict[str, str]]:
        return {self.PARTITION_KEY: {"S": f"{self.KEY_PREFIX}{key}"}, self.SORT_KEY: {"S": self.SORT_VALUE}}

    def take(self, key: str, limit: RateLimit) -> Allowance:
        now, period = _ms(self.clock()), _ms(limit.refill_seconds)
        allow_until = now + (limit.burst - 1) * period
        with self._lock:
            hint = self._hints.get(key)
        writes = (self._next, self._fresh) if hint is not None and hint > now else (self._fresh, self._next)
        failed: _ConditionFailed | None = None
        for write in writes:
            try:
                tat = write(key, now, period, allow_until, limit)
            except _ConditionFailed as error:
                old = _tat(error.item)
                if write == self._next and old is not None and _ms(old) > allow_until:
                    failed = error
                    break  # over the limit: the fresh write cannot hold either
                failed = error
                continue
            self._remember(key, tat)
            return Allowance(True, _remaining_ms(tat, now, limit), 0)
        assert failed is not None
        allowance, _ = decide(_tat(failed.item), now / 1000, limit)
        return allowance if not allowance.allowed else Allowance(False, 0, 1)  # the item went meanwhile (TTL)

    def _fresh(self, key: str, now: int, period: int, allow_until: int, limit: RateLimit) -> int:
        self._update(
            self._key(key),
            "SET tat = :fresh, expires_at = :expires",
            "attribute_not_exists(tat) OR tat <= :now",
            {":fresh": _n(now + period), ":now": _n(now), ":expires": _expiry(now + period, limit)},
        )
        return now + period

    def _next(self, key: str, now: int, period: int, allow_until: int, limit: RateLimit) -> int:
        answer = self._update(
            self._key(key),
            "SET tat = tat + :period, expires_at = :expires",
            "tat > :now AND tat <= :until",
            {
                ":period": _n(period),
                ":now": _n(now),
                ":until": _n(allow_until),
                ":expires": _expiry(allow_until + period, limit),
            },
        )
        tat = _tat(answer.get("Attributes"))
        return _ms(tat) if tat is not None else allow_until + period

    def _remember(self, key: str, tat: int) -> None:
        with self._lock:
            self._hints[key] = tat
            self._hints.move_to_end(key)
            while len(self._hints) > self.MAX_HINTS:
                self._hints.popitem(last=False)

    def peek(self, key: str, limit: RateLimit) -> Allowance:
        try:
            answer = self.client.call(
                "GetItem", {"TableName": self.table, "Key": self._key(key), "ConsistentRead": True}
            )
        except AwsError as error:
            raise LimiterError(error.code) from None
        return peek_allowance(_tat(answer.get("Item")), self.clock(), limit)

    def _update(self, key: Mapping[str, Any], update: str, condition: str, values: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.client.call(
                "UpdateItem",
                {
                    "TableName": self.table,
                    "Key": key,
                    "UpdateExpression": update,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                    "ReturnValues": "UPDATED_NEW",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                },
            )
        except AwsError as error:
            if error.code == "ConditionalCheckFailedException":
                raise _ConditionFailed(error.item) from None
            raise LimiterError(error.code) from None


class _ConditionFailed(Exception):
    def __init__(self, item: Mapping[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


def _n(ms: int) -> dict[str, str]:
    """A time in ms as a DynamoDB number of seconds, exact (plain decimal notation, no float rounding)."""
    return {"N": format(Decimal(ms).scaleb(-_PRECISION).normalize(), "f")}


def _tat(item: Mapping[str, Any] | None) -> float | None:
    try:
        return float(item["tat"]["N"]) if item and "tat" in item else None
    except (KeyError, TypeError, ValueError):
        return None


def _expiry(tat_ms: int, limit: RateLimit) -> dict[str, str]:
    """When DynamoDB may delete the item (whole epoch seconds, as TTL wants): its tat has passed, so the bucket is
    full again, plus a margin."""
    return {"N": str(-(-tat_ms // 1000) + 60 + math.ceil(limit.refill_seconds))}
