"""The control channel: topics on which an operator's cut-off reaches the clients that hold tokens already.

Why: Momento cannot revoke a disposable token; the vending machine refuses the next one (momento_tvm.revocations),
and cooperative clients drop the one they hold when told. Every token the machine mints (with topics, or a whole
cache) also gets subscribe-only access to its holder's control topics, at most three:

- the user's (`user#alice`, keyed as the limits and revocations key users), absent for a guest;
- the tier's (`tier#readwrite`);
- everyone's (`all`).

Names are opaque (`tvm-control-` + 26 base32 characters of an HMAC-SHA256 of the subject), so no subscriber can
guess another user's topic or learn who was revoked. The HMAC key is derived from the Momento API key
(`control_key`): the vending machine and the operator's commands both hold that key and nothing else needs storing;
a rotated key renames every topic at the clients' next renewal.

Why a client can trust what it hears: it obeys a message only when its publisher id is empty. Momento stamps every
message with the publishing token's `token_id`, and every token this machine mints carries the holder's name (a
verified username or `guest:...`, never empty); a message published with the API key itself carries none. So a user
whose tier may publish everywhere (`*`) can write on a control topic, but never a message a client obeys.

A message is small JSON with no username and no reason: `{"v": 1, "event": "revoked"}`, one of `EVENTS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Final, Literal

__all__ = [
    "EVENTS",
    "TOPIC_PREFIX",
    "ControlEvent",
    "all_subject",
    "control_key",
    "message",
    "parse_message",
    "tier_subject",
    "topic_name",
    "user_subject",
]

TOPIC_PREFIX: Final = "tvm-control-"
ControlEvent = Literal["revoked", "restored", "paused", "resumed"]
EVENTS: Final[tuple[ControlEvent, ...]] = ("revoked", "restored", "paused", "resumed")
_KEY_CONTEXT: Final = b"momento-tvm control topics v1\x00"
_NAME_CHARS: Final = 26  # 130 bits of the HMAC: unguessable, and short enough for a topic name


def control_key(api_key: str) -> bytes:
    """The HMAC key for topic names, derived from the Momento API key (one-way: the names reveal nothing of it)."""
    return hashlib.sha256(_KEY_CONTEXT + api_key.encode("utf-8")).digest()


def user_subject(user_key: str) -> str:
    """A verified user's subject: their limit key (`user#alice`), as `momento_tvm.limits.limit_key` makes it."""
    if not user_key.startswith("user#"):
        raise ValueError("a user's control subject is their limit key, user#<name>")
    return user_key


def tier_subject(tier: str) -> str:
    return f"tier#{tier}"


def all_subject() -> str:
    return "all"


def topic_name(key: bytes, subject: str) -> str:
    """The opaque topic for `subject` (a user's, a tier's or everyone's) under `key`."""
    digest = hmac.new(key, subject.encode("utf-8"), hashlib.sha256).digest()
    return TOPIC_PREFIX + base64.b32encode(digest).decode("ascii")[:_NAME_CHARS].lower()


def message(event: ControlEvent) -> str:
    """The text an operator publishes: the event only (no name, no reason: every subscriber of the topic reads it)."""
    if event not in EVENTS:
        raise ValueError(f"unknown control event {event!r}")
    return json.dumps({"v": 1, "event": event}, separators=(",", ":"))


def parse_message(text: str, publisher_id: str) -> ControlEvent | None:
    """The event a client should act on, or None: a message from any token (a non-empty publisher id) is never
    obeyed, whatever it says, and neither is anything that is not exactly a known event of version 1."""
    if publisher_id != "":
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("v") != 1:
        return None
    event = document.get("event")
    for known in EVENTS:
        if event == known:
            return known
    return None
