"""What every soak phase shares: one `GET /token` as a counted answer, a phase's result, and its table row.

Not a benchmark itself: `bench/soak.py` imports it (bench/ is not a package, so it is a sibling module).
"""

from __future__ import annotations

import base64
import collections
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

__all__ = [
    "GATEWAY_500_BODY",
    "Answer",
    "Deadline",
    "PhaseResult",
    "Secrets",
    "basic_header",
    "fetch_token",
    "percentile_ms",
]

# API Gateway's own answer when a Lambda authorizer fails (its body cannot be shaped; AWS fixes it, and so the local
# API). Compared byte for byte.
GATEWAY_500_BODY: Final = b'{"message":"Internal Server Error"}'


class Deadline:
    """The run's one clock: every loop checks it, so nothing runs past the global budget."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0


@dataclass
class Secrets:
    """Every secret the soak handled, so the logs phase can look for each (the values are never printed)."""

    values: dict[str, str] = field(default_factory=dict)  # value -> what it is ("vended token", ...)

    def add(self, value: str, label: str) -> None:
        if value:
            self.values.setdefault(value, label)

    def add_token(self, auth_token: str) -> None:
        """A vended token, and the inner key it wraps (what the SDK sends as `authorization`: just as secret)."""
        self.add(auth_token, "a vended token")
        try:
            inner = json.loads(base64.b64decode(auth_token, validate=True)).get("api_key")
        except (ValueError, AttributeError):
            return
        if isinstance(inner, str):
            self.add(inner, "a vended token's inner key")


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@dataclass(frozen=True)
class Answer:
    """One `GET /token`: what came back (or that nothing did), when, and in which stage of a fault."""

    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no HTTP answer (a transport error or the client's own timeout)
    code: str | None  # the body's error.code; "gateway" for API Gateway's {"message": ...}; None for a 200
    retry_after: bool
    body: bytes
    error: str | None = None  # the exception class when there was no answer
    stage: str = ""

    @property
    def latency_ms(self) -> float:
        return (self.ended - self.started) * 1000

    @property
    def key(self) -> str:
        """How answers are counted: status, body code, Retry-After presence ("503 upstream_unavailable +RA")."""
        if self.status is None:
            return f"no answer ({self.error})"
        parts = [str(self.status)]
        if self.code:
            parts.append(self.code)
        if self.retry_after:
            parts.append("+RA")
        return " ".join(parts)


def _body_code(status: int, body: bytes) -> str | None:
    if status == 200:
        return None
    if body == GATEWAY_500_BODY:
        return "gateway"
    try:
        data = json.loads(body)
    except ValueError:
        return "non-JSON body"
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        if set(data) == {"message"}:
            return f"gateway {data['message']!r}"
    return "unrecognised body"


async def fetch_token(
    http: aiohttp.ClientSession,
    url: str,
    authorization: str,
    params: Mapping[str, str] | None,
    *,
    timeout_seconds: float,
    stage: str = "",
) -> tuple[Answer, dict[str, Any] | None]:
    """One `GET /token` as an Answer, and the parsed body of a 200 (None otherwise)."""
    started = time.monotonic()
    try:
        async with http.get(
            url,
            params=params,
            headers={"Authorization": authorization},
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        ) as response:
            body = await response.read()
            status, retry_after = response.status, "Retry-After" in response.headers
    except (aiohttp.ClientError, TimeoutError) as error:
        return Answer(started, time.monotonic(), None, None, False, b"", type(error).__name__, stage), None
    ended = time.monotonic()
    parsed: dict[str, Any] | None = None
    if status == 200:
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        parsed = loaded if isinstance(loaded, dict) else None
    return Answer(started, ended, status, _body_code(status, body), retry_after, body, None, stage), parsed


def percentile_ms(samples: list[float], q: float) -> float | None:
    """Nearest rank, as bench/timing.py does; None for no samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class PhaseResult:
    """One row of the closing table, plus the lines that explain it."""

    name: str
    criterion: str
    requests: int = 0
    by_status: collections.Counter[str] = field(default_factory=collections.Counter)
    latencies_ms: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: bool = False
    ran: bool = False

    def count(self, answers: Iterable[Answer]) -> None:
        for answer in answers:
            self.requests += 1
            self.by_status[answer.key] += 1
            self.latencies_ms.append(answer.latency_ms)

    def fail(self, reason: str) -> None:
        self.failures.append(reason)

    @property
    def verdict(self) -> str:
        if self.skipped:
            return "SKIP"
        return "PASS" if self.ran and not self.failures else "FAIL"

    def status_summary(self) -> str:
        """Counts by HTTP status only (the table cell); the full keys go in the details."""
        by_code: collections.Counter[str] = collections.Counter()
        for key, n in self.by_status.items():
            by_code[key.split(" ")[0] if not key.startswith("no answer") else "none"] += n
        return " ".join(f"{code}:{n}" for code, n in sorted(by_code.items())) or "-"

    def row(self) -> list[str]:
        def ms(q: float) -> str:
            value = percentile_ms(self.latencies_ms, q)
            return "-" if value is None else f"{value:.0f}"

        return [
            self.name,
            str(self.requests),
            self.status_summary(),
            ms(0.50),
            ms(0.99),
            "-" if not self.latencies_ms else f"{max(self.latencies_ms):.0f}",
            self.criterion,
            self.verdict,
        ]
