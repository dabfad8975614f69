"""Cutting callers off: a revoked user, a paused tier, or all vending paused, checked on every vend and explain.

Why: Momento's disposable tokens cannot be revoked; they expire. What a TVM can do is refuse the next one, whatever
the gateway's authorizer cache or a still-valid ID token says. A block has a reason, who set it, when, and optionally
until when (then it lapses by itself). Checking is a read (one batch read of the caller's, the tier's and the global
item), never a write: a check under load must not contend on shared items.

- `Revocations`: the protocol `VendingMachine` takes (`check`), and the admin commands use (the rest).
- `InMemoryRevocations`: one process (an embedded app on one worker, tests).
- `DynamoDbRevocations`: the stack's table, shared by every instance (and written by `python -m tvm_users`), over an
  injected `AwsJsonClient`. Items under partition key `pk` = `control`, sort key `sk` = `revoked#<user key>`,
  `pause#tier#<tier>` or `pause#all`, so all of them are listed by one Query on that partition, never a scan over the
  issuance limits' items (momento_tvm.limits).

The user key is the one the issuance limits count by (`VendingMachine.limit_key`: `user#<name>`, case-folded where
the identity provider compares names without case). A guest (Open mode) has no user key: guests choose their name,
so revoking one means nothing; pause the guest tier instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from .aws_json import AwsError, AwsJsonClient

__all__ = [
    "Block",
    "DynamoDbRevocations",
    "InMemoryRevocations",
    "Revocations",
    "StoreError",
    "block_key",
]

BlockKind = Literal["revoked", "tier_paused", "vending_paused"]
ALL: Final = "all"


class StoreError(Exception):
    """The revocations' store could not answer (down, slow, throttled, misconfigured). `code` says which."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Block:
    """One revocation or pause. `subject` is the user key (`user#alice`), the tier, or `all`; `until` None = until
    lifted; `prior_enabled` is, for a Cognito user, whether the pool had the user enabled before the revoke (so
    that restoring re-enables only a user the revoke disabled)."""

    kind: BlockKind
    subject: str
    reason: str
    by: str
    at: int
    until: int | None = None
    prior_enabled: bool | None = None

    def applies(self, now: float) -> bool:
        return self.until is None or now < self.until

    def describe(self) -> str:
        """One line for the admin commands."""
        what = {"revoked": "revoked", "tier_paused": "tier paused", "vending_paused": "all vending paused"}[self.kind]
        subject = self.subject.removeprefix("user#") if self.kind == "revoked" else self.subject
        until = "until lifted" if self.until is None else f"until {_iso(self.until)}"
        return f"{what}: {subject} ({until}; since {_iso(self.at)} by {self.by}: {self.reason})"


def block_key(kind: BlockKind, subject: str) -> str:
    """The item's sort key: `revoked#user#alice`, `pause#tier#readonly`, `pause#all`."""
    if kind == "revoked":
        return f"revoked#{subject}"
    if kind == "tier_paused":
        return f"pause#tier#{subject}"
    return "pause#all"


class Revocations(Protocol):
    """Where blocks are kept. `check` is what a vend asks; the rest is for operators. Each raises `StoreError` when
    its store cannot answer."""

    def check(self, user_key: str | None, tier: str) -> Block | None:
        """The block that applies to this caller now: all vending paused, else its tier paused, else the user
        revoked (None: the caller may be served)."""
        ...

    def put(self, block: Block) -> None: ...

    def remove(self, kind: BlockKind, subject: str) -> Block | None:
        """Lift a block; the block that was lifted, or None when there was none."""
        ...

    def list(self) -> list[Block]: ...


def _first(blocks: Mapping[str, Block], user_key: str | None, tier: str, now: float) -> Block | None:
    order = [block_key("vending_paused", ALL), block_key("tier_paused", tier)]
    if user_key is not None:
        order.append(block_key("revoked", user_key))
    for key in order:
        block = blocks.get(key)
        if block is not None and block.applies(now):
            return block
    return None


class InMemoryRevocations:
    """Blocks in this process: right for one process only. Thread-safe."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._blocks: dict[str, Block] = {}
        self._lock = threading.Lock()

    def check(self, user_key: str | None, tier: str) -> Block | None:
        with self._lock:
            return _first(self._blocks, user_key, tier, self.clock())

    def put(self, block: Block) -> None:
        with self._lock:
            self._blocks[block_key(block.kind, block.subject)] = block

    def remove(self, kind: BlockKind, subject: str) -> Block | None:
        with self._lock:
            return self._blocks.pop(block_key(kind, subject), None)

    def list(self) -> list[Block]:
        with self._lock:
            return sorted(self._blocks.values(), key=lambda block: block_key(block.kind, block.subject))


class DynamoDbRevocations:
    """Blocks in the stack's DynamoDB table (see the module docstring), shared by every process using it.

    `check` is one BatchGetItem of at most three items, strongly consistent, so a block is seen by the next vend
    after it is written, in every instance. The admin calls are PutItem, DeleteItem (returning the old item) and one
    Query of the `control` partition.
    """

    PARTITION: Final = "control"

    def __init__(self, client: AwsJsonClient, table: str, *, clock: Callable[[], float] = time.time) -> None:
        if not table:
            raise ValueError("table must name the DynamoDB table")
        self.client = client
        self.table = table
        self.clock = clock

    def _key(self, sort_key: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": self.PARTITION}, "sk": {"S": sort_key}}

    def check(self, user_key: str | None, tier: str) -> Block | None:
        keys = [block_key("vending_paused", ALL), block_key("tier_paused", tier)]
        if user_key is not None:
            keys.append(block_key("revoked", user_key))
        request = {self.table: {"Keys": [self._key(key) for key in keys], "ConsistentRead": True}}
        found: dict[str, Block] = {}
        for _ in range(3):  # unprocessed keys (throttling) are asked again, at most twice
            answer = self._call("BatchGetItem", {"RequestItems": request})
            for item in answer.get("Responses", {}).get(self.table, []):
                block = _block(item)
                if block is not None:
                    found[item["sk"]["S"]] = block
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return _first(found, user_key, tier, self.clock())
        raise StoreError("UnprocessedKeys")

    def put(self, block: Block) -> None:
        item: dict[str, Any] = {
            **self._key(block_key(block.kind, block.subject)),
            "kind": {"S": block.kind},
            "subject": {"S": block.subject},
            "reason": {"S": block.reason},
            "by": {"S": block.by},
            "at": {"N": str(block.at)},
        }
        if block.until is not None:
            item["until"] = {"N": str(block.until)}
        if block.prior_enabled is not None:
            item["prior_enabled"] = {"BOOL": block.prior_enabled}
        self._call("PutItem", {"TableName": self.table, "Item": item})

    def remove(self, kind: BlockKind, subject: str) -> Block | None:
        answer = self._call(
            "DeleteItem",
            {"TableName": self.table, "Key": self._key(block_key(kind, subject)), "ReturnValues": "ALL_OLD"},
        )
        return _block(answer.get("Attributes"))

    def list(self) -> list[Block]:
        blocks: list[Block] = []
        query: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :control",
            "ExpressionAttributeValues": {":control": {"S": self.PARTITION}},
            "ConsistentRead": True,
        }
        while True:
            answer = self._call("Query", query)
            blocks += [block for item in answer.get("Items", []) if (block := _block(item)) is not None]
            if not answer.get("LastEvaluatedKey"):
                return blocks
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _call(self, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.client.call(operation, params)
        except AwsError as error:
            raise StoreError(error.code) from None


def _block(item: Mapping[str, Any] | None) -> Block | None:
    """An item as a Block; None for a missing or malformed one (never trusted to be well formed: an operator may
    have edited it by hand)."""
    if not item:
        return None
    try:
        kind = item["kind"]["S"]
        if kind not in ("revoked", "tier_paused", "vending_paused"):
            return None
        until = item.get("until", {}).get("N")
        prior = item.get("prior_enabled", {}).get("BOOL")
        return Block(
            kind,
            item["subject"]["S"],
            item.get("reason", {}).get("S", ""),
            item.get("by", {}).get("S", ""),
            int(item["at"]["N"]),
            int(until) if until is not None else None,
            prior if isinstance(prior, bool) else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
