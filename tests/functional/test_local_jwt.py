"""The local JWT authorizer (AmazonCognito mode of `make dev`) with tokens moto's Cognito issues, and the gateway's
part: an aiohttp server with the template's Cognito API and a JWKS served over real HTTP. What the verifier admits
and refuses, one claim at a time, and the helpers shared here, are tests/unit/test_local_jwt.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from local_api import jwt_authorizer, load_api
from local_api.gateway import Gateway
from local_api.jwt_authorizer import verify
from local_api.template import JwtAuthorizerSpec
from tests.aws_moto import Moto
from tests.unit.test_local_jwt import (
    CLIENT_ID,
    ISSUER,
    PARAMETERS,
    POOL_ID,
    PUBLIC_JWKS,
    REGION,
    SPEC,
    TEMPLATE,
    claims,
    signed,
)


@pytest.fixture(scope="module")
def moto_id_token(moto_server: Moto) -> tuple[str, str, str, str]:
    """(IdToken, AccessToken, pool id) from moto's own Cognito for alice in readwrite (the suite's moto server, not
    emptied: the pool is a new one, and its tokens are all this module keeps)."""
    cognito = moto_server.client("cognito-idp", REGION)
    pool = cognito.create_user_pool(PoolName="local-users")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="site", GenerateSecret=False)
    client_id = client["UserPoolClient"]["ClientId"]
    cognito.create_group(GroupName="readwrite", UserPoolId=pool)
    cognito.admin_create_user(UserPoolId=pool, Username="alice", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="alice", Password="Alice-password-1", Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=pool, Username="alice", GroupName="readwrite")
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "Alice-password-1"},
    )["AuthenticationResult"]
    return result["IdToken"], result["AccessToken"], pool, client_id


def moto_spec(pool: str, client_id: str) -> JwtAuthorizerSpec:
    return JwtAuthorizerSpec(
        SPEC.name, SPEC.identity_sources, f"https://cognito-idp.{REGION}.amazonaws.com/{pool}", (client_id,)
    )


# ------------------------------------------------------------------------------------------------ what is admitted
def test_a_moto_id_token_is_admitted(moto_id_token: tuple[str, str, str, str]) -> None:
    id_token, _, pool, client_id = moto_id_token
    admitted = verify(moto_spec(pool, client_id), id_token, PUBLIC_JWKS)
    assert admitted["cognito:username"] == "alice"
    assert admitted["cognito:groups"] == ["readwrite"]


def test_a_moto_access_token_is_admitted_by_its_client_id(moto_id_token: tuple[str, str, str, str]) -> None:
    _, access_token, pool, client_id = moto_id_token
    admitted = verify(moto_spec(pool, client_id), access_token, PUBLIC_JWKS)
    assert "aud" not in admitted and admitted["client_id"] == client_id


# ------------------------------------------------------------------------------------------------ the gateway's part
class Invocations:
    def __init__(self) -> None:
        self.events: list[Mapping[str, Any]] = []

    async def __call__(self, function_id: str, event: Mapping[str, Any], request_id: str) -> Any:
        self.events.append(event)
        return {"statusCode": 200, "body": "ok"}


@pytest_asyncio.fixture
async def jwks_server() -> AsyncIterator[dict[str, Any]]:
    """Serves a JWKS over HTTP; `state["jwks"]` is what it serves (None: 503), `state["gets"]` counts fetches."""
    state: dict[str, Any] = {"jwks": PUBLIC_JWKS, "gets": 0}

    async def jwks(_: web.Request) -> web.Response:
        state["gets"] += 1
        if state["jwks"] is None:
            return web.Response(status=503)
        return web.json_response(state["jwks"])

    app = web.Application()
    app.router.add_get(f"/{POOL_ID}/.well-known/jwks.json", jwks)
    async with TestServer(app) as server:
        state["url"] = str(server.make_url(f"/{POOL_ID}/.well-known/jwks.json"))
        yield state


@pytest_asyncio.fixture
async def gateway(jwks_server: dict[str, Any]) -> AsyncIterator[tuple[TestClient[Any, Any], Invocations]]:
    spec = load_api(TEMPLATE, PARAMETERS, {"UserPool": POOL_ID, "UserPoolClient": CLIENT_ID})
    invocations = Invocations()
    served = Gateway(spec, invocations, {ISSUER: jwks_server["url"]})
    async with TestClient(TestServer(served.app())) as client:
        yield client, invocations
    await served.close()


async def test_no_authorization_is_401_and_invokes_nothing(gateway: tuple[TestClient[Any, Any], Invocations]) -> None:
    client, invocations = gateway
    for headers in ({}, {"Authorization": ""}):
        response = await client.get("/token", headers=headers)
        assert response.status == 401
        assert await response.json() == {"message": "Unauthorized"}
    assert invocations.events == []


async def test_a_refused_token_is_401_and_invokes_nothing(gateway: tuple[TestClient[Any, Any], Invocations]) -> None:
    client, invocations = gateway
    for token in (signed(claims(aud="x")), signed(claims(exp=int(time.time()) - 5)), "garbage"):
        response = await client.get("/token", headers={"Authorization": f"Bearer {token}"})
        assert (response.status, await response.json()) == (401, {"message": "Unauthorized"})
    assert invocations.events == []


async def test_an_admitted_token_hands_the_function_string_claims(
    gateway: tuple[TestClient[Any, Any], Invocations], jwks_server: dict[str, Any]
) -> None:
    client, invocations = gateway
    token = signed(claims())
    for header in (f"Bearer {token}", token):
        response = await client.get("/token", headers={"Authorization": header})
        assert response.status == 200
    authorizer = invocations.events[0]["requestContext"]["authorizer"]
    assert set(authorizer) == {"jwt"}
    assert authorizer["jwt"]["scopes"] is None
    assert authorizer["jwt"]["claims"]["cognito:groups"] == "[readwrite]"
    assert authorizer["jwt"]["claims"]["cognito:username"] == "alice"
    assert jwks_server["gets"] == 1  # fetched once, then kept


async def test_an_unfetchable_jwks_is_500_not_401(
    gateway: tuple[TestClient[Any, Any], Invocations], jwks_server: dict[str, Any]
) -> None:
    client, invocations = gateway
    jwks_server["jwks"] = None
    response = await client.get("/token", headers={"Authorization": f"Bearer {signed(claims())}"})
    assert (response.status, await response.json()) == (500, {"message": "Internal Server Error"})
    jwks_server["jwks"] = PUBLIC_JWKS
    response = await client.get("/token", headers={"Authorization": f"Bearer {signed(claims())}"})
    assert response.status == 200
    assert len(invocations.events) == 1


async def test_a_new_kid_fetches_the_jwks_again_but_not_on_every_request(
    gateway: tuple[TestClient[Any, Any], Invocations], jwks_server: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = gateway
    assert (await client.get("/token", headers={"Authorization": signed(claims())})).status == 200
    rotated = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rotated.public_key()))
    jwks_server["jwks"] = {"keys": [*PUBLIC_JWKS["keys"], {**public, "kid": "rotated", "alg": "RS256"}]}
    new_key = {"Authorization": signed(claims(), key=rotated, kid="rotated")}
    # Within JWKS_REFETCH_AFTER_SECONDS of the last fetch an unknown kid is refused without fetching again ...
    assert (await client.get("/token", headers=new_key)).status == 401
    assert jwks_server["gets"] == 1
    # ... after it, the key set is fetched again once and the new key admits its token.
    monkeypatch.setattr(jwt_authorizer, "JWKS_REFETCH_AFTER_SECONDS", 0.0)
    assert (await client.get("/token", headers=new_key)).status == 200
    assert (await client.get("/token", headers=new_key)).status == 200
    assert jwks_server["gets"] == 2
