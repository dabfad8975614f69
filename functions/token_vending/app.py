"""The vending Lambda: a thin Powertools handler over `momento_tvm`.

Routes (declared in template.yaml, the one source of truth): `GET /token`, `POST /token`, `GET /token/explain`.
Identity comes only from `requestContext.authorizer` (see momento_tvm.identity). Everything costly is built once per
container: the policy at import, the Momento client and the key (cached SECRET_MAX_AGE_SECONDS) on first mint.
Every upstream call has a deadline well inside the function's timeout (the secret read: SECRET_READ_TIMEOUT_SECONDS,
one attempt; the mint: the minter's own deadline), so an outage is a quick `503 upstream_unavailable` with
Retry-After, never a Lambda timeout.
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
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from momento_tvm import (
    Identity,
    MomentoMinter,
    ParsedRequest,
    TvmError,
    UpstreamUnavailableError,
    VendingMachine,
    aws_secrets,
    identity_from_event,
    load_policy,
    parse_event_body,
    parse_query,
)
from momento_tvm.http import INTERNAL_ERROR, HttpAnswer, error_answer, json_answer

HERE = Path(__file__).parent
SECRET_MAX_AGE_SECONDS = 300
SECRET_READ_TIMEOUT_SECONDS = 1.0
# After a failed secret read, the last key keeps serving this long before Secrets Manager is tried again, so an
# outage does not add a timed-out read to every request.
SECRET_RETRY_SECONDS = 5.0

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()

_policy = load_policy(HERE / os.environ.get("POLICY_FILE", "policy.yaml"))
_minter: MomentoMinter | None = None
_secret_retry_at = 0.0
_secret_cache: tuple[str, str, float] | None = None  # (secret id, key, monotonic expiry)


def secrets_manager_url() -> str:
    """Where the key is read: SECRETS_MANAGER_ENDPOINT when set (local runs), else what boto3 would use."""
    return aws_secrets.endpoint_url()


def clear_secret_cache() -> None:
    """Forget the cached key, so the next mint reads Secrets Manager (tests; a restored snapshot)."""
    global _secret_cache
    _secret_cache = None


def _read_api_key() -> str:
    """The Momento API key, cached for SECRET_MAX_AGE_SECONDS per secret id; one attempt with a deadline on a miss.

    A standard-library SigV4 call (momento_tvm.aws_secrets), not boto3: importing boto3 was about 150 ms of every
    cold start for this one request.
    """
    global _secret_cache
    secret_id = os.environ["MOMENTO_API_KEY_SECRET"]
    now = time.monotonic()
    cached = _secret_cache
    if cached is not None and cached[0] == secret_id and now < cached[2]:
        return cached[1]
    api_key = aws_secrets.get_secret_string(secret_id, timeout=SECRET_READ_TIMEOUT_SECONDS).strip()
    _secret_cache = (secret_id, api_key, now + SECRET_MAX_AGE_SECONDS)
    return api_key


def _after_restore() -> None:
    """SnapStart's restore hook. The snapshot is taken after import, before any request, so it holds no key, no
    channel and no credentials (the minter and the key are made on the first mint); this makes sure of it."""
    global _minter, _secret_retry_at
    if _minter is not None:
        _minter.close()
    _minter, _secret_retry_at = None, 0.0
    clear_secret_cache()


try:  # the Lambda Python runtime's restore hooks (python3.12+); absent locally, where there is no snapshot
    from snapshot_restore_py import register_after_restore  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - local runs
    pass
else:  # pragma: no cover - only inside Lambda
    register_after_restore(_after_restore)


def _get_minter() -> MomentoMinter:
    """The Momento client for this container, rebuilt only when the key changes (a rotation).

    The key is cached for SECRET_MAX_AGE_SECONDS, so most calls are a dictionary lookup. If Secrets
    Manager fails after that, the client built from the last key read keeps serving (and Secrets Manager is not
    asked again for SECRET_RETRY_SECONDS); with no key yet, it is a 503.
    """
    global _minter, _secret_retry_at
    if _minter is not None and time.monotonic() < _secret_retry_at:
        return _minter
    try:
        api_key = _read_api_key()
    except Exception as error:  # Secrets Manager down, slow, throttled, or the secret missing
        metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=1)
        code = error.code if isinstance(error, aws_secrets.SecretsManagerError) else None
        extra: dict[str, object] = {"error_type": type(error).__name__, "error_code": code}
        if isinstance(error, aws_secrets.SecretsManagerConfigError):  # nothing was sent: which variable to fix, how
            extra["fix"] = error.fix  # fixed text naming the variable, never its value
        logger.error("cannot read the Momento API key", extra=extra)
        _secret_retry_at = time.monotonic() + SECRET_RETRY_SECONDS
        if _minter is not None:
            return _minter
        raise UpstreamUnavailableError("the token service is temporarily unavailable") from None
    if _minter is None or not _minter.uses(api_key):
        if _minter is not None:
            _minter.close()  # a rotated key: the old channel goes now, not whenever it is collected
        # Plaintext only to a loopback endpoint or to MOMENTO_EMULATOR_ENDPOINT (template: MomentoEmulatorEndpoint,
        # local development only, empty when deployed); a mismatch is refused at mint (momento_tvm.minting).
        _minter = MomentoMinter(
            api_key,
            os.environ["MOMENTO_ENDPOINT"],
            emulator_endpoint=os.environ.get("MOMENTO_EMULATOR_ENDPOINT", "").strip(),
        )
    return _minter


vendor = VendingMachine(
    _policy,
    _get_minter,
    cache_name=os.environ.get("CACHE_NAME", "default-cache"),
    max_ttl_seconds=int(os.environ.get("MAX_TOKEN_TTL_SECONDS", "3600")),
)


def _identity(parsed: ParsedRequest) -> Identity:
    auth_mode = os.environ.get("AUTH_MODE", "LambdaAuthorizer")
    return identity_from_event(app.current_event.raw_event, auth_mode, parsed.display_name)


def _response(answer: HttpAnswer) -> Response[str]:
    """The shared HTTP contract (momento_tvm.http): the embedded integrations answer the same way."""
    return Response(
        status_code=answer.status,
        content_type="application/json",
        body=answer.body_text(),
        headers=answer.headers,
    )


def _vend(parsed: ParsedRequest) -> Response[str]:
    identity = _identity(parsed)
    token = vendor.vend(identity, parsed.request)
    grant = token.grant
    metrics.add_metric(name="TokensVended", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="tier", value=grant.tier)
    logger.info(
        "token issued",
        extra={
            "request_id": app.current_event.request_context.request_id,
            "user": grant.log_name,  # a guest as guest#<hash>: its display name is the caller's text
            "tier": grant.tier,
            "rule": grant.rule,
            "scope_digest": grant.digest(),
            "expires_at": token.expires_at,
        },
    )
    return _response(json_answer(200, token.to_json()))


@app.get("/token")
def get_token() -> Response[str]:
    return _vend(parse_query(app.current_event.query_string_parameters))


@app.post("/token")
def post_token() -> Response[str]:
    event = app.current_event.raw_event
    return _vend(parse_event_body(event.get("body"), bool(event.get("isBase64Encoded"))))


@app.get("/token/explain")
def explain_token() -> Response[str]:
    parsed = parse_query(app.current_event.query_string_parameters)
    explained = vendor.explain(_identity(parsed), parsed.request)
    metrics.add_metric(name="Explained", unit=MetricUnit.Count, value=1)
    return _response(json_answer(200, explained.to_json()))


@app.exception_handler(TvmError)  # type: ignore[untyped-decorator]
def handle_tvm_error(error: TvmError) -> Response[str]:
    if isinstance(error, UpstreamUnavailableError):
        metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=1)
        logger.warning("upstream unavailable", extra={"reason": error.log_message})
        return _response(error_answer(error))
    metrics.add_metric(name="Denials", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="reason", value=error.code)
    logger.info("request refused", extra={"code": error.code, "reason": error.log_message})
    return _response(error_answer(error))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def handle_unexpected(error: Exception) -> Response[str]:
    """A bug of ours: log the class (no values, they may hold secrets) and answer without a stack trace."""
    metrics.add_metric(name="InternalErrors", unit=MetricUnit.Count, value=1)
    logger.error("unexpected error", extra={"error_type": type(error).__name__})
    return _response(json_answer(500, INTERNAL_ERROR))


@app.not_found
def not_found(_: Exception) -> Response[str]:
    metrics.add_metric(name="NotFound", unit=MetricUnit.Count, value=1)
    return _response(json_answer(404, {"error": {"code": "not_found", "message": "no such route"}}))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        return app.resolve(event, context)
    finally:
        logger.debug("handled", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)})
