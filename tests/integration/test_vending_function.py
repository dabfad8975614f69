"""The vending Lambda invoked in-process with the `events/` payloads: Secrets Manager is moto (server mode), Momento
is the local emulator, and every tier's token is then tried with the real `momento` SDK.
"""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from momento import CacheClient, Configurations
from momento.responses import CreateCache

from momento_tvm import load_policy
from momento_tvm.aws_boto3 import Boto3JsonClient
from momento_tvm.revocations import Block, DynamoDbRevocations
from tests import sdk_rights
from tests.aws_moto import create_issuance_table
from tests.conftest import RunningEmulator
from tests.integration.vending import (
    SECRET_NAME,
    Clock,
    as_user,
    invoke,
    load_event,
    merge,
    with_query,
    without_authorizer,
)


async def topic_rights(emulator: RunningEmulator, token: str, topic: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on `topic` of the test cache, as the SDK reports it."""
    return await sdk_rights.topic_rights(emulator.token_provider(token), emulator.cache_name, topic)


async def cache_rights(emulator: RunningEmulator, token: str, key: str) -> tuple[bool, bool]:
    """(may read, may write) `key` in the test cache."""
    return await sdk_rights.cache_rights(emulator.token_provider(token), emulator.cache_name, key)


@pytest.mark.parametrize(
    ("event", "mode", "token_id", "topic", "topic_rights_expected", "cache_expected"),
    [
        pytest.param(
            as_user("alice", "readwrite"),
            "LambdaAuthorizer",
            "alice",
            "any-topic",
            (True, True),
            (True, True),
            id="readwrite",
        ),
        pytest.param(
            as_user("viewer", "readonly"),
            "LambdaAuthorizer",
            "viewer",
            "any-topic",
            (False, True),
            (True, False),
            id="readonly",
        ),
        pytest.param(
            as_user("carol", "no-such-group"),
            "LambdaAuthorizer",
            "carol",
            "any-topic",
            (False, True),
            (True, False),
            id="no-group-default-tier",
        ),
        pytest.param(
            load_event("get_token_jwt.json"),
            "AmazonCognito",
            "bob",
            "any-topic",
            (True, True),
            (True, True),
            id="cognito-readwrite",
        ),
        pytest.param(
            load_event("get_token_open.json"),
            "Open",
            "guest:Ann",
            "chat-lobby",
            (True, True),
            (False, False),
            id="open-guest",
        ),
    ],
)
async def test_each_tier_token_can_and_cannot(
    function: ModuleType,
    emulator: RunningEmulator,
    event: dict[str, Any],
    mode: str,
    token_id: str,
    topic: str,
    topic_rights_expected: tuple[bool, bool],
    cache_expected: tuple[bool, bool],
) -> None:
    status, headers, body = invoke(function, event, mode)
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    assert body["tokenId"] == token_id
    assert body["expiresAt"] > time.time()
    assert body["endpoint"] == f"127.0.0.1:{emulator.grpc_port}"
    assert await topic_rights(emulator, body["authToken"], topic) == topic_rights_expected
    assert await cache_rights(emulator, body["authToken"], "item-1") == cache_expected


async def test_a_guest_naming_no_topics_gets_every_room_in_one_prefix_token(
    function: ModuleType, emulator: RunningEmulator
) -> None:
    """What Momento's own chat app asks (no topics): the guest tier's `chat-*` and `room-*` as two prefix grants,
    which the SDK then uses on any such topic, and nowhere else (another topic, another cache)."""
    status, _, body = invoke(function, with_query(load_event("get_token_open.json")), "Open")
    assert status == 200, body
    assert body["scope"]["topics"]["prefixes"] == ["chat-", "room-"]
    assert body["scope"]["topics"]["names"] == []
    assert abs(body["now"] - time.time()) < 5
    token = body["authToken"]
    assert await topic_rights(emulator, token, "room-x") == (True, True)
    assert await topic_rights(emulator, token, "room-y") == (True, True)
    assert await topic_rights(emulator, token, "chat-lobby") == (True, True)
    assert await topic_rights(emulator, token, "lobby") == (False, False)
    with CacheClient(Configurations.Laptop.v1(), emulator.root_provider(), timedelta(seconds=60)) as client:
        created = client.create_cache("other-cache")
    assert isinstance(created, CreateCache.Success | CreateCache.CacheAlreadyExists), created
    other = await sdk_rights.topic_rights(emulator.token_provider(token), "other-cache", "room-x")
    assert other == (False, False)


async def test_a_narrowed_token_opens_only_the_requested_topics(
    function: ModuleType, emulator: RunningEmulator
) -> None:
    status, _, body = invoke(function, load_event("get_token_topics_lambda_authorizer.json"))
    assert status == 200, body
    assert body["scope"]["topics"] == {
        "role": "publish_subscribe",
        "cache": "test-cache",
        "all": False,
        "names": ["room-1", "room-2"],
        "prefixes": [],
    }
    assert 295 <= body["expiresAt"] - time.time() <= 300
    assert await topic_rights(emulator, body["authToken"], "room-2") == (True, True)
    assert await topic_rights(emulator, body["authToken"], "room-3") == (False, False)


async def test_post_body_narrows_topics_and_ttl(function: ModuleType, emulator: RunningEmulator) -> None:
    status, _, body = invoke(function, load_event("post_token_lambda_authorizer.json"))
    assert status == 200, body
    assert body["scope"]["topics"]["names"] == ["room-1"]
    assert 115 <= body["expiresAt"] - time.time() <= 120
    assert await topic_rights(emulator, body["authToken"], "room-1") == (True, True)


@pytest.mark.parametrize(
    ("event", "mode"),
    [
        (as_user("alice", "readwrite"), "LambdaAuthorizer"),
        (with_query(as_user("alice", "readwrite"), topics="a,b", ttlSeconds="60"), "LambdaAuthorizer"),
        (with_query(as_user("viewer", "readonly"), cacheItems="profile:*"), "LambdaAuthorizer"),
        (load_event("get_token_jwt.json"), "AmazonCognito"),
        (load_event("get_token_open.json"), "Open"),
    ],
)
def test_explain_answers_exactly_what_token_mints(function: ModuleType, event: dict[str, Any], mode: str) -> None:
    explain_event = merge(event, {"routeKey": "GET /token/explain", "rawPath": "/token/explain"})
    explain_event["requestContext"]["http"]["path"] = "/token/explain"
    explain_event["requestContext"]["routeKey"] = "GET /token/explain"
    status, headers, explained = invoke(function, explain_event, mode)
    assert status == 200, explained
    assert headers["Cache-Control"] == "no-store"
    assert "authToken" not in explained
    before = time.time()
    status, _, minted = invoke(function, event, mode)
    assert status == 200, minted
    assert explained["scope"] == minted["scope"]
    assert explained["tokenId"] == minted["tokenId"]
    assert before + explained["ttlSeconds"] - 1 <= minted["expiresAt"] <= time.time() + explained["ttlSeconds"]
    assert explained["rule"]


@pytest.mark.parametrize(
    ("event", "mode", "status", "code"),
    [
        (with_query(as_user("alice", "readwrite"), ttlSeconds="5"), "LambdaAuthorizer", 400, "invalid_request"),
        (with_query(as_user("alice", "readwrite"), ttlSeconds="3601"), "LambdaAuthorizer", 400, "invalid_request"),
        (with_query(as_user("alice", "readwrite"), ttlSeconds="abc"), "LambdaAuthorizer", 400, "invalid_request"),
        (with_query(as_user("alice", "readwrite"), topic="typo"), "LambdaAuthorizer", 400, "invalid_request"),
        (with_query(as_user("alice", "readwrite"), topics="ro*m-*"), "LambdaAuthorizer", 400, "invalid_request"),
        (with_query(as_user("alice", "readwrite"), topics="a,,b"), "LambdaAuthorizer", 400, "invalid_request"),
        (load_event("post_token_lambda_authorizer.json", body="{not json"), "LambdaAuthorizer", 400, "invalid_request"),
        (load_event("post_token_lambda_authorizer.json", body='["a"]'), "LambdaAuthorizer", 400, "invalid_request"),
        (
            load_event("post_token_lambda_authorizer.json", body='{"ttlSeconds": true}'),
            "LambdaAuthorizer",
            400,
            "invalid_request",
        ),
        (
            load_event("post_token_lambda_authorizer.json", body='{"scope": "admin"}'),
            "LambdaAuthorizer",
            400,
            "invalid_request",
        ),
        (with_query(load_event("get_token_open.json"), topics="secret-room"), "Open", 403, "scope_denied"),
        (
            with_query(as_user("viewer", "readonly"), cacheItems="x", topics="t"),
            "LambdaAuthorizer",
            400,
            "invalid_request",
        ),
        (with_query(as_user("viewer", "readonly"), cacheItems="*", topics="t"), "LambdaAuthorizer", 200, None),
        (
            without_authorizer(load_event("get_token_lambda_authorizer.json")),
            "LambdaAuthorizer",
            401,
            "unauthenticated",
        ),
        (as_user("guest:alice", "readwrite"), "LambdaAuthorizer", 401, "unauthenticated"),
    ],
)
def test_refusals_are_typed_json(
    function: ModuleType, logs: io.StringIO, event: dict[str, Any], mode: str, status: int, code: str | None
) -> None:
    got_status, headers, body = invoke(function, event, mode)
    assert got_status == status, body
    assert headers["Cache-Control"] == "no-store"
    if code is not None:
        assert set(body) == {"error"}
        assert body["error"]["code"] == code
        assert body["error"]["message"]
        assert "Traceback" not in json.dumps(body)


def test_the_caller_cannot_choose_its_name_when_verified(function: ModuleType) -> None:
    status, _, body = invoke(function, with_query(as_user("alice", "readwrite"), name="bob"))
    assert status == 200
    assert body["tokenId"] == "alice"


def test_guest_names_are_sanitised_and_prefixed(function: ModuleType) -> None:
    event = with_query(load_event("get_token_open.json"), topics="chat-x", name="<script>alice:admin</script>")
    status, _, body = invoke(function, event, "Open")
    assert status == 200, body
    assert body["tokenId"] == "guest:scriptaliceadminscript"
    status, _, anonymous = invoke(function, with_query(load_event("get_token_open.json"), topics="chat-x"), "Open")
    assert anonymous["tokenId"].startswith("guest:")
    assert len(anonymous["tokenId"]) > len("guest:")


def test_issuance_is_logged_once_without_the_token(function: ModuleType, logs: io.StringIO) -> None:
    status, _, body = invoke(function, as_user("alice", "readwrite"))
    assert status == 200
    records = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    issued = [r for r in records if r.get("message") == "token issued"]
    assert len(issued) == 1
    assert issued[0]["user"] == "alice"
    assert issued[0]["tier"] == "readwrite"
    assert issued[0]["expires_at"] == body["expiresAt"]
    assert issued[0]["correlation_id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    assert body["authToken"] not in logs.getvalue()


def test_upstream_failures_are_503_with_retry_after(
    function: ModuleType, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MOMENTO_API_KEY_SECRET", "tvm/no-such-secret")
    no_key = function.VendingFunction(function.key_cache(clock))
    status, headers, body = invoke(no_key, as_user("alice", "readwrite"))
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    assert int(headers["Retry-After"]) > 0

    monkeypatch.setenv("MOMENTO_API_KEY_SECRET", SECRET_NAME)
    monkeypatch.setenv("MOMENTO_ENDPOINT", "127.0.0.1:9")  # nothing listens on the discard port
    no_momento = function.VendingFunction(function.key_cache(clock))
    try:
        status, headers, body = invoke(no_momento, as_user("alice", "readwrite"))
    finally:
        no_momento.close()
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    assert "Retry-After" in headers


def test_a_rotated_key_is_picked_up_and_a_secrets_outage_keeps_the_last_key(
    function: ModuleType, fresh: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke(fresh, as_user("alice", "readwrite"))[0] == 200

    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", "http://127.0.0.1:9")  # Secrets Manager fails from now on
    clock.now += function.SECRET_MAX_AGE_SECONDS  # the cached key is due for a refresh, which fails
    assert invoke(fresh, as_user("alice", "readwrite"))[0] == 200  # the key read before keeps serving
    clock.now += function.SECRET_RETRY_SECONDS  # Secrets Manager may be asked again
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT")  # and answers again

    secrets = boto3.client("secretsmanager")
    secrets.create_secret(Name="tvm/rotated", SecretString="a-key-the-emulator-does-not-know")
    try:
        monkeypatch.setenv("MOMENTO_API_KEY_SECRET", "tvm/rotated")
        status, _, body = invoke(fresh, as_user("alice", "readwrite"))
        assert (status, body["error"]["code"]) == (503, "upstream_unavailable")  # the new key is the one used
    finally:
        secrets.delete_secret(SecretId="tvm/rotated", ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_empty_secrets_manager_endpoint_leaves_boto3s_default(
    function: ModuleType, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    """Deployed, SECRETS_MANAGER_ENDPOINT is "": the client is exactly the one boto3 makes for the region."""
    for name in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    if value is None:
        monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    else:
        monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", value)
    endpoint = function.secrets_manager_url()
    assert (
        endpoint == boto3.client("secretsmanager").meta.endpoint_url == "https://secretsmanager.us-east-1.amazonaws.com"
    )


def test_a_set_secrets_manager_endpoint_is_the_one_the_key_is_read_from(
    function: ModuleType, fresh: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `sam local` the template's SecretsManagerEndpoint is moto's URL: the key is read there, whatever
    botocore's own variables say (here they name the discard port, where nothing answers)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    monkeypatch.setenv("SECRETS_MANAGER_ENDPOINT", moto_endpoint)
    assert function.secrets_manager_url() == moto_endpoint
    status, _, body = invoke(fresh, as_user("alice", "readwrite"))
    assert status == 200, body
    assert body["authToken"]


def test_unknown_route_is_a_typed_404(function: ModuleType) -> None:
    event = load_event("get_token_lambda_authorizer.json", rawPath="/nope", routeKey="GET /nope")
    event["requestContext"]["http"]["path"] = "/nope"
    status, _, body = invoke(function, event)
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_a_malformed_region_is_a_503_whose_log_names_the_variable_to_fix_never_its_value(
    fresh: Any, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """The attacker's region of issue 18 sends nothing; the operator's log line says which variable to fix."""
    bad_region = "x@127.0.0.1:35091/#"
    monkeypatch.delenv("SECRETS_MANAGER_ENDPOINT", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", bad_region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", bad_region)
    status, headers, body = invoke(fresh, as_user("alice", "readwrite"))
    assert (status, body["error"]["code"]) == (503, "upstream_unavailable")
    assert "Retry-After" in headers
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]
    [line] = [line for line in lines if line.get("message") == "cannot read the Momento API key"]
    assert line["error_code"] == "InvalidRegion"
    assert "AWS_REGION" in line["fix"]
    assert bad_region not in logs.getvalue()


# ------------------------------------------------------------------------------- revocations and pauses (issue 23)
DEPLOYED_POLICY = Path(__file__).resolve().parents[2] / "functions" / "token_vending" / "policy.yaml"


@pytest.fixture
def issuance_table(function: ModuleType, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The template's IssuanceTable in moto (its keys; a name of its own: moto's state lasts the module), named to the
    function as the template names it (LIMITS_TABLE, and DynamoDbEndpoint's DYNAMODB_ENDPOINT), and the deployed
    policy (each tier with its issuance limit), so a vend both checks the blocks and counts in the table."""
    name = f"tvm-issuance-{uuid.uuid4().hex[:8]}"
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    create_issuance_table(dynamodb, name)
    monkeypatch.setenv("LIMITS_TABLE", name)
    monkeypatch.setenv("DYNAMODB_ENDPOINT", moto_endpoint)
    monkeypatch.setattr(function, "policy", load_policy(DEPLOYED_POLICY))
    yield name
    dynamodb.delete_table(TableName=name)


def test_a_block_written_to_the_issuance_table_refuses_the_next_vend_and_explain_and_only_its_callers(
    function: ModuleType, clock: Clock, moto_endpoint: str, issuance_table: str
) -> None:
    """An operator's revoke, tier pause and global pause (written as `tvm_users` writes them: the library over
    boto3) refuse the function's very next request, vend and explain alike, in the usual envelope, while every
    other caller is served; lifting each restores. A refused vend spends nothing of the caller's allowance (the
    check is a read, before the limit's write)."""
    built = function.VendingFunction(function.key_cache(clock))  # the table's limiter and revocations (LIMITS_TABLE)
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint)
    admin = DynamoDbRevocations(Boto3JsonClient(dynamodb), issuance_table)
    alice, bob, viewer = as_user("alice", "readwrite"), as_user("bob", "readwrite"), as_user("viewer", "readonly")
    alices_bucket = {"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}}

    def bucket() -> Any:
        return dynamodb.get_item(TableName=issuance_table, Key=alices_bucket, ConsistentRead=True).get("Item")

    def refused(event: dict[str, Any]) -> str:
        status, headers, body = invoke(built, event)
        assert status == 403 and set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
        assert "Retry-After" not in headers
        return str(body["error"]["code"])

    def served(event: dict[str, Any]) -> None:
        status, _, body = invoke(built, event)
        assert status == 200, body

    try:
        served(alice)
        counted = bucket()
        assert counted is not None  # her token was counted in the table

        admin.put(Block("revoked", "user#alice", "laptop stolen", "test", int(time.time())))
        written = time.monotonic()
        assert refused(alice) == "revoked"
        assert time.monotonic() - written < 1.0
        assert refused(explain_event(alice)) == "revoked"
        assert bucket() == counted  # nothing spent by the refusals
        served(bob)
        assert admin.remove("revoked", "user#alice") is not None
        served(alice)

        admin.put(Block("tier_paused", "readonly", "maintenance", "test", int(time.time())))
        assert refused(viewer) == "tier_paused"
        assert refused(explain_event(viewer)) == "tier_paused"
        served(alice)
        admin.put(Block("vending_paused", "all", "incident", "test", int(time.time())))
        assert [refused(event) for event in (alice, bob, viewer)] == ["vending_paused"] * 3
        assert refused(explain_event(alice)) == "vending_paused"
        admin.remove("vending_paused", "all")
        served(alice)
        assert refused(viewer) == "tier_paused"  # the tier's own pause outlasts the global one
        admin.remove("tier_paused", "readonly")
        served(viewer)

        admin.put(Block("revoked", "user#alice", "until a moment ago", "test", 0, until=int(time.time()) - 1))
        served(alice)  # a block whose --until has passed has lapsed
    finally:
        built.close()


def test_a_cognito_revocation_holds_whatever_case_the_pool_gives_the_name(
    function: ModuleType, clock: Clock, moto_endpoint: str, issuance_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Cognito pool compares usernames without case, so the revocation of `bob` refuses the ID token of `Bob`."""
    monkeypatch.setenv("AUTH_MODE", "AmazonCognito")  # the deployment's mode, read when the function is built
    built = function.VendingFunction(function.key_cache(clock))
    admin = DynamoDbRevocations(Boto3JsonClient(boto3.client("dynamodb", endpoint_url=moto_endpoint)), issuance_table)
    event = load_event("get_token_jwt.json")
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:username"] = "Bob"
    try:
        assert invoke(built, event, "AmazonCognito")[0] == 200
        admin.put(Block("revoked", "user#bob", "test", "test", int(time.time())))
        status, _, body = invoke(built, event, "AmazonCognito")
        assert (status, body["error"]["code"]) == (403, "revoked")
    finally:
        built.close()


def test_without_a_table_nobody_is_blocked_and_the_function_says_so(
    function: ModuleType, clock: Clock, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    """A handler run outside a stack (no LIMITS_TABLE) keeps its blocks in its own memory, where nothing writes: it
    warns once, at start, and serves."""
    monkeypatch.delenv("LIMITS_TABLE", raising=False)
    built = function.VendingFunction(function.key_cache(clock))
    try:
        [warning] = [json.loads(line) for line in logs.getvalue().splitlines() if "LIMITS_TABLE" in line]
        assert warning["level"] == "WARNING"
        assert "no revocation or pause can reach it" in warning["message"], warning
        assert invoke(built, as_user("alice", "readwrite"))[0] == 200
    finally:
        built.close()


def explain_event(event: dict[str, Any]) -> dict[str, Any]:
    event = merge(event, {"routeKey": "GET /token/explain", "rawPath": "/token/explain"})
    event["requestContext"]["http"]["path"] = "/token/explain"
    event["requestContext"]["routeKey"] = "GET /token/explain"
    return event
