"""The local JWT authorizer (AmazonCognito mode of `make dev`): what API Gateway's JWT authorizer admits, and refuses.

Tokens are real: moto issues them (its Cognito, in-process), or they are signed here with moto's own private key (it
ships with moto, which is why the verifier is for local use only) so that one claim at a time can be made wrong
while the signature stays valid. Forgeries are signed with another RSA key, or use `alg: none` / HS256.
The gateway's part runs in an aiohttp server with the template's Cognito API and a JWKS served over real HTTP.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto import mock_aws
from moto.utilities.utils import load_resource

from local_api import LocalApi, TemplateError, jwt_authorizer, load_api
from local_api.gateway import Gateway
from local_api.jwt_authorizer import (
    UnauthorizedError,
    gateway_claims,
    gateway_scopes,
    token_from_header,
    verify,
)
from local_api.template import JwtAuthorizerSpec

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
POOL_ID = "us-east-1_localpool"
CLIENT_ID = "localclient"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
SPEC = JwtAuthorizerSpec("CognitoAuthorizer", ("$request.header.Authorization",), ISSUER, (CLIENT_ID,))
PUBLIC_JWKS: dict[str, Any] = load_resource("cognitoidp/resources/jwks-public.json")
MOTO_PRIVATE_KEY = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
PARAMETERS = {
    "AuthenticationMethod": "AmazonCognito",
    "MomentoApiKeySecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:tvm/momento-AbCdEf",
    "MomentoEndpoint": "127.0.0.1:8080",
}


def claims(**changes: Any) -> dict[str, Any]:
    """An ID token's claims as moto writes them, valid now; a value of None removes the claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "6f0c1bde-0000-4000-8000-000000000001",
        "aud": CLIENT_ID,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
        "cognito:username": "alice",
        "cognito:groups": ["readwrite"],
    }
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def signed(
    payload: Mapping[str, Any], key: Any = MOTO_PRIVATE_KEY, algorithm: str = "RS256", kid: str = "dummy"
) -> str:
    return jwt.encode(dict(payload), key, algorithm=algorithm, headers={"kid": kid})


def unsigned(payload: Mapping[str, Any], header: Mapping[str, Any]) -> str:
    """A token assembled by hand (PyJWT will not sign with `alg: none` or HMAC-with-a-PEM)."""

    def part(data: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def refused(token: str, spec: JwtAuthorizerSpec = SPEC) -> str:
    with pytest.raises(UnauthorizedError) as raised:
        verify(spec, token, PUBLIC_JWKS)
    return raised.value.reason


@pytest.fixture(scope="module")
def moto_id_token() -> Iterator[tuple[str, str, str]]:
    """(IdToken, AccessToken, pool id) from moto's own Cognito for alice in readwrite."""
    with mock_aws():
        cognito = boto3.client(
            "cognito-idp", region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
        )
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
        yield result["IdToken"], result["AccessToken"], pool, client_id  # type: ignore[misc]


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


def test_the_claims_reach_the_function_as_strings_as_the_gateway_sends_them() -> None:
    now = int(time.time())
    given = claims(iat=now, exp=now + 60, email_verified=True, **{"cognito:groups": ["readwrite", "admins"]})
    out = gateway_claims(verify(SPEC, signed(given), PUBLIC_JWKS))
    assert out["cognito:groups"] == "[readwrite admins]"
    assert out["exp"] == str(now + 60)
    assert out["email_verified"] == "true"
    assert all(isinstance(value, str) for value in out.values())
    assert gateway_scopes(given) is None
    assert gateway_scopes({"scope": "aws.cognito.signin.user.admin openid"}) == [
        "aws.cognito.signin.user.admin",
        "openid",
    ]


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_the_token_is_the_header_raw_or_after_bearer(prefix: str) -> None:
    token = signed(claims())
    assert token_from_header(prefix + token) == token
    verify(SPEC, token_from_header(prefix + token), PUBLIC_JWKS)


# ------------------------------------------------------------------------------------------------ what is refused
def test_a_token_signed_by_another_rsa_key_is_refused() -> None:
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert "signature" in refused(signed(claims(), key=forger))


def test_alg_none_is_refused() -> None:
    assert "RSA" in refused(unsigned(claims(), {"alg": "none", "kid": "dummy", "typ": "JWT"}))


def test_hs256_with_the_public_key_as_the_secret_is_refused() -> None:
    """The classic confusion attack: an HMAC keyed with the (public) RSA key the verifier holds."""
    import hashlib
    import hmac

    public_pem = jwt.PyJWK(PUBLIC_JWKS["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = unsigned(claims(), {"alg": "HS256", "kid": "dummy", "typ": "JWT"}).rstrip(".")
    mac = hmac.new(public_pem, head.encode(), hashlib.sha256).digest()
    token = f"{head}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert "RSA" in refused(token)


def test_an_expired_token_is_refused() -> None:
    now = int(time.time())
    assert "expired" in refused(signed(claims(iat=now - 7200, exp=now - 1)))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_a_token_not_valid_yet_is_refused(claim: str) -> None:
    assert "not valid yet" in refused(signed(claims(**{claim: int(time.time()) + 600})))


def test_a_wrong_or_missing_issuer_is_refused() -> None:
    other_pool = f"https://cognito-idp.{REGION}.amazonaws.com/us-east-1_other"
    assert "issuer" in refused(signed(claims(iss=other_pool)))
    assert "issuer" in refused(signed(claims(iss=None)))


def test_a_token_without_exp_is_refused() -> None:
    assert "exp" in refused(signed(claims(exp=None)))


def test_a_wrong_audience_is_refused_and_client_id_counts_only_without_aud() -> None:
    assert "audience" in refused(signed(claims(aud="another-client")))
    assert "audience" in refused(signed(claims(aud="another-client", client_id=CLIENT_ID)))  # aud wins
    assert "audience" in refused(signed(claims(aud=None)))
    verify(SPEC, signed(claims(aud=None, client_id=CLIENT_ID)), PUBLIC_JWKS)
    verify(SPEC, signed(claims(aud=["x", CLIENT_ID])), PUBLIC_JWKS)


def test_an_unknown_kid_or_a_garbage_token_is_refused() -> None:
    assert "kid" in refused(signed(claims(), kid="rotated"))
    assert "not a JWT" in refused("not-a-token")
    assert "not a JWT" in refused("")


def test_a_reason_never_quotes_the_token() -> None:
    token = signed(claims(aud="another-client"))
    assert token not in refused(token)


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


async def test_the_template_s_cognito_authorizer_is_read_with_the_pool_s_ids() -> None:
    spec = load_api(TEMPLATE, PARAMETERS, {"UserPool": POOL_ID, "UserPoolClient": CLIENT_ID})
    assert spec.authorizers["CognitoAuthorizer"] == SPEC


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


# ------------------------------------------------------------------------------------------------ LocalApi's checks
def test_local_api_needs_the_pool_s_ids_and_a_jwks_url() -> None:
    with pytest.raises(TemplateError, match=r"CognitoAuthorizer: its issuer .* UserPool=<pool id>"):
        LocalApi(TEMPLATE, "AmazonCognito", PARAMETERS)
    with pytest.raises(TemplateError, match=r"no JWKS URL for its issuer https://cognito-idp"):
        LocalApi(TEMPLATE, "AmazonCognito", PARAMETERS, resources={"UserPool": POOL_ID, "UserPoolClient": CLIENT_ID})
    api = LocalApi(
        TEMPLATE,
        "AmazonCognito",
        PARAMETERS,
        resources={"UserPool": POOL_ID, "UserPoolClient": CLIENT_ID},
        jwks_urls={ISSUER: "http://127.0.0.1:5000/x/.well-known/jwks.json"},
    )
    assert {route.authorizer_name for route in api.routes} == {"CognitoAuthorizer"}
