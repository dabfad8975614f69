"""Through SAM CLI's `sam local start-api` (make sam-api): what it mounts, what its gateway and the authorizer refuse,
and tokens the real `momento` SDK then uses on the emulator.
"""

from __future__ import annotations

import statistics
import time
import uuid

from devstack.seed import ISSUANCE_TABLE_NAME
from tests import sdk_rights
from tests.sam.conftest import SamApiProcess, basic, figure, issuance_table, request

CACHE = "default-cache"


async def topic_rights(api: SamApiProcess, token: str, topic: str) -> tuple[bool, bool]:
    """(may publish, may subscribe) on `topic`, by the SDK; a subscriber that may also receives what it published."""
    return await sdk_rights.topic_rights(api.token_provider(token), CACHE, topic)


# ---------------------------------------------------------------------- LambdaAuthorizer mode
def test_sam_mounts_the_one_vending_function_behind_the_authorizer(lambda_api: SamApiProcess) -> None:
    mounts = lambda_api.info["mounts"]
    assert [mount.split()[0] for mount in mounts] == ["TokenVendingFunction", "TokenVendingFunction"]
    assert any(mount.endswith("/token [GET, POST, OPTIONS]") for mount in mounts), mounts
    assert any(mount.endswith("/token/explain [GET, OPTIONS]") for mount in mounts), mounts
    log = lambda_api.log()
    assert "not found, skipping" not in log  # SAM's words when it drops an authorizer
    assert "CognitoVendingFunction" not in log and "OpenVendingFunction" not in log


def test_warm_request_latency(lambda_api: SamApiProcess) -> None:
    """Measured (and bounded loosely): the fixture's first request started the containers; these reuse them. Through
    explain (the authorizer, the function, a read of the caller's bucket), since ten tokens in a row for one user are
    over the tier's issuance limit (the next test)."""
    warm = []
    for _ in range(10):
        answer = request(f"{lambda_api.url}/token/explain", authorization=basic("bob", "bob-password"))
        assert answer.status == 200, answer.body
        warm.append(answer.seconds)
    figure("warm request through sam local (explain, median of 10)", f"{statistics.median(warm) * 1000:.0f} ms")
    assert statistics.median(warm) < 5


def test_a_vend_writes_the_callers_bucket_in_motos_table_and_the_limit_holds(lambda_api: SamApiProcess) -> None:
    """The function in its container reaches moto's issuance table over the Docker bridge (DynamoDbEndpoint, the
    LIMITS_TABLE of env-vars.json): alice's first token writes her bucket; her tier's burst (5) later, a 429."""
    moto = issuance_table(lambda_api.info["moto_url"])
    key = {"pk": {"S": "limit#user#alice"}, "sk": {"S": "bucket"}}
    assert "Item" not in moto.get_item(TableName=ISSUANCE_TABLE_NAME, Key=key)
    started = time.time()
    first = request(f"{lambda_api.url}/token", authorization=basic("alice", "alice-password"))
    assert first.status == 200, first.body
    item = moto.get_item(TableName=ISSUANCE_TABLE_NAME, Key=key)["Item"]
    assert started + 12 - 1 <= float(item["tat"]["N"]) <= time.time() + 12 + 1  # one token of one every 12 s
    assert int(item["expires_at"]["N"]) > float(item["tat"]["N"])
    for _ in range(4):
        answer = request(f"{lambda_api.url}/token", authorization=basic("alice", "alice-password"))
        assert answer.status == 200, answer.body
    refused = request(f"{lambda_api.url}/token", authorization=basic("alice", "alice-password"))
    assert time.time() - started < 12, "too slow to meet the limit before it refills: this run proves nothing"
    assert refused.status == 429, refused.body
    assert refused.body["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 12


def test_no_authorization_is_the_gateways_401(lambda_api: SamApiProcess) -> None:
    offset = lambda_api.log_offset()
    answer = request(f"{lambda_api.url}/token")
    assert answer.status == 401
    assert answer.body == {"message": "Unauthorized"}
    assert "TokenVendingFunction" not in lambda_api.log_since(offset)


def test_a_wrong_password_is_refused_before_the_function_runs(lambda_api: SamApiProcess) -> None:
    """403, as on AWS; SAM CLI's body is its own ("User is not authorized..."), AWS's is {"message":"Forbidden"}."""
    offset = lambda_api.log_offset()
    answer = request(f"{lambda_api.url}/token", authorization=basic("alice", "not-alices-password"))
    assert answer.status == 403
    assert answer.body == {"message": "User is not authorized to access this resource"}
    log = lambda_api.log_since(offset)
    assert '"decision": "deny"' in log  # the authorizer ran and said no ...
    assert "token-vending" not in log  # ... and the vending function (Powertools service token-vending) did not run
    assert "not-alices-password" not in lambda_api.log()


async def test_alice_gets_a_token_the_sdk_publishes_and_subscribes_with(lambda_api: SamApiProcess) -> None:
    answer = request(f"{lambda_api.url}/token", authorization=basic("alice", "alice-password"))
    assert answer.status == 200, answer.body
    assert answer.headers["cache-control"] == "no-store"
    assert answer.body["tokenId"] == "alice"
    assert answer.body["endpoint"] == lambda_api.info["function_momento_endpoint"]
    assert await topic_rights(lambda_api, answer.body["authToken"], f"sam-{uuid.uuid4().hex[:8]}") == (True, True)
    assert "alice-password" not in lambda_api.log()
    assert answer.body["authToken"] not in lambda_api.log()


async def test_viewer_gets_a_read_only_token(lambda_api: SamApiProcess) -> None:
    answer = request(f"{lambda_api.url}/token", authorization=basic("viewer", "viewer-password"))
    assert answer.status == 200, answer.body
    assert answer.body["tokenId"] == "viewer"
    assert await topic_rights(lambda_api, answer.body["authToken"], f"sam-{uuid.uuid4().hex[:8]}") == (False, True)


def test_an_unknown_query_parameter_is_the_typed_400(lambda_api: SamApiProcess) -> None:
    answer = request(f"{lambda_api.url}/token?topic=typo", authorization=basic("alice", "alice-password"))
    assert answer.status == 400
    assert answer.body["error"]["code"] == "invalid_request"
    assert set(answer.body) == {"error"}
    assert "typo" not in lambda_api.log()  # SAM's access lines are logged without the query


def test_an_unknown_route_is_sams_403_not_api_gateways_404(lambda_api: SamApiProcess) -> None:
    """A known difference: API Gateway answers 404 {"message":"Not Found"}; SAM CLI's gateway answers this."""
    answer = request(f"{lambda_api.url}/nope", authorization=basic("alice", "alice-password"))
    assert answer.status == 403
    assert answer.body == {"message": "Missing Authentication Token"}


# ---------------------------------------------------------------------- Open mode
async def test_open_mode_vends_a_guest_token_for_a_named_room(open_api: SamApiProcess) -> None:
    assert [mount.split()[0] for mount in open_api.info["mounts"]] == ["TokenVendingFunction"] * 2
    answer = request(f"{open_api.url}/token?topics=room-1")
    assert answer.status == 200, answer.body
    assert answer.body["tokenId"].startswith("guest")
    assert answer.body["scope"]["topics"]["names"] == ["room-1"]
    assert answer.body["scope"]["topics"]["all"] is False
    token = answer.body["authToken"]
    assert await topic_rights(open_api, token, "room-1") == (True, True)
    assert await topic_rights(open_api, token, "room-2") == (False, False)
    assert "CredentialsAuthorizerFunction" not in open_api.log()
