"""`sam local invoke -e events/...` of both functions gives the answers the functional and integration tests
document (tests/functional/test_authorizer.py, tests/integration/test_vending_function.py), in a fresh Lambda
container each time.

The emulator and moto are those of the session's `make sam-api` (LambdaAuthorizer); the mode is a parameter, so
the Open and AmazonCognito events are invoked with that mode's AuthenticationMethod (invoke needs no authorizer:
the event carries what it would have added).
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest

from sam_local.stack import local_invoke_argv, sam_environment
from tests.sam.conftest import ROOT, SamApiProcess, figure

INVOKE_SECONDS: list[float] = []


def invoke(api: SamApiProcess, function: str, event: str, auth: str = "LambdaAuthorizer") -> dict[str, Any]:
    info = api.info
    overrides = [
        f"AuthenticationMethod={auth}" if part.startswith("AuthenticationMethod=") else part
        for part in info["parameter_overrides"]
    ]
    argv = local_invoke_argv(info["sam"], info["built_template"], overrides, info["env_vars_file"], function, event)
    started = time.perf_counter()
    result = subprocess.run(
        argv, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False, env=sam_environment()
    )
    INVOKE_SECONDS.append(time.perf_counter() - started)
    figure(
        "sam local invoke (container start to answer)",
        f"{min(INVOKE_SECONDS):.1f}-{max(INVOKE_SECONDS):.1f} s over {len(INVOKE_SECONDS)}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def body_of(answer: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return int(answer["statusCode"]), json.loads(answer["body"])


# ---------------------------------------------------------------------- the authorizer
def test_the_authorizer_allows_alice_with_her_groups(lambda_api: SamApiProcess) -> None:
    answer = invoke(lambda_api, "CredentialsAuthorizerFunction", "events/authorizer/valid_alice.json")
    assert answer == {"isAuthorized": True, "context": {"username": "alice", "groups": "readwrite"}}


@pytest.mark.parametrize(
    "event",
    ["wrong_password", "unknown_user", "malformed_basic", "bearer_scheme", "missing_header", "nul_padded_password"],
)
def test_the_authorizer_denies(lambda_api: SamApiProcess, event: str) -> None:
    assert invoke(lambda_api, "CredentialsAuthorizerFunction", f"events/authorizer/{event}.json") == {
        "isAuthorized": False
    }


# ---------------------------------------------------------------------- the vending function
def test_get_token_for_alice(lambda_api: SamApiProcess) -> None:
    status, body = body_of(invoke(lambda_api, "TokenVendingFunction", "events/token/get_token_lambda_authorizer.json"))
    assert status == 200, body
    assert body["tokenId"] == "alice"
    assert body["endpoint"] == lambda_api.info["function_momento_endpoint"]
    assert body["authToken"]


def test_get_token_narrowed_to_two_topics(lambda_api: SamApiProcess) -> None:
    event = "events/token/get_token_topics_lambda_authorizer.json"
    status, body = body_of(invoke(lambda_api, "TokenVendingFunction", event))
    assert status == 200, body
    assert body["scope"]["topics"] == {
        "role": "publish_subscribe",
        "cache": "default-cache",
        "all": False,
        "names": ["room-1", "room-2"],
        "prefixes": [],
    }
    assert 295 <= body["expiresAt"] - time.time() <= 300


def test_post_token_narrows_topics_and_ttl(lambda_api: SamApiProcess) -> None:
    status, body = body_of(invoke(lambda_api, "TokenVendingFunction", "events/token/post_token_lambda_authorizer.json"))
    assert status == 200, body
    assert body["scope"]["topics"]["names"] == ["room-1"]
    assert 115 <= body["expiresAt"] - time.time() <= 120


def test_explain_mints_nothing(lambda_api: SamApiProcess) -> None:
    status, body = body_of(invoke(lambda_api, "TokenVendingFunction", "events/token/explain_lambda_authorizer.json"))
    assert status == 200, body
    assert "authToken" not in body
    assert body["tokenId"] == "alice"
    assert body["rule"]


def test_open_mode_guest(lambda_api: SamApiProcess) -> None:
    answer = invoke(lambda_api, "TokenVendingFunction", "events/token/get_token_open.json", auth="Open")
    status, body = body_of(answer)
    assert status == 200, body
    assert body["tokenId"] == "guest:Ann"


def test_cognito_mode_reads_the_jwt_claims_of_the_event(lambda_api: SamApiProcess) -> None:
    answer = invoke(lambda_api, "TokenVendingFunction", "events/token/get_token_jwt.json", auth="AmazonCognito")
    status, body = body_of(answer)
    assert status == 200, body
    assert body["tokenId"] == "bob"
