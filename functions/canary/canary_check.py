"""The canary's one check: mint, subscribe, publish, receive, compare. No Lambda, no metrics, no AWS here.

Why a round trip and not a mint alone: a token Momento mints but cannot use (the cache gone, the token's scope wrong,
Topics down) fails every browser while the vending function answers 200. So each run does what a browser does, with
a token of its own: a disposable token scoped to one topic (CANARY_TOPIC, publish and subscribe, nothing else) in the
deployment's cache for CANARY_TTL_SECONDS, minted by `momento_tvm.MomentoMinter` (the vending function's minter, so
the same endpoint and TLS rules: `channel_target`); then the real `momento` SDK subscribes with it, publishes a
nonce and waits for that nonce to come back.

Every run spends one mint of the account's Momento auth budget, and asks the issuance limiter first (the vending
function's `Limiter`, in the issuance table: the bucket `limit#canary`, CANARY_LIMIT), so runs in a loop cannot spend
the account's budget.

Every failure is a `CanaryFailure`: a code and one line naming what broke, never the key or a token.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from momento_tvm.errors import QuotaExceededError, UpstreamUnavailableError
from momento_tvm.grant import Grant, TopicGrant
from momento_tvm.limits import Limiter, LimiterError, RateLimit
from momento_tvm.minting import MomentoMinter, channel_target

__all__ = [
    "CANARY_LIMIT",
    "CANARY_LIMIT_KEY",
    "CANARY_TOKEN_ID",
    "CANARY_TOPIC",
    "CANARY_TTL_SECONDS",
    "CanaryFailure",
    "CanaryPassed",
    "CanaryTarget",
    "run_canary",
]

CANARY_TOPIC: Final = "tvm-canary"
CANARY_TOKEN_ID: Final = "tvm-canary"  # noqa: S105 (a name, not a secret): the tokenId subscribers of the canary topic see
CANARY_TTL_SECONDS: Final = 60
CANARY_LIMIT_KEY: Final = "canary"  # the issuance table's item pk "limit#canary" (DynamoDbLimiter adds "limit#")
# At most 3 runs at once, then one a minute: the schedule (every 5 minutes) and an operator's `make canary` fit; a
# loop does not.
CANARY_LIMIT: Final = RateLimit(burst=3, refill_seconds=60)
# Each step's own deadline (the SDK's client timeout is a whole-stream deadline: it is set above all of them).
STEP_SECONDS: Final = 5.0
RECEIVE_SECONDS: Final = 5.0
_STREAM_SECONDS: Final = 60

_STATUS = re.compile(r"\(([A-Z_]+)\)$")

# The SDK logs each failed call as a multi-line warning (the gRPC error's repr); the canary names every failure in
# its own one line, so the SDK's own lines would only repeat it, over several lines.
logging.getLogger("momentosdk").setLevel(logging.CRITICAL)


class CanaryFailure(Exception):
    """What broke, as a code (the log's `reason`) and one line for a person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def line(self) -> str:
        return f"canary FAILED ({self.code}): {self.message}"


@dataclass(frozen=True)
class CanaryPassed:
    """A round trip that came back intact: its latency, publish to receipt."""

    round_trip_ms: float
    cache: str
    topic: str

    @property
    def line(self) -> str:
        return (
            f"canary OK: a message round-tripped on topic {self.topic} in cache {self.cache} "
            f"in {self.round_trip_ms:.0f} ms"
        )


@dataclass(frozen=True)
class CanaryTarget:
    """Where the canary runs: the key (never printed), the endpoint and the cache, as the vending function's."""

    api_key: str = dataclasses.field(repr=False)
    endpoint: str
    cache: str
    emulator_endpoint: str = ""
    topic: str = CANARY_TOPIC
    # The token's topic role: always publish_subscribe, but a test asks for less to see the named refusal.
    role: str = "publish_subscribe"
    receive_seconds: float = RECEIVE_SECONDS


def canary_grant(target: CanaryTarget) -> Grant:
    """The canary's token: one topic in the deployment's cache, for CANARY_TTL_SECONDS; no cache items, no control."""
    topics = TopicGrant(target.role, target.cache, names=(target.topic,))
    return Grant(CANARY_TOKEN_ID, "canary", "canary", target.cache, CANARY_TTL_SECONDS, topics, None)


def run_canary(target: CanaryTarget, limiter: Limiter) -> CanaryPassed:
    """One run: the limiter's unit, the mint, the round trip. Raises `CanaryFailure`, nothing else expected."""
    try:
        _, tls = channel_target(target.api_key, target.endpoint, emulator_endpoint=target.emulator_endpoint)
    except ValueError as error:  # never names the key
        raise CanaryFailure("bad_configuration", str(error)) from None
    _spend(limiter)
    token = _mint(target)
    return _loop().run_until_complete(_round_trip(target, token, tls))


_LOOPS: list[asyncio.AbstractEventLoop] = []


def _loop() -> asyncio.AbstractEventLoop:
    """The process's one event loop for the SDK, kept open: grpc's asyncio layer binds to the first loop it runs
    on, and with `asyncio.run` per run (a warm Lambda container runs many) it later wakes a closed loop and prints a
    traceback."""
    if not _LOOPS:
        _LOOPS.append(asyncio.new_event_loop())
    return _LOOPS[0]


def _spend(limiter: Limiter) -> None:
    try:
        allowance = limiter.take(CANARY_LIMIT_KEY, CANARY_LIMIT)
    except LimiterError as error:
        raise CanaryFailure("store_unavailable", f"the issuance table did not answer ({error.code})") from None
    if not allowance.allowed:
        raise CanaryFailure(
            "rate_limited", f"the canary's own issuance limit is spent: run again in {allowance.retry_after} s"
        )


def _mint(target: CanaryTarget) -> str:
    minter = MomentoMinter(target.api_key, target.endpoint, emulator_endpoint=target.emulator_endpoint)
    try:
        return minter.mint(canary_grant(target)).auth_token
    except QuotaExceededError:
        raise CanaryFailure("quota_exceeded", "Momento refused the mint: the account's auth quota is spent") from None
    except UpstreamUnavailableError as error:
        found = _STATUS.search(str(error))
        status = found[1] if found else "UNKNOWN"
        if status == "UNAUTHENTICATED":
            raise CanaryFailure(
                "wrong_key", "Momento refused the API key (UNAUTHENTICATED): the secret holds a wrong or revoked key"
            ) from None
        if status in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}:
            raise CanaryFailure(
                "momento_unreachable", f"cannot reach Momento at {target.endpoint} ({status})"
            ) from None
        raise CanaryFailure("mint_failed", f"Momento did not mint the canary's token ({status})") from None
    finally:
        minter.close()


# The SDK's error codes, as the canary names them (Topics calls; the mint is named above).
_SDK_FAILURES: Final = {
    "NOT_FOUND_ERROR": ("cache_missing", "the cache {cache} does not exist (NOT_FOUND)"),
    "PERMISSION_ERROR": ("{step}_denied", "the canary's token may not {step} on topic {topic} (PERMISSION_DENIED)"),
    "AUTHENTICATION_ERROR": ("token_refused", "Momento refused the canary's fresh token (UNAUTHENTICATED)"),
    "SERVER_UNAVAILABLE": ("momento_unreachable", "cannot reach Momento Topics at {endpoint} (UNAVAILABLE)"),
    "TIMEOUT_ERROR": ("momento_unreachable", "Momento Topics did not answer in time (DEADLINE_EXCEEDED)"),
}


def _sdk_failure(step: str, code_name: str, target: CanaryTarget) -> CanaryFailure:
    code, text = _SDK_FAILURES.get(code_name, ("topics_failed", "{step} failed on topic {topic} ({name})"))
    values = {"step": step, "topic": target.topic, "cache": target.cache, "endpoint": target.endpoint}
    return CanaryFailure(code.format(**values), text.format(name=code_name, **values))


async def _round_trip(target: CanaryTarget, token: str, tls: bool) -> CanaryPassed:
    from momento import CredentialProvider, TopicClientAsync, TopicConfigurations
    from momento.responses import TopicPublish, TopicSubscribe

    if tls:  # cache.<endpoint>:443, as every SDK factory gives
        provider = CredentialProvider.from_disposable_token(token)
    else:  # the emulator's plaintext host:port (channel_target allowed it: loopback, or named as the emulator)
        host, _, port = target.endpoint.rpartition(":")
        provider = dataclasses.replace(
            CredentialProvider.from_disposable_token(token),
            control_endpoint=host,
            cache_endpoint=host,
            token_endpoint=host,
            port=int(port),
        )
    # The SDK's default 5 s is a deadline on the whole stream: longer than every step here.
    config = TopicConfigurations.Default.v1().with_client_timeout(timedelta(seconds=_STREAM_SECONDS))
    async with TopicClientAsync(config, provider) as client:
        try:
            subscription = await asyncio.wait_for(client.subscribe(target.cache, target.topic), STEP_SECONDS)
        except TimeoutError:
            raise CanaryFailure(
                "momento_unreachable", "Momento Topics did not accept the subscription in time"
            ) from None
        if isinstance(subscription, TopicSubscribe.Error):
            raise _sdk_failure("subscribe", subscription.error_code.name, target)
        assert isinstance(subscription, TopicSubscribe.SubscriptionAsync)
        try:
            nonce = f"canary {secrets.token_hex(16)}"
            started = time.perf_counter()
            published = await asyncio.wait_for(client.publish(target.cache, target.topic, nonce), STEP_SECONDS)
            if isinstance(published, TopicPublish.Error):
                raise _sdk_failure("publish", published.error_code.name, target)
            try:
                await asyncio.wait_for(_receive(subscription, nonce), target.receive_seconds)
            except TimeoutError:
                raise CanaryFailure(
                    "not_received",
                    f"the message published on topic {target.topic} did not come back within "
                    f"{target.receive_seconds:g} s",
                ) from None
            elapsed = (time.perf_counter() - started) * 1000
        finally:
            subscription.unsubscribe()
    return CanaryPassed(round(elapsed, 1), target.cache, target.topic)


async def _receive(subscription: object, nonce: str) -> None:
    """Until this run's nonce arrives; other runs' messages (the schedule and an operator's run share the topic)
    are skipped. A payload that is not what was published never matches, so it ends in `not_received`."""
    from momento.responses import TopicSubscriptionItem

    async for item in subscription:  # type: ignore[attr-defined]
        if isinstance(item, TopicSubscriptionItem.Text) and item.value == nonce:
            return
        if isinstance(item, TopicSubscriptionItem.Error):
            raise CanaryFailure("subscription_broken", f"the subscription ended ({item.error_code.name})")
