"""The local JWT authorizer (AmazonCognito mode of `make dev`): what API Gateway's JWT authorizer admits, and refuses.

Tokens are signed here with moto's own private key (it ships with moto, which is why the verifier is for local use
only) so that one claim at a time can be made wrong while the signature stays valid. Forgeries are signed with another
RSA key, or use `alg: none` / HS256. Tokens moto's Cognito issues, and the gateway's part (an aiohttp server with the
template's Cognito API and a JWKS served over real HTTP), are tests/functional/test_local_jwt.py.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.utilities.utils import load_resource

from local_api import LocalApi, TemplateError, load_api
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


# ------------------------------------------------------------------------------------------------ what is admitted
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


# ------------------------------------------------------------------------------------------------ LocalApi's checks
async def test_the_template_s_cognito_authorizer_is_read_with_the_pool_s_ids() -> None:
    spec = load_api(TEMPLATE, PARAMETERS, {"UserPool": POOL_ID, "UserPoolClient": CLIENT_ID})
    assert spec.authorizers["CognitoAuthorizer"] == SPEC


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
