"""The canary Lambda: on a schedule (template.yaml, CanarySchedule), one round trip through Momento with a token of
its own (canary_check.py), reported as one log line and two metrics.

It reads the Momento key as the vending function does (the secret MOMENTO_API_KEY_SECRET, MOMENTO_ENDPOINT and
MOMENTO_EMULATOR_ENDPOINT with the same TLS rules) and spends one unit of its own bucket in the issuance table
(LIMITS_TABLE; none set: this process's memory). It never raises for a failed check: a raised error would make the
scheduler retry, each retry another mint. The answer is `{"ok": bool, "code": str, "line": str}`; `make canary
STACK=...` prints the line.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from canary_check import CanaryFailure, CanaryPassed, CanaryTarget, run_canary

from momento_tvm.aws_json import DYNAMODB, SECRETS_MANAGER, StdlibAwsClient, get_secret_string
from momento_tvm.limits import DynamoDbLimiter, InMemoryLimiter, Limiter

SECRET_READ_TIMEOUT_SECONDS = 2.0
LIMITER_TIMEOUT_SECONDS = 1.0


# ---------------------------------------------------------------------------------------------------------- metrics
class Metric(NamedTuple):
    """A metric the canary publishes, as app.py's of the vending function: namespace POWERTOOLS_METRICS_NAMESPACE,
    one EMF record per metric, exactly these dimension sets; `service` is POWERTOOLS_SERVICE_NAME."""

    name: str
    unit: MetricUnit
    dimension_sets: tuple[tuple[str, ...], ...]


BY_SERVICE: tuple[tuple[str, ...], ...] = (("service",),)
# Every run: 1 when the message came back intact, 0 on any failure (the log line names which). An alarm on it treats
# missing data as breaching: a canary that stopped running says nothing.
CANARY_SUCCESS = Metric("CanarySuccess", MetricUnit.Count, BY_SERVICE)
# A run that passed: milliseconds from the publish to the message's receipt.
CANARY_LATENCY = Metric("CanaryRoundTripLatency", MetricUnit.Milliseconds, BY_SERVICE)
METRICS = (CANARY_SUCCESS, CANARY_LATENCY)

logger = Logger()
_metrics = EphemeralMetrics()


def emit(metric: Metric, value: float) -> None:
    """One EMF record holding `metric` alone, with its dimension set [service], printed now."""
    service = _metrics.service or "service_undefined"
    try:
        _metrics.add_metric(name=metric.name, unit=metric.unit, value=value)
        # Every canary metric has the one set [service] (BY_SERVICE): this replaces Powertools' default set with it.
        _metrics.add_dimension(name="service", value=service)
        _metrics.flush_metrics()
    finally:
        _metrics.clear_metrics()


# ---------------------------------------------------------------------------------------------------- the run's parts
def read_key() -> str:
    """The Momento key in MOMENTO_API_KEY_SECRET, one attempt; a failure is `key_unavailable`, naming the AWS code."""
    try:
        client = StdlibAwsClient(SECRETS_MANAGER, timeout=SECRET_READ_TIMEOUT_SECONDS)
        return get_secret_string(client, os.environ.get("MOMENTO_API_KEY_SECRET", "")).strip()
    except Exception as error:  # its class and code only: messages can quote values
        code = getattr(error, "code", None) or type(error).__name__
        raise CanaryFailure("key_unavailable", f"cannot read the Momento API key from its secret ({code})") from None


def limiter() -> Limiter:
    """The issuance table's limiter (LIMITS_TABLE), as the vending function's; none set: this process's memory."""
    table = os.environ.get("LIMITS_TABLE", "").strip()
    if not table:
        return InMemoryLimiter()
    return DynamoDbLimiter(StdlibAwsClient(DYNAMODB, timeout=LIMITER_TIMEOUT_SECONDS), table)


def target(api_key: str) -> CanaryTarget:
    return CanaryTarget(
        api_key,
        os.environ.get("MOMENTO_ENDPOINT", "").strip(),
        os.environ.get("CACHE_NAME", "default-cache"),
        emulator_endpoint=os.environ.get("MOMENTO_EMULATOR_ENDPOINT", "").strip(),
    )


def report(outcome: CanaryPassed | CanaryFailure) -> dict[str, Any]:
    """The run's log line, its metrics and its answer."""
    if isinstance(outcome, CanaryPassed):
        emit(CANARY_SUCCESS, 1)
        emit(CANARY_LATENCY, outcome.round_trip_ms)
        logger.info(outcome.line, extra={"canary": "ok", "round_trip_ms": outcome.round_trip_ms})
        return {"ok": True, "code": "ok", "line": outcome.line, "roundTripMs": outcome.round_trip_ms}
    emit(CANARY_SUCCESS, 0)
    logger.error(outcome.line, extra={"canary": "failed", "reason": outcome.code})
    return {"ok": False, "code": outcome.code, "line": outcome.line}


def check(limits: Limiter | None = None) -> CanaryPassed | CanaryFailure:
    """One run, its outcome as a value; an unexpected error is `internal_error`, its class only."""
    try:
        return run_canary(target(read_key()), limits if limits is not None else limiter())
    except CanaryFailure as failure:
        return failure
    except Exception as error:  # a bug: no stack trace out, the class names it
        return CanaryFailure("internal_error", f"the canary itself failed ({type(error).__name__})")


DEPLOY_CHECK_EVENT = {"deployCheck": "import"}


def deploy_check() -> dict[str, str]:
    """The stack's deploy check (template.yaml, DeployCheck): what a run imports, imported (the SDK, grpc)."""
    import grpc  # noqa: F401
    import momento  # noqa: F401

    from momento_tvm import wire  # noqa: F401

    return {"deployCheck": "ok"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: the schedule's event (any other), or the deploy check's probe."""
    if event == DEPLOY_CHECK_EVENT:
        return deploy_check()
    return report(check())
