"""The vending Lambda: a thin Powertools handler over `momento_tvm`.

Routes (declared in template.yaml, the one source of truth): `GET /token`, `POST /token`, `GET /token/explain`.
Identity comes only from `requestContext.authorizer` (see momento_tvm.identity). Everything costly is built once per
container: the policy at import, the Momento client and the key (via Powertools parameters, cached) on first mint.
Powertools Tracer is not used: it drags aws-xray-sdk and botocore into the package and about 100 ms into every cold
start; the template's `Tracing=Active` still gives Lambda's own X-Ray segments.
"""

from __future__ import annotations

import json
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
    TokenVendor,
    TvmError,
    UpstreamUnavailableError,
    identity_from_event,
    load_policy,
    parse_body,
    parse_query,
)

HERE = Path(__file__).parent
SECRET_MAX_AGE_SECONDS = 300

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()

_policy = load_policy(HERE / os.environ.get("POLICY_FILE", "policy.yaml"))
_minter: MomentoMinter | None = None


def _get_minter() -> MomentoMinter:
    """The Momento client for this container, rebuilt only when the key changes (a rotation).

    Powertools caches the secret for SECRET_MAX_AGE_SECONDS, so most calls are a dictionary lookup. If Secrets
    Manager fails after that, the client built from the last key read keeps serving; with no key yet, it is a 503.
    """
    global _minter
    from aws_lambda_powertools.utilities import parameters

    try:
        api_key = str(parameters.get_secret(os.environ["MOMENTO_API_KEY_SECRET"], max_age=SECRET_MAX_AGE_SECONDS))
    except Exception as error:  # Secrets Manager down, throttled, or the secret missing
        metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=1)
        logger.error("cannot read the Momento API key", extra={"error_type": type(error).__name__})
        if _minter is not None:
            return _minter
        raise UpstreamUnavailableError("the token service is temporarily unavailable") from None
    if _minter is None or not _minter.uses(api_key.strip()):
        _minter = MomentoMinter(api_key.strip(), os.environ["MOMENTO_ENDPOINT"])
    return _minter


vendor = TokenVendor(
    _policy,
    _get_minter,
    cache_name=os.environ.get("CACHE_NAME", "default-cache"),
    max_ttl_seconds=int(os.environ.get("MAX_TOKEN_TTL_SECONDS", "3600")),
)


def _identity(parsed: ParsedRequest) -> Identity:
    auth_mode = os.environ.get("AUTH_MODE", "LambdaAuthorizer")
    return identity_from_event(app.current_event.raw_event, auth_mode, parsed.display_name)


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _vend(parsed: ParsedRequest) -> Response[str]:
    identity = _identity(parsed)
    body, grant = vendor.vend(identity, parsed.request)
    metrics.add_metric(name="TokensVended", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="tier", value=grant.tier)
    logger.info(
        "token issued",
        extra={
            "request_id": app.current_event.request_context.request_id,
            "user": grant.token_id,
            "tier": grant.tier,
            "rule": grant.rule,
            "scope_digest": grant.digest(),
            "expires_at": body["expiresAt"],
        },
    )
    return _json(200, body)


@app.get("/token")
def get_token() -> Response[str]:
    return _vend(parse_query(app.current_event.query_string_parameters))


@app.post("/token")
def post_token() -> Response[str]:
    return _vend(parse_body(app.current_event.decoded_body))


@app.get("/token/explain")
def explain_token() -> Response[str]:
    parsed = parse_query(app.current_event.query_string_parameters)
    explained = vendor.explain(_identity(parsed), parsed.request)
    metrics.add_metric(name="Explained", unit=MetricUnit.Count, value=1)
    return _json(200, explained)


@app.exception_handler(TvmError)  # type: ignore[untyped-decorator]
def handle_tvm_error(error: TvmError) -> Response[str]:
    if isinstance(error, UpstreamUnavailableError):
        metrics.add_metric(name="UpstreamErrors", unit=MetricUnit.Count, value=1)
        logger.warning("upstream unavailable", extra={"reason": error.message})
        return _json(error.status, error.to_json(), {"Retry-After": str(error.retry_after)})
    metrics.add_metric(name="Denials", unit=MetricUnit.Count, value=1)
    metrics.add_dimension(name="reason", value=error.code)
    logger.info("request refused", extra={"code": error.code, "reason": error.message})
    return _json(error.status, error.to_json())


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def handle_unexpected(error: Exception) -> Response[str]:
    """A bug of ours: log the class (no values, they may hold secrets) and answer without a stack trace."""
    metrics.add_metric(name="InternalErrors", unit=MetricUnit.Count, value=1)
    logger.error("unexpected error", extra={"error_type": type(error).__name__})
    return _json(500, {"error": {"code": "internal_error", "message": "internal error"}})


@app.not_found
def not_found(_: Exception) -> Response[str]:
    metrics.add_metric(name="NotFound", unit=MetricUnit.Count, value=1)
    return _json(404, {"error": {"code": "not_found", "message": "no such route"}})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        return app.resolve(event, context)
    finally:
        logger.debug("handled", extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)})
