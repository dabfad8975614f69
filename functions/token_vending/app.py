"""The vending Lambda: a thin Powertools handler over `momento_tvm`.

Routes (declared in template.yaml, the one source of truth): `GET /token`, `POST /token`, `GET /token/explain`, each
one line over `momento_tvm.http.TokenRoutes`, the HTTP contract the embedded FastAPI and Flask integrations answer
with too. The caller is found by an identity callable, only from `requestContext.authorizer` (momento_tvm.identity).
Every answer is reported to one observer, `LambdaObserver`: the log lines and the metrics (each declared once, in
`METRICS`), so a new refusal or metric is added there and nowhere else.

Everything costly is built once per container: the policy at import, the Momento client and the key on the first
mint. The key comes from a `SecretCache` (momento_tvm.secret_cache: the fetch, its max age, its retry-after after a
failure, its clock), shaped like Powertools' `SecretsProvider`; `VendingFunction` is the function over one such
cache. The module builds one at import, `vending`, which `handler` serves; a test builds its own around the cache it
made (a clock it moves, a secret that fails), never patching this module.

Before minting, the issuance table (LIMITS_TABLE) is asked two things, in this order: is the caller, its tier or all
vending cut off (momento_tvm.revocations: one strongly consistent BatchGetItem, a read, on every vend and explain;
403 revoked, tier_paused or vending_paused), then has it an allowance left (momento_tvm.limits: a conditional write,
on a vend only; 429 rate_limited). A table that cannot answer is StoreFailureMode's to decide (`on_store_error`).

Every upstream call has a deadline well inside the function's timeout (the secret read: SECRET_READ_TIMEOUT_SECONDS,
one attempt; the table: LIMITER_TIMEOUT_SECONDS per call, one attempt; the mint: the minter's own deadline), so an
outage is a quick `503 upstream_unavailable` with Retry-After, never a Lambda timeout.
SnapStart (template parameter SnapStart=PublishedVersions): the snapshot is taken after this import, so it holds
the policy and Powertools' objects but no key, no gRPC channel and no credentials (all made on the first mint);
`_after_restore` clears them anyway. Priced per GB-hour of snapshot cache while a version is active and per GB
restored (see Lambda pricing); restores cannot be run or measured outside Lambda, so its gain is not measured here.
Powertools Tracer is not used: it drags aws-xray-sdk and botocore into the package and about 100 ms into every cold
start; the template's `Tracing=Active` still gives Lambda's own X-Ray segments.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

# Logger and EphemeralMetrics only: not Powertools' event_handler (APIGatewayHttpResolver), whose import pulls its
# AppSync resolvers, asyncio, the data classes and jmespath, about a quarter of the cold start for three routes
# (issue 28); `_route` below matches them as the resolver did.
from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from momento_tvm import (
    Explanation,
    Identity,
    MomentoMinter,
    ParsedRequest,
    TvmError,
    UpstreamUnavailableError,
    VendedToken,
    VendingMachine,
    identity_from_event,
    load_policy,
)
from momento_tvm.aws_json import (
    DYNAMODB,
    SECRETS_MANAGER,
    AwsConfigError,
    AwsError,
    StdlibAwsClient,
    get_secret_string,
)
from momento_tvm.errors import (
    LimiterUnavailableError,
    QuotaExceededError,
    RateLimitedError,
    RevokedError,
    TierPausedError,
    VendingPausedError,
)
from momento_tvm.http import INTERNAL_ERROR, HttpAnswer, TokenRoutes, json_answer
from momento_tvm.limits import DynamoDbLimiter, InMemoryLimiter, Limiter
from momento_tvm.observe import RouteObserver, issued_fields, refused_fields
from momento_tvm.revocations import DynamoDbRevocations, InMemoryRevocations, Revocations
from momento_tvm.secret_cache import SecretCache

HERE = Path(__file__).parent
SECRET_MAX_AGE_SECONDS = 300
SECRET_READ_TIMEOUT_SECONDS = 1.0
# After a failed secret read, the last key keeps serving this long before Secrets Manager is tried again, so an
# outage does not add a timed-out read to every request.
SECRET_RETRY_SECONDS = 5.0
# Each DynamoDB call on the issuance table, one attempt: the revocations' check (one BatchGetItem, asked again at most
# twice for keys DynamoDB left unprocessed; momento_tvm.revocations), then the limiter's writes (at most two per
# request; momento_tvm.limits).
LIMITER_TIMEOUT_SECONDS = 0.3


# ---------------------------------------------------------------------------------------------------------- metrics
class Metric(NamedTuple):
    """A metric the function publishes, in the namespace POWERTOOLS_METRICS_NAMESPACE: each event is one EMF record
    holding it alone, with exactly these dimension sets (CloudWatch keeps one series per set). `service` is
    POWERTOOLS_SERVICE_NAME; the other names are the keyword arguments of `MetricsPublisher.emit`."""

    name: str
    unit: MetricUnit
    dimension_sets: tuple[tuple[str, ...], ...]


BY_SERVICE: tuple[tuple[str, ...], ...] = (("service",),)
TOKENS_VENDED = Metric("TokensVended", MetricUnit.Count, (("service",), ("service", "tier")))
EXPLAINED = Metric("Explained", MetricUnit.Count, BY_SERVICE)
DENIALS = Metric("Denials", MetricUnit.Count, (("service",), ("service", "reason")))  # reason: the error code
UPSTREAM_ERRORS = Metric("UpstreamErrors", MetricUnit.Count, BY_SERVICE)  # answers 503 upstream_unavailable
KEY_READ_ERRORS = Metric("KeyReadErrors", MetricUnit.Count, BY_SERVICE)  # failed key reads, the last key serving or not
INTERNAL_ERRORS = Metric("InternalErrors", MetricUnit.Count, BY_SERVICE)
NOT_FOUND = Metric("NotFound", MetricUnit.Count, BY_SERVICE)
# A caller over its tier's issuance limit (429 rate_limited; also counted in Denials by reason).
RATE_LIMITED = Metric("RateLimited", MetricUnit.Count, (("service",), ("service", "tier")))
# Momento refused a mint for the account's quota (429 quota_exceeded; also in Denials by reason).
QUOTA_EXCEEDED = Metric("QuotaExceeded", MetricUnit.Count, BY_SERVICE)
# The issuance table (the limits' count, or the revocations and pauses read before it) could not answer: the request
# went through unchecked (StoreFailureMode=Allow) or got a 503 (Refuse). Named before the table held revocations; kept,
# so that alarms made on it keep their data.
LIMITER_ERRORS = Metric("LimiterErrors", MetricUnit.Count, BY_SERVICE)
# A caller cut off by an operator (403 revoked, tier_paused or vending_paused; also in Denials by reason): by reason
# (a revoked user still asking, or a pause's reach) and by tier (which tier's callers are turned away). Not by user:
# a dimension per name would be a metric per name; the log line names the user. Not [service, reason, tier] either:
# up to 3 series per tier, to answer what these two sets answer for a revoked user or a paused tier.
BLOCKED = Metric("Blocked", MetricUnit.Count, (("service",), ("service", "reason"), ("service", "tier")))
METRICS = (
    TOKENS_VENDED,
    EXPLAINED,
    DENIALS,
    UPSTREAM_ERRORS,
    KEY_READ_ERRORS,
    INTERNAL_ERRORS,
    NOT_FOUND,
    RATE_LIMITED,
    QUOTA_EXCEEDED,
    LIMITER_ERRORS,
    BLOCKED,
)


class MetricsPublisher:
    """Publishes each metric event at once, as its own EMF record (Powertools' EphemeralMetrics, flushed per event).

    Not one `Metrics` record per invocation: a record has one list of dimension sets for all of its metrics, so the
    set that splits TokensVended by tier would split whatever else the invocation counted, and `add_dimension` would
    replace the `[service]` set rather than add one (TokensVended was then never published by service alone). Most
    requests count one event (a failed key read adds one), so this writes as many lines as a record per invocation.
    """

    def __init__(self) -> None:
        self._record = EphemeralMetrics()

    def emit(self, metric: Metric, **dimensions: str) -> None:
        record = self._record
        values = {"service": record.service or "service_undefined", **dimensions}
        try:
            record.add_metric(name=metric.name, unit=metric.unit, value=1)
            first, *more = metric.dimension_sets
            for name in first:
                record.add_dimension(name=name, value=values[name])
            for names in more:
                record.add_dimensions(**{name: values[name] for name in names})
            record.flush_metrics()
        finally:
            record.clear_metrics()  # also when POWERTOOLS_METRICS_DISABLED left the record unflushed


# --------------------------------------------------------------------------------------------------------- observer
class LambdaObserver(RouteObserver):
    """The function's one place for what it logs and counts (momento_tvm.observe): Powertools JSON lines, the
    fields the embedded integrations log plus the gateway's request id, and the metrics declared above."""

    def __init__(self, log: Logger, metrics: MetricsPublisher) -> None:
        self.log = log
        self.metrics = metrics

    def issued(self, token: VendedToken) -> None:
        self.metrics.emit(TOKENS_VENDED, tier=token.tier)
        if token.limiter_error is not None:  # issued unchecked: the table could not be read (revocations) or decide
            self.metrics.emit(LIMITER_ERRORS)
        # The correlation id is the gateway's requestContext.requestId (inject_lambda_context below).
        self.log.info("token issued", extra={"request_id": self.log.get_correlation_id(), **issued_fields(token)})

    def explained(self, explanation: Explanation) -> None:
        self.metrics.emit(EXPLAINED)

    def refused(self, error: TvmError) -> None:
        self.metrics.emit(DENIALS, reason=error.code)
        if isinstance(error, RateLimitedError):
            self.metrics.emit(RATE_LIMITED, tier=error.tier)
        elif isinstance(error, QuotaExceededError):
            self.metrics.emit(QUOTA_EXCEEDED)
        elif isinstance(error, RevokedError | TierPausedError | VendingPausedError):
            self.metrics.emit(BLOCKED, reason=error.code, tier=error.tier)
        self.log.info("request refused", extra=refused_fields(error))

    def unavailable(self, error: UpstreamUnavailableError) -> None:
        self.metrics.emit(UPSTREAM_ERRORS)
        if isinstance(error, LimiterUnavailableError):
            self.metrics.emit(LIMITER_ERRORS)
        self.log.warning("upstream unavailable", extra={"reason": error.log_message})

    def failed(self, error: Exception) -> None:
        self.metrics.emit(INTERNAL_ERRORS)
        self.log.error("unexpected error", extra={"error_type": type(error).__name__})

    def not_found(self) -> None:
        self.metrics.emit(NOT_FOUND)

    def key_unavailable(self, error: Exception) -> None:
        """A failed read of the Momento key: its class and AWS code, never a message (they can quote values)."""
        self.metrics.emit(KEY_READ_ERRORS)
        code = error.code if isinstance(error, AwsError) else None
        extra: dict[str, object] = {"error_type": type(error).__name__, "error_code": code}
        if isinstance(error, AwsConfigError):  # nothing was sent: which variable to fix, how
            extra["fix"] = error.fix  # fixed text naming the variable, never its value
        self.log.error("cannot read the Momento API key", extra=extra)


logger = Logger()
observer = LambdaObserver(logger, MetricsPublisher())
policy = load_policy(HERE / os.environ.get("POLICY_FILE", "policy.yaml"))


# -------------------------------------------------------------------------------------------------- key and client
# A standard-library SigV4 client (momento_tvm.aws_json), not boto3: importing boto3 was about 150 ms of every cold
# start for this one request. One attempt within SECRET_READ_TIMEOUT_SECONDS.
secrets_manager = StdlibAwsClient(SECRETS_MANAGER, timeout=SECRET_READ_TIMEOUT_SECONDS)


def secrets_manager_url() -> str:
    """Where the key is read: SECRETS_MANAGER_ENDPOINT when set (local runs), else what boto3 would use."""
    return secrets_manager.endpoint_url


def read_momento_key(secret_id: str) -> str:
    """The Momento API key in the secret `secret_id`: one attempt within SECRET_READ_TIMEOUT_SECONDS. A failure is
    reported here (logged and counted, whether or not the last key then keeps serving) and raised to the cache.

    """
    try:
        return get_secret_string(secrets_manager, secret_id).strip()
    except Exception as error:  # Secrets Manager down, slow, throttled, or the secret missing
        observer.key_unavailable(error)
        raise


def key_cache(clock: Callable[[], float] = time.monotonic) -> SecretCache:
    """The function's key cache: the key read by `read_momento_key`, kept SECRET_MAX_AGE_SECONDS; after a failed
    read the last key serves and Secrets Manager is left alone for SECRET_RETRY_SECONDS; with no key yet, a 503."""
    return SecretCache(read_momento_key, max_age=SECRET_MAX_AGE_SECONDS, retry_after=SECRET_RETRY_SECONDS, clock=clock)


class KeyedMinter:
    """The Momento client for the key the cache holds now: made on the first mint (never at import, so a SnapStart
    snapshot holds no channel), and made again when the key changes (a rotation; the old channel is closed then)."""

    def __init__(self, keys: SecretCache) -> None:
        self.keys = keys
        self.current: MomentoMinter | None = None

    def __call__(self) -> MomentoMinter:
        try:
            api_key = self.keys.get(os.environ.get("MOMENTO_API_KEY_SECRET", ""))
        except Exception:  # no key read yet, and this read failed: read_momento_key logged why
            raise UpstreamUnavailableError("the token service is temporarily unavailable") from None
        minter = self.current
        if minter is None or not minter.uses(api_key):
            if minter is not None:
                minter.close()  # a rotated key: the old channel goes now, not whenever it is collected
            # Plaintext only to a loopback endpoint or to MOMENTO_EMULATOR_ENDPOINT (template: MomentoEmulatorEndpoint,
            # local development only, empty when deployed); a mismatch is refused at mint (momento_tvm.minting).
            minter = self.current = MomentoMinter(
                api_key,
                os.environ["MOMENTO_ENDPOINT"],
                emulator_endpoint=os.environ.get("MOMENTO_EMULATOR_ENDPOINT", "").strip(),
            )
        return minter

    def close(self) -> None:
        minter, self.current = self.current, None
        if minter is not None:
            minter.close()


# -------------------------------------------------------------------------------------------------------- function
def _proxy_result(answer: HttpAnswer) -> dict[str, Any]:
    """The shared HTTP contract (momento_tvm.http) as a payload-2.0 proxy result, key for key what Powertools'
    APIGatewayHttpResolver returned for it: a JSON Content-Type after the answer's own headers, no cookies."""
    headers = dict(answer.headers)
    headers.setdefault("Content-Type", "application/json")
    return {
        "statusCode": answer.status,
        "body": answer.body_text(),
        "isBase64Encoded": False,
        "headers": headers,
        "cookies": [],
    }


def _unexpected(error: Exception) -> dict[str, Any]:
    """A bug the routes' own guard did not catch: the class only, no stack trace out."""
    observer.failed(error)
    return _proxy_result(json_answer(500, INTERNAL_ERROR))


def _not_found() -> dict[str, Any]:
    observer.not_found()
    return _proxy_result(json_answer(404, {"error": {"code": "not_found", "message": "no such route"}}))


def _route(event: dict[str, Any]) -> tuple[str, str]:
    """(method, path) of a payload-2.0 event as Powertools' resolver matched them: the method upper-cased, and
    rawPath less "/<stage>" on a named stage (as `APIGatewayProxyEventV2.path`). A malformed event raises KeyError,
    as it did there."""
    context = event["requestContext"]
    path: str = event["rawPath"]
    stage = context.get("stage", "$default")
    if stage != "$default":
        path = path[len("/" + stage) :]
    return str(context["http"]["method"]).upper(), path


def _source_ip(event: dict[str, Any]) -> str | None:
    """The caller's address as the gateway saw it (an Open-mode caller is counted by it)."""
    http = (event.get("requestContext") or {}).get("http") or {}
    address = http.get("sourceIp")
    return address if isinstance(address, str) else None


def _query(event: dict[str, Any]) -> Any:
    return event.get("queryStringParameters") or {}


class IssuanceStore(NamedTuple):
    """What the function keeps in the issuance table: each caller's limit, and who is cut off."""

    limiter: Limiter
    revocations: Revocations


def issuance_store() -> IssuanceStore:
    """The table every instance shares (LIMITS_TABLE, the template's IssuanceTable): the issuance limits counted in
    it and the revocations and pauses read from it (written by `python -m tvm_users`), both over one
    standard-library DynamoDB client (DYNAMODB_ENDPOINT: the template's local-only DynamoDbEndpoint). Without a table
    (a handler run outside a stack), this instance's own memory, and a warning: each instance would allow the whole
    limit, and nobody is ever blocked (nothing can write there)."""
    table = os.environ.get("LIMITS_TABLE", "").strip()
    if not table:
        logger.warning(
            "LIMITS_TABLE is not set: issuance limits are counted by this instance alone, "
            "and no revocation or pause can reach it"
        )
        return IssuanceStore(InMemoryLimiter(), InMemoryRevocations())
    client = StdlibAwsClient(DYNAMODB, timeout=LIMITER_TIMEOUT_SECONDS)
    return IssuanceStore(DynamoDbLimiter(client, table), DynamoDbRevocations(client, table))


def on_store_error() -> str:
    """STORE_FAILURE_MODE (the template's StoreFailureMode): when the table cannot be read (revocations) or cannot
    decide (the limit), Allow lets the request through unchecked (the default), Refuse answers 503."""
    return "refuse" if os.environ.get("STORE_FAILURE_MODE", "Allow").strip().lower() == "refuse" else "allow"


class VendingFunction:
    """The function over one key cache, one limiter and one revocations store: its Momento client, vending machine,
    routes and their table. A limiter or revocations store not given is the issuance table's
    (`issuance_store`); a test gives its own."""

    def __init__(
        self, keys: SecretCache, limiter: Limiter | None = None, revocations: Revocations | None = None
    ) -> None:
        self.keys = keys
        self.minter = KeyedMinter(keys)
        if limiter is None or revocations is None:
            store = issuance_store()
            limiter = store.limiter if limiter is None else limiter
            revocations = store.revocations if revocations is None else revocations
        self.vendor = VendingMachine(
            policy,
            self.minter,
            cache_name=os.environ.get("CACHE_NAME", "default-cache"),
            max_ttl_seconds=int(os.environ.get("MAX_TOKEN_TTL_SECONDS", "3600")),
            limiter=limiter,
            # Read on every vend and explain, before the limit's write: a revoked user's refusals spend nothing.
            revocations=revocations,
            on_store_error=on_store_error(),
            # A Cognito pool compares usernames without case (the template's pool too): one caller, one bucket.
            case_insensitive_usernames=os.environ.get("AUTH_MODE") == "AmazonCognito",
        )
        routes = self.routes = TokenRoutes(self.vendor, observer)

        def identity_of(event: dict[str, Any]) -> Callable[[ParsedRequest], Identity]:
            def identity(parsed: ParsedRequest) -> Identity:
                auth_mode = os.environ.get("AUTH_MODE", "LambdaAuthorizer")
                return identity_from_event(event, auth_mode, parsed.display_name)

            return identity

        def get_token(event: dict[str, Any]) -> HttpAnswer:
            return routes.get(identity_of(event), _query(event), source_ip=_source_ip(event))

        def post_token(event: dict[str, Any]) -> HttpAnswer:
            body, encoded = event.get("body"), bool(event.get("isBase64Encoded"))
            return routes.post(identity_of(event), body, base64_encoded=encoded, source_ip=_source_ip(event))

        def explain_token(event: dict[str, Any]) -> HttpAnswer:
            return routes.explain(identity_of(event), _query(event), source_ip=_source_ip(event))

        # The template's routes (template.yaml is their source of truth; tests/unit/test_template.py ties them).
        self.table: dict[tuple[str, str], Callable[[dict[str, Any]], HttpAnswer]] = {
            ("GET", "/token"): get_token,
            ("POST", "/token"): post_token,
            ("GET", "/token/explain"): explain_token,
        }
        self.handler: Callable[[dict[str, Any], Any], dict[str, Any]] = logger.inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_HTTP
        )(self._resolve)

    def _resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            route = self.table.get(_route(event))
            if route is None:
                return _not_found()
            try:
                return _proxy_result(route(event))
            except Exception as error:  # the routes guard their own errors (momento_tvm.http): this is a bug
                return _unexpected(error)
        finally:
            logger.debug("handled", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)})

    def close(self) -> None:
        self.minter.close()


vending = VendingFunction(key_cache())
vendor = vending.vendor  # the module's machine (bench/bench.py decides with it)


def _after_restore() -> None:
    """SnapStart's restore hook. The snapshot is taken after import, before any request, so it holds no key, no
    channel and no credentials (the minter and the key are made on the first mint); this makes sure of it."""
    vending.close()
    vending.keys.clear_cache()


try:  # the Lambda Python runtime's restore hooks (python3.12+); absent locally, where there is no snapshot
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - local runs
    pass
else:  # pragma: no cover - only inside Lambda
    register_after_restore(_after_restore)


DEPLOY_CHECK_EVENT = {"deployCheck": "import"}


def deploy_check() -> dict[str, str]:
    """The answer to the stack's deploy check (template.yaml, DeployCheck), which invokes the function directly with
    DEPLOY_CHECK_EVENT after each deployment: this module imported, and so does what only a mint imports (the wire
    types, protobuf and grpc), so a package built for another architecture, or missing a dependency, fails the
    deployment instead of every request after it. No gateway event has this shape."""
    import grpc  # noqa: F401

    from momento_tvm import wire  # noqa: F401

    return {"deployCheck": "ok"}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: the gateway's payload-2.0 events, and the deploy check's probe."""
    if event == DEPLOY_CHECK_EVENT:
        return deploy_check()
    return vending.handler(event, context)
