"""The metric contract: each metric the vending function emits is declared once (`METRICS` in
functions/token_vending/app.py: name, unit, dimension sets), and this runs the handler in-process (Secrets Manager in
moto, Momento the session's emulator) through every kind of answer, reads the EMF records it writes to stdout, and
requires each to be exactly a declared metric with exactly its declared dimension sets; docs/deploy.md's table must
say the same.

Why records are read, not the code: CloudWatch publishes what the record says. Powertools' per-invocation record has
one dimension set for everything in it, so `add_dimension("tier", ...)` once made `TokensVended` published only with
`[service, tier]` while the docs promised a `service`-only series too, which an alarm would have waited on forever.
(The authorizer publishes no metric: it logs only.)
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from momento_emulator import EmulatorConfig
from momento_emulator.testing import EmulatorThread
from momento_tvm import load_policy
from momento_tvm.aws_json import DYNAMODB, StdlibAwsClient
from momento_tvm.limits import InMemoryLimiter
from momento_tvm.revocations import Block, DynamoDbRevocations, InMemoryRevocations
from momento_tvm.secret_cache import SecretCache
from tests.integration.vending import Clock, as_user, invoke, load_event, merge, with_query, without_authorizer

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
DEPLOYED_POLICY = ROOT / "functions" / "token_vending" / "policy.yaml"
NAMESPACE = "MomentoTokenVending"  # tests/integration/vending.py's POWERTOOLS_METRICS_NAMESPACE, as the template's
SERVICE = "token-vending"


def records(captured: str) -> list[dict[str, Any]]:
    """The EMF records among what the handler printed (Powertools prints one JSON object per line)."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{") and '"_aws"' in line]


def checked(function: ModuleType, record: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(metric name, its dimension values) of one record, after requiring it to be exactly its declaration."""
    declared = {metric.name: metric for metric in function.METRICS}
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == NAMESPACE
    [definition] = directive["Metrics"]
    metric = declared[definition["Name"]]  # a KeyError here: an undeclared metric
    assert definition == {"Name": metric.name, "Unit": metric.unit.value}  # standard resolution: no StorageResolution
    assert directive["Dimensions"] == [list(names) for names in metric.dimension_sets]
    names = {name for names in metric.dimension_sets for name in names}
    values = {name: record[name] for name in names}
    assert all(isinstance(value, str) and value for value in values.values()), values
    assert values["service"] == SERVICE
    assert record[metric.name] == [1.0]
    extra = set(record) - {"_aws", metric.name} - names
    assert not extra, f"the record carries more than its metric and dimensions: {extra}"
    return metric.name, {name: value for name, value in values.items() if name != "service"}


def published(
    function: ModuleType,
    target: Any,
    capsys: pytest.CaptureFixture[str],
    *args: Any,
    raw: list[dict[str, Any]] | None = None,
) -> list[Any]:
    """Invoke, then the metrics the invocation published, in order, each checked against its declaration (the records
    themselves appended to `raw`, when given)."""
    capsys.readouterr()
    invoke(target, *args)
    written = records(capsys.readouterr().out)
    if raw is not None:
        raw.extend(written)
    return [checked(function, record) for record in written]


def explain(event: dict[str, Any]) -> dict[str, Any]:
    event = merge(event, {"routeKey": "GET /token/explain", "rawPath": "/token/explain"})
    event["requestContext"]["http"]["path"] = "/token/explain"
    event["requestContext"]["routeKey"] = "GET /token/explain"
    return event


def every_answer(
    function: ModuleType,
    fresh: Any,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[list[Any], list[dict[str, Any]]]:
    """Run the handler in-process through every kind of answer, requiring each to publish exactly its metrics; then
    (each metric seen, every EMF record written). tests/integration/test_alarm_metrics.py reads the same records."""
    alice = as_user("alice", "readwrite")
    seen: list[Any] = []
    raw: list[dict[str, Any]] = []

    def expect(target: Any, event: dict[str, Any], expected: list[Any], mode: str = "LambdaAuthorizer") -> None:
        got = published(function, target, capsys, event, mode, raw=raw)
        assert got == expected, event.get("rawPath")
        seen.extend(got)

    expect(function, alice, [("TokensVended", {"tier": "readwrite"})])
    expect(function, as_user("viewer", "readonly"), [("TokensVended", {"tier": "readonly"})])
    expect(function, explain(alice), [("Explained", {})])
    expect(function, with_query(alice, ttlSeconds="5"), [("Denials", {"reason": "invalid_request"})])
    expect(function, without_authorizer(alice), [("Denials", {"reason": "unauthenticated"})])
    open_event = with_query(load_event("get_token_open.json"), topics="secret-room")
    expect(function, open_event, [("Denials", {"reason": "scope_denied"})], "Open")
    nowhere = load_event("get_token_lambda_authorizer.json", rawPath="/nope", routeKey="GET /nope")
    nowhere["requestContext"]["http"]["path"] = "/nope"
    expect(function, nowhere, [("NotFound", {})])

    # A failed key read that the last key covers is counted, and the token it still vends is counted apart, by tier.
    expect(fresh, alice, [("TokensVended", {"tier": "readwrite"})])
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:9")  # nothing answers on the discard port
    clock.now += function.SECRET_MAX_AGE_SECONDS
    expect(fresh, alice, [("KeyReadErrors", {}), ("TokensVended", {"tier": "readwrite"})])
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT")

    # No key at all: the read failure, then the 503 it causes.
    monkeypatch.setenv("MOMENTO_API_KEY_SECRET", "tvm/no-such-secret")
    no_key = function.VendingFunction(function.key_cache(clock))
    expect(no_key, alice, [("KeyReadErrors", {}), ("UpstreamErrors", {})])
    monkeypatch.undo()

    # A bug of ours (the key cache hands out something that is not a key): a 500, counted.
    broken = function.VendingFunction(SecretCache(lambda name: 42))
    expect(broken, alice, [("InternalErrors", {})])
    broken.close()

    # The issuance limit, with the deployed policy's (readwrite's: 5 at once; the module's own policy has none): the
    # sixth token is refused, counted in Denials by reason and in RateLimited by tier.
    monkeypatch.setattr(function, "policy", load_policy(DEPLOYED_POLICY))
    limited = function.VendingFunction(function.key_cache(clock), InMemoryLimiter())
    for _ in range(5):
        expect(limited, alice, [("TokensVended", {"tier": "readwrite"})])
    expect(limited, alice, [("Denials", {"reason": "rate_limited"}), ("RateLimited", {"tier": "readwrite"})])
    limited.close()

    # The issuance table unreachable (the template's LIMITS_TABLE and its local-only DynamoDbEndpoint, nothing
    # answering there): neither the revocations' check nor the limit can be read. StoreFailureMode Allow vends
    # unchecked, Refuse answers 503; both count LimiterErrors, once per request.
    monkeypatch.setenv("LIMITS_TABLE", "tvm-issuance")
    monkeypatch.setenv("DYNAMODB_ENDPOINT", "http://127.0.0.1:9")  # the discard port: connection refused
    for failure_mode, answered in (
        ("Allow", ("TokensVended", {"tier": "readwrite"})),
        ("Refuse", ("UpstreamErrors", {})),
    ):
        monkeypatch.setenv("STORE_FAILURE_MODE", failure_mode)
        unchecked = function.VendingFunction(function.key_cache(clock))
        expect(unchecked, alice, [answered, ("LimiterErrors", {})])
        unchecked.close()
    monkeypatch.undo()

    # Cut off by an operator: a revoked user, a paused tier, all vending paused (each refusal in Denials by reason,
    # and in Blocked by reason and by tier), on a vend and on an explain alike; another user and tier are served.
    revocations = InMemoryRevocations()
    blocked = function.VendingFunction(function.key_cache(clock), InMemoryLimiter(), revocations)
    viewer = as_user("viewer", "readonly")
    revocations.put(Block("revoked", "user#alice", "test", "metric contract", 0))
    for event in (alice, explain(alice)):
        revoked = {"reason": "revoked"}
        expect(blocked, event, [("Denials", revoked), ("Blocked", {**revoked, "tier": "readwrite"})])
    expect(blocked, viewer, [("TokensVended", {"tier": "readonly"})])
    revocations.put(Block("tier_paused", "readonly", "test", "metric contract", 0))
    paused = {"reason": "tier_paused"}
    expect(blocked, viewer, [("Denials", paused), ("Blocked", {**paused, "tier": "readonly"})])
    expect(blocked, as_user("bob", "readwrite"), [("TokensVended", {"tier": "readwrite"})])
    revocations.put(Block("vending_paused", "all", "test", "metric contract", 0))
    everything = {"reason": "vending_paused"}
    expect(
        blocked,
        as_user("bob", "readwrite"),
        [("Denials", everything), ("Blocked", {**everything, "tier": "readwrite"})],
    )
    blocked.close()

    # Only the revocations' store unreachable (its own client on the discard port), the limit counted in memory:
    # the same LimiterErrors, and the same two outcomes.
    nowhere_table = StdlibAwsClient(
        DYNAMODB, timeout=1.0, environ={**os.environ, "DYNAMODB_ENDPOINT": "http://127.0.0.1:9"}
    )
    for failure_mode, answered in (
        ("Allow", ("TokensVended", {"tier": "readwrite"})),
        ("Refuse", ("UpstreamErrors", {})),
    ):
        monkeypatch.setenv("STORE_FAILURE_MODE", failure_mode)
        unread = function.VendingFunction(
            function.key_cache(clock), InMemoryLimiter(), DynamoDbRevocations(nowhere_table, "tvm-issuance")
        )
        expect(unread, alice, [answered, ("LimiterErrors", {})])
        unread.close()
    monkeypatch.undo()

    # Momento's own quota for the account (an emulator that plays it: one mint, then none for 100 s): 429, counted in
    # Denials by reason and in QuotaExceeded.
    with EmulatorThread(EmulatorConfig(caches=("test-cache",), auth_quota=0.01)) as quota_emulator:
        monkeypatch.setenv("MOMENTO_ENDPOINT", f"127.0.0.1:{quota_emulator.grpc_port}")
        quota = function.VendingFunction(function.key_cache(clock), InMemoryLimiter())
        expect(quota, alice, [("TokensVended", {"tier": "readwrite"})])
        expect(quota, as_user("bob", "readwrite"), [("Denials", {"reason": "quota_exceeded"}), ("QuotaExceeded", {})])
        quota.close()
    monkeypatch.undo()
    return seen, raw


def test_every_answer_publishes_exactly_its_declared_metric(
    function: ModuleType,
    fresh: Any,
    clock: Clock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
) -> None:
    seen, _ = every_answer(function, fresh, clock, capsys, monkeypatch)
    assert {name for name, _ in seen} == {metric.name for metric in function.METRICS}, "a declaration went unexercised"


def test_deploy_docs_list_exactly_the_declared_metrics(function: ModuleType) -> None:
    """docs/deploy.md's table (after its `<!-- metrics: ... -->` marker): name, unit, dimension sets, in order."""
    text = DEPLOY_DOC.read_text(encoding="utf-8")
    table = text[text.index("<!-- metrics:") :].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented = []
    for row in rows:
        name, unit, sets = (cell.strip() for cell in row.strip("|").split("|")[:3])
        dimension_sets = tuple(tuple(re.findall(r"`([^`]+)`", part)) for part in sets.split(";"))
        documented.append((name.strip("`"), unit, dimension_sets))
    declared = [(metric.name, metric.unit.value, metric.dimension_sets) for metric in function.METRICS]
    assert documented == declared
